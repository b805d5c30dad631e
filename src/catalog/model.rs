//! What the browse API returns. Times are given in UTC (`starts_at`) and in the theatre's
//! timezone (`starts_at_local`); money in minor units.

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    ids::{CityId, MovieId, ScreenId, ShowId, TheatreId},
    inventory::model::SeatCategory,
    money::Money,
};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct City {
    #[schema(value_type = String, example = "cty_01JD3YQ8W7V0M5X2K9R4T6B1CZ")]
    pub id: CityId,
    pub name: String,
    /// ISO 3166-1 alpha-2.
    pub country_code: String,
    /// IANA timezone; dates in queries about this city are local dates in it.
    pub timezone: String,
    /// ISO 4217 currency of prices in this city.
    pub currency: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MovieSummary {
    #[schema(value_type = String)]
    pub id: MovieId,
    /// Title in the best locale `Accept-Language` allows, else the original title.
    pub title: String,
    pub original_title: String,
    /// Locale of `title`, or absent when it is the original title.
    pub locale: Option<String>,
    pub original_language: String,
    /// Languages the movie is shown in.
    pub languages: Vec<String>,
    pub genres: Vec<String>,
    pub duration_minutes: i64,
    pub certification: String,
    pub release_date: NaiveDate,
    /// Customers' ratings (visible reviews).
    pub rating: crate::reviews::Rating,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MovieDetail {
    #[serde(flatten)]
    pub summary: MovieSummary,
    /// Synopsis in the same locale as `title`.
    pub synopsis: String,
    /// Locales with a translated title.
    pub available_locales: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Theatre {
    #[schema(value_type = String)]
    pub id: TheatreId,
    pub name: String,
    pub address: String,
    #[schema(value_type = String)]
    pub city_id: CityId,
    pub timezone: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScreenRef {
    #[schema(value_type = String)]
    pub id: ScreenId,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CategoryPrice {
    pub category: SeatCategory,
    pub price: Money,
}

/// One show in a listing.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Showtime {
    #[schema(value_type = String)]
    pub id: ShowId,
    /// Start, UTC (RFC 3339).
    #[schema(value_type = String, example = "2026-11-22T08:30:00Z")]
    pub starts_at: String,
    /// Start in the theatre's timezone (RFC 3339 with offset).
    #[schema(value_type = String, example = "2026-11-22T14:00:00+05:30")]
    pub starts_at_local: String,
    #[schema(value_type = String)]
    pub ends_at: String,
    #[schema(value_type = String)]
    pub ends_at_local: String,
    pub language: String,
    /// `2D`, `3D`, `IMAX`, `IMAX 3D` or `4DX`.
    pub format: String,
    pub screen: ScreenRef,
    pub prices: Vec<CategoryPrice>,
}

/// A theatre and its showtimes of one movie on one date.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TheatreShowtimes {
    pub theatre: Theatre,
    pub shows: Vec<Showtime>,
}

/// Theatres running a movie in a city on a local date.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MovieShowtimes {
    pub city: City,
    pub movie: MovieSummary,
    /// The city's local date the listing is for.
    pub date: NaiveDate,
    pub items: Vec<TheatreShowtimes>,
    pub next_cursor: Option<String>,
}

/// A movie and its showtimes at one theatre on one date.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MovieWithShowtimes {
    pub movie: MovieSummary,
    pub shows: Vec<Showtime>,
}

/// Everything one theatre shows on a local date.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TheatreSchedule {
    pub theatre: Theatre,
    pub date: NaiveDate,
    pub movies: Vec<MovieWithShowtimes>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CategoryAvailability {
    pub category: SeatCategory,
    pub total: u32,
    pub available: u32,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Availability {
    pub total: u32,
    pub available: u32,
    pub by_category: Vec<CategoryAvailability>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShowDetail {
    #[schema(value_type = String)]
    pub id: ShowId,
    pub movie: MovieSummary,
    pub theatre: Theatre,
    pub screen: ScreenRef,
    #[schema(value_type = String)]
    pub starts_at: String,
    #[schema(value_type = String)]
    pub starts_at_local: String,
    #[schema(value_type = String)]
    pub ends_at: String,
    #[schema(value_type = String)]
    pub ends_at_local: String,
    pub language: String,
    pub format: String,
    /// `scheduled` or `cancelled`.
    pub status: String,
    /// Seats can be held now: scheduled and not yet started.
    pub on_sale: bool,
    pub prices: Vec<CategoryPrice>,
    pub availability: Availability,
    /// Present when sales go through a waiting room: holds need an admission from it
    /// (`/api/v1/shows/{id}/waiting-room`).
    pub waiting_room: Option<ShowWaitingRoom>,
}

/// A show's waiting room, as its page needs to know.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShowWaitingRoom {
    #[schema(value_type = String)]
    pub on_sale_at: String,
    /// The on-sale in the theatre's time zone.
    #[schema(value_type = String)]
    pub on_sale_at_local: String,
    /// Seats one account may hold or buy.
    pub seats_per_account: i64,
}
