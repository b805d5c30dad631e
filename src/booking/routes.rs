//! Booking endpoints: customers hold, list, cancel and get tickets; theatres verify
//! tickets, cancel shows and list their shows' bookings.

use std::{future::Future, time::Duration};

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    BookingError,
    model::{BookingStatus, BookingView},
    service::{self, BulkBooking, SeatChoice, SeatRequest, ShowCancellation},
    store,
    tickets::{self, TicketClaims},
    waitlist,
};
use crate::{
    app::AppState,
    http::{
        error::{ApiError, Problem},
        extract::{ApiJson, ApiPath, ApiQuery},
        idempotency::{Idempotency, IdempotentJson, stored_response},
        pagination::{Page, PageParams},
    },
    identity::extract::{Customer, Partner},
    inventory::{best_available::Wanted, routes::BestAvailableRequest},
    limits::Limit,
    payment::PaymentError,
    time::Timestamp,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(hold, list_bookings))
        .routes(routes!(get_booking))
        .routes(routes!(cancel_booking))
        .routes(routes!(bulk_hold))
        .routes(routes!(bulk_cancel))
        .routes(routes!(ticket))
        .routes(routes!(ticket_svg))
        .routes(routes!(email_ticket))
        .routes(routes!(verify_ticket))
        .routes(routes!(cancel_show))
        .routes(routes!(show_bookings))
        .routes(routes!(join_waitlist))
        .routes(routes!(get_waitlist_entry, leave_waitlist))
}

/// Runs `run`, whose unit of work records the idempotency key first thing; a key that
/// already exists makes the unit fail, and then (as after any refusal) the stored
/// response of the earlier request is the answer: replayed if the requests match, 422 if
/// they do not. The common case, a new key, costs no extra read.
pub async fn respond_idempotently(
    app: &AppState,
    idempotency: Option<Idempotency>,
    run: impl Future<Output = Result<Response, ApiError>>,
) -> Result<Response, ApiError> {
    let Some(key) = idempotency else {
        return run.await;
    };
    match run.await {
        Ok(response) => Ok(response),
        // The earlier request may have changed what this one would now find (the booking
        // is paid, the seats are held): its stored answer wins over this refusal.
        Err(error) => match key.replay(&app.db).await? {
            Some(stored) => Ok(stored),
            None => match error {
                ApiError::Booking(BookingError::IdempotencyRace)
                | ApiError::Payment(PaymentError::Booking(BookingError::IdempotencyRace)) => {
                    Err(ApiError::IdempotencyInProgress)
                }
                other => Err(other),
            },
        },
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    pub show_id: String,
    /// Seat labels, e.g. `["A1", "A2"]`. Give these or `best_available`, not both.
    #[serde(default)]
    pub seats: Vec<String>,
    /// Let Marquee choose: the best free seats for what you want (as
    /// `POST /api/v1/shows/{show_id}/best-available` would propose), chosen and held in
    /// one step, so another buyer choosing at the same moment cannot take them from you.
    /// The booking lists the seats you got.
    pub best_available: Option<BestAvailableRequest>,
    /// For a show with a waiting room: the admission token of your admitted entry
    /// (`GET /api/v1/shows/{show_id}/waiting-room/entries/me`); without a valid one the
    /// hold is refused with 403 `admission-required`.
    #[serde(default)]
    pub admission_token: Option<String>,
}

impl HoldRequest {
    /// The seats asked for: named, or the best free ones.
    fn choice(&self) -> Result<SeatChoice, BookingError> {
        match (&self.best_available, self.seats.is_empty()) {
            (None, _) => Ok(SeatChoice::Named(self.seats.clone())),
            (Some(best), true) => Ok(SeatChoice::Best(Wanted {
                count: best.count as usize,
                category: best.category,
                accessible: best.accessible,
            })),
            (Some(_), false) => Err(BookingError::Invalid(
                "give seats or best_available, not both".into(),
            )),
        }
    }
}

/// Hold seats: all of them or none, for `booking.hold_secs`, priced by the stored quote.
/// An account holds at most `booking.max_held_seats_per_show` seats of one show and
/// `booking.max_held_seats_per_account` in all (409 `hold-limit-reached`), and makes a
/// limited number of holds a minute (429 with `Retry-After`).
#[utoipa::path(post, path = "/api/v1/bookings", tag = "bookings",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header)),
    request_body = HoldRequest,
    responses((status = 201, body = BookingView),
              (status = 404, description = "a show named in the body does not exist",
               body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json"),
              (status = 429, body = Problem, content_type = "application/problem+json")))]
