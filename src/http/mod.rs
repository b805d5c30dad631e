//! The HTTP edge shared by every context: router assembly, middleware (request ids,
//! tracing, metrics, limits, security headers), problem+json errors, caching, pagination.

pub mod cache;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod ops;
pub mod pagination;

use std::time::Duration;

use axum::{
    Router,
    extract::{MatchedPath, Request},
    http::{HeaderName, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use tower_http::{
    catch_panic::CatchPanicLayer,
    limit::RequestBodyLimitLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
    timeout::TimeoutLayer,
    trace::TraceLayer,
};
use tracing::Level;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::app::AppState;
use error::{ApiError, PROBLEM_BASE, Problem};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Marquee",
        description = "Movie-ticket booking platform API. Errors are RFC 9457 problem+json \
            with a stable `type`; money is integer minor units with an ISO 4217 currency; \
            times are UTC with local equivalents in the theatre's timezone.",
    ),
    tags(
        (name = "catalog", description = "Browse cities, movies, theatres and shows"),
        (name = "inventory", description = "Seat maps"),
        (name = "operations", description = "Health, readiness, metrics"),
    ),
    components(schemas(Problem))
)]
struct ApiDoc;

/// Every route of the service with its middleware, and the OpenAPI document built from the
/// same handlers.
pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(crate::catalog::routes::router())
        .merge(crate::inventory::routes::router())
        .merge(ops::router())
        .split_for_parts();

    let access_level = if state.config.log.access_log {
        Level::INFO
    } else {
        Level::DEBUG
    };
    let timeout = state.config.request_timeout();
    let body_limit = state.config.http.body_limit_bytes;

    let router = api
        .merge(SwaggerUi::new("/docs").url("/openapi.json", openapi.clone()))
        .fallback(|request: Request| async move {
            ApiError::RouteNotFound(request.uri().path().to_owned())
        })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state)
        // Innermost first: each `layer` wraps everything above it.
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("handler panicked");
            ApiError::Internal("panic".into()).into_response()
        }))
        .layer(middleware::from_fn(problem_for_bare_errors))
        .layer(middleware::from_fn(metrics::track))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let route = request
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("unmatched", MatchedPath::as_str);
                    let request_id = request
                        .extensions()
                        .get::<RequestId>()
                        .and_then(|id| id.header_value().to_str().ok())
                        .unwrap_or("");
                    tracing::info_span!("request", method = %request.method(), route, request_id)
                })
                .on_request(())
                .on_response(
                    tower_http::trace::DefaultOnResponse::new()
                        .level(access_level)
                        .latency_unit(tower_http::LatencyUnit::Micros),
                )
                .on_failure(()),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid));
    (router, openapi)
}

/// Error responses made by middleware or the framework (timeouts, body limits, a wrong
/// content type) carry no problem body; give them one so every error a client sees has the
/// same shape.
async fn problem_for_bare_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if is_problem {
        return response;
    }
    let (code, title) = match status {
        StatusCode::BAD_REQUEST => ("invalid-request", "Invalid request"),
        StatusCode::NOT_FOUND => ("not-found", "Resource not found"),
        StatusCode::METHOD_NOT_ALLOWED => ("method-not-allowed", "Method not allowed"),
        StatusCode::REQUEST_TIMEOUT => ("timeout", "Request timed out"),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload-too-large", "Request body too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported-media-type", "Unsupported media type"),
        StatusCode::UNPROCESSABLE_ENTITY => ("unprocessable", "Unprocessable request"),
        StatusCode::TOO_MANY_REQUESTS => ("rate-limited", "Too many requests"),
        s if s.is_server_error() => ("internal", "Internal server error"),
        _ => ("invalid-request", "Invalid request"),
    };
    let mut replaced = Problem {
        kind: format!("{PROBLEM_BASE}{code}"),
        title,
        status: status.as_u16(),
        detail: None,
    }
    .into_response();
    // Keep headers such as Retry-After or Allow.
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            replaced.headers_mut().insert(name.clone(), value.clone());
        }
    }
    replaced
}

/// Shutdown grace for in-flight requests.
pub fn shutdown_grace(state: &AppState) -> Duration {
    Duration::from_secs(state.config.http.shutdown_grace_secs)
}
