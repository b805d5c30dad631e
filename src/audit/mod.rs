//! The audit log: an append-only record of every administrator's request, every partner's
//! write and every money movement: who (the account and the organisation acted for),
//! what (the route, or the event), to which target (the request path, or the booking or
//! payment), when, the status answered and the request id.
//!
//! - Requests are recorded by the route-level middleware (`http::Observer`): it leaves an
//!   [`ActorSlot`] in the request, the identity extractors fill it with whoever they
//!   authenticated, and the middleware writes the record once the handler has answered
//!   (refusals included, so probing shows up too).
//! - Money movements are recorded by `integration::outbox` in the same unit of work as the
//!   event that moves the money (a payment taken, a refund, a box-office sale), so one is
//!   never committed without the other.
//! - Rows are never updated or deleted: no statement of the application does it, and the
//!   tables' triggers (migration 0016) refuse it on both engines.

pub mod routes;

use std::sync::{Arc, Mutex};

use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    app::AppState,
    db::Tx,
    identity::model::{Principal, Role},
    ids::AuditRecordId,
    params,
    time::Timestamp,
};

/// Who a request turned out to be, once an extractor authenticated it.
#[derive(Debug, Clone, Default)]
pub struct ActorSlot(Arc<Mutex<Option<Principal>>>);

impl ActorSlot {
    pub fn fill(&self, principal: &Principal) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(principal.clone());
    }

    fn take(&self) -> Option<Principal> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// Whether a request to `route` is recorded: every administrator's request (reading
/// customers' data included) and every partner write.
pub fn is_audited(method: &axum::http::Method, route: &str) -> bool {
    use axum::http::Method;
    if route.starts_with("/api/v1/admin/") {
        return method != Method::OPTIONS;
    }
    route.starts_with("/api/v1/partner/")
        && !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

const INSERT: &str = "INSERT INTO audit_log (id, at, actor_id, actor_role, org_id, action, \
     target, status, request_id, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// An administrator's or partner's request, as answered.
pub struct RequestRecord<'a> {
    pub slot: &'a ActorSlot,
    pub method: &'a str,
    pub route: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub request_id: &'a str,
}

/// Records an audited request, if an administrator or partner made it (a request nobody
/// authenticated is not recorded: it did nothing). A failure to record is logged; the
/// answer has been decided already.
pub async fn record_request(app: &AppState, record: RequestRecord<'_>) {
    let Some(actor) = record.slot.take() else {
        return;
    };
    let role = match actor.role {
        Role::Admin => "admin",
        Role::Partner => "partner",
        Role::Customer => return,
    };
    let row = (
        AuditRecordId::generate().to_string(),
        app.clock.now().as_millis(),
        actor.user_id.to_string(),
        role,
        actor.org_id.as_ref().map(|org| org.to_string()),
        format!("{} {}", record.method, record.route),
        record.path.to_owned(),
        i64::from(record.status),
        record.request_id.to_owned(),
    );
    let written = app
        .db
        .write_statement(move |tx| {
            let (id, at, actor, role, org, action, target, status, request_id) = &row;
            tx.execute(
                INSERT,
                params![
                    id,
                    *at,
                    actor,
                    *role,
                    org,
                    action,
                    target,
                    *status,
                    request_id,
                    None::<&str>
                ],
            )
        })
        .await;
    if let Err(error) = written {
        tracing::error!(%error, "an audit record could not be written");
    }
}

/// Records a money movement inside the unit of work that makes it.
pub fn record_money(
    tx: &mut Tx<'_>,
    action: &str,
    target: &str,
    detail: &str,
    now: i64,
) -> sqlx::Result<()> {
    let id = AuditRecordId::generate().to_string();
    tx.execute(
        INSERT,
        params![
            &id,
            now,
            None::<&str>,
            "system",
            None::<&str>,
            action,
            target,
            None::<i64>,
            None::<&str>,
            detail
        ],
    )?;
    Ok(())
}

/// One record, as administrators read it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditRecord {
    /// `aud_…`
    pub id: String,
    #[schema(value_type = String)]
    pub at: Timestamp,
    /// The account; absent for the system (the gateway's messages, jobs).
    pub actor_id: Option<String>,
    /// `admin`, `partner` or `system`.
    pub actor_role: String,
    pub org_id: Option<String>,
    /// `METHOD /route/{param}`, or the event type of a money movement.
    pub action: String,
    /// The request path (with the ids acted on), or the booking or payment.
    pub target: String,
    /// The HTTP status answered.
    pub status: Option<i64>,
    pub request_id: Option<String>,
    /// A money movement's amounts and ids (JSON).
    pub detail: Option<serde_json::Value>,
}
