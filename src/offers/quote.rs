//! The quote: base price per seat category, moved by the price rules (`pricing`), then
//! offers in a fixed order, then the convenience fee — exact to the minor unit,
//! explainable line by line, and independent of the order in which seats were listed.
//!
//! Rules, in order:
//! 0. Each ticket arrives with its list price: the category's base price after the price
//!    rules, each listed with what it added or took off (`pricing::rules`).
//! 1. Tickets are put in canonical order: list price, highest first; equal prices by seat
//!    label. Quote lines come out in this order, and it is the order the nth-ticket offer
//!    counts in.
//! 2. Applicable offers (active, valid at the quote instant, in scope for the show's city or
//!    theatre) are applied by kind — time windows, then nth-ticket — and by id within a kind.
//!    Each step discounts the ticket's current price and rounds half-up to the minor unit.
//! 3. The convenience fee is added per ticket on its discounted price.

use std::collections::BTreeSet;

use chrono::NaiveTime;
use serde::Serialize;
use utoipa::ToSchema;

use super::model::{FeePolicy, Offer, OfferKind};
use crate::{
    ids::{CityId, TheatreId},
    inventory::model::SeatCategory,
    money::{Currency, FULL_BP, Money, MoneyError},
    pricing::model::AppliedRule,
    time::Timestamp,
};

/// A seat being priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub seat: String,
    pub category: SeatCategory,
    /// The category's price.
    pub base: Money,
    /// `base` after the price rules: what offers discount.
    pub list: Money,
    /// The price rules that moved `base` to `list`, in the order applied.
    pub rules: Vec<AppliedRule>,
}

impl Ticket {
    /// A seat no price rule moves.
    pub fn at_base(seat: impl Into<String>, category: SeatCategory, base: Money) -> Self {
        Self {
            seat: seat.into(),
            category,
            base,
            list: base,
            rules: Vec::new(),
        }
    }
}

