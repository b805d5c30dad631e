//! Refunds the platform's staff make from the back office: the whole booking, some of its
//! seats, or an amount, always with a reason, through the gateway, never more than the
//! payment captured.
//!
//! What a refund may take is decided in the unit of work that records it, with the
//! booking's row locked: what the payment captured, less every refund already made (the
//! staff's, and a cancellation's), so two refunds at once cannot both fit in the last of
//! the money. The refund is recorded `pending` with its events (seats released, the
//! booking cancelled when nothing of it is left), then the gateway is asked under the
//! refund's id as its idempotency key, and the refund is marked `succeeded`; a gateway
//! that did not answer is asked again by the sweeper (`retry_pending`) until it does.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{PaymentError, gateway::RefundRequest};
use crate::{
    app::AppState,
    booking::{
        BookingError,
        model::{BookingRow, BookingStatus, PaymentRow},
        store as bookings, waitlist,
    },
    db::{Db, Sql, Tx},
    db_row,
    http::idempotency::Idempotency,
    ids::RefundId,
    integration::{events::Event, outbox},
    money::{Currency, Money},
    offers::service::ShowPricing,
    params,
    time::Timestamp,
};

/// Longest reason kept with a refund.
pub const MAX_REASON_CHARS: usize = 500;

/// A refund pending this long was interrupted (a crash, the gateway away): asked again.
const RETRY_AFTER_MS: i64 = 30_000;

/// What an administrator asks to refund: exactly one of `full`, `seats` or `amount`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundAsk {
    /// Everything the payment captured that is not refunded yet, fees included; the
    /// booking is cancelled and its seats released.
    #[serde(default)]
    pub full: bool,
    /// These seats' ticket prices (their fees too with `include_fees`); the seats are
    /// released. All of the booking's seats cancel it.
    #[serde(default)]
    pub seats: Vec<String>,
    /// An amount in minor units (a goodwill refund): the tickets' part first, then the
    /// fees'. No seat is released.
    pub amount: Option<i64>,
    /// With `seats`: refund the seats' convenience fees as well.
    #[serde(default)]
    pub include_fees: bool,
    /// Why (kept with the refund and in the audit log); 1 to 500 characters.
    pub reason: String,
}

/// What a payment has given back so far, split as settlement sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Refunded {
    pub ticket: i64,
    pub fee: i64,
}

/// A refund decided: its parts and the seats it releases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub ticket: i64,
    pub fee: i64,
    pub seats: Vec<String>,
    /// Nothing of the booking is left: it is cancelled.
    pub ends_booking: bool,
}

impl Planned {
    pub fn amount(&self) -> i64 {
        self.ticket + self.fee
    }
}

/// One seat's part of the booking's quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatPrice {
    pub seat: String,
    pub price: i64,
    pub fee: i64,
}

/// The seats' prices from a stored quote (JSON of `offers::quote::Quote`). Pure.
pub fn seat_prices(quote: &str) -> Vec<SeatPrice> {
    let quote: serde_json::Value = serde_json::from_str(quote).unwrap_or_default();
    quote["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|line| {
            Some(SeatPrice {
                seat: line["seat"].as_str()?.to_owned(),
                price: line["price"]["amount"].as_i64()?,
                fee: line["fee"]["amount"].as_i64()?,
            })
        })
        .collect()
}

/// What a booking paid `total` (of which `fee_total` in fees) has given back, given the
/// staff's refunds and a cancellation's refund of the whole payment (`cancellation`):
/// a cancellation gives back the tickets' part first, then the fees'. Pure.
pub fn already_refunded(
    total: i64,
    fee_total: i64,
    by_staff: Refunded,
    cancellation: Option<i64>,
) -> Refunded {
    let ticket_total = total - fee_total;
    let refund = cancellation.unwrap_or(0).max(0);
    let ticket = refund.min((ticket_total - by_staff.ticket).max(0));
    Refunded {
        ticket: by_staff.ticket + ticket,
        fee: by_staff.fee + (refund - ticket),
    }
}

