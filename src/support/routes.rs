//! Administrators find customers (by e-mail address or name) and bookings (by id,
//! customer e-mail, show, status and creation time), newest first, in pages.

use axum::{Json, extract::State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use axum::response::Response;

use crate::{
    app::AppState,
    booking::BookingError,
    booking::routes::{TicketResend, respond_idempotently},
    booking::{
        model::{BookingRow, BookingView},
        service,
    },
    db::QueryBuilder,
    db_row,
    http::{
        error::{ApiError, Problem},
        extract::ApiQuery,
        pagination::{Page, PageParams},
    },
    http::{
        extract::ApiPath,
        idempotency::{Idempotency, IdempotentJson, stored_response},
    },
    identity::extract::Admin,
    payment::refunds::{self, RefundAsk, RefundView},
    time::Timestamp,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_users))
        .routes(routes!(search_bookings))
        .routes(routes!(timeline))
        .routes(routes!(refund_booking, list_refunds))
        .routes(routes!(resend_ticket))
}

/// Refund a booking (administrators): the whole of it (`full`), some of its seats
/// (`seats`, released for sale; their fees too with `include_fees`) or an amount (a
/// goodwill refund), with a reason. Never more than the payment captured less what was
/// already refunded (422 `refund-exceeds-captured` with `requested` and `refundable`).
/// Refunding everything, or every seat, cancels the booking. The refund goes through the
/// gateway (`status`: `pending`, then `succeeded`; a gateway that does not answer is asked
/// again until it does). An `Idempotency-Key` is required (428 without one): the same key
/// answers the same refund, however often it is sent.
#[utoipa::path(post, path = "/api/v1/admin/bookings/{booking_id}/refunds", tag = "admin",
    security(("bearer" = [])),
    params(("booking_id" = String, Path),
           ("Idempotency-Key" = String, Header, description = "required: one key per refund")),
    request_body = RefundAsk,
    responses((status = 201, body = RefundView),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "nothing was captured, or everything is refunded",
               body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json"),
              (status = 428, body = Problem, content_type = "application/problem+json")))]
async fn refund_booking(
    State(app): State<AppState>,
    Admin(admin): Admin,
    ApiPath(booking_id): ApiPath<String>,
    json: IdempotentJson<RefundAsk>,
) -> Result<Response, ApiError> {
    let idempotency =
        Idempotency::new(admin.user_id.as_str(), &json).ok_or(ApiError::IdempotencyKeyRequired)?;
    let ask = json.body.clone();
    respond_idempotently(&app, Some(idempotency.clone()), async {
        let body =
            refunds::refund_booking(&app, admin.user_id.as_str(), &booking_id, ask, idempotency)
                .await?;
        Ok(stored_response(201, body, false))
    })
    .await
}

/// A booking's refunds by the staff, oldest first (administrators).
#[utoipa::path(get, path = "/api/v1/admin/bookings/{booking_id}/refunds", tag = "admin",
    security(("bearer" = [])),
    params(("booking_id" = String, Path)),
    responses((status = 200, body = Vec<RefundView>),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn list_refunds(
    State(app): State<AppState>,
    _admin: Admin,
    ApiPath(booking_id): ApiPath<String>,
) -> Result<Json<Vec<RefundView>>, ApiError> {
    if crate::booking::store::get_booking(&app.db, &booking_id)
        .await?
        .is_none()
    {
        return Err(BookingError::NotFound(booking_id).into());
    }
    let rows = refunds::refunds_of_booking(&app.db, &booking_id).await?;
    Ok(Json(rows.into_iter().map(RefundView::from).collect()))
}

/// Send a confirmed booking's tickets to its customer again (administrators): a new
/// message with the ticket code, through the notification outbox like every message.
#[utoipa::path(post, path = "/api/v1/admin/bookings/{booking_id}/ticket-email", tag = "admin",
    security(("bearer" = [])),
    params(("booking_id" = String, Path)),
    responses((status = 202, body = TicketResend),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "the booking is not confirmed",
               body = Problem, content_type = "application/problem+json")))]
