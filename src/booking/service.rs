//! Booking rules: holds (single and bulk), reading, cancelling, show cancellation.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    BookingError,
    model::{BookingRow, BookingStatus, BookingView, booking_view},
    store::{self, HoldCaps, HoldOutcome, KeyRecord},
    waitlist,
};
use crate::{
    app::AppState,
    db::Tx,
    http::{idempotency::Idempotency, pagination::Page},
    ids::{BookingGroupId, BookingId, ShowId, UserId},
    integration::{events::Event, outbox},
    inventory::{best_available::Wanted, service as inventory},
    money::{Currency, Money},
    offers::service::ShowPricing,
    payment::service as payments,
    time::Timestamp,
};

/// Which seats a hold takes.
#[derive(Debug, Clone)]
pub enum SeatChoice {
    /// These seats, all or none.
    Named(Vec<String>),
    /// The best free seats for what is wanted, chosen by the server as it holds them.
    Best(Wanted),
}

/// How often a best-available hold chooses again after its seats were taken first (by a
/// buyer on another node, or one who named them).
const BEST_AVAILABLE_ATTEMPTS: usize = 4;

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
async fn plan_hold(
    app: &AppState,
    customer: &UserId,
    request: &SeatRequest,
    group_id: Option<&str>,
    now: Timestamp,
) -> Result<PlannedHold, BookingError> {
    let show_id = ShowId::parse(&request.show_id)
        .ok_or_else(|| BookingError::ShowNotFound(request.show_id.clone()))?;
    let pricing = ShowPricing::load(app, show_id.as_str()).await?;
    let hold_ms = app.config.booking.hold_secs * 1000;
    planned_hold(&pricing, customer, &request.seats, group_id, now, hold_ms)
}

/// The booking a hold of `seats` (distinct labels) made at `now` would create, priced from
/// `pricing`: a pure function, so a unit of work can plan a hold too (a waitlist offer).
pub(super) fn planned_hold(
    pricing: &ShowPricing,
    customer: &UserId,
    seats: &[String],
    group_id: Option<&str>,
    now: Timestamp,
    hold_ms: i64,
) -> Result<PlannedHold, BookingError> {
    let show = &pricing.facts.show;
    if !inventory::on_sale(show, now) {
        return Err(BookingError::ShowNotOnSale);
    }
    let quote = pricing.price(seats, now)?;
    let seats: Vec<String> = quote.lines.iter().map(|l| l.seat.clone()).collect();
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
        expires_at: now.as_millis() + hold_ms,
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
    seat_cap: Option<i64>,
    now: Timestamp,
) -> Result<(), BookingError> {
    let shows: Vec<String> = plans.iter().map(|p| p.row.show_id.clone()).collect();
    let limits = &app.config.booking;
    let work = HoldWork {
        plans,
        body,
        idempotency,
        caps: HoldCaps {
            per_show: limits.max_held_seats_per_show as i64,
            per_account: limits.max_held_seats_per_account as i64,
            in_room: seat_cap,
        },
        now,
    };
    // A waiting room's seat cap is counted under a lock, in a transaction (`run_holds`).
    if work.plans.len() > 1 || seat_cap.is_some() {
        app.db.write(move |tx| run_holds(tx, &work)).await?;
    } else {
        app.db
            .write_statement(move |tx| run_holds(tx, &work))
            .await?;
    }
    // The funnel's first step, counted once committed: one per booking (show) held.
    metrics::counter!("marquee_holds_total").increment(shows.len() as u64);
    for show in &shows {
        app.cache.invalidate_show(show);
    }
    Ok(())
}

struct HoldWork {
    plans: Vec<PlannedHold>,
    body: String,
    idempotency: Option<Idempotency>,
    caps: HoldCaps,
    now: Timestamp,
}