/// Decides a refund of a booking that paid `total` (`fee_total` of it fees), whose seats
/// are now `current_seats`, priced by `prices`, that has given back `refunded`. Pure.
pub fn plan(
    ask: &RefundAsk,
    booking_live: bool,
    current_seats: &[String],
    prices: &[SeatPrice],
    total: i64,
    fee_total: i64,
    refunded: Refunded,
) -> Result<Planned, PaymentError> {
    let invalid = |why: &str| Err(PaymentError::InvalidRefund(why.to_owned()));
    let reason = ask.reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return invalid("give a reason of 1 to 500 characters");
    }
    let asked = [ask.full, !ask.seats.is_empty(), ask.amount.is_some()]
        .iter()
        .filter(|a| **a)
        .count();
    if asked != 1 {
        return invalid("ask for exactly one of full, seats or amount");
    }
    if ask.include_fees && ask.seats.is_empty() {
        return invalid("include_fees goes with seats");
    }
    let ticket_left = (total - fee_total - refunded.ticket).max(0);
    let fee_left = (fee_total - refunded.fee).max(0);
    if ticket_left + fee_left == 0 {
        return Err(PaymentError::NothingToRefund);
    }
    let exceeds = |requested: i64| PaymentError::RefundExceedsCaptured {
        requested,
        refundable: ticket_left + fee_left,
    };
    let planned = if ask.full {
        Planned {
            ticket: ticket_left,
            fee: fee_left,
            seats: if booking_live {
                current_seats.to_vec()
            } else {
                Vec::new()
            },
            ends_booking: booking_live,
        }
    } else if let Some(amount) = ask.amount {
        if amount <= 0 {
            return invalid("amount is in minor units and above 0");
        }
        if amount > ticket_left + fee_left {
            return Err(exceeds(amount));
        }
        let ticket = amount.min(ticket_left);
        Planned {
            ticket,
            fee: amount - ticket,
            seats: Vec::new(),
            ends_booking: false,
        }
    } else {
        if !booking_live {
            return invalid("the booking has no seats left to refund");
        }
        let mut seats = ask.seats.clone();
        seats.sort();
        seats.dedup();
        if seats.len() != ask.seats.len() {
            return invalid("a seat is named twice");
        }
        let unknown: Vec<&String> = seats
            .iter()
            .filter(|s| !current_seats.contains(s))
            .collect();
        if !unknown.is_empty() {
            return Err(PaymentError::InvalidRefund(format!(
                "not seats of this booking: {}",
                unknown
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let (mut ticket, mut fee) = (0, 0);
        for seat in &seats {
            let price = prices
                .iter()
                .find(|p| &p.seat == seat)
                .ok_or_else(|| PaymentError::InvalidRefund(format!("no price for {seat}")))?;
            ticket += price.price;
            if ask.include_fees {
                fee += price.fee;
            }
        }
        if ticket > ticket_left || fee > fee_left {
            return Err(exceeds(ticket + fee));
        }
        let ends_booking = seats.len() == current_seats.len();
        // The seats in the booking's own order.
        let seats = current_seats
            .iter()
            .filter(|s| seats.contains(s))
            .cloned()
            .collect();
        Planned {
            ticket,
            fee,
            seats,
            ends_booking,
        }
    };
    if planned.amount() == 0 {
        return Err(PaymentError::NothingToRefund);
    }
    Ok(planned)
}

db_row! {
    /// A refund as stored.
    #[derive(Debug, Clone)]
    pub struct RefundRow {
        pub id: String,
        pub booking_id: String,
        pub payment_id: String,
        pub currency: String,
        pub amount: i64,
        pub ticket_amount: i64,
        pub fee_amount: i64,
        pub seats: String,
        pub reason: String,
        pub requested_by: String,
        pub status: String,
        pub gateway_refund_id: Option<String>,
        pub created_at: i64,
        pub completed_at: Option<i64>,
    }
}

const REFUND_COLUMNS: &str = "id, booking_id, payment_id, currency, amount, ticket_amount, \
     fee_amount, seats, reason, requested_by, status, gateway_refund_id, created_at, \
     completed_at";

/// A refund as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RefundView {
    pub id: String,
    pub booking_id: String,
    pub payment_id: String,
    /// What went back to the customer: `ticket_amount + fee_amount`.
    pub amount: Money,
    pub ticket_amount: i64,
    pub fee_amount: i64,
    /// Seats released by the refund.
    pub seats: Vec<String>,
    pub reason: String,
    pub requested_by: String,
    /// `pending` until the gateway has it, then `succeeded`.
    pub status: String,
    pub gateway_refund_id: Option<String>,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>)]
    pub completed_at: Option<Timestamp>,
}

