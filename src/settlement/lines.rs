//! The money rules of settlement, as plain functions: what a sale and a refund are worth
//! to the partner and to the platform, and what a statement adds up to. All amounts are
//! integer minor units; every line satisfies, exactly,
//! `customer = ticket + fee` and `net = ticket - commission`, so a statement's
//! `gross - refunds - commission = net payable` and, over all partners, the partners' nets
//! plus the platform's revenue (commission and fees) equal what customers paid less what
//! they got back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Basis points in a whole.
const WHOLE_BP: i64 = 10_000;

/// The commission on `ticket` minor units at `bp` basis points, rounded half up. Pure.
pub fn commission_of(ticket: i64, bp: i64) -> i64 {
    let product = i128::from(ticket.max(0)) * i128::from(bp.clamp(0, WHOLE_BP));
    i64::try_from((product + i128::from(WHOLE_BP / 2)) / i128::from(WHOLE_BP)).unwrap_or(0)
}

/// The amounts of one statement line (signed: a refund's are negative).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Amounts {
    /// What the customer paid (+) or got back (-), fees included.
    pub customer: i64,
    /// The tickets' part: the partner's gross.
    pub ticket: i64,
    /// The convenience fees' part: the platform's.
    pub fee: i64,
    /// The platform's commission on the tickets' part.
    pub commission: i64,
    /// What the partner is owed for the line: `ticket - commission`.
    pub net: i64,
}

/// A confirmed booking paid `total`, of which `fee_total` are fees. Pure.
pub fn sale(total: i64, fee_total: i64, bp: i64) -> Amounts {
    let fee = fee_total.clamp(0, total.max(0));
    let ticket = total.max(0) - fee;
    let commission = commission_of(ticket, bp);
    Amounts {
        customer: total.max(0),
        ticket,
        fee,
        commission,
        net: ticket - commission,
    }
}

/// `refund` given back on a booking that paid `total` with `fee_total` in fees, sold at
/// `bp`. The tickets' part is refunded first (a customer's cancellation refunds the tickets
/// and keeps the fees); what goes beyond it (a cancelled show refunds everything) comes out
/// of the fees. The commission on the refunded tickets is given back. Pure.
pub fn refund(total: i64, fee_total: i64, refund: i64, bp: i64) -> Amounts {
    refund_after(total, fee_total, 0, refund, bp)
}

/// The same, after the staff already gave back `ticket_refunded` of the tickets' part (a
/// seat or an amount refunded before the booking was cancelled). Pure.
pub fn refund_after(
    total: i64,
    fee_total: i64,
    ticket_refunded: i64,
    refund: i64,
    bp: i64,
) -> Amounts {
    let sold = sale(total, fee_total, bp);
    let refund = refund.clamp(0, sold.customer);
    let ticket = refund.min((sold.ticket - ticket_refunded).max(0));
    let fee = refund - ticket;
    // The whole ticket part back gives the whole commission back, to the minor unit.
    let commission = if ticket == sold.ticket {
        sold.commission
    } else {
        commission_of(ticket, bp)
    };
    Amounts {
        customer: -refund,
        ticket: -ticket,
        fee: -fee,
        commission: -commission,
        net: -(ticket - commission),
    }
}

/// Money given back whose split was decided when it was (a staff refund of seats or an
/// amount, a lost dispute): `ticket` of the tickets' part and `fee` of the fees', with the
/// commission on those tickets given back. Pure.
pub fn given_back(ticket: i64, fee: i64, bp: i64) -> Amounts {
    let (ticket, fee) = (ticket.max(0), fee.max(0));
    let commission = commission_of(ticket, bp);
    Amounts {
        customer: -(ticket + fee),
        ticket: -ticket,
        fee: -fee,
        commission: -commission,
        net: -(ticket - commission),
    }
}

/// A statement's sums in one currency.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Totals {
    pub currency: String,
    /// Sale lines.
    pub sales: i64,
    /// Refund lines.
    pub refunds_count: i64,
    /// Ticket sales (the partner's gross, fees excluded).
    pub gross: i64,
    /// Tickets refunded (positive).
    pub refunds: i64,
    /// Commission kept by the platform (less commission given back on refunds).
    pub commission: i64,
    /// Convenience fees collected, less fees refunded: the platform's, not in `net_payable`.
    pub fees: i64,
    /// `gross - refunds - commission`: owed to the partner.
    pub net_payable: i64,
    /// What customers paid (fees included).
    pub customer_paid: i64,
    /// What customers got back (fees included, positive).
    pub customer_refunded: i64,
}

