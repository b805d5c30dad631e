//! The HTTP edge shared by every context: router assembly, middleware (request ids,
//! tracing, metrics, limits, security headers), problem+json errors, caching, pagination.

pub mod cache;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod metrics;
pub mod nul;
pub mod openapi;
pub mod ops;
pub mod pagination;
pub mod server;

use std::time::{Duration, Instant};

use axum::{
    body::Body,
    extract::{MatchedPath, Request},
    http::{HeaderName, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use tower::{ServiceBuilder, util::MapResponseLayer};
use tower_http::{
    catch_panic::CatchPanicLayer,
    limit::RequestBodyLimitLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
};
use tracing::{Instrument, Level};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::app::AppState;
use error::{ApiError, PROBLEM_BASE, Problem};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Every route of the service with its middleware, and the OpenAPI document built from the
/// same handlers.
///
/// Two tiers, for speed: what needs the matched route (span, metrics, access log, timeout,
/// problem bodies) is one middleware inside the router; the rest wraps the router once.
/// Each `Router::layer` call boxes every route again and clones the box per request.
pub fn router(state: AppState) -> (Service, utoipa::openapi::OpenApi) {
    // Creating partner and admin POSTs get `Idempotency-Key` from a middleware; bookings
    // and payments record keys inside their own transactions.
    let keyed = middleware::from_fn_with_state(state.clone(), idempotency::guard);
    let (api, mut openapi) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(crate::catalog::routes::router())
        .merge(crate::inventory::routes::router())
        .merge(crate::identity::routes::router())
        .merge(crate::identity::partners::router())
        .merge(crate::identity::admin::router())
        .merge(crate::identity::api_keys::router().layer(keyed.clone()))
        .merge(crate::catalog::partner_routes::router().layer(keyed.clone()))
        .merge(crate::catalog::admin::router().layer(keyed.clone()))
        .merge(crate::offers::routes::router().layer(keyed.clone()))
        .merge(crate::pricing::routes::router().layer(keyed))
        .merge(crate::booking::routes::router())
        .merge(crate::payment::routes::router())
        .merge(crate::integration::routes::router())
        .merge(crate::settlement::routes::router())
        .merge(crate::waiting_room::routes::router())
        .merge(crate::audit::routes::router())
        .merge(crate::support::routes::router())
        .merge(crate::support::disputes::router())
        .merge(crate::checkin::routes::router())
        .merge(crate::reports::routes::router())
        .merge(crate::reviews::routes::router())
        .merge(ops::router())
        .split_for_parts();
    openapi::complete(&mut openapi);

    let observer = Observer {
        access_level: if state.config.log.access_log {
            Level::INFO
        } else {
            Level::DEBUG
        },
        timeout: state.config.request_timeout(),
        app: state.clone(),
        hsts: (state.config.http.hsts_secs() > 0).then(|| {
            HeaderValue::from_str(&format!(
                "max-age={}; includeSubDomains",
                state.config.http.hsts_secs()
            ))
            .unwrap_or_else(|_| HeaderValue::from_static("max-age=31536000"))
        }),
    };
    let cors = cors(&state.config.http);
    let body_limit = state.config.http.body_limit_bytes;

    let routes = api
        .merge(SwaggerUi::new("/docs").url("/openapi.json", openapi.clone()))
        .merge(crate::web::router())
        .fallback(|request: Request| async move {
            ApiError::RouteNotFound(request.uri().path().to_owned())
        })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state)
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            observer.clone().observe(request, next)
        }));

    let service = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(cors)
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(MapResponseLayer::new(
            problem_for_bare_errors::<BoxBody> as fn(Response<BoxBody>) -> Response,
        ))
        .layer(CatchPanicLayer::custom(PanicToProblem))
        .layer(MapResponseLayer::new(
            box_body::<LimitedBody> as fn(Response<LimitedBody>) -> Response,
        ))
        .layer(RequestBodyLimitLayer::new(body_limit))
        .service(routes);
    (service, openapi)
}

type BoxBody = tower_http::body::UnsyncBoxBody<bytes::Bytes, axum::BoxError>;
type LimitedBody = tower_http::limit::ResponseBody<Body>;

/// Browsers on the configured origins may call the API (`http.cors_allowed_origins`):
/// preflights are answered here, and answers carry `Access-Control-Allow-Origin` for those
/// origins only. Bearer tokens travel in a header, so credentials (cookies) are never
/// allowed, and `*` never comes with them.
fn cors(config: &crate::config::HttpConfig) -> tower_http::cors::CorsLayer {
    use axum::http::Method;
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let origins = &config.cors_allowed_origins;
    let allow = if origins.iter().any(|origin| origin == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin).ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::ACCEPT_LANGUAGE,
            header::IF_NONE_MATCH,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([
            header::ETAG,
            header::RETRY_AFTER,
            header::LOCATION,
            REQUEST_ID,
        ])
        .max_age(Duration::from_secs(600))
}

/// The whole service as `serve` runs it.
pub type Service = tower_http::request_id::SetRequestId<
    tower_http::request_id::PropagateRequestId<
        tower_http::cors::Cors<
            tower_http::set_header::SetResponseHeader<
                tower_http::set_header::SetResponseHeader<
                    tower_http::set_header::SetResponseHeader<
                        tower::util::MapResponse<
                            tower_http::catch_panic::CatchPanic<
                                tower::util::MapResponse<
                                    tower_http::limit::RequestBodyLimit<axum::Router>,
                                    fn(Response<LimitedBody>) -> Response<Body>,
                                >,
                                PanicToProblem,
                            >,
                            fn(Response<BoxBody>) -> Response<Body>,
                        >,
                        HeaderValue,
                    >,
                    HeaderValue,
                >,
                HeaderValue,
            >,
        >,
    >,
    MakeRequestUuid,
