//! Booking rules: holds (single and bulk), reading, cancelling, show cancellation.

use std::{collections::BTreeSet, sync::Arc};

use futures::future::BoxFuture;

use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    BookingError,
    model::{BookingRow, BookingStatus, BookingView, booking_view},
    store::{self, HoldOutcome, KeyRecord},
    waitlist,
};
use crate::{
    app::AppState,
    db::Conn,
    http::{idempotency::Idempotency, pagination::Page},
    ids::{BookingGroupId, BookingId, ShowId, UserId},
    integration::{events::Event, outbox},
    inventory::service as inventory,
    money::{Currency, Money},
    offers::service::price_seats,
    payment::service as payments,
    time::Timestamp,
};

/// Seats wanted in one show.
#[derive(Debug, Clone)]
pub struct SeatRequest {
    pub show_id: String,
    pub seats: Vec<String>,
}

/// A booking about to be held: its row and the seats to claim.
pub(super) struct PlannedHold {
    pub(super) row: BookingRow,
    pub(super) seats: Vec<String>,
}

fn check_labels(seats: &[String], max: usize) -> Result<(), BookingError> {
    if seats.is_empty() || seats.len() > max {
        return Err(BookingError::Invalid(format!("choose 1 to {max} seats")));
    }
    let distinct: BTreeSet<&str> = seats.iter().map(String::as_str).collect();
    if distinct.len() != seats.len() {
        return Err(BookingError::Invalid(
            "a seat may be listed only once".into(),
        ));
    }
    if let Some(bad) = seats
        .iter()
        .find(|s| s.is_empty() || s.len() > 16 || !s.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        return Err(BookingError::UnknownSeats(vec![bad.clone()]));
    }
    Ok(())
}

/// Prices the request and builds the booking row; nothing is written.
pub(super) async fn plan_hold(
    app: &AppState,
    customer: &UserId,
    request: &SeatRequest,
    group_id: Option<&str>,
    now: Timestamp,
) -> Result<PlannedHold, BookingError> {
    let show_id = ShowId::parse(&request.show_id)
        .ok_or_else(|| BookingError::ShowNotFound(request.show_id.clone()))?;
    let facts = app.show_facts.get(app, show_id.as_str()).await?;
    let show = &facts.show;
    if !inventory::on_sale(show, now) {
        return Err(BookingError::ShowNotOnSale);
    }
    let quote = price_seats(app, &facts, &request.seats, now).await?;
    let seats: Vec<String> = quote.lines.iter().map(|l| l.seat.clone()).collect();
    let expires_at = now.as_millis() + app.config.booking.hold_secs * 1000;
    let row = BookingRow {
        id: BookingId::generate().to_string(),
        customer_id: customer.to_string(),
        show_id: show.id.clone(),
        group_id: group_id.map(str::to_owned),
        status: BookingStatus::PendingPayment.as_str().into(),
        seats: serde_json::to_string(&seats).unwrap_or_default(),
        currency: show.currency.clone(),
        total: quote.total.amount,
        fee_total: quote.fee_total.amount,
        quote: serde_json::to_string(&quote).unwrap_or_default(),
        refund: None,
        expires_at,
        created_at: now.as_millis(),
        updated_at: now.as_millis(),
        confirmed_at: None,
        cancelled_at: None,
        starts_at: show.starts_at,
        // Not part of any customer view.
        org_id: String::new(),
    };
    Ok(PlannedHold { row, seats })
}

/// Inserts the planned bookings and claims their seats, all or nothing, inside one unit
/// of work; the idempotency key (if any) is recorded with `body` in the same unit. A
/// single hold is one statement on PostgreSQL (`Db::write_statement`); a bulk hold is a
/// transaction of them.
async fn commit_holds(
    app: &AppState,
    plans: Vec<PlannedHold>,
    body: String,
    idempotency: Option<Idempotency>,
    now: Timestamp,
) -> Result<(), BookingError> {
    let bulk = plans.len() > 1;
    let shared = Arc::new(HoldWork {
        plans,
        body,
        idempotency,
        now,
    });
    if bulk {
        app.db.write(hold_unit(shared.clone())).await?;
    } else {
        app.db.write_statement(hold_unit(shared.clone())).await?;
    }
    for plan in &shared.plans {
        app.cache.invalidate_show(&plan.row.show_id);
    }
    Ok(())
}

