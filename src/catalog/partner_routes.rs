//! Partner routes: theatres, screens, shows and seat inventory of the caller's own
//! organisation. Another organisation's resources answer 404.

use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::manage::{
    self, InventoryChange, InventoryResult, LayoutChange, ManageError, ManagedScreen,
    ManagedTheatre, NewScreenRequest, NewShowRequest, NewTheatreRequest, ScheduledShow, ShowChange,
};
use crate::{
    app::AppState,
    http::{
        error::{ApiError, Problem},
        extract::{ApiJson, ApiPath},
    },
    identity::{IdentityError, extract::Partner},
    ids::PartnerOrgId,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_theatre, list_theatres))
        .routes(routes!(create_screen))
        .routes(routes!(change_layout))
        .routes(routes!(create_show))
        .routes(routes!(update_show, delete_show))
        .routes(routes!(create_shows_in_bulk))
        .routes(routes!(change_inventory))
}

pub(crate) fn org_of(partner: &Partner) -> Result<&PartnerOrgId, ApiError> {
    partner.0.org_id.as_ref().ok_or_else(|| {
        IdentityError::Forbidden("this account belongs to no partner organisation").into()
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkShows {
    /// 1 to 200 shows; all are created or none.
    pub shows: Vec<NewShowRequest>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedShows {
    pub shows: Vec<ScheduledShow>,
}

/// Create a theatre in a city (approved organisations).
#[utoipa::path(post, path = "/api/v1/partner/theatres", tag = "partner",
    security(("bearer" = [])),
    request_body = NewTheatreRequest,
    responses((status = 201, body = ManagedTheatre),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_theatre(
    State(app): State<AppState>,
    partner: Partner,
    ApiJson(body): ApiJson<NewTheatreRequest>,
) -> Result<(StatusCode, Json<ManagedTheatre>), ApiError> {
    let theatre = manage::create_theatre(&app, org_of(&partner)?, &body).await?;
    Ok((StatusCode::CREATED, Json(theatre)))
}

/// The organisation's theatres.
#[utoipa::path(get, path = "/api/v1/partner/theatres", tag = "partner",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<ManagedTheatre>),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
async fn list_theatres(
    State(app): State<AppState>,
    partner: Partner,
) -> Result<Json<Vec<ManagedTheatre>>, ApiError> {
    Ok(Json(
        manage::list_theatres(&app.db, org_of(&partner)?).await?,
    ))
}

/// Add a screen with its seat layout to one of the organisation's theatres.
#[utoipa::path(post, path = "/api/v1/partner/theatres/{theatre_id}/screens", tag = "partner",
    security(("bearer" = [])),
    params(("theatre_id" = String, Path, description = "Theatre id")),
    request_body = NewScreenRequest,
    responses((status = 201, body = ManagedScreen),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_screen(
    State(app): State<AppState>,
    partner: Partner,
    ApiPath(theatre_id): ApiPath<String>,
    ApiJson(body): ApiJson<NewScreenRequest>,
) -> Result<(StatusCode, Json<ManagedScreen>), ApiError> {
    let screen = manage::create_screen(&app, org_of(&partner)?, &theatre_id, &body).await?;
    Ok((StatusCode::CREATED, Json(screen)))
}

/// Schedule one show; its seat inventory is allocated from the screen's layout.
///
/// Refused with its own problem type when the screen is not the partner's
/// (`unknown-screen`), the movie does not exist (`unknown-movie`), it would overlap another
/// show including the cleaning buffer (`show-overlap`), it starts in the past
/// (`start-in-past`), or a seat category has no price (`missing-prices`).
#[utoipa::path(post, path = "/api/v1/partner/shows", tag = "partner",
    security(("bearer" = [])),
    request_body = NewShowRequest,
    responses((status = 201, body = ScheduledShow),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_show(
    State(app): State<AppState>,
    partner: Partner,
    ApiJson(body): ApiJson<NewShowRequest>,
) -> Result<(StatusCode, Json<ScheduledShow>), ApiError> {
    let mut created =
        manage::schedule_shows(&app, org_of(&partner)?, std::slice::from_ref(&body)).await?;
    let show = created
        .pop()
        .ok_or_else(|| ManageError::InvalidInput("no show was created".into()))?;
    Ok((StatusCode::CREATED, Json(show)))
}

/// Schedule many shows at once (e.g. a week), all or nothing. When any item is invalid
/// nothing is created and the problem lists `errors` with each failing item's index, type
/// and detail.
#[utoipa::path(post, path = "/api/v1/partner/shows/bulk", tag = "partner",
    security(("bearer" = [])),
    request_body = BulkShows,
    responses((status = 201, body = CreatedShows),
              (status = 404, description = "a screen named in the body is missing or another organisation's (`unknown-screen`)",
               body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_shows_in_bulk(
    State(app): State<AppState>,
    partner: Partner,
    ApiJson(body): ApiJson<BulkShows>,
) -> Result<(StatusCode, Json<CreatedShows>), ApiError> {
    let shows = manage::schedule_shows(&app, org_of(&partner)?, &body.shows).await?;
    Ok((StatusCode::CREATED, Json(CreatedShows { shows })))
}

/// Withhold, block and release seats of a show in one atomic change; the public seat map
/// shows it at once. Seats held by customers or sold cannot be withheld or blocked
/// (`seat-unavailable`, listing `seats`).
#[utoipa::path(post, path = "/api/v1/partner/shows/{show_id}/inventory", tag = "partner",
    security(("bearer" = [])),
    params(("show_id" = String, Path, description = "Show id")),
    request_body = InventoryChange,
    responses((status = 200, body = InventoryResult),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn change_inventory(
    State(app): State<AppState>,
    partner: Partner,
    ApiPath(show_id): ApiPath<String>,
    ApiJson(body): ApiJson<InventoryChange>,
) -> Result<Json<InventoryResult>, ApiError> {
    Ok(Json(
        manage::change_inventory(&app, org_of(&partner)?, &show_id, &body).await?,
    ))
}

/// Change a show's time, language, format or prices. Moving a show that customers hold or
/// bought seats for is refused (`show-has-bookings`) unless `move_with_customers` is true:
/// then each customer with a live booking is told the old and new time
/// (`show.rescheduled`) and may cancel in full until the show starts. New prices apply to
/// holds made from now on; customers with live bookings are told theirs keep their price
/// (`show.repriced`).
#[utoipa::path(patch, path = "/api/v1/partner/shows/{show_id}", tag = "partner",
    security(("bearer" = [])),
    params(("show_id" = String, Path, description = "Show id")),
    request_body = ShowChange,
    responses((status = 200, body = ScheduledShow),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "`show-has-bookings` (customers hold or own seats; \
                   see `move_with_customers`) or `show-overlap`", body = Problem,
                   content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn update_show(
    State(app): State<AppState>,
    partner: Partner,
    ApiPath(show_id): ApiPath<String>,
    ApiJson(body): ApiJson<ShowChange>,
) -> Result<Json<ScheduledShow>, ApiError> {
    Ok(Json(
        manage::update_show(&app, org_of(&partner)?, &show_id, &body).await?,
    ))
}

/// Delete a show nobody holds or bought seats for (`show-has-bookings` otherwise: cancel it
/// instead).
#[utoipa::path(delete, path = "/api/v1/partner/shows/{show_id}", tag = "partner",
    security(("bearer" = [])),
    params(("show_id" = String, Path, description = "Show id")),
    responses((status = 204, description = "Deleted"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn delete_show(
    State(app): State<AppState>,
    partner: Partner,
    ApiPath(show_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    manage::delete_show(&app, org_of(&partner)?, &show_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Give a screen a new seat layout for shows scheduled from now on. Shows already
/// scheduled keep the layout their seats were sold on.
#[utoipa::path(put, path = "/api/v1/partner/screens/{screen_id}/layout", tag = "partner",
    security(("bearer" = [])),
    params(("screen_id" = String, Path, description = "Screen id")),
    request_body = LayoutChange,
    responses((status = 200, body = ManagedScreen),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn change_layout(
    State(app): State<AppState>,
    partner: Partner,
    ApiPath(screen_id): ApiPath<String>,
    ApiJson(body): ApiJson<LayoutChange>,
) -> Result<Json<ManagedScreen>, ApiError> {
    Ok(Json(
        manage::change_layout(&app, org_of(&partner)?, &screen_id, &body).await?,
    ))
}
