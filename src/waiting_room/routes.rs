//! Waiting room routes: set up by the show's partner or an administrator; joined and
//! watched by customers; audited by anyone.

use axum::{Json, extract::State, http::StatusCode};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    WaitingRoomError,
    service::{self, Audit, Entry, MovieRooms, MovieRoomsRequest, Room, RoomRequest},
};
use crate::{
    app::AppState,
    catalog::partner_routes::org_of,
    http::{
        error::{ApiError, Problem},
        extract::{ApiJson, ApiPath, ApiQuery},
    },
    identity::extract::{Admin, Customer, Partner},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(partner_room))
        .routes(routes!(admin_room))
        .routes(routes!(partner_movie_rooms))
        .routes(routes!(admin_movie_rooms))
        .routes(routes!(get_room))
        .routes(routes!(join_room))
        .routes(routes!(my_entry))
        .routes(routes!(audit))
}

/// Give one of the organisation's shows a waiting room (or move its on-sale, until it
/// opens). From now until the on-sale, customers may join the pre-queue and nobody can
/// hold seats; at the on-sale the pre-queue is shuffled with the seed whose SHA-256 the
/// answer publishes, and later arrivals queue behind it in order.
#[utoipa::path(put, path = "/api/v1/partner/shows/{show_id}/waiting-room", tag = "waiting-room",
    security(("bearer" = [])),
    params(("show_id" = String, Path)),
    request_body = RoomRequest,
    responses((status = 200, body = Room),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn partner_room(
    State(app): State<AppState>,
    partner: Partner,
    ApiPath(show_id): ApiPath<String>,
    ApiJson(request): ApiJson<RoomRequest>,
) -> Result<Json<Room>, ApiError> {
    let org = org_of(&partner)?;
    Ok(Json(
        service::configure(&app, Some(org), &show_id, &request).await?,
    ))
}

/// Give any show a waiting room (administrators).
#[utoipa::path(put, path = "/api/v1/admin/shows/{show_id}/waiting-room", tag = "waiting-room",
    security(("bearer" = [])),
    params(("show_id" = String, Path)),
    request_body = RoomRequest,
    responses((status = 200, body = Room),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn admin_room(
    State(app): State<AppState>,
    _admin: Admin,
    ApiPath(show_id): ApiPath<String>,
    ApiJson(request): ApiJson<RoomRequest>,
) -> Result<Json<Room>, ApiError> {
    Ok(Json(
        service::configure(&app, None, &show_id, &request).await?,
    ))
}

/// Give every show of a movie in a city, at the organisation's theatres, a waiting room
/// with one on-sale (shows starting after it; each show queues apart with a seed of its
/// own). Applying it again moves the on-sale of rooms not yet open; rooms already open are
/// left as they are and listed in `already_open`. Shows added later need it again.
#[utoipa::path(put, path = "/api/v1/partner/movies/{movie_id}/waiting-rooms", tag = "waiting-room",
    security(("bearer" = [])),
    params(("movie_id" = String, Path)),
    request_body = MovieRoomsRequest,
    responses((status = 200, body = MovieRooms),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn partner_movie_rooms(
    State(app): State<AppState>,
    partner: Partner,
    ApiPath(movie_id): ApiPath<String>,
    ApiJson(request): ApiJson<MovieRoomsRequest>,
) -> Result<Json<MovieRooms>, ApiError> {
    let org = org_of(&partner)?;
    Ok(Json(
        service::configure_movie(&app, Some(org), &movie_id, &request).await?,
    ))
}

/// Give every show of a movie in a city a waiting room with one on-sale (administrators).
#[utoipa::path(put, path = "/api/v1/admin/movies/{movie_id}/waiting-rooms", tag = "waiting-room",
    security(("bearer" = [])),
    params(("movie_id" = String, Path)),
    request_body = MovieRoomsRequest,
    responses((status = 200, body = MovieRooms),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn admin_movie_rooms(
    State(app): State<AppState>,
    _admin: Admin,
    ApiPath(movie_id): ApiPath<String>,
    ApiJson(request): ApiJson<MovieRoomsRequest>,
) -> Result<Json<MovieRooms>, ApiError> {
    Ok(Json(
        service::configure_movie(&app, None, &movie_id, &request).await?,
    ))
}

/// A show's waiting room: its on-sale, the published seed hash (and the seed once the
/// pre-queue is ordered), how many joined and how far admission has come.
#[utoipa::path(get, path = "/api/v1/shows/{show_id}/waiting-room", tag = "waiting-room",
    params(("show_id" = String, Path)),
    responses((status = 200, body = Room),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_room(
    State(app): State<AppState>,
    ApiPath(show_id): ApiPath<String>,
) -> Result<Json<Room>, ApiError> {
    Ok(Json(service::room(&app, &show_id).await?))
}

/// Join the show's waiting room (once per account; joining again answers the same entry).
#[utoipa::path(post, path = "/api/v1/shows/{show_id}/waiting-room/entries", tag = "waiting-room",
    security(("bearer" = [])),
    params(("show_id" = String, Path)),
    responses((status = 201, body = Entry, description = "Joined"),
              (status = 200, body = Entry, description = "Already in the room"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn join_room(
    State(app): State<AppState>,
    Customer(customer): Customer,
    ApiPath(show_id): ApiPath<String>,
) -> Result<(StatusCode, Json<Entry>), ApiError> {
    let (entry, created) = service::join(&app, &customer.user_id, &show_id).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(entry)))
}

/// Longest `wait_ms` accepted: well within `http.request_timeout_ms` (15 s by default).
const MAX_WAIT_MS: u64 = 10_000;

/// How long to wait for news.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct WaitParams {
    /// Answer when the entry has news (admitted, sold out, given its place) or after this
    /// many milliseconds (at most 10,000, within the request timeout), whichever comes
    /// first. 0 (the default): answer at once.
    #[serde(default)]
    pub wait_ms: u64,
}

/// Your place in the room: state, position, how many are ahead and the estimated wait
/// (it never goes up); once admitted, the admission token for holds on this show. With
/// `wait_ms`, a long poll: the answer comes as soon as the room moves for you, so keep
/// one request open instead of polling.
#[utoipa::path(get, path = "/api/v1/shows/{show_id}/waiting-room/entries/me", tag = "waiting-room",
    security(("bearer" = [])),
    params(("show_id" = String, Path), WaitParams),
    responses((status = 200, body = Entry),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn my_entry(
    State(app): State<AppState>,
    Customer(customer): Customer,
    ApiPath(show_id): ApiPath<String>,
    ApiQuery(params): ApiQuery<WaitParams>,
) -> Result<Json<Entry>, ApiError> {
    if params.wait_ms > MAX_WAIT_MS {
        return Err(
            WaitingRoomError::Invalid(format!("wait_ms must be at most {MAX_WAIT_MS}")).into(),
        );
    }
    let wait = std::time::Duration::from_millis(params.wait_ms);
    Ok(Json(
        service::entry_when_moved(&app, &customer.user_id, &show_id, wait).await?,
    ))
}

/// The on-sale's audit, once the pre-queue is ordered: the seed (check it against the
/// hash published before), the pre-queue's entry ids sorted, and every entry by position.
/// Recompute the order with the algorithm in `docs/waiting-room.md`.
#[utoipa::path(get, path = "/api/v1/shows/{show_id}/waiting-room/audit", tag = "waiting-room",
    params(("show_id" = String, Path)),
    responses((status = 200, body = Audit),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn audit(
    State(app): State<AppState>,
    ApiPath(show_id): ApiPath<String>,
) -> Result<Json<Audit>, ApiError> {
    Ok(Json(service::audit(&app, &show_id).await?))
}