struct HoldWork {
    plans: Vec<PlannedHold>,
    body: String,
    idempotency: Option<Idempotency>,
    now: Timestamp,
}

fn hold_unit(
    work: Arc<HoldWork>,
) -> impl for<'c> Fn(Conn<'c>) -> BoxFuture<'c, Result<(), BookingError>> + Send + Sync + 'static {
    move |conn| Box::pin(run_holds(work.clone(), conn))
}

/// The unit of work of `commit_holds`.
async fn run_holds(work: Arc<HoldWork>, mut conn: Conn<'_>) -> Result<(), BookingError> {
    let bulk = work.plans.len() > 1;
    let mut unavailable = Vec::new();
    for (i, plan) in work.plans.iter().enumerate() {
        // The key goes with the first booking; the rest share its unit of work.
        let key = work
            .idempotency
            .as_ref()
            .filter(|_| i == 0)
            .map(|key| KeyRecord {
                key,
                status: StatusCode::CREATED,
                response: &work.body,
            });
        let outcome =
            store::hold(&mut conn, &plan.row, &plan.seats, key, work.now.as_millis()).await?;
        match outcome {
            HoldOutcome::Held => {}
            HoldOutcome::KeyTaken => return Err(BookingError::IdempotencyRace),
            HoldOutcome::NotOnSale => return Err(BookingError::ShowNotOnSale),
            HoldOutcome::Unavailable(seats) => {
                unavailable.extend(seats.into_iter().map(|s| {
                    if bulk {
                        format!("{}:{s}", plan.row.show_id)
                    } else {
                        s
                    }
                }));
            }
        }
    }
    if !unavailable.is_empty() {
        return Err(BookingError::SeatsUnavailable(unavailable));
    }
    Ok(())
}

/// Holds seats of one show for a customer. Returns the response body (JSON text).
pub async fn hold(
    app: &AppState,
    customer: &UserId,
    request: SeatRequest,
    idempotency: Option<Idempotency>,
) -> Result<String, BookingError> {
    check_labels(&request.seats, app.config.booking.max_seats)?;
    let now = app.clock.now();
    let plan = plan_hold(app, customer, &request, None, now).await?;
    let body = serde_json::to_string(&booking_view(&plan.row, &[])).unwrap_or_default();
    commit_holds(app, vec![plan], body.clone(), idempotency, now).await?;
    Ok(body)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkBooking {
    pub group_id: String,
    pub bookings: Vec<BookingView>,
    /// What the whole group costs.
    pub total: Money,
}

/// Holds seats across shows, all or nothing: one booking per show, one group.
pub async fn hold_bulk(
    app: &AppState,
    customer: &UserId,
    items: Vec<SeatRequest>,
    idempotency: Option<Idempotency>,
) -> Result<String, BookingError> {
    let limits = &app.config.booking;
    if items.is_empty() || items.len() > limits.bulk_max_items {
        return Err(BookingError::Invalid(format!(
            "a bulk booking has 1 to {} items",
            limits.bulk_max_items
        )));
    }
    let total_seats: usize = items.iter().map(|i| i.seats.len()).sum();
    if total_seats > limits.bulk_max_seats {
        return Err(BookingError::Invalid(format!(
            "a bulk booking holds at most {} seats",
            limits.bulk_max_seats
        )));
    }
    let shows: BTreeSet<&str> = items.iter().map(|i| i.show_id.as_str()).collect();
    if shows.len() != items.len() {
        return Err(BookingError::Invalid(
            "list each show once, with all its seats".into(),
        ));
    }
    for item in &items {
        check_labels(&item.seats, limits.bulk_max_seats)?;
    }
    let now = app.clock.now();
    let group_id = BookingGroupId::generate().to_string();
    let mut plans = Vec::with_capacity(items.len());
    for item in &items {
        plans.push(plan_hold(app, customer, item, Some(&group_id), now).await?);
    }
    let bookings: Vec<BookingView> = plans.iter().map(|p| booking_view(&p.row, &[])).collect();
    let currency = bookings
        .first()
        .map_or(Currency::UNKNOWN, |b| b.total.currency);
    let total = Money::sum(currency, bookings.iter().map(|b| b.total))
        .map_err(|_| BookingError::Invalid("a bulk booking is for shows in one currency".into()))?;
    let body = serde_json::to_string(&BulkBooking {
        group_id,
        bookings,
        total,
    })
    .unwrap_or_default();
    commit_holds(app, plans, body.clone(), idempotency, now).await?;
    Ok(body)
}

/// The customer's own booking as they see it, with its payments; anyone else's is "not
/// found".
pub async fn own_booking_view(
    app: &AppState,
    customer: &UserId,
    id: &str,
) -> Result<BookingView, BookingError> {
    let (row, payments) = store::booking_with_payments(&app.db, id)
        .await?
        .filter(|(b, _)| b.customer_id == customer.as_str())
        .ok_or_else(|| BookingError::NotFound(id.to_owned()))?;
    Ok(booking_view(&row, &payments))
}

/// The customer's own booking; anyone else's is "not found".
pub async fn own_booking(
    app: &AppState,
    customer: &UserId,
    id: &str,
) -> Result<BookingRow, BookingError> {
    store::get_booking(&app.db, id)
        .await?
        .filter(|b| b.customer_id == customer.as_str())
        .ok_or_else(|| BookingError::NotFound(id.to_owned()))
}

/// A page of bookings with their payments.
pub async fn page(
    app: &AppState,
    rows: Vec<BookingRow>,
    limit: u32,
) -> Result<Page<BookingView>, BookingError> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let payments = store::payments_of(&app.db, &ids).await?;
    let page = Page::from_rows(rows, limit, |r| (r.created_at, r.id.clone()));
    Ok(page.map(|row| booking_view(&row, &payments)))
}