/// The show a quote is for, and when it is made.
#[derive(Debug, Clone)]
pub struct QuoteContext<'a> {
    pub city: &'a CityId,
    pub theatre: &'a TheatreId,
    /// Start time of the show in the theatre's timezone.
    pub show_local_start: NaiveTime,
    pub currency: Currency,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AppliedDiscount {
    pub offer_id: String,
    pub offer_name: String,
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct QuoteLine {
    pub seat: String,
    pub category: SeatCategory,
    /// The seat category's price for the show.
    pub base: Money,
    /// Each price rule applied to this ticket (day of week, holiday, time band, format,
    /// demand), in the order applied, with what it added or took off.
    pub rules: Vec<AppliedRule>,
    /// Base after the price rules: the price offers discount.
    pub list_price: Money,
    /// Each discount applied to this ticket, in the order applied.
    pub discounts: Vec<AppliedDiscount>,
    /// List price minus discounts.
    pub price: Money,
    pub fee: Money,
    /// Price plus fee.
    pub total: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Quote {
    pub lines: Vec<QuoteLine>,
    pub base_total: Money,
    /// What the price rules added, all lines together (negative: took off).
    pub rule_total: Money,
    pub discount_total: Money,
    pub fee_total: Money,
    pub total: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuoteError {
    #[error("a quote needs at least one seat")]
    NoTickets,
    #[error("seat {0} is listed twice")]
    DuplicateSeat(String),
    #[error("seat {0} is not priced in the show's currency")]
    WrongCurrency(String),
    #[error("seat {0} has a negative price")]
    NegativePrice(String),
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// Prices `tickets` for a show, applying `offers` and the fee.
pub fn quote(
    tickets: &[Ticket],
    offers: &[Offer],
    fee: FeePolicy,
    context: &QuoteContext<'_>,
) -> Result<Quote, QuoteError> {
    if tickets.is_empty() {
        return Err(QuoteError::NoTickets);
    }
    let mut seen = BTreeSet::new();
    for ticket in tickets {
        if !seen.insert(ticket.seat.as_str()) {
            return Err(QuoteError::DuplicateSeat(ticket.seat.clone()));
        }
        if ticket.base.currency != context.currency {
            return Err(QuoteError::WrongCurrency(ticket.seat.clone()));
        }
        if ticket.list.currency != context.currency {
            return Err(QuoteError::WrongCurrency(ticket.seat.clone()));
        }
        if ticket.base.amount < 0 || ticket.list.amount < 0 {
            return Err(QuoteError::NegativePrice(ticket.seat.clone()));
        }
    }
    let mut ordered: Vec<&Ticket> = tickets.iter().collect();
    ordered.sort_by(|a, b| {
        b.list
            .amount
            .cmp(&a.list.amount)
            .then_with(|| a.seat.cmp(&b.seat))
    });
    let mut lines: Vec<QuoteLine> = ordered
        .into_iter()
        .map(|t| QuoteLine {
            seat: t.seat.clone(),
            category: t.category,
            base: t.base,
            rules: t.rules.clone(),
            list_price: t.list,
            discounts: Vec::new(),
            price: t.list,
            fee: Money::zero(context.currency),
            total: t.list,
        })
        .collect();

    let mut applicable: Vec<&Offer> = offers
        .iter()
        .filter(|o| o.applies(context.at, context.city, context.theatre))
        .collect();
    applicable.sort_by(|a, b| {
        a.kind
            .stacking_rank()
            .cmp(&b.kind.stacking_rank())
            .then_with(|| a.id.cmp(&b.id))
    });
    for offer in applicable {
        match &offer.kind {
            OfferKind::ShowTimeWindow {
                from,
                until,
                percent_bp,
            } => {
                let start = context.show_local_start;
                if *from <= start && start < *until {
                    for line in &mut lines {
                        discount(line, offer, *percent_bp)?;
                    }
                }
            }
            OfferKind::NthTicket { every, percent_bp } => {
                let every = (*every).max(1) as usize;
                for line in lines.iter_mut().skip(every - 1).step_by(every) {
                    discount(line, offer, *percent_bp)?;
                }
            }
        }
    }

    for line in &mut lines {
        line.fee = match fee {
            FeePolicy::Fixed { amount } => {
                if amount.currency != context.currency {
                    return Err(
                        MoneyError::CurrencyMismatch(amount.currency, context.currency).into(),
                    );
                }
                amount
            }
            FeePolicy::Percent { basis_points } => line.price.basis_points(basis_points)?,
        };
        line.total = line.price.checked_add(line.fee)?;
    }
    let currency = context.currency;
    let base_total = Money::sum(currency, lines.iter().map(|l| l.base))?;
    let list_total = Money::sum(currency, lines.iter().map(|l| l.list_price))?;
    let price_total = Money::sum(currency, lines.iter().map(|l| l.price))?;
    let fee_total = Money::sum(currency, lines.iter().map(|l| l.fee))?;
    Ok(Quote {
        rule_total: list_total.checked_sub(base_total)?,
        discount_total: list_total.checked_sub(price_total)?,
        total: price_total.checked_add(fee_total)?,
        base_total,
        fee_total,
        lines,
    })
}

/// Takes `percent_bp` (at most 100%) off the line's current price.
fn discount(line: &mut QuoteLine, offer: &Offer, percent_bp: u32) -> Result<(), QuoteError> {
    let amount = line.price.basis_points(percent_bp.min(FULL_BP))?;
    if amount.amount == 0 {
        return Ok(());
    }
    line.price = line.price.checked_sub(amount)?;
    line.discounts.push(AppliedDiscount {
        offer_id: offer.id.clone(),
        offer_name: offer.name.clone(),
        amount,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offers::model::OfferScope;
    use SeatCategory::{Premium, Recliner, Regular};

    fn inr() -> Currency {
        Currency::parse("INR").unwrap()
    }

    fn money(amount: i64) -> Money {
        Money::new(amount, inr())
    }

    fn ticket(seat: &str, category: SeatCategory) -> Ticket {
        let base = match category {
            Regular => 20_000,
            Premium => 32_000,
            Recliner => 55_000,
        };
        Ticket::at_base(seat, category, money(base))
    }

    fn time(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    const DAY: i64 = 86_400_000;

    fn offer(id: &str, kind: OfferKind, scope: OfferScope) -> Offer {
        Offer {
            id: id.into(),
            name: id.into(),
            kind,
            valid_from: Timestamp::from_millis(10 * DAY),
            valid_until: Timestamp::from_millis(20 * DAY),
            scope,
            active: true,
        }
    }

    fn launch_offers() -> Vec<Offer> {
        vec![
            offer(
                "off_third",
                OfferKind::NthTicket {
                    every: 3,
                    percent_bp: 5_000,
                },
                OfferScope::default(),
            ),
            offer(
                "off_afternoon",
                OfferKind::ShowTimeWindow {
                    from: time(12, 0),
                    until: time(17, 0),
                    percent_bp: 2_000,
                },
                OfferScope::default(),
            ),
        ]
    }

    fn context<'a>(
        city: &'a CityId,
        theatre: &'a TheatreId,
        start: NaiveTime,
        day: i64,
    ) -> QuoteContext<'a> {
        QuoteContext {
            city,
            theatre,
            show_local_start: start,
            currency: inr(),
            at: Timestamp::from_millis(day * DAY),
        }
    }

    fn no_fee() -> FeePolicy {
        FeePolicy::Fixed { amount: money(0) }
    }

    /// (tickets, local start, quote day, fee, expected total)
    fn total(
        tickets: &[Ticket],
        start: NaiveTime,
        day: i64,
        offers: &[Offer],
        fee: FeePolicy,
    ) -> i64 {
        let (city, theatre) = (CityId::derived("c"), TheatreId::derived("t"));
        quote(tickets, offers, fee, &context(&city, &theatre, start, day))
            .unwrap()
            .total
            .amount
    }

    #[test]
    fn exact_totals_for_one_to_seven_tickets_and_both_offers() {
        let offers = launch_offers();
        let regular = |n: usize| {
            (0..n)
                .map(|i| ticket(&format!("A{}", i + 1), Regular))
                .collect::<Vec<_>>()
        };
        let morning = time(10, 0);
        let afternoon = time(13, 0);
        let cases: Vec<(Vec<Ticket>, NaiveTime, i64)> = vec![
            (regular(1), morning, 20_000),
            (regular(2), morning, 40_000),
            (regular(3), morning, 50_000), // 3rd half price
            (regular(4), morning, 70_000),
            (regular(6), morning, 100_000), // 3rd and 6th
            (regular(7), morning, 120_000),
            (regular(1), afternoon, 16_000), // 20% off
            (regular(3), afternoon, 40_000), // 16,000 ×2 + 8,000
            (regular(7), afternoon, 96_000), // 16,000 ×5 + 8,000 ×2
        ];
        for (tickets, start, expected) in cases {
            assert_eq!(
                total(&tickets, start, 15, &offers, no_fee()),
                expected,
                "{} tickets at {start}",
                tickets.len()
            );
        }
    }

    #[test]
    fn nth_ticket_counts_from_the_most_expensive() {
        // 55,000, 32,000, 20,000, 20,000: the third (a regular) is half price.
        let tickets = [
            ticket("A1", Regular),
            ticket("R1", Recliner),
            ticket("A2", Regular),
            ticket("P1", Premium),
        ];
        let (city, theatre) = (CityId::derived("c"), TheatreId::derived("t"));
        let q = quote(
            &tickets,
            &launch_offers(),
            no_fee(),
            &context(&city, &theatre, time(10, 0), 15),
        )
        .unwrap();
        let seats: Vec<&str> = q.lines.iter().map(|l| l.seat.as_str()).collect();
        assert_eq!(seats, ["R1", "P1", "A1", "A2"]);
        assert_eq!(
            q.lines[2].discounts,
            vec![AppliedDiscount {
                offer_id: "off_third".into(),
                offer_name: "off_third".into(),
                amount: money(10_000)
            }]
        );
        assert_eq!(q.total, money(117_000));
        assert_eq!(q.discount_total, money(10_000));
        assert_eq!(q.base_total, money(127_000));
    }

    #[test]
    fn afternoon_window_boundaries_are_half_open() {
        let offers = launch_offers();
        let one = [ticket("A1", Regular)];
        assert_eq!(total(&one, time(11, 59), 15, &offers, no_fee()), 20_000);
        assert_eq!(total(&one, time(12, 0), 15, &offers, no_fee()), 16_000);
        assert_eq!(total(&one, time(16, 59), 15, &offers, no_fee()), 16_000);
        assert_eq!(total(&one, time(17, 0), 15, &offers, no_fee()), 20_000);
    }

    #[test]
    fn scope_and_validity_limit_offers() {
        let (city, theatre) = (CityId::derived("c"), TheatreId::derived("t"));
        let (other_city, other_theatre) = (CityId::derived("x"), TheatreId::derived("y"));
        let window = OfferKind::ShowTimeWindow {
            from: time(12, 0),
            until: time(17, 0),
            percent_bp: 2_000,
        };
        let in_city = offer(
            "o1",
            window.clone(),
            OfferScope {
                cities: vec![city.clone()],
                theatres: vec![],
            },
        );
        let at_theatre = offer(
            "o2",
            window.clone(),
            OfferScope {
                cities: vec![],
                theatres: vec![theatre.clone()],
            },
        );
        let one = [ticket("A1", Regular)];
        let at = |c: &CityId, t: &TheatreId, offers: &[Offer], day: i64| {
            quote(&one, offers, no_fee(), &context(c, t, time(13, 0), day))
                .unwrap()
                .total
                .amount
        };
        assert_eq!(
            at(&city, &other_theatre, std::slice::from_ref(&in_city), 15),
            16_000
        );
        assert_eq!(
            at(
                &other_city,
                &other_theatre,
                std::slice::from_ref(&in_city),
                15
            ),
            20_000
        );
        assert_eq!(
            at(&other_city, &theatre, std::slice::from_ref(&at_theatre), 15),
            16_000
        );
        assert_eq!(
            at(
                &other_city,
                &other_theatre,
                std::slice::from_ref(&at_theatre),
                15
            ),
            20_000
        );
        // Not yet valid, valid from its first instant, expired at its end, deactivated.
        assert_eq!(
            at(&city, &theatre, std::slice::from_ref(&in_city), 9),
            20_000
        );
        assert_eq!(
            at(&city, &theatre, std::slice::from_ref(&in_city), 10),
            16_000
        );
        assert_eq!(
            at(&city, &theatre, std::slice::from_ref(&in_city), 20),
            20_000
        );
        let mut inactive = in_city.clone();
        inactive.active = false;
        assert_eq!(at(&city, &theatre, &[inactive], 15), 20_000);
    }

    #[test]
    fn odd_amounts_round_half_up_at_each_step() {
        let odd = |seat: &str| Ticket::at_base(seat, Regular, money(333));
        let tickets = [odd("A1"), odd("A2"), odd("A3")];
        let (city, theatre) = (CityId::derived("c"), TheatreId::derived("t"));
        let q = quote(
            &tickets,
            &launch_offers(),
            no_fee(),
            &context(&city, &theatre, time(13, 0), 15),
        )
        .unwrap();
        // 333 − 66.6→67 = 266; third: 266 − 133 = 133.
        let prices: Vec<i64> = q.lines.iter().map(|l| l.price.amount).collect();
        assert_eq!(prices, [266, 266, 133]);
        assert_eq!(q.total, money(665));
    }

    #[test]
    fn fees_are_per_ticket_after_discounts() {
        let tickets = [
            ticket("A1", Regular),
            ticket("A2", Regular),
            ticket("A3", Regular),
        ];
        let offers = launch_offers();
        assert_eq!(
            total(
                &tickets,
                time(10, 0),
                15,
                &offers,
                FeePolicy::Fixed {
                    amount: money(3_000)
                }
            ),
            59_000
        );
        // 10% of 20,000 + 20,000 + 10,000.
        assert_eq!(
            total(
                &tickets,
                time(10, 0),
                15,
                &offers,
                FeePolicy::Percent {
                    basis_points: 1_000
                }
            ),
            55_000
        );
        let (city, theatre) = (CityId::derived("c"), TheatreId::derived("t"));
        let gbp_fee = FeePolicy::Fixed {
            amount: Money::new(100, Currency::parse("GBP").unwrap()),
        };
        assert!(
            quote(
                &tickets,
                &offers,
                gbp_fee,
                &context(&city, &theatre, time(10, 0), 15)
            )
            .is_err()
        );
    }

    #[test]
    fn malformed_requests_are_refused() {
        let (city, theatre) = (CityId::derived("c"), TheatreId::derived("t"));
        let ctx = context(&city, &theatre, time(10, 0), 15);
        assert_eq!(quote(&[], &[], no_fee(), &ctx), Err(QuoteError::NoTickets));
        let twice = [ticket("A1", Regular), ticket("A1", Regular)];
        assert_eq!(
            quote(&twice, &[], no_fee(), &ctx),
            Err(QuoteError::DuplicateSeat("A1".into()))
        );
        let pounds = [Ticket::at_base(
            "A1",
            Regular,
            Money::new(1, Currency::parse("GBP").unwrap()),
        )];
        assert_eq!(
            quote(&pounds, &[], no_fee(), &ctx),
            Err(QuoteError::WrongCurrency("A1".into()))
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn tickets() -> impl Strategy<Value = Vec<Ticket>> {
            prop::collection::vec((0i64..1_000_000, 0usize..3), 1..12).prop_map(|specs| {
                specs
                    .into_iter()
                    .enumerate()
                    .map(|(i, (amount, c))| {
                        Ticket::at_base(format!("S{i}"), SeatCategory::ALL[c], money(amount))
                    })
                    .collect()
            })
        }

        proptest! {
            #[test]
            fn total_is_bounded_non_negative_and_order_independent(
                tickets in tickets(),
                hour in 0u32..24,
                fee_bp in 0u32..3_000,
                rotate in 0usize..12,
            ) {
                let (city, theatre) = (CityId::derived("c"), TheatreId::derived("t"));
                let ctx = context(&city, &theatre, time(hour, 0), 15);
                let fee = FeePolicy::Percent { basis_points: fee_bp };
                let q = quote(&tickets, &launch_offers(), fee, &ctx).unwrap();
                prop_assert!(q.total.amount >= 0);
                prop_assert!(q.total.amount <= q.base_total.amount + q.fee_total.amount);
                // The undiscounted total plus the fee on undiscounted prices bounds it too.
                let undiscounted = quote(&tickets, &[], fee, &ctx).unwrap();
                prop_assert!(q.total.amount <= undiscounted.total.amount);
                let mut reordered = tickets.clone();
                let by = rotate % reordered.len();
                reordered.rotate_left(by);
                reordered.reverse();
                let again = quote(&reordered, &launch_offers(), fee, &ctx).unwrap();
                prop_assert_eq!(again, q);
            }
        }
    }
}
