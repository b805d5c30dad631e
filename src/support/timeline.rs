//! A booking's whole story for the back office: its events, payments, refunds, audit
//! records and messages, oldest first. Support reads it; a dispute's evidence carries it.

use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    app::AppState, db::QueryBuilder, db_row, http::error::ApiError, params, time::Timestamp,
};

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
    /// `event` (the outbox), `payment`, `refund` (the staff's), `dispute` (as it stands now),
    /// `check_in` (a scan at the door), `audit` (the audit log) or `notification`.
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
/// The booking's timeline, oldest first; 404 when there is no such booking.
pub async fn of_booking(app: &AppState, booking_id: &str) -> Result<Vec<TimelineEntry>, ApiError> {
    let db = &app.db;
    let exists: Option<String> = db
        .fetch_optional("SELECT id FROM bookings WHERE id = $1", params![booking_id])
        .await?;
    if exists.is_none() {
        return Err(crate::booking::BookingError::NotFound(booking_id.to_owned()).into());
    }
    let payments: Vec<(String, String, i64, String, Option<i64>, i64)> = db
        .fetch_all(
            "SELECT id, status, amount, currency, refund_amount, created_at FROM payments \
             WHERE booking_id = $1 ORDER BY created_at, id",
            params![booking_id],
        )
        .await?;
    let mut subjects: Vec<String> = vec![booking_id.to_owned()];
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
    let notifications: Vec<(String, String, String, i64, String, i64)> = if event_ids.is_empty() {
        Vec::new()
    } else {
        let mut sent = QueryBuilder::new(
            db.engine(),
            "SELECT kind, recipient, sink, created_at, status, attempts FROM notifications \
             WHERE event_id",
        );
        sent.push_in(&event_ids).push(" ORDER BY created_at, id");
        db.fetch_all(sent.sql().as_str(), sent.params()).await?
    };

    let refunds = crate::payment::refunds::refunds_of_booking(db, booking_id).await?;
    let scans = crate::checkin::scans_of_booking(db, booking_id).await?;
    let disputes = crate::payment::disputes::of_booking(db, booking_id).await?;

    let mut entries = Vec::new();
    for scan in scans {
        entries.push(TimelineEntry {
            at: scan.scanned_at,
            source: "check_in".into(),
            kind: serde_json::to_value(scan.outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            detail: serde_json::to_value(&scan).unwrap_or_default(),
        });
    }
    for dispute in disputes {
        let at = Timestamp::from_millis(dispute.opened_at);
        let view = dispute.view(false);
        entries.push(TimelineEntry {
            at,
            source: "dispute".into(),
            kind: view.status.clone(),
            detail: serde_json::to_value(&view).unwrap_or_default(),
        });
    }
    for refund in refunds {
        let (at, kind) = (refund.created_at, "requested");
        let done = refund.completed_at;
        let view = crate::payment::refunds::RefundView::from(refund);
        let detail = serde_json::to_value(&view).unwrap_or_default();
        if let Some(done) = done {
            entries.push(TimelineEntry {
                at: Timestamp::from_millis(done),
                source: "refund".into(),
                kind: "succeeded".into(),
                detail: detail.clone(),
            });
        }
        entries.push(TimelineEntry {
            at: Timestamp::from_millis(at),
            source: "refund".into(),
            kind: kind.into(),
            detail,
        });
    }
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
    for (kind, recipient, sink, at, status, attempts) in notifications {
        // `status`: queued, sending, sent or failed (the mail outbox); `attempts` so far.
        entries.push(TimelineEntry {
            at: Timestamp::from_millis(at),
            source: "notification".into(),
            kind,
            detail: serde_json::json!({
                "recipient": recipient, "sink": sink, "status": status, "attempts": attempts,
            }),
        });
    }
    // Oldest first; at one instant, in the order things happen: the payment, its event,
    // the audit record, the message.
    let rank = |source: &str| match source {
        "payment" | "refund" => 0,
        "event" => 1,
        "audit" => 2,
        _ => 3,
    };
    entries.sort_by_key(|e| (e.at.as_millis(), rank(&e.source)));
    Ok(entries)
}