async fn hold(
    State(app): State<AppState>,
    Customer(customer): Customer,
    json: IdempotentJson<HoldRequest>,
) -> Result<Response, ApiError> {
    // A card number where a token belongs is refused before anything is recorded.
    if json
        .body
        .admission_token
        .as_deref()
        .is_some_and(crate::payment::card_data::looks_like_card_number)
    {
        return Err(crate::payment::PaymentError::CardDataRefused.into());
    }
    let idempotency = Idempotency::new(customer.user_id.as_str(), &json);
    respond_idempotently(&app, idempotency.clone(), async {
        app.limits
            .check(Limit::Hold, customer.user_id.as_str())
            .await?;
        let choice = json.body.choice()?;
        let admission = json.body.admission_token.as_deref();
        let body = service::hold(
            &app,
            &customer.user_id,
            &json.body.show_id,
            choice,
            admission,
            idempotency.clone(),
        )
        .await?;
        Ok(stored_response(201, body, false))
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkHoldRequest {
    pub items: Vec<HoldRequest>,
}

/// Hold seats across shows in one all-or-nothing request (one booking per show), within
/// the same per-account limits as single holds.
#[utoipa::path(post, path = "/api/v1/bookings/bulk", tag = "bookings",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header)),
    request_body = BulkHoldRequest,
    responses((status = 201, body = BulkBooking),
              (status = 404, description = "a show named in the body does not exist",
               body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json"),
              (status = 429, body = Problem, content_type = "application/problem+json")))]
async fn bulk_hold(
    State(app): State<AppState>,
    Customer(customer): Customer,
    json: IdempotentJson<BulkHoldRequest>,
) -> Result<Response, ApiError> {
    let idempotency = Idempotency::new(customer.user_id.as_str(), &json);
    respond_idempotently(&app, idempotency.clone(), async {
        app.limits
            .check(Limit::Hold, customer.user_id.as_str())
            .await?;
        if json.body.items.iter().any(|i| i.best_available.is_some()) {
            return Err(BookingError::Invalid(
                "a bulk booking names its seats (best_available is for single holds)".into(),
            )
            .into());
        }
        let items = json
            .body
            .items
            .iter()
            .map(|i| SeatRequest {
                show_id: i.show_id.clone(),
                seats: i.seats.clone(),
            })
            .collect();
        let body = service::hold_bulk(&app, &customer.user_id, items, idempotency.clone()).await?;
        Ok(stored_response(201, body, false))
    })
    .await
}

/// Your bookings, newest first.
#[utoipa::path(get, path = "/api/v1/bookings", tag = "bookings",
    security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, body = Page<BookingView>)))]