impl From<RefundRow> for RefundView {
    fn from(r: RefundRow) -> Self {
        let currency = Currency::parse(&r.currency).unwrap_or(Currency::UNKNOWN);
        RefundView {
            amount: Money::new(r.amount, currency),
            seats: serde_json::from_str(&r.seats).unwrap_or_default(),
            created_at: Timestamp::from_millis(r.created_at),
            completed_at: r.completed_at.map(Timestamp::from_millis),
            id: r.id,
            booking_id: r.booking_id,
            payment_id: r.payment_id,
            ticket_amount: r.ticket_amount,
            fee_amount: r.fee_amount,
            reason: r.reason,
            requested_by: r.requested_by,
            status: r.status,
            gateway_refund_id: r.gateway_refund_id,
        }
    }
}

/// A booking's refunds by the staff, oldest first.
pub async fn refunds_of_booking(db: &Db, booking_id: &str) -> sqlx::Result<Vec<RefundRow>> {
    db.fetch_all(
        &format!(
            "SELECT {REFUND_COLUMNS} FROM refunds WHERE booking_id = $1 ORDER BY created_at, id"
        ),
        params![booking_id],
    )
    .await
}

/// What the staff's refunds of a booking add up to, inside a unit of work.
pub fn refunded_by_staff(tx: &mut Tx<'_>, booking_id: &str) -> sqlx::Result<Refunded> {
    let (ticket, fee): (i64, i64) = tx
        .fetch_optional(
            "SELECT CAST(COALESCE(SUM(ticket_amount), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(fee_amount), 0) AS BIGINT) \
             FROM refunds WHERE booking_id = $1",
            params![booking_id],
        )?
        .unwrap_or((0, 0));
    Ok(Refunded { ticket, fee })
}

/// What `booking` has given back of `payment` so far, inside a unit of work: the staff's
/// refunds, and the cancellation's refund of the whole payment once it is (being) made.
pub fn refunded_so_far(
    tx: &mut Tx<'_>,
    booking: &BookingRow,
    payment: &PaymentRow,
) -> sqlx::Result<Refunded> {
    let cancellation = matches!(payment.status.as_str(), "refunding" | "refunded")
        .then_some(payment.refund_amount)
        .flatten();
    Ok(already_refunded(
        booking.total,
        booking.fee_total,
        refunded_by_staff(tx, &booking.id)?,
        cancellation,
    ))
}

/// The booking's payment that captured money (succeeded, or being or having been
/// refunded by a cancellation).
fn captured_payment(tx: &mut Tx<'_>, booking_id: &str) -> sqlx::Result<Option<PaymentRow>> {
    tx.fetch_optional(
        "SELECT id, booking_id, provider, intent_id, status, amount, currency, refund_amount, \
         failure_reason, created_at FROM payments \
         WHERE booking_id = $1 AND status IN ('succeeded', 'refunding', 'refunded') \
         ORDER BY created_at DESC, id DESC LIMIT 1",
        params![booking_id],
    )
}

/// Releases `seats` of the booking (booked → available) and keeps the rest as its seats.
fn release_seats(
    tx: &mut Tx<'_>,
    booking: &BookingRow,
    seats: &[String],
    now: i64,
) -> sqlx::Result<()> {
    const RELEASE: Sql = Sql {
        sqlite: "UPDATE show_seats SET state = 'available', booking_id = NULL, \
                 held_until = NULL WHERE show_id = $1 AND booking_id = $2 \
                 AND state = 'booked' AND seat_label IN (SELECT value FROM json_each($3))",
        // Locked in label order, as every seat move is (booking row first, then seats).
        postgres: "WITH mine AS ( \
                     SELECT seat_label FROM show_seats \
                     WHERE show_id = $1 AND booking_id = $2 AND state = 'booked' \
                       AND seat_label = ANY($3) ORDER BY seat_label FOR UPDATE) \
                   UPDATE show_seats s SET state = 'available', booking_id = NULL, \
                     held_until = NULL \
                   FROM mine WHERE s.show_id = $1 AND s.seat_label = mine.seat_label",
    };
    let labels: Vec<String> = seats.to_vec();
    tx.execute(RELEASE, params![&booking.show_id, &booking.id, &labels])?;
    let left: Vec<String> = booking
        .seat_labels()
        .into_iter()
        .filter(|s| !seats.contains(s))
        .collect();
    tx.execute(
        "UPDATE bookings SET seats = $1, updated_at = $2 WHERE id = $3",
        params![
            &serde_json::to_string(&left).unwrap_or_else(|_| "[]".into()),
            now,
            &booking.id
        ],
    )?;
    Ok(())
}