/// What a cancellation did, for refunds after commit.
struct Cancelled {
    show_id: String,
    refunds: Vec<String>,
}

/// Cancels a customer's booking: a confirmed one until the cutoff (refund = total − fees),
/// or a pending hold (released, nothing to refund).
pub async fn cancel(
    app: &AppState,
    customer: &UserId,
    id: &str,
) -> Result<BookingView, BookingError> {
    let now = app.clock.now().as_millis();
    let cutoff_ms = app.config.booking.cancel_cutoff_minutes * 60_000;
    let cutoff_minutes = app.config.booking.cancel_cutoff_minutes;
    let (customer_id, booking_id) = (customer.to_string(), id.to_owned());
    let unit_app = app.clone();
    let done = app
        .db
        .write(move |mut conn: Conn<'_>| {
            let (customer_id, booking_id) = (customer_id.clone(), booking_id.clone());
            let app = unit_app.clone();
            Box::pin(async move {
                let booking = store::lock_booking(&mut conn, &booking_id)
                    .await?
                    .filter(|b| b.customer_id == customer_id)
                    .ok_or_else(|| BookingError::NotFound(booking_id.clone()))?;
                let show = booking.show_id.clone();
                match booking.status() {
                    BookingStatus::Confirmed => {
                        if now > booking.starts_at - cutoff_ms {
                            return Err(BookingError::CancellationClosed(cutoff_minutes));
                        }
                        let refund = booking.total - booking.fee_total;
                        store::move_seats(&mut conn, &show, &booking.id, "booked", "available")
                            .await?;
                        store::set_status(
                            &mut conn,
                            &booking.id,
                            "confirmed",
                            "cancelled",
                            now,
                            Some(refund),
                        )
                        .await?;
                        let refunds =
                            store::start_refund_of_booking(&mut conn, &booking.id, refund, now)
                                .await?;
                        seats_returned(&app, &mut conn, &booking, Some(refund), now).await?;
                        Ok(Cancelled {
                            show_id: show,
                            refunds,
                        })
                    }
                    BookingStatus::PendingPayment if now < booking.expires_at => {
                        store::move_seats(&mut conn, &show, &booking.id, "held", "available")
                            .await?;
                        store::set_status(
                            &mut conn,
                            &booking.id,
                            "pending_payment",
                            "cancelled",
                            now,
                            None,
                        )
                        .await?;
                        waitlist::booking_ended(&mut conn, &booking.id, "cancelled", now).await?;
                        seats_returned(&app, &mut conn, &booking, None, now).await?;
                        Ok(Cancelled {
                            show_id: show,
                            refunds: Vec::new(),
                        })
                    }
                    BookingStatus::PendingPayment => Err(BookingError::NotCancellable("expired")),
                    other => Err(BookingError::NotCancellable(other.as_str())),
                }
            })
        })
        .await?;
    app.cache.invalidate_show(&done.show_id);
    for payment in &done.refunds {
        payments::refund(app, payment).await;
    }
    app.booking_watch.changed(id);
    own_booking_view(app, customer, id).await
}