async fn resend_ticket(
    State(app): State<AppState>,
    _admin: Admin,
    ApiPath(booking_id): ApiPath<String>,
) -> Result<(axum::http::StatusCode, Json<TicketResend>), ApiError> {
    service::resend_ticket(&app, None, &booking_id).await?;
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(TicketResend::queued(booking_id)),
    ))
}

#[utoipa::path(get, path = "/api/v1/admin/bookings/{booking_id}/timeline", tag = "admin",
    security(("bearer" = [])),
    params(("booking_id" = String, Path)),
    responses((status = 200, body = Vec<super::timeline::TimelineEntry>),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn timeline(
    State(app): State<AppState>,
    _admin: Admin,
    crate::http::extract::ApiPath(booking_id): crate::http::extract::ApiPath<String>,
) -> Result<Json<Vec<super::timeline::TimelineEntry>>, ApiError> {
    let entries = super::timeline::of_booking(&app, &booking_id).await?;
    Ok(Json(entries))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Part of the e-mail address or of the name (any case).
    pub q: Option<String>,
    /// `customer`, `partner` or `admin`.
    pub role: Option<String>,
}

db_row! {
    struct UserRow {
        id: String,
        email: String,
        display_name: String,
        role: String,
        status: String,
        created_at: i64,
        erased_at: Option<i64>,
    }
}

/// An account as support sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserSummary {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub role: String,
    /// `active` or `disabled`.
    pub status: String,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    /// Set when the customer erased the account (its address and name are gone).
    #[schema(value_type = Option<String>)]
    pub erased_at: Option<Timestamp>,
}

