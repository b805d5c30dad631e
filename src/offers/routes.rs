//! Offers: administration (admins), the public listing, and quote previews.

use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    quote::Quote,
    service::{self, OfferError, OfferRequest, OfferView},
    store,
};
use crate::{
    app::AppState,
    http::{
        error::{ApiError, Problem},
        extract::{ApiJson, ApiPath, ApiQuery},
    },
    identity::extract::Admin,
    ids::{CityId, TheatreId},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_offer, list_all_offers))
        .routes(routes!(replace_offer))
        .routes(routes!(deactivate_offer))
        .routes(routes!(public_offers))
        .routes(routes!(preview_quote))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OfferFilter {
    /// Offers usable for shows in this city.
    city_id: Option<String>,
    /// Offers usable for shows at this theatre.
    theatre_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteRequest {
    pub show_id: String,
    /// Seat labels, e.g. `["A1", "A2"]`; 1 to 10.
    pub seats: Vec<String>,
}

async fn save(
    app: &AppState,
    id: String,
    body: &OfferRequest,
    replace: bool,
) -> Result<OfferView, ApiError> {
    let offer = service::validate(&app.db, id.clone(), body).await?;
    let now = app.clock.now();
    let saved = offer.clone();
    let written = app
        .db
        .write(move |tx| store::save_offer(tx, &saved, replace, now))
        .await
        .map_err(OfferError::from)?;
    if !written {
        return Err(OfferError::NotFound(id).into());
    }
    app.cache.invalidate_catalog();
    Ok(service::view(offer))
}

/// Create an offer (administrators).
#[utoipa::path(post, path = "/api/v1/admin/offers", tag = "admin",
    security(("bearer" = [])),
    request_body = OfferRequest,
    responses((status = 201, body = OfferView),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_offer(
    State(app): State<AppState>,
    _admin: Admin,
    ApiJson(body): ApiJson<OfferRequest>,
) -> Result<(StatusCode, Json<OfferView>), ApiError> {
    let id = format!("off_{}", ulid::Ulid::new());
    Ok((
        StatusCode::CREATED,
        Json(save(&app, id, &body, false).await?),
    ))
}

/// Every offer, active or not (administrators).
#[utoipa::path(get, path = "/api/v1/admin/offers", tag = "admin",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<OfferView>)))]
async fn list_all_offers(
    State(app): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<OfferView>>, ApiError> {
    let offers = store::all_offers(&app.db).await.map_err(OfferError::from)?;
    Ok(Json(offers.into_iter().map(service::view).collect()))
}

/// Replace an offer's rule, validity, scope and state (administrators). Holds already
/// made keep the quote they were made with.
#[utoipa::path(put, path = "/api/v1/admin/offers/{offer_id}", tag = "admin",
    security(("bearer" = [])),
    params(("offer_id" = String, Path, description = "Offer id")),
    request_body = OfferRequest,
    responses((status = 200, body = OfferView),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn replace_offer(
    State(app): State<AppState>,
    _admin: Admin,
    ApiPath(offer_id): ApiPath<String>,
    ApiJson(body): ApiJson<OfferRequest>,
) -> Result<Json<OfferView>, ApiError> {
    Ok(Json(save(&app, offer_id, &body, true).await?))
}

/// Deactivate an offer (administrators); it stops applying to new quotes at once.
#[utoipa::path(post, path = "/api/v1/admin/offers/{offer_id}/deactivate", tag = "admin",
    security(("bearer" = [])),
    params(("offer_id" = String, Path, description = "Offer id")),
    responses((status = 204, description = "Deactivated"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn deactivate_offer(
    State(app): State<AppState>,
    _admin: Admin,
    ApiPath(offer_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let now = app.clock.now();
    let id = offer_id.clone();
    let deactivated = app
        .db
        .write(move |tx| store::deactivate(tx, &id, now))
        .await
        .map_err(OfferError::from)?;
    if !deactivated {
        return Err(OfferError::NotFound(offer_id).into());
    }
    app.cache.invalidate_catalog();
    Ok(StatusCode::NO_CONTENT)
}

/// Offers customers can use now, for a city and/or a theatre.
#[utoipa::path(get, path = "/api/v1/offers", tag = "offers",
    params(OfferFilter),
    responses((status = 200, body = Vec<OfferView>),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn public_offers(
    State(app): State<AppState>,
    ApiQuery(filter): ApiQuery<OfferFilter>,
) -> Result<Json<Vec<OfferView>>, ApiError> {
    let city = match filter.city_id.as_deref() {
        Some(text) => {
            Some(CityId::parse(text).ok_or_else(|| OfferError::UnknownCity(text.to_owned()))?)
        }
        None => None,
    };
    let theatre = match filter.theatre_id.as_deref() {
        Some(text) => Some(
            TheatreId::parse(text).ok_or_else(|| OfferError::UnknownTheatre(text.to_owned()))?,
        ),
        None => None,
    };
    let offers =
        service::public_offers(&app.db, city.as_ref(), theatre.as_ref(), app.clock.now()).await?;
    Ok(Json(offers))
}

/// Preview the price of seats of a show: base price per category, each offer's discount,
/// the convenience fee and the total. Holding the seats stores the quote made then.
/// Limited per client address (429 with `Retry-After`).
#[utoipa::path(post, path = "/api/v1/quotes", tag = "offers",
    request_body = QuoteRequest,
    responses((status = 200, body = Quote),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json"),
              (status = 429, body = Problem, content_type = "application/problem+json")))]
async fn preview_quote(
    State(app): State<AppState>,
    axum::extract::ConnectInfo(client): axum::extract::ConnectInfo<std::net::SocketAddr>,
    ApiJson(body): ApiJson<QuoteRequest>,
) -> Result<Json<Quote>, ApiError> {
    app.limits
        .check(crate::limits::Limit::Quote, &client.ip().to_string())
        .await?;
    let quote = service::quote_for_show(&app, &body.show_id, &body.seats, app.clock.now()).await?;
    Ok(Json(quote))
}
