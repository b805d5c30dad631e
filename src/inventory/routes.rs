//! The public seat map.

use axum::{extract::State, http::HeaderMap};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{model::SeatMap, service};
use crate::{
    app::AppState,
    catalog::routes::show_id,
    http::{
        cache::{CachedJson, Scope},
        error::{ApiError, Problem},
        extract::ApiPath,
    },
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(seat_map))
}

/// Every seat of a show with its state, category and price, plus availability counts.
///
/// Never staler than the last seat change made through the node that answers.
#[utoipa::path(get, path = "/api/v1/shows/{show_id}/seats", tag = "inventory",
    params(("show_id" = String, Path, description = "Show id")),
    responses((status = 200, body = SeatMap),
              (status = 304, description = "Not modified: `If-None-Match` names the current `ETag`"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn seat_map(
    State(app): State<AppState>,
    ApiPath(show): ApiPath<String>,
    headers: HeaderMap,
) -> Result<CachedJson, ApiError> {
    let show = show_id(&show)?;
    let key = format!("{:?}", ("seats", show.as_str()));
    let now = app.clock.now();
    let entry = app
        .cache
        .get_or_load(key, Scope::Show(show.as_str()), || {
            service::seat_map(&app.db, show.as_str(), now)
        })
        .await?;
    Ok(CachedJson::new(entry, &headers))
}