/// Refunds (part of) `booking_id` as `ask` says, on behalf of `admin`. Returns the
/// refund as the response body (JSON text), recorded with the idempotency key.
pub async fn refund_booking(
    app: &AppState,
    admin: &str,
    booking_id: &str,
    ask: RefundAsk,
    idempotency: Idempotency,
) -> Result<String, PaymentError> {
    let booking = bookings::get_booking(&app.db, booking_id)
        .await?
        .ok_or_else(|| BookingError::NotFound(booking_id.to_owned()))?;
    // Freed seats go to the show's waitlist first, priced from this snapshot.
    let pricing = ShowPricing::load(app, &booking.show_id)
        .await
        .map_err(BookingError::from)?;
    let now = app.clock.now().as_millis();
    let hold_ms = app.config.booking.hold_secs * 1000;
    let refund_id = RefundId::generate().to_string();
    let unit = (booking_id.to_owned(), admin.to_owned(), refund_id.clone());
    let (body, payment, ended) = app
        .db
        .write(move |tx| {
            let (booking_id, admin, refund_id) = &unit;
            let booking = bookings::lock_booking(tx, booking_id)?
                .ok_or_else(|| BookingError::NotFound(booking_id.clone()))?;
            let payment = match booking.status() {
                BookingStatus::Confirmed | BookingStatus::Cancelled => {
                    captured_payment(tx, booking_id)?
                }
                _ => None,
            }
            .ok_or(PaymentError::NothingCaptured)?;
            let refunded = refunded_so_far(tx, &booking, &payment)?;
            let live = booking.status() == BookingStatus::Confirmed;
            let planned = plan(
                &ask,
                live,
                &booking.seat_labels(),
                &seat_prices(&booking.quote),
                booking.total.min(payment.amount),
                booking.fee_total,
                refunded,
            )?;
            let row = RefundRow {
                id: refund_id.clone(),
                booking_id: booking.id.clone(),
                payment_id: payment.id.clone(),
                currency: payment.currency.clone(),
                amount: planned.amount(),
                ticket_amount: planned.ticket,
                fee_amount: planned.fee,
                seats: serde_json::to_string(&planned.seats).unwrap_or_else(|_| "[]".into()),
                reason: ask.reason.trim().to_owned(),
                requested_by: admin.clone(),
                status: "pending".into(),
                gateway_refund_id: None,
                created_at: now,
                completed_at: None,
            };
            let body = serde_json::to_string(&RefundView::from(row.clone())).unwrap_or_default();
            // The key first: a repeated request stops here and is answered from it.
            let recorded = idempotency.record(
                tx,
                Timestamp::from_millis(now),
                axum::http::StatusCode::CREATED,
                &body,
            )?;
            if !recorded {
                return Err(BookingError::IdempotencyRace.into());
            }
            tx.execute(
                &format!(
                    "INSERT INTO refunds ({REFUND_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
                ),
                params![
                    &row.id,
                    &row.booking_id,
                    &row.payment_id,
                    &row.currency,
                    row.amount,
                    row.ticket_amount,
                    row.fee_amount,
                    &row.seats,
                    &row.reason,
                    &row.requested_by,
                    &row.status,
                    &row.gateway_refund_id,
                    row.created_at,
                    row.completed_at
                ],
            )?;
            let mut events = vec![Event::BookingRefunded {
                refund_id: row.id.clone(),
                booking_id: booking.id.clone(),
                show_id: booking.show_id.clone(),
                payment_id: payment.id.clone(),
                amount: row.amount,
                currency: row.currency.clone(),
                seats: planned.seats.clone(),
                reason: row.reason.clone(),
            }];
            if !planned.seats.is_empty() {
                release_seats(tx, &booking, &planned.seats, now)?;
                events.push(Event::SeatsReleased {
                    show_id: booking.show_id.clone(),
                    seats: planned.seats.clone(),
                    reason: "refunded".into(),
                });
            }
            if planned.ends_booking {
                bookings::set_status(tx, &booking.id, "confirmed", "cancelled", now, None)?;
                events.push(Event::BookingCancelled {
                    booking_id: booking.id.clone(),
                    show_id: booking.show_id.clone(),
                    by: "admin".into(),
                    refund: None,
                });
            }
            outbox::append_all(tx, &events, now)?;
            if !planned.seats.is_empty() {
                waitlist::offer_freed(tx, &pricing, hold_ms, Timestamp::from_millis(now))?;
            }
            Ok::<_, PaymentError>((body, payment, planned.ends_booking))
        })
        .await?;
    if ended {
        metrics::counter!("marquee_bookings_cancelled_total", "by" => "admin").increment(1);
    }
    app.cache.invalidate_show(&booking.show_id);
    app.booking_watch.changed(booking_id);
    send(app, &refund_id, &payment).await;
    Ok(body)
}

