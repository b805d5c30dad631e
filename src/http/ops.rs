//! Liveness, readiness and metrics endpoints.

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, Problem};
use crate::app::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    pub database: &'static str,
    pub version: &'static str,
}

/// The process is alive (does not touch the database).
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
async fn healthz(State(app): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok",
        database: app.db.engine().name(),
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// The service can serve: its database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Health), (status = 503, body = Problem, content_type = "application/problem+json")))]
async fn readyz(State(app): State<AppState>) -> Result<Json<Health>, ApiError> {
    app.db.ping().await.map_err(ApiError::Unavailable)?;
    Ok(Json(Health {
        status: "ok",
        database: app.db.engine().name(),
        version: env!("CARGO_PKG_VERSION"),
    }))
}

/// Prometheus metrics in text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
async fn metrics(State(app): State<AppState>) -> Response {
    app.record_pool_gauges();
    crate::integration::outbox::record_backlog(&app.db, app.clock.now().as_millis()).await;
    crate::integration::mail::record_queue(&app.db).await;
    let mut response = super::metrics::handle().render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}