/// Sums lines per currency, currencies in order. Pure.
pub fn totals<'a>(lines: impl IntoIterator<Item = (&'a str, bool, Amounts)>) -> Vec<Totals> {
    let mut by_currency: BTreeMap<&str, Totals> = BTreeMap::new();
    for (currency, is_refund, amounts) in lines {
        let t = by_currency.entry(currency).or_insert_with(|| Totals {
            currency: currency.to_owned(),
            ..Totals::default()
        });
        if is_refund {
            t.refunds_count += 1;
            t.refunds -= amounts.ticket;
            t.customer_refunded -= amounts.customer;
        } else {
            t.sales += 1;
            t.gross += amounts.ticket;
            t.customer_paid += amounts.customer;
        }
        t.commission += amounts.commission;
        t.fees += amounts.fee;
        t.net_payable += amounts.net;
    }
    by_currency.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn commission_rounds_half_up_to_the_minor_unit() {
        assert_eq!(commission_of(30_000, 1_000), 3_000);
        assert_eq!(commission_of(12_345, 1_250), 1_543); // 1543.125
        assert_eq!(commission_of(5, 1_000), 1); // 0.5 → 1
        assert_eq!(commission_of(4, 1_000), 0); // 0.4 → 0
        assert_eq!(commission_of(0, 1_000), 0);
        assert_eq!(commission_of(999, 10_000), 999);
    }

    #[test]
    fn a_sale_and_its_refunds_split_between_partner_and_platform() {
        // ₹630.00 paid: ₹600.00 of tickets and ₹30.00 of fees, at 12.5 %.
        let sold = sale(63_000, 3_000, 1_250);
        assert_eq!(
            sold,
            Amounts {
                customer: 63_000,
                ticket: 60_000,
                fee: 3_000,
                commission: 7_500,
                net: 52_500
            }
        );
        // The customer cancels: the tickets back, the fees kept.
        assert_eq!(
            refund(63_000, 3_000, 60_000, 1_250),
            Amounts {
                customer: -60_000,
                ticket: -60_000,
                fee: 0,
                commission: -7_500,
                net: -52_500
            }
        );
        // The show is cancelled: everything back.
        let all_back = refund(63_000, 3_000, 63_000, 1_250);
        assert_eq!((all_back.ticket, all_back.fee), (-60_000, -3_000));
        assert_eq!(all_back.commission, -7_500);
    }

    #[test]
    fn totals_keep_currencies_apart() {
        let lines = [
            ("INR", false, sale(63_000, 3_000, 1_000)),
            ("INR", true, refund(63_000, 3_000, 60_000, 1_000)),
            ("GBP", false, sale(1_500, 100, 1_000)),
        ];
        let sums = totals(lines.iter().map(|(c, r, a)| (*c, *r, *a)));
        assert_eq!(sums.len(), 2);
        assert_eq!(sums[0].currency, "GBP");
        assert_eq!(sums[0].net_payable, 1_400 - 140);
        let inr = &sums[1];
        assert_eq!(
            (inr.gross, inr.refunds, inr.commission),
            (60_000, 60_000, 0)
        );
        assert_eq!((inr.fees, inr.net_payable), (3_000, 0));
        assert_eq!((inr.customer_paid, inr.customer_refunded), (63_000, 60_000));
    }

    /// What happens to one booking in a random history.
    #[derive(Debug, Clone)]
    enum Fate {
        /// Confirmed and kept.
        Kept,
        /// Cancelled by the customer: the tickets refunded.
        CancelledByCustomer,
        /// The show was cancelled: everything refunded.
        ShowCancelled,
        /// Refunded in part (a goodwill refund of this many minor units).
        PartlyRefunded(i64),
        /// Paid after the hold lapsed: captured and refunded in full, never a sale.
        LatePayment,
    }

    fn fate() -> impl Strategy<Value = Fate> {
        prop_oneof![
            Just(Fate::Kept),
            Just(Fate::CancelledByCustomer),
            Just(Fate::ShowCancelled),
            (0i64..100_000).prop_map(Fate::PartlyRefunded),
            Just(Fate::LatePayment),
        ]
    }

    proptest! {
        /// For random bookings (total, fees, partner, rate, fate), statements add up: each
        /// one's gross - refunds - commission = net, and the partners' nets plus the
        /// platform's commission and fees = captured - refunded, to the minor unit.
        #[test]
        fn statements_add_up_to_what_the_gateway_moved(
            bookings in proptest::collection::vec(
                (1i64..200_000, 0i64..5_000, 0usize..3, 0i64..=10_000, fate()),
                1..60,
            )
        ) {
            let mut captured = 0i64;
            let mut refunded = 0i64;
            let mut partner_lines: Vec<Vec<(&str, bool, Amounts)>> = vec![Vec::new(); 3];
            for (total, fee, partner, bp, fate) in &bookings {
                let fee = (*fee).min(*total);
                captured += total;
                let back = match fate {
                    Fate::Kept => 0,
                    Fate::CancelledByCustomer => total - fee,
                    Fate::ShowCancelled => *total,
                    Fate::PartlyRefunded(n) => (*n).min(*total),
                    Fate::LatePayment => {
                        refunded += total;
                        continue;
                    }
                };
                partner_lines[*partner].push(("INR", false, sale(*total, fee, *bp)));
                if back > 0 {
                    refunded += back;
                    partner_lines[*partner].push(("INR", true, refund(*total, fee, back, *bp)));
                }
            }
            let mut nets = 0i64;
            let mut platform = 0i64;
            for lines in &partner_lines {
                for line in lines {
                    prop_assert_eq!(line.2.customer, line.2.ticket + line.2.fee);
                    prop_assert_eq!(line.2.net, line.2.ticket - line.2.commission);
                }
                for t in totals(lines.iter().copied()) {
                    prop_assert_eq!(t.gross - t.refunds - t.commission, t.net_payable);
                    prop_assert!(t.refunds <= t.gross);
                    nets += t.net_payable;
                    platform += t.commission + t.fees;
                }
            }
            prop_assert_eq!(nets + platform, captured - refunded);
        }
    }
}