/// Find accounts by part of their e-mail address or name, newest first (administrators).
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin",
    security(("bearer" = [])),
    params(UserQuery, PageParams),
    responses((status = 200, body = Page<UserSummary>),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
async fn search_users(
    State(app): State<AppState>,
    _admin: Admin,
    ApiQuery(query): ApiQuery<UserQuery>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<UserSummary>>, ApiError> {
    let request = page.request::<(i64, String)>()?;
    if let Some(role) = &query.role
        && !["customer", "partner", "admin"].contains(&role.as_str())
    {
        return Err(ApiError::InvalidQuery(
            "role must be customer, partner or admin".into(),
        ));
    }
    let pattern = query.q.as_deref().map(super::contains_pattern);
    let mut sql = QueryBuilder::new(
        app.db.engine(),
        "SELECT id, email, display_name, role, status, created_at, erased_at FROM users \
         WHERE 1 = 1",
    );
    if let Some(pattern) = &pattern {
        sql.push(" AND (lower(email) LIKE ")
            .push_bind(pattern.as_str())
            .push(" ESCAPE '\\' OR lower(display_name) LIKE ")
            .push_bind(pattern.as_str())
            .push(" ESCAPE '\\')");
    }
    if let Some(role) = &query.role {
        sql.push(" AND role = ").push_bind(role.as_str());
    }
    if let Some((at, id)) = &request.after {
        sql.push(" AND (created_at < ")
            .push_bind(*at)
            .push(" OR (created_at = ")
            .push_bind(*at)
            .push(" AND id < ")
            .push_bind(id.as_str())
            .push("))");
    }
    sql.push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .push_bind(i64::from(request.limit) + 1);
    let rows: Vec<UserRow> = app.db.fetch_all(sql.sql().as_str(), sql.params()).await?;
    let page = Page::from_rows(rows, request.limit, |row| (row.created_at, row.id.clone()));
    Ok(Json(page.map(|row| UserSummary {
        id: row.id,
        email: row.email,
        display_name: row.display_name,
        role: row.role,
        status: row.status,
        created_at: Timestamp::from_millis(row.created_at),
        erased_at: row.erased_at.map(Timestamp::from_millis),
    })))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BookingQuery {
    /// This booking (`bkg_…`).
    pub booking_id: Option<String>,
    /// The customer's e-mail address (exactly, any case).
    pub email: Option<String>,
    pub show_id: Option<String>,
    /// `pending_payment`, `confirmed`, `expired` or `cancelled`.
    pub status: Option<String>,
    /// Made at or after this instant (RFC 3339).
    pub from: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Made before this instant (RFC 3339).
    pub to: Option<chrono::DateTime<chrono::FixedOffset>>,
}

/// A booking with whose it is.
#[derive(Debug, Serialize, ToSchema)]
pub struct SupportBooking {
    #[serde(flatten)]
    pub booking: BookingView,
    pub customer_id: String,
    pub customer_email: String,
}

/// Find bookings by id, customer e-mail, show, status and when they were made, newest
/// first (administrators).
#[utoipa::path(get, path = "/api/v1/admin/bookings", tag = "admin",
    security(("bearer" = [])),
    params(BookingQuery, PageParams),
    responses((status = 200, body = Page<SupportBooking>),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
async fn search_bookings(
    State(app): State<AppState>,
    _admin: Admin,
    ApiQuery(query): ApiQuery<BookingQuery>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<SupportBooking>>, ApiError> {
    let request = page.request::<(i64, String)>()?;
    if let Some(status) = &query.status
        && !["pending_payment", "confirmed", "expired", "cancelled"].contains(&status.as_str())
    {
        return Err(ApiError::InvalidQuery(
            "status must be pending_payment, confirmed, expired or cancelled".into(),
        ));
    }
    let email = query.email.as_deref().map(|e| e.trim().to_lowercase());
    let mut sql = QueryBuilder::new(
        app.db.engine(),
        "SELECT b.id, b.customer_id, b.show_id, b.group_id, b.status, b.seats, b.currency, \
         b.total, b.fee_total, b.quote, b.refund, b.expires_at, b.created_at, b.updated_at, \
         b.confirmed_at, b.cancelled_at, s.starts_at, t.org_id \
         FROM bookings b JOIN shows s ON s.id = b.show_id \
         JOIN theatres t ON t.id = s.theatre_id JOIN users u ON u.id = b.customer_id \
         WHERE 1 = 1",
    );
    if let Some(id) = &query.booking_id {
        sql.push(" AND b.id = ").push_bind(id.as_str());
    }
    if let Some(email) = &email {
        sql.push(" AND u.email = ").push_bind(email.as_str());
    }
    if let Some(show) = &query.show_id {
        sql.push(" AND b.show_id = ").push_bind(show.as_str());
    }
    if let Some(status) = &query.status {
        sql.push(" AND b.status = ").push_bind(status.as_str());
    }
    if let Some(from) = query.from {
        sql.push(" AND b.created_at >= ")
            .push_bind(from.timestamp_millis());
    }
    if let Some(to) = query.to {
        sql.push(" AND b.created_at < ")
            .push_bind(to.timestamp_millis());
    }
    if let Some((at, id)) = &request.after {
        sql.push(" AND (b.created_at < ")
            .push_bind(*at)
            .push(" OR (b.created_at = ")
            .push_bind(*at)
            .push(" AND b.id < ")
            .push_bind(id.as_str())
            .push("))");
    }
    sql.push(" ORDER BY b.created_at DESC, b.id DESC LIMIT ")
        .push_bind(i64::from(request.limit) + 1);
    let rows: Vec<BookingRow> = app.db.fetch_all(sql.sql().as_str(), sql.params()).await?;
    // Whose each booking is, in page order (zipped with the views below).
    let owners: Vec<String> = rows.iter().map(|r| r.customer_id.clone()).collect();
    let mut emails = QueryBuilder::new(app.db.engine(), "SELECT id, email FROM users WHERE id");
    emails.push_in(&owners);
    let emails: std::collections::HashMap<String, String> = if owners.is_empty() {
        Default::default()
    } else {
        app.db
            .fetch_all::<(String, String)>(emails.sql().as_str(), emails.params())
            .await?
            .into_iter()
            .collect()
    };
    let views: Page<BookingView> = service::page(&app, rows, request.limit).await?;
    let next_cursor = views.next_cursor.clone();
    let items = views
        .items
        .into_iter()
        .zip(owners)
        .map(|(booking, customer_id)| SupportBooking {
            booking,
            customer_email: emails.get(&customer_id).cloned().unwrap_or_default(),
            customer_id,
        })
        .collect();
    Ok(Json(Page { items, next_cursor }))
}
