//! Administrators read the audit log, newest first, filtered by actor, target, action and
//! time.

use axum::{Json, extract::State};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AuditRecord;
use crate::{
    app::AppState,
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
    OpenApiRouter::new().routes(routes!(list))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Only what this account did (`usr_…`).
    pub actor_id: Option<String>,
    /// Only records about this target: a request path (`/api/v1/partner/shows/shw_…`)
    /// or its beginning, or a booking or payment id.
    pub target: Option<String>,
    /// Only actions starting with this (`POST /api/v1/admin/`, `payment.`).
    pub action: Option<String>,
    /// From this instant (RFC 3339), inclusive.
    pub from: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Before this instant (RFC 3339).
    pub to: Option<chrono::DateTime<chrono::FixedOffset>>,
}

db_row! {
    struct Row {
        seq: i64,
        id: String,
        at: i64,
        actor_id: Option<String>,
        actor_role: String,
        org_id: Option<String>,
        action: String,
        target: String,
        status: Option<i64>,
        request_id: Option<String>,
        detail: Option<String>,
    }
}

/// The audit log, newest first (administrators): every administrator's request, every
/// partner's write and every money movement. Reading it is recorded too.
#[utoipa::path(get, path = "/api/v1/admin/audit-log", tag = "admin",
    security(("bearer" = [])),
    params(AuditFilter, PageParams),
    responses((status = 200, body = Page<AuditRecord>),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
async fn list(
    State(app): State<AppState>,
    _admin: Admin,
    ApiQuery(filter): ApiQuery<AuditFilter>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<AuditRecord>>, ApiError> {
    let request = page.request::<i64>()?;
    let mut query = QueryBuilder::new(
        app.db.engine(),
        "SELECT seq, id, at, actor_id, actor_role, org_id, action, target, status, \
         request_id, detail FROM audit_log WHERE 1 = 1",
    );
    if let Some(before) = request.after {
        query.push(" AND seq < ").push_bind(before);
    }
    if let Some(actor) = &filter.actor_id {
        query.push(" AND actor_id = ").push_bind(actor.as_str());
    }
    if let Some(target) = &filter.target {
        // A prefix, matched exactly (no LIKE patterns from the client).
        query
            .push(" AND substr(target, 1, CAST(")
            .push_bind(target.chars().count() as i64)
            .push(" AS INTEGER)) = ")
            .push_bind(target.as_str());
    }
    if let Some(action) = &filter.action {
        query
            .push(" AND substr(action, 1, CAST(")
            .push_bind(action.chars().count() as i64)
            .push(" AS INTEGER)) = ")
            .push_bind(action.as_str());
    }
    if let Some(from) = filter.from {
        query.push(" AND at >= ").push_bind(from.timestamp_millis());
    }
    if let Some(to) = filter.to {
        query.push(" AND at < ").push_bind(to.timestamp_millis());
    }
    query
        .push(" ORDER BY seq DESC LIMIT ")
        .push_bind(i64::from(request.limit) + 1);
    let rows: Vec<Row> = app
        .db
        .fetch_all(query.sql().as_str(), query.params())
        .await?;
    let page = Page::from_rows(rows, request.limit, |row| row.seq);
    Ok(Json(Page {
        items: page
            .items
            .into_iter()
            .map(|row| AuditRecord {
                id: row.id,
                at: Timestamp::from_millis(row.at),
                actor_id: row.actor_id,
                actor_role: row.actor_role,
                org_id: row.org_id,
                action: row.action,
                target: row.target,
                status: row.status,
                request_id: row.request_id,
                detail: row
                    .detail
                    .and_then(|detail| serde_json::from_str(&detail).ok()),
            })
            .collect(),
        next_cursor: page.next_cursor,
    }))
}
