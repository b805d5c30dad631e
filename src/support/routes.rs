//! Administrators find customers (by e-mail address or name) and bookings (by id,
//! customer e-mail, show, status and creation time), newest first, in pages.

use axum::{Json, extract::State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    app::AppState,
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
    identity::extract::Admin,
    time::Timestamp,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_users))
        .routes(routes!(search_bookings))
        .routes(routes!(timeline))
}

db_row! {
    struct AuditLine {
        action: String,
        actor_role: String,
        actor_id: Option<String>,
        request_id: Option<String>,
        detail: Option<String>,
        at: i64,
    }
}

/// One thing that happened to a booking.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEntry {
    #[schema(value_type = String)]
    pub at: Timestamp,
    /// `event` (the outbox), `payment`, `audit` (the audit log) or `notification`.
    pub source: String,
    /// The event type, the payment's status, the audit action, or the message kind.
    pub kind: String,
    /// What the source says (an event's payload, a payment's amounts, a message's
    /// recipient and sink).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// A booking's whole story, oldest first (administrators): its events, payments (and
/// refunds), the audit log's records of the money and of staff looking at it, and the
/// messages sent about it. Events older than the outbox's retention are gone; the audit
/// log keeps the money.
#[utoipa::path(get, path = "/api/v1/admin/bookings/{booking_id}/timeline", tag = "admin",
    security(("bearer" = [])),
    params(("booking_id" = String, Path)),
    responses((status = 200, body = Vec<TimelineEntry>),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn timeline(
    State(app): State<AppState>,
    _admin: Admin,
    crate::http::extract::ApiPath(booking_id): crate::http::extract::ApiPath<String>,
) -> Result<Json<Vec<TimelineEntry>>, ApiError> {
    use crate::params;
    let db = &app.db;
    let exists: Option<String> = db
        .fetch_optional(
            "SELECT id FROM bookings WHERE id = $1",
            params![&booking_id],
        )
        .await?;
    if exists.is_none() {
        return Err(crate::booking::BookingError::NotFound(booking_id).into());
    }
    let payments: Vec<(String, String, i64, String, Option<i64>, i64)> = db
        .fetch_all(
            "SELECT id, status, amount, currency, refund_amount, created_at FROM payments \
             WHERE booking_id = $1 ORDER BY created_at, id",
            params![&booking_id],
        )
        .await?;
    let mut subjects: Vec<String> = vec![booking_id.clone()];
    subjects.extend(payments.iter().map(|p| p.0.clone()));
    let mut events = QueryBuilder::new(
        db.engine(),
        "SELECT event_id, event_type, payload, created_at FROM outbox WHERE aggregate_id",
    );
    events.push_in(&subjects).push(" ORDER BY seq");
    let events: Vec<(String, String, String, i64)> =
        db.fetch_all(events.sql().as_str(), events.params()).await?;
    let mut audit = QueryBuilder::new(
        db.engine(),
        "SELECT action, actor_role, actor_id, request_id, detail, at FROM audit_log WHERE target",
    );
    audit.push_in(&subjects).push(" ORDER BY seq");
    let audit: Vec<AuditLine> = db.fetch_all(audit.sql().as_str(), audit.params()).await?;
    let event_ids: Vec<String> = events.iter().map(|e| e.0.clone()).collect();
    let notifications: Vec<(String, String, String, i64)> = if event_ids.is_empty() {
        Vec::new()
    } else {
        let mut sent = QueryBuilder::new(
            db.engine(),
            "SELECT kind, recipient, sink, created_at FROM notifications WHERE event_id",
        );
        sent.push_in(&event_ids).push(" ORDER BY created_at, id");
        db.fetch_all(sent.sql().as_str(), sent.params()).await?
    };

    let mut entries = Vec::new();
    for (id, status, amount, currency, refund, at) in payments {
        entries.push(TimelineEntry {
            at: Timestamp::from_millis(at),
            source: "payment".into(),
            kind: status,
            detail: serde_json::json!({"payment_id": id, "amount": amount,
                                       "currency": currency, "refund_amount": refund}),
        });
    }
    for (_, event_type, payload, at) in events {
        entries.push(TimelineEntry {
            at: Timestamp::from_millis(at),
            source: "event".into(),
            kind: event_type,
            detail: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
        });
    }
    for line in audit {
        let money = line
            .detail
            .and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok());
        entries.push(TimelineEntry {
            at: Timestamp::from_millis(line.at),
            source: "audit".into(),
            kind: line.action,
            detail: serde_json::json!({
                "actor_role": line.actor_role, "actor_id": line.actor_id,
                "request_id": line.request_id, "detail": money,
            }),
        });
    }
    for (kind, recipient, sink, at) in notifications {
        entries.push(TimelineEntry {
            at: Timestamp::from_millis(at),
            source: "notification".into(),
            kind,
            detail: serde_json::json!({"recipient": recipient, "sink": sink}),
        });
    }
    // Oldest first; at one instant, in the order things happen: the payment, its event,
    // the audit record, the message.
    let rank = |source: &str| match source {
        "payment" => 0,
        "event" => 1,
        "audit" => 2,
        _ => 3,
    };
    entries.sort_by_key(|e| (e.at.as_millis(), rank(&e.source)));
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