async fn list_bookings(
    State(app): State<AppState>,
    Customer(customer): Customer,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Page<BookingView>>, ApiError> {
    let request = params.request::<(i64, String)>()?;
    let rows = store::list_bookings(
        &app.db,
        Some(customer.user_id.as_str()),
        None,
        request.after,
        request.limit,
    )
    .await
    .map_err(BookingError::from)?;
    Ok(Json(service::page(&app, rows, request.limit).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WaitParams {
    /// While a payment is pending, wait up to this long (0–10000 ms) for the booking to
    /// change before answering, instead of polling.
    wait_ms: Option<u64>,
}

/// Longest `wait_ms` accepted.
const MAX_WAIT_MS: u64 = 10_000;

/// One of your bookings, with its payments.
#[utoipa::path(get, path = "/api/v1/bookings/{booking_id}", tag = "bookings",
    security(("bearer" = [])),
    params(("booking_id" = String, Path), WaitParams),
    responses((status = 200, body = BookingView),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_booking(
    State(app): State<AppState>,
    Customer(customer): Customer,
    ApiPath(booking_id): ApiPath<String>,
    ApiQuery(params): ApiQuery<WaitParams>,
) -> Result<Json<BookingView>, ApiError> {
    let wait = params.wait_ms.unwrap_or(0);
    if wait > MAX_WAIT_MS {
        return Err(ApiError::InvalidQuery(format!(
            "wait_ms must be at most {MAX_WAIT_MS}"
        )));
    }
    if wait == 0 {
        return Ok(Json(
            service::own_booking_view(&app, &customer.user_id, &booking_id).await?,
        ));
    }
    let waiters = app.booking_watch.subscribe(&booking_id);
    let view = {
        let notified = waiters.notify.notified();
        tokio::pin!(notified);
        // Registered before the read, so a change between the read and the wait wakes us.
        notified.as_mut().enable();
        match service::own_booking_view(&app, &customer.user_id, &booking_id).await {
            Ok(view)
                if view.status == BookingStatus::PendingPayment
                    && view.payments.iter().any(|p| p.status == "pending") =>
            {
                let woken = tokio::time::timeout(Duration::from_millis(wait), notified)
                    .await
                    .is_ok();
                // A change made here says what it did; anything else is read again.
                match waiters
                    .change()
                    .filter(|_| woken)
                    .and_then(|c| c.apply(&view))
                {
                    Some(after) => Ok(after),
                    None => service::own_booking_view(&app, &customer.user_id, &booking_id).await,
                }
            }
            other => other,
        }
    };
    app.booking_watch.release(&booking_id, waiters);
    Ok(Json(view?))
}

/// Cancel a booking: a confirmed one until the cutoff before the show (refunded minus
/// convenience fees), or a pending hold (released).
#[utoipa::path(post, path = "/api/v1/bookings/{booking_id}/cancel", tag = "bookings",
    security(("bearer" = [])),
    params(("booking_id" = String, Path)),
    responses((status = 200, body = BookingView),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn cancel_booking(
    State(app): State<AppState>,
    Customer(customer): Customer,
    ApiPath(booking_id): ApiPath<String>,
) -> Result<Json<BookingView>, ApiError> {
    Ok(Json(
        service::cancel(&app, &customer.user_id, &booking_id).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkCancelRequest {
    pub booking_ids: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkCancelResult {
    pub booking_id: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub booking: Option<BookingView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkCancelResponse {
    pub results: Vec<BulkCancelResult>,
}

/// Cancel many bookings; each is cancelled on its own, with a result per id in order.
#[utoipa::path(post, path = "/api/v1/bookings/bulk-cancel", tag = "bookings",
    security(("bearer" = [])),
    request_body = BulkCancelRequest,
    responses((status = 200, body = BulkCancelResponse),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn bulk_cancel(
    State(app): State<AppState>,
    Customer(customer): Customer,
    ApiJson(body): ApiJson<BulkCancelRequest>,
) -> Result<Json<BulkCancelResponse>, ApiError> {
    let max = app.config.booking.bulk_cancel_max;
    if body.booking_ids.is_empty() || body.booking_ids.len() > max {
        return Err(BookingError::Invalid(format!("cancel 1 to {max} bookings at once")).into());
    }
    let mut results = Vec::with_capacity(body.booking_ids.len());
    for id in body.booking_ids {
        let outcome = service::cancel(&app, &customer.user_id, &id).await;
        results.push(match outcome {
            Ok(booking) => BulkCancelResult {
                booking_id: id,
                ok: true,
                booking: Some(booking),
                problem: None,
            },
            Err(error) => BulkCancelResult {
                booking_id: id,
                ok: false,
                booking: None,
                problem: Some(ApiError::from(error).problem()),
            },
        });
    }
    Ok(Json(BulkCancelResponse { results }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Ticket {
    pub booking_id: String,
    pub show_id: String,
    pub seats: Vec<String>,
    #[schema(value_type = String)]
    pub starts_at: Timestamp,
    /// Signed code to present at the theatre (e.g. as a QR code).
    pub code: String,
}

/// The ticket of a confirmed booking.
#[utoipa::path(get, path = "/api/v1/bookings/{booking_id}/ticket", tag = "bookings",
    security(("bearer" = [])),
    params(("booking_id" = String, Path)),
    responses((status = 200, body = Ticket),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn ticket(
    State(app): State<AppState>,
    Customer(customer): Customer,
    ApiPath(booking_id): ApiPath<String>,
) -> Result<Json<Ticket>, ApiError> {
    Ok(Json(ticket_of(&app, &customer.user_id, &booking_id).await?))
}

/// The answer to a request to mail a ticket again.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketResend {
    pub booking_id: String,
    /// `queued`: the message goes out through the mail outbox with the next notifications.
    pub status: &'static str,
}

impl TicketResend {
    pub fn queued(booking_id: String) -> Self {
        Self {
            booking_id,
            status: "queued",
        }
    }
}

/// Mail the tickets of your confirmed booking to you again (in your account's language),
/// through the mail outbox like every message; a few times a minute per booking.
#[utoipa::path(post, path = "/api/v1/bookings/{booking_id}/ticket-email", tag = "bookings",
    security(("bearer" = [])),
    params(("booking_id" = String, Path)),
    responses((status = 202, body = TicketResend),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "the booking is not confirmed",
               body = Problem, content_type = "application/problem+json"),
              (status = 429, body = Problem, content_type = "application/problem+json")))]
async fn email_ticket(
    State(app): State<AppState>,
    Customer(customer): Customer,
    ApiPath(booking_id): ApiPath<String>,
) -> Result<(StatusCode, Json<TicketResend>), ApiError> {
    // Keyed by the asker too: someone else's asks (404) never spend the customer's.
    let key = format!("{}/{booking_id}", customer.user_id);
    app.limits.check(Limit::TicketEmail, &key).await?;
    service::resend_ticket(&app, Some(&customer.user_id), &booking_id).await?;
    Ok((StatusCode::ACCEPTED, Json(TicketResend::queued(booking_id))))
}

/// The ticket's code as a QR code (SVG), to show at the door.
#[utoipa::path(get, path = "/api/v1/bookings/{booking_id}/ticket.svg", tag = "bookings",
    security(("bearer" = [])),
    params(("booking_id" = String, Path)),
    responses((status = 200, body = String, content_type = "image/svg+xml",
               description = "the ticket code as a QR code"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn ticket_svg(
    State(app): State<AppState>,
    Customer(customer): Customer,
    ApiPath(booking_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let ticket = ticket_of(&app, &customer.user_id, &booking_id).await?;
    let svg = tickets::qr_svg(&ticket.code)
        .ok_or_else(|| ApiError::Internal("the ticket code does not fit a QR code".into()))?;
    let headers = [
        (header::CONTENT_TYPE, "image/svg+xml"),
        // A ticket admits its holder: no shared cache keeps it.
        (header::CACHE_CONTROL, "private, no-store"),
    ];
    Ok((headers, svg).into_response())
}

/// The ticket of the customer's confirmed booking.
async fn ticket_of(
    app: &AppState,
    customer: &crate::ids::UserId,
    booking_id: &str,
) -> Result<Ticket, ApiError> {
    let row = service::own_booking(app, customer, booking_id).await?;
    let status = row.status();
    if status != BookingStatus::Confirmed {
        return Err(BookingError::TicketUnavailable(status.as_str()).into());
    }
    let seats = row.seat_labels();
    let code = app.tickets.issue(&TicketClaims {
        b: row.id.clone(),
        s: row.show_id.clone(),
        seats: seats.clone(),
    });
    Ok(Ticket {
        booking_id: row.id,
        show_id: row.show_id,
        seats,
        starts_at: Timestamp::from_millis(row.starts_at),
        code,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    pub code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Verification {
    /// True only for a confirmed booking of one of your shows.
    pub valid: bool,
    pub booking_id: String,
    pub show_id: String,
    pub seats: Vec<String>,
    pub status: BookingStatus,
}

/// Check a ticket code at the door (theatre partners).
#[utoipa::path(post, path = "/api/v1/tickets/verify", tag = "partner",
    security(("bearer" = [])),
    request_body = VerifyRequest,
    responses((status = 200, body = Verification),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn verify_ticket(
    State(app): State<AppState>,
    Partner(partner): Partner,
    ApiJson(body): ApiJson<VerifyRequest>,
) -> Result<Json<Verification>, ApiError> {
    let mut verified = app.tickets.verify(&body.code);
    if verified == Err(tickets::TicketRefusal::UnknownKey) {
        // A key rotated in through another node: read the keys again (at most once a
        // second) and look once more.
        crate::identity::service::reload_ticket_keys(&app, std::time::Duration::from_secs(1))
            .await?;
        verified = app.tickets.verify(&body.code);
    }
    let claims = verified.map_err(|_| BookingError::InvalidTicket)?;
    let org = partner.org_id.as_ref().map(|o| o.as_str()).unwrap_or("");
    let row = store::get_booking(&app.db, &claims.b)
        .await
        .map_err(BookingError::from)?
        .filter(|b| b.org_id == org)
        .ok_or_else(|| BookingError::NotFound(claims.b.clone()))?;
    let status = row.status();
    Ok(Json(Verification {
        valid: status == BookingStatus::Confirmed,
        booking_id: row.id,
        show_id: row.show_id,
        seats: claims.seats,
        status,
    }))
}

/// Cancel a show: every booking is cancelled and confirmed ones refunded in full.
#[utoipa::path(post, path = "/api/v1/partner/shows/{show_id}/cancel", tag = "partner",
    security(("bearer" = [])),
    params(("show_id" = String, Path)),
    responses((status = 200, body = ShowCancellation),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn cancel_show(
    State(app): State<AppState>,
    Partner(partner): Partner,
    ApiPath(show_id): ApiPath<String>,
) -> Result<Json<ShowCancellation>, ApiError> {
    let org = partner.org_id.as_ref().map(|o| o.as_str()).unwrap_or("");
    Ok(Json(service::cancel_show(&app, org, &show_id).await?))
}

/// Bookings of one of your shows, newest first.
#[utoipa::path(get, path = "/api/v1/partner/shows/{show_id}/bookings", tag = "partner",
    security(("bearer" = [])),
    params(("show_id" = String, Path), PageParams),
    responses((status = 200, body = Page<BookingView>),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn show_bookings(
    State(app): State<AppState>,
    Partner(partner): Partner,
    ApiPath(show_id): ApiPath<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Page<BookingView>>, ApiError> {
    let org = partner.org_id.as_ref().map(|o| o.as_str()).unwrap_or("");
    let request = params.request::<(i64, String)>()?;
    if store::show_org(&app.db, &show_id)
        .await
        .map_err(BookingError::from)?
        .as_deref()
        != Some(org)
    {
        return Err(BookingError::ShowNotFound(show_id).into());
    }
    let rows = store::list_bookings(&app.db, None, Some(&show_id), request.after, request.limit)
        .await
        .map_err(BookingError::from)?;
    Ok(Json(service::page(&app, rows, request.limit).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinWaitlist {
    /// How many seats you want (1 to the per-booking maximum).
    seats_wanted: i64,
    /// Only seats of this category: `regular`, `premium` or `recliner`.
    category: Option<String>,
}

/// Join a sold-out show's waitlist. When seats free up (expiry, cancellation, partner
/// release) the earliest entry they can satisfy gets an automatic hold, before the
/// public; an entry that cannot be satisfied yet keeps its place.
#[utoipa::path(post, path = "/api/v1/shows/{show_id}/waitlist", tag = "waitlist",
    security(("bearer" = [])),
    params(("show_id" = String, Path)),
    request_body = JoinWaitlist,
    responses((status = 201, body = waitlist::EntryView),
              (status = 409, description = "enough seats are available, or you already wait",
               body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "seats wanted out of range, or an unknown category",
               body = Problem, content_type = "application/problem+json"),
              (status = 429, body = Problem, content_type = "application/problem+json")))]
async fn join_waitlist(
    State(app): State<AppState>,
    Customer(customer): Customer,
    ApiPath(show_id): ApiPath<String>,
    ApiJson(body): ApiJson<JoinWaitlist>,
) -> Result<(StatusCode, Json<waitlist::EntryView>), ApiError> {
    app.limits
        .check(Limit::WaitlistJoin, customer.user_id.as_str())
        .await?;
    let entry = waitlist::join(
        &app,
        &customer.user_id,
        &show_id,
        body.seats_wanted,
        body.category,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(entry)))
}

/// Your waitlist entry, with its live position while waiting.
#[utoipa::path(get, path = "/api/v1/waitlist/{entry_id}", tag = "waitlist",
    security(("bearer" = [])),
    params(("entry_id" = String, Path)),
    responses((status = 200, body = waitlist::EntryView),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_waitlist_entry(
    State(app): State<AppState>,
    Customer(customer): Customer,
    ApiPath(entry_id): ApiPath<String>,
) -> Result<Json<waitlist::EntryView>, ApiError> {
    Ok(Json(
        waitlist::get(&app, &customer.user_id, &entry_id).await?,
    ))
}

/// Leave the waitlist (while waiting).
#[utoipa::path(delete, path = "/api/v1/waitlist/{entry_id}", tag = "waitlist",
    security(("bearer" = [])),
    params(("entry_id" = String, Path)),
    responses((status = 200, body = waitlist::EntryView),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn leave_waitlist(
    State(app): State<AppState>,
    Customer(customer): Customer,
    ApiPath(entry_id): ApiPath<String>,
) -> Result<Json<waitlist::EntryView>, ApiError> {
    Ok(Json(
        waitlist::leave(&app, &customer.user_id, &entry_id).await?,
    ))
}