/// Asks the gateway for one pending refund and records its answer; a failure is logged
/// and left to `retry_pending`.
async fn send(app: &AppState, refund_id: &str, payment: &PaymentRow) {
    let row: Option<RefundRow> = match app
        .db
        .fetch_optional(
            &format!("SELECT {REFUND_COLUMNS} FROM refunds WHERE id = $1"),
            params![refund_id],
        )
        .await
    {
        Ok(row) => row,
        Err(error) => {
            tracing::warn!(%error, refund = refund_id, "cannot read a refund to send");
            return;
        }
    };
    let Some(row) = row.filter(|r| r.status == "pending") else {
        return;
    };
    let currency = Currency::parse(&row.currency).unwrap_or(Currency::UNKNOWN);
    let amount = row.amount;
    let request = RefundRequest {
        key: row.id.clone(),
        payment_id: row.payment_id.clone(),
        intent_id: payment.intent_id.clone(),
        amount: Money::new(row.amount, currency),
    };
    let gateway_id = match app.gateway.refund(request).await {
        Ok(id) => id,
        Err(error) => {
            tracing::warn!(%error, refund = refund_id, "gateway refund failed; will retry");
            return;
        }
    };
    let now = app.clock.now().as_millis();
    let recorded = app
        .db
        .write(move |tx| {
            let done = tx.execute(
                "UPDATE refunds SET status = 'succeeded', gateway_refund_id = $1, \
                 completed_at = $2 WHERE id = $3 AND status = 'pending'",
                params![&gateway_id, now, &row.id],
            )?;
            if done == 1 {
                let event = Event::PaymentRefunded {
                    payment_id: row.payment_id.clone(),
                    booking_id: row.booking_id.clone(),
                    amount: row.amount,
                    currency: row.currency.clone(),
                };
                outbox::append(tx, &event, now)?;
            }
            Ok::<_, PaymentError>(done == 1)
        })
        .await;
    match recorded {
        // Counted once: only the unit that moved the refund to succeeded returns true.
        Ok(true) => {
            metrics::counter!("marquee_refunds_total").increment(1);
            metrics::counter!("marquee_refunded_amount_minor_total", "currency" => currency.as_str().to_owned())
                .increment(u64::try_from(amount).unwrap_or(0));
        }
        Ok(false) => {}
        Err(error) => {
            tracing::warn!(%error, refund = refund_id, "refund made but not recorded; will retry");
        }
    }
}

