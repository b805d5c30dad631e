//! The public seat map.

use axum::{Json, extract::State, http::HeaderMap};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    best_available::{Grid, MapSeat, Wanted, best_available},
    model::{SeatCategory, SeatMap, SeatState, SeatView},
    service,
};
use crate::{
    app::AppState,
    booking::BookingError,
    catalog::routes::show_id,
    http::{
        cache::{CachedJson, Scope},
        error::{ApiError, Problem},
        extract::{ApiJson, ApiPath},
    },
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(seat_map))
        .routes(routes!(best_seats))
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BestAvailableRequest {
    /// Seats wanted: 1 to `booking.max_seats`.
    pub count: u32,
    /// Only seats of this category.
    pub category: Option<SeatCategory>,
    /// Include an accessible seat, with the others beside it.
    #[serde(default)]
    pub accessible: bool,
}

/// Seats proposed for a hold; nothing is held until they are booked.
#[derive(Debug, Serialize, ToSchema)]
pub struct BestSeats {
    /// In row, then seat order.
    pub seats: Vec<SeatView>,
    /// One block of neighbouring seats in one row.
    pub together: bool,
    /// Free seats the proposal leaves alone between taken seats, an aisle or a row end
    /// (0 whenever some option leaves none).
    pub stranded: u32,
}

/// Propose the best `count` free seats: neighbours in one row when possible, leaving no
/// seat stranded alone when possible, nearest the screen's centre line two thirds of the
/// way back. Deterministic: the same seat map gives the same proposal. Holds nothing.
#[utoipa::path(post, path = "/api/v1/shows/{show_id}/best-available", tag = "inventory",
    params(("show_id" = String, Path, description = "Show id")),
    request_body = BestAvailableRequest,
    responses((status = 200, body = BestSeats),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "the show is not on sale, or no free seats fit",
               body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn best_seats(
    State(app): State<AppState>,
    ApiPath(show): ApiPath<String>,
    ApiJson(request): ApiJson<BestAvailableRequest>,
) -> Result<Json<BestSeats>, ApiError> {
    let show = show_id(&show)?;
    let max = app.config.booking.max_seats;
    let count = request.count as usize;
    if count == 0 || count > max {
        return Err(BookingError::Invalid(format!("choose 1 to {max} seats")).into());
    }
    let map = service::seat_map(&app.db, show.as_str(), app.clock.now())
        .await?
        .value;
    if !map.on_sale {
        return Err(BookingError::ShowNotOnSale.into());
    }
    let seats: Vec<MapSeat<'_>> = map
        .seats
        .iter()
        .map(|seat| MapSeat {
            label: &seat.label,
            row: seat.grid_row,
            col: seat.grid_col,
            category: seat.category,
            accessible: seat.accessible,
            free: seat.state == SeatState::Available,
        })
        .collect();
    let grid = Grid {
        rows: map.grid_rows,
        cols: map.grid_cols,
    };
    let wanted = Wanted {
        count,
        category: request.category,
        accessible: request.accessible,
    };
    let proposal = best_available(&seats, grid, wanted)
        .ok_or_else(|| BookingError::NoSeatsToPropose(describe(wanted)))?;
    let chosen: Vec<SeatView> = proposal
        .seats
        .iter()
        .filter_map(|seat| map.seats.iter().find(|view| view.label == seat.label))
        .cloned()
        .collect();
    Ok(Json(BestSeats {
        seats: chosen,
        together: proposal.together,
        stranded: proposal.stranded as u32,
    }))
}

/// "3 free recliner seats with an accessible one beside the others".
fn describe(wanted: Wanted) -> String {
    let category = wanted
        .category
        .map(|c| format!(" {}", c.as_str()))
        .unwrap_or_default();
    let plural = if wanted.count == 1 { "" } else { "s" };
    let accessible = match (wanted.accessible, wanted.count) {
        (false, _) => "",
        (true, 1) => ", accessible",
        (true, _) => " together, one of them accessible",
    };
    format!("{} free{category} seat{plural}{accessible}", wanted.count)
}