/// Inside a customer's cancellation: its events, and the seats it returned offered to
/// the show's waitlist before anyone else can take them.
async fn seats_returned(
    app: &AppState,
    conn: &mut Conn<'_>,
    booking: &BookingRow,
    refund: Option<i64>,
    now: i64,
) -> Result<(), BookingError> {
    let events = [
        Event::BookingCancelled {
            booking_id: booking.id.clone(),
            show_id: booking.show_id.clone(),
            by: "customer".into(),
            refund,
        },
        Event::SeatsReleased {
            show_id: booking.show_id.clone(),
            seats: booking.seat_labels(),
            reason: "cancelled".into(),
        },
    ];
    outbox::append_all(conn, &events, now).await?;
    waitlist::offer_freed(app, conn, &booking.show_id, Timestamp::from_millis(now)).await?;
    Ok(())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShowCancellation {
    pub show_id: String,
    pub status: &'static str,
    pub bookings_cancelled: usize,
    pub refunds: usize,
    pub refunded_total: Money,
}

/// Cancels a show of the partner's organisation with every booking of it; confirmed
/// bookings are refunded in full. Repeating it changes nothing.
pub async fn cancel_show(
    app: &AppState,
    org_id: &str,
    show_id: &str,
) -> Result<ShowCancellation, BookingError> {
    let show = inventory::show_row(&app.db, show_id).await?;
    if store::show_org(&app.db, show_id).await?.as_deref() != Some(org_id) {
        return Err(BookingError::ShowNotFound(show_id.to_owned()));
    }
    let currency = Currency::parse(&show.currency).unwrap_or(Currency::UNKNOWN);
    let now = app.clock.now().as_millis();
    let id = show_id.to_owned();
    let outcome = app
        .db
        .write(move |mut conn: Conn<'_>| {
            let id = id.clone();
            Box::pin(async move {
                let outcome = store::cancel_show(&mut conn, &id, now).await?;
                if let Some((bookings, _)) = &outcome {
                    let mut events = vec![Event::ShowCancelled {
                        show_id: id.clone(),
                    }];
                    events.extend(bookings.iter().map(|(booking, refund)| {
                        Event::BookingCancelled {
                            booking_id: booking.clone(),
                            show_id: id.clone(),
                            by: "partner".into(),
                            refund: *refund,
                        }
                    }));
                    outbox::append_all(&mut conn, &events, now).await?;
                    // Nobody waits for a show that will not run.
                    waitlist::show_cancelled(&mut conn, &id, now).await?;
                }
                Ok::<_, BookingError>(outcome)
            })
        })
        .await?;
    app.cache.invalidate_show(show_id);
    app.cache.invalidate_catalog();
    let (bookings, refunds) = outcome.unwrap_or_default();
    for payment in &refunds {
        payments::refund(app, payment).await;
    }
    Ok(ShowCancellation {
        show_id: show_id.to_owned(),
        status: "cancelled",
        bookings_cancelled: bookings.len(),
        refunds: refunds.len(),
        refunded_total: Money::new(bookings.iter().filter_map(|(_, r)| *r).sum(), currency),
    })
}