/// Sends the refunds still pending after `RETRY_AFTER_MS` (the process stopped between
/// recording one and the gateway's answer, or the gateway was away). Returns how many it
/// tried.
pub async fn retry_pending(app: &AppState) -> Result<usize, PaymentError> {
    let before = app.clock.now().as_millis() - RETRY_AFTER_MS;
    let due: Vec<(String, String)> = app
        .db
        .fetch_all(
            "SELECT id, payment_id FROM refunds WHERE status = 'pending' AND created_at < $1 \
             ORDER BY created_at LIMIT 100",
            params![before],
        )
        .await?;
    for (refund_id, payment_id) in &due {
        if let Some(payment) = bookings::get_payment(&app.db, payment_id).await? {
            send(app, refund_id, &payment).await;
        }
    }
    Ok(due.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask() -> RefundAsk {
        RefundAsk {
            full: false,
            seats: Vec::new(),
            amount: None,
            include_fees: false,
            reason: "seat broken".into(),
        }
    }

    fn three_seats() -> (Vec<String>, Vec<SeatPrice>) {
        let seats: Vec<String> = ["A1", "A2", "A3"].map(String::from).to_vec();
        let prices = seats
            .iter()
            .map(|s| SeatPrice {
                seat: s.clone(),
                price: 15_000,
                fee: 750,
            })
            .collect();
        (seats, prices)
    }

    #[test]
    fn one_seat_of_three_refunds_its_ticket_and_keeps_the_rest() {
        let (seats, prices) = three_seats();
        let one = RefundAsk {
            seats: vec!["A2".into()],
            ..ask()
        };
        let planned = plan(
            &one,
            true,
            &seats,
            &prices,
            47_250,
            2_250,
            Refunded::default(),
        );
        assert_eq!(
            planned.ok(),
            Some(Planned {
                ticket: 15_000,
                fee: 0,
                seats: vec!["A2".into()],
                ends_booking: false
            })
        );
        let with_fees = RefundAsk {
            include_fees: true,
            ..one
        };
        let planned = plan(
            &with_fees,
            true,
            &seats,
            &prices,
            47_250,
            2_250,
            Refunded::default(),
        );
        assert_eq!(planned.map(|p| p.amount()).ok(), Some(15_750));
    }

    #[test]
    fn never_more_than_was_captured() {
        let (seats, prices) = three_seats();
        let refunded = Refunded {
            ticket: 40_000,
            fee: 0,
        };
        let too_much = RefundAsk {
            amount: Some(7_251),
            ..ask()
        };
        match plan(&too_much, true, &seats, &prices, 47_250, 2_250, refunded) {
            Err(PaymentError::RefundExceedsCaptured {
                requested,
                refundable,
            }) => assert_eq!((requested, refundable), (7_251, 7_250)),
            other => panic!("{other:?}"),
        }
        let rest = RefundAsk {
            amount: Some(7_250),
            ..ask()
        };
        let planned = plan(&rest, true, &seats, &prices, 47_250, 2_250, refunded).ok();
        assert_eq!(planned.map(|p| (p.ticket, p.fee)), Some((5_000, 2_250)));
        // A seat's ticket beyond what the tickets have left.
        let seat = RefundAsk {
            seats: vec!["A1".into()],
            ..ask()
        };
        assert!(matches!(
            plan(&seat, true, &seats, &prices, 47_250, 2_250, refunded),
            Err(PaymentError::RefundExceedsCaptured { .. })
        ));
        let everything = Refunded {
            ticket: 45_000,
            fee: 2_250,
        };
        let full = RefundAsk {
            full: true,
            ..ask()
        };
        assert!(matches!(
            plan(&full, false, &[], &prices, 47_250, 2_250, everything),
            Err(PaymentError::NothingToRefund)
        ));
    }

    #[test]
    fn full_refund_takes_what_is_left_and_ends_the_booking() {
        let (seats, prices) = three_seats();
        let full = RefundAsk {
            full: true,
            ..ask()
        };
        let refunded = Refunded {
            ticket: 15_000,
            fee: 0,
        };
        let planned = plan(&full, true, &seats[..2], &prices, 47_250, 2_250, refunded);
        assert_eq!(
            planned.ok(),
            Some(Planned {
                ticket: 30_000,
                fee: 2_250,
                seats: vec!["A1".into(), "A2".into()],
                ends_booking: true
            })
        );
        // Every seat by name ends it too.
        let all = RefundAsk {
            seats: seats.clone(),
            ..ask()
        };
        let planned = plan(
            &all,
            true,
            &seats,
            &prices,
            47_250,
            2_250,
            Refunded::default(),
        );
        assert_eq!(planned.map(|p| p.ends_booking).ok(), Some(true));
    }

    #[test]
    fn a_request_names_exactly_one_thing_and_why() {
        let (seats, prices) = three_seats();
        for bad in [
            RefundAsk {
                full: true,
                amount: Some(1),
                ..ask()
            },
            ask(),
            RefundAsk {
                amount: Some(0),
                ..ask()
            },
            RefundAsk {
                seats: vec!["Z9".into()],
                ..ask()
            },
            RefundAsk {
                seats: vec!["A1".into(), "A1".into()],
                ..ask()
            },
            RefundAsk {
                amount: Some(5),
                reason: "  ".into(),
                ..ask()
            },
            RefundAsk {
                amount: Some(5),
                include_fees: true,
                ..ask()
            },
        ] {
            assert!(
                matches!(
                    plan(
                        &bad,
                        true,
                        &seats,
                        &prices,
                        47_250,
                        2_250,
                        Refunded::default()
                    ),
                    Err(PaymentError::InvalidRefund(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_cancellation_gives_back_the_tickets_first() {
        let staff = Refunded {
            ticket: 15_000,
            fee: 0,
        };
        // A customer's cancellation after a seat was refunded: the other two tickets.
        assert_eq!(
            already_refunded(47_250, 2_250, staff, Some(30_000)),
            Refunded {
                ticket: 45_000,
                fee: 0
            }
        );
        // A cancelled show gives back everything that was left.
        assert_eq!(
            already_refunded(47_250, 2_250, staff, Some(32_250)),
            Refunded {
                ticket: 45_000,
                fee: 2_250
            }
        );
    }
}