/// The unit of work of `commit_holds`.
fn run_holds(tx: &mut Tx<'_>, work: &HoldWork) -> Result<(), BookingError> {
    let bulk = work.plans.len() > 1;
    if let (Some(cap), [plan]) = (work.caps.in_room, work.plans.as_slice()) {
        let have = store::room_seats_of_customer(tx, &plan.row.show_id, &plan.row.customer_id)?;
        if have + plan.seats.len() as i64 > cap {
            return Err(BookingError::SeatCapReached { cap, have });
        }
    }
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
        let caps = work.caps;
        match store::hold(tx, &plan.row, &plan.seats, key, caps, work.now.as_millis())? {
            HoldOutcome::Held => {}
            HoldOutcome::KeyTaken => return Err(BookingError::IdempotencyRace),
            HoldOutcome::NotOnSale => return Err(BookingError::ShowNotOnSale),
            HoldOutcome::CapReached { in_show, in_all } => {
                return Err(BookingError::HoldLimitReached {
                    in_show,
                    in_all,
                    per_show: caps.per_show,
                    per_account: caps.per_account,
                });
            }
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
    show_id: &str,
    choice: SeatChoice,
    admission_token: Option<&str>,
    idempotency: Option<Idempotency>,
) -> Result<String, BookingError> {
    let max = app.config.booking.max_seats;
    let count = match &choice {
        SeatChoice::Named(seats) => {
            check_labels(seats, max)?;
            seats.len()
        }
        SeatChoice::Best(wanted) if wanted.count == 0 || wanted.count > max => {
            return Err(BookingError::Invalid(format!("choose 1 to {max} seats")));
        }
        SeatChoice::Best(wanted) => wanted.count,
    };
    let now = app.clock.now();
    let started = std::time::Instant::now();
    let room = app.waiting_rooms.facts(app, show_id).await?;
    if let Some(room) = &room {
        check_admission(app, customer, show_id, room, admission_token, now).await?;
        // More than the room allows anyone: refused without a look at the database.
        if count as i64 > room.seats_per_account {
            return Err(BookingError::SeatCapReached {
                cap: room.seats_per_account,
                have: 0,
            });
        }
    }
    let seat_cap = room.map(|room| room.seats_per_account);
    let held = match choice {
        SeatChoice::Named(seats) => {
            let request = SeatRequest {
                show_id: show_id.to_owned(),
                seats,
            };
            hold_admitted(app, customer, request, idempotency, seat_cap, now).await
        }
        SeatChoice::Best(wanted) => {
            hold_best_available(app, customer, show_id, wanted, idempotency, seat_cap, now).await
        }
    };
    if room.is_some() && held.is_ok() {
        let millis = started.elapsed().as_secs_f64() * 1000.0;
        app.waiting_rooms.record_hold(show_id, millis);
    }
    held
}

/// Holds the best free seats for `wanted`: chosen from the seats as they stand now (not a
/// cached map), leaving out those this node's other best-available holds are claiming, and
/// chosen again if a buyer elsewhere took them first.
async fn hold_best_available(
    app: &AppState,
    customer: &UserId,
    show_id: &str,
    wanted: Wanted,
    idempotency: Option<Idempotency>,
    seat_cap: Option<i64>,
    now: Timestamp,
) -> Result<String, BookingError> {
    let mut last = None;
    for _ in 0..BEST_AVAILABLE_ATTEMPTS {
        let map = inventory::seat_map(&app.db, show_id, now).await?.value;
        if !map.on_sale {
            return Err(BookingError::ShowNotOnSale);
        }
        let claim = app.seats_in_flight.choose(show_id, |busy| {
            let proposal = inventory::propose(&map, wanted, busy)?;
            Some(proposal.seats.iter().map(|s| s.label.to_owned()).collect())
        });
        let Some(claim) = claim else {
            return Err(BookingError::NoSeatsToPropose(wanted.describe()));
        };
        let request = SeatRequest {
            show_id: show_id.to_owned(),
            seats: claim.seats.clone(),
        };
        match hold_admitted(app, customer, request, idempotency.clone(), seat_cap, now).await {
            Ok(body) => {
                claim.keep();
                return Ok(body);
            }
            Err(error @ BookingError::SeatsUnavailable(_)) => {
                metrics::counter!("marquee_best_available_rechosen_total").increment(1);
                last = Some(error);
            }
            Err(error) => return Err(error),
        }
    }
    Err(last.unwrap_or_else(|| BookingError::NoSeatsToPropose(wanted.describe())))
}

/// A hold on a show with a waiting room needs the customer's admission for the show.
async fn check_admission(
    app: &AppState,
    customer: &UserId,
    show_id: &str,
    room: &crate::waiting_room::RoomFacts,
    token: Option<&str>,
    now: Timestamp,
) -> Result<(), BookingError> {
    use crate::waiting_room::admission::{self, Refusal};
    if crate::waiting_room::before_on_sale(room, now) {
        return Err(BookingError::AdmissionRequired(format!(
            "sales open at {}; join the waiting room (POST /api/v1/shows/{show_id}/waiting-room/entries)",
            Timestamp::from_millis(room.on_sale_at),
        )));
    }
    let Some(token) = token else {
        return Err(BookingError::AdmissionRequired(format!(
            "this show has a waiting room: join it and hold with the admission_token it gives \
             you (POST /api/v1/shows/{show_id}/waiting-room/entries)",
        )));
    };
    let checked = admission::verify(
        &app.admission_key,
        token,
        customer.as_str(),
        show_id,
        now.as_millis(),
    );
    if let Err(refusal) = checked {
        let why = match refusal {
            Refusal::Expired => "your admission has expired",
            Refusal::NotYours => "the admission token is for another account or show",
            Refusal::Malformed | Refusal::BadSignature => "the admission token is not valid",
        };
        return Err(BookingError::AdmissionRequired(why.to_owned()));
    }
    // The room's seats per account are counted in the hold's unit of work (`run_holds`).
    Ok(())
}

/// Holds seats for a customer allowed to (admitted, where the show has a waiting room).
/// Returns the response body.
async fn hold_admitted(
    app: &AppState,
    customer: &UserId,
    request: SeatRequest,
    idempotency: Option<Idempotency>,
    seat_cap: Option<i64>,
    now: Timestamp,
) -> Result<String, BookingError> {
    let plan = plan_hold(app, customer, &request, None, now).await?;
    let show_id = plan.row.show_id.clone();
    if app.hold_contention.is_contended(&show_id, now) {
        let taken = store::taken_seats(&app.db, &show_id, &plan.seats, now.as_millis()).await?;
        if !taken.is_empty() {
            metrics::counter!("marquee_holds_refused_before_writer_total").increment(1);
            return Err(BookingError::SeatsUnavailable(taken));
        }
    }
    let body = serde_json::to_string(&booking_view(&plan.row, &[])).unwrap_or_default();
    match commit_holds(app, vec![plan], body.clone(), idempotency, seat_cap, now).await {
        Ok(()) => Ok(body),
        Err(error) => {
            if matches!(error, BookingError::SeatsUnavailable(_)) {
                app.hold_contention.record_collision(&show_id, now);
            }
            Err(error)
        }
    }
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
    for item in &items {
        if app.waiting_rooms.facts(app, &item.show_id).await?.is_some() {
            return Err(BookingError::AdmissionRequired(format!(
                "show {} has a waiting room: hold its seats on their own, with your admission",
                item.show_id
            )));
        }
    }
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
    commit_holds(app, plans, body.clone(), idempotency, None, now).await?;
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

/// Mails a confirmed booking's tickets to its customer again: a `ticket.resent` event in the
/// same unit of work that checks the booking, so the message goes through the mail outbox
/// like every other. `customer` `Some`: only their own booking (anyone else's is "not
/// found"); `None`: staff, any booking.
pub async fn resend_ticket(
    app: &AppState,
    customer: Option<&UserId>,
    id: &str,
) -> Result<(), BookingError> {
    let now = app.clock.now().as_millis();
    let (id, customer) = (id.to_owned(), customer.map(|c| c.to_string()));
    app.db
        .write(move |tx| {
            let booking = store::get_booking_in(tx, &id)?
                .filter(|b| customer.as_ref().is_none_or(|c| *c == b.customer_id))
                .ok_or_else(|| BookingError::NotFound(id.clone()))?;
            if booking.status() != BookingStatus::Confirmed {
                return Err(BookingError::TicketUnavailable(booking.status().as_str()));
            }
            let event = Event::TicketResent {
                booking_id: id.clone(),
            };
            outbox::append(tx, &event, now)?;
            Ok(())
        })
        .await
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
/// or a pending hold (released, nothing to refund). The seats it returns go to the show's
/// waitlist first, priced from a snapshot taken before the unit of work.
pub async fn cancel(
    app: &AppState,
    customer: &UserId,
    id: &str,
) -> Result<BookingView, BookingError> {
    let booking = own_booking(app, customer, id).await?;
    let pricing = ShowPricing::load(app, &booking.show_id).await?;
    let now = app.clock.now().as_millis();
    let cutoff_minutes = app.config.booking.cancel_cutoff_minutes;
    let hold_ms = app.config.booking.hold_secs * 1000;
    let (customer_id, booking_id) = (customer.to_string(), id.to_owned());
    let done = app
        .db
        .write(move |tx| {
            cancel_by_customer(
                tx,
                &customer_id,
                &booking_id,
                &pricing,
                cutoff_minutes,
                hold_ms,
                now,
            )
        })
        .await?;
    metrics::counter!("marquee_bookings_cancelled_total", "by" => "customer").increment(1);
    app.cache.invalidate_show(&done.show_id);
    for payment in &done.refunds {
        payments::refund(app, payment).await;
    }
    app.booking_watch.changed(id);
    own_booking_view(app, customer, id).await
}

/// The unit of work of `cancel`.
fn cancel_by_customer(
    tx: &mut Tx<'_>,
    customer_id: &str,
    booking_id: &str,
    pricing: &ShowPricing,
    cutoff_minutes: i64,
    hold_ms: i64,
    now: i64,
) -> Result<Cancelled, BookingError> {
    let booking = store::lock_booking(tx, booking_id)?
        .filter(|b| b.customer_id == customer_id)
        .ok_or_else(|| BookingError::NotFound(booking_id.to_owned()))?;
    if booking.show_id != pricing.facts.show.id {
        // The snapshot is of another show: the booking cannot have moved, so it is not
        // this customer's booking as read before.
        return Err(BookingError::NotFound(booking_id.to_owned()));
    }
    let show = booking.show_id.clone();
    let (refund, refunds) = match booking.status() {
        BookingStatus::Confirmed => {
            // A booking whose show was moved after it was made may be cancelled until the
            // show starts, fees included (issue 17).
            let moved = super::show_changes::show_was_moved(tx, &booking.id)?;
            let closes = if moved {
                booking.starts_at
            } else {
                booking.starts_at - cutoff_minutes * 60_000
            };
            if now > closes {
                return Err(BookingError::CancellationClosed(cutoff_minutes));
            }
            // The tickets' part, less whatever of it the staff already refunded.
            let by_staff = crate::payment::refunds::refunded_by_staff(tx, &booking.id)?;
            let refund = if moved {
                booking.total - by_staff.ticket - by_staff.fee
            } else {
                booking.total - booking.fee_total - by_staff.ticket
            }
            .max(0);
            store::move_seats(tx, &show, &booking.id, "booked", "available")?;
            store::set_status(tx, &booking.id, "confirmed", "cancelled", now, Some(refund))?;
            let refunds = if refund > 0 {
                store::start_refund_of_booking(tx, &booking.id, refund, now)?
            } else {
                Vec::new()
            };
            (Some(refund), refunds)
        }
        BookingStatus::PendingPayment if now < booking.expires_at => {
            store::move_seats(tx, &show, &booking.id, "held", "available")?;
            store::set_status(tx, &booking.id, "pending_payment", "cancelled", now, None)?;
            waitlist::booking_ended(tx, &booking.id, "cancelled", now)?;
            (None, Vec::new())
        }
        BookingStatus::PendingPayment => return Err(BookingError::NotCancellable("expired")),
        other => return Err(BookingError::NotCancellable(other.as_str())),
    };
    let events = [
        Event::BookingCancelled {
            booking_id: booking.id.clone(),
            show_id: show.clone(),
            by: "customer".into(),
            refund,
        },
        Event::SeatsReleased {
            show_id: show.clone(),
            seats: booking.seat_labels(),
            reason: "cancelled".into(),
        },
    ];
    outbox::append_all(tx, &events, now)?;
    // The seats it returned go to the show's waitlist before anyone else can take them.
    waitlist::offer_freed(tx, pricing, hold_ms, Timestamp::from_millis(now))?;
    Ok(Cancelled {
        show_id: show,
        refunds,
    })
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
    let outcome =
        app.db
            .write(move |tx| {
                let outcome = store::cancel_show(tx, &id, now)?;
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
                    outbox::append_all(tx, &events, now)?;
                    // Nobody waits for a show that will not run.
                    waitlist::show_cancelled(tx, &id, now)?;
                }
                Ok::<_, BookingError>(outcome)
            })
            .await?;
    app.cache.invalidate_show(show_id);
    app.cache.invalidate_catalog();
    let (bookings, refunds) = outcome.unwrap_or_default();
    metrics::counter!("marquee_bookings_cancelled_total", "by" => "show")
        .increment(bookings.len() as u64);
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