>;

fn box_body<B>(response: Response<B>) -> Response<Body>
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    response.map(Body::new)
}

/// A panicking handler answers a problem+json 500 and the process keeps serving.
#[derive(Clone, Copy)]
pub struct PanicToProblem;

impl tower_http::catch_panic::ResponseForPanic for PanicToProblem {
    type ResponseBody = Body;

    fn response_for_panic(
        &mut self,
        _: Box<dyn std::any::Any + Send + 'static>,
    ) -> Response<Self::ResponseBody> {
        tracing::error!("handler panicked");
        ApiError::Internal("panic".into()).into_response()
    }
}

/// The route-level middleware.
#[derive(Clone)]
struct Observer {
    access_level: Level,
    timeout: Duration,
    /// `Strict-Transport-Security`, when configured.
    hsts: Option<HeaderValue>,
    /// For the audit log.
    app: AppState,
}

impl Observer {
    /// A span carrying the request id (so every log line inside the request has it), the
    /// refusal of U+0000 in the path or query (`nul`), the request timeout, problem bodies
    /// for bare errors, metrics per matched route, and the access log line.
    async fn observe(self, request: Request, next: Next) -> Response {
        let started = Instant::now();
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or("unmatched", MatchedPath::as_str)
            .to_owned();
        let method = request.method().clone();
        let request_id = request
            .headers()
            .get(&REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        // What answers a signed-in request is someone's own (bookings, tickets, account,
        // partner data): no cache on the way may keep it.
        let personal = request.headers().contains_key(header::AUTHORIZATION);
        // Administrators' requests and partners' writes go to the audit log: the identity
        // extractors say who made them.
        let audited = crate::audit::is_audited(&method, &route).then(|| {
            let slot = crate::audit::ActorSlot::default();
            (slot, request.uri().path().to_owned())
        });
        let mut request = request;
        if let Some((slot, _)) = &audited {
            request.extensions_mut().insert(slot.clone());
        }
        let span = tracing::info_span!("request", method = %method, route = %route, request_id);
        let response = if let Some(part) = nul::in_uri(request.uri()) {
            ApiError::NulInUri(part).into_response()
        } else {
            match tokio::time::timeout(self.timeout, next.run(request).instrument(span.clone()))
                .await
            {
                Ok(response) => problem_for_bare_errors(response),
                Err(_) => ApiError::Timeout.into_response(),
            }
        };
        let mut response = response;
        let headers = response.headers_mut();
        if personal
            && !headers
                .get(header::CACHE_CONTROL)
                .is_some_and(|v| v.as_bytes().windows(8).any(|w| w == b"no-store"))
        {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        if let Some(hsts) = &self.hsts {
            headers.insert(header::STRICT_TRANSPORT_SECURITY, hsts.clone());
        }
        if let Some((slot, path)) = &audited {
            let record = crate::audit::RequestRecord {
                slot,
                method: method.as_str(),
                route: &route,
                path,
                status: response.status().as_u16(),
                request_id: &request_id,
            };
            crate::audit::record_request(&self.app, record).await;
        }
        let elapsed = started.elapsed();
        let status = response.status().as_u16();
        metrics::record(&method, route, status, elapsed);
        let _entered = span.enter();
        let latency_us = elapsed.as_micros() as u64;
        if self.access_level == Level::INFO {
            tracing::info!(status, latency_us, "request");
        } else {
            tracing::debug!(status, latency_us, "request");
        }
        response
    }
}

/// Error responses made by middleware or the framework (timeouts, body limits, a wrong
/// content type) carry no problem body; give them one so every error a client sees has the
/// same shape.
fn problem_for_bare_errors<B>(response: Response<B>) -> Response
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response.map(Body::new);
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if is_problem {
        return response.map(Body::new);
    }
    // The body limit's own refusal (a body whose Content-Length is over it) reads like the
    // one a chunked body gets while it is read.
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        let mut replaced = ApiError::PayloadTooLarge.into_response();
        copy_headers(&response, &mut replaced);
        return replaced;
    }
    let (code, title) = match status {
        StatusCode::BAD_REQUEST => ("invalid-request", "Invalid request"),
        StatusCode::NOT_FOUND => ("not-found", "Resource not found"),
        StatusCode::METHOD_NOT_ALLOWED => ("method-not-allowed", "Method not allowed"),
        StatusCode::REQUEST_TIMEOUT => ("timeout", "Request timed out"),
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
        extensions: Default::default(),
    }
    .into_response();
    copy_headers(&response, &mut replaced);
    replaced
}

/// Keeps headers such as Retry-After or Allow on a replaced error response.
fn copy_headers<B>(from: &Response<B>, to: &mut Response) {
    for (name, value) in from.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            to.headers_mut().insert(name.clone(), value.clone());
        }
    }
}

/// Shutdown grace for in-flight requests.
/// A CSV document as a download named `filename` (statements, reconciliations, reports).
pub fn csv_attachment(bytes: Vec<u8>, filename: &str) -> axum::response::Response {
    use axum::{http::header, response::IntoResponse};
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

pub fn shutdown_grace(state: &AppState) -> Duration {
    Duration::from_secs(state.config.http.shutdown_grace_secs)
}
