//! Public browse routes. Handlers parse input, build a cache key from everything the answer
//! depends on, and let the cache call the service on a miss.

use axum::{extract::State, http::HeaderMap};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    CatalogError,
    model::{
        City, MovieDetail, MovieShowtimes, MovieSummary, ShowDetail, Theatre, TheatreSchedule,
    },
    service::{self, ShowQuery},
};
use crate::{
    app::AppState,
    http::{
        cache::{CachedJson, Scope},
        error::{ApiError, Problem},
        extract::{ApiPath, ApiQuery, Locale},
        pagination::{Page, PageParams},
    },
    ids::{CityId, MovieId, ShowId, TheatreId},
    pricing::Count,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_cities))
        .routes(routes!(get_city))
        .routes(routes!(movies_in_city))
        .routes(routes!(movie_showtimes))
        .routes(routes!(theatres_in_city))
        .routes(routes!(get_theatre))
        .routes(routes!(theatre_schedule))
        .routes(routes!(get_movie))
        .routes(routes!(search))
        .routes(routes!(get_show))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CityFilter {
    /// ISO 3166-1 alpha-2 country code, e.g. `IN`.
    country: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MovieFilter {
    /// The city's local date, `YYYY-MM-DD`; default today. Only shows that have not
    /// started are considered.
    date: Option<String>,
    /// Show language, e.g. `hi`.
    language: Option<String>,
    /// Genre, e.g. `drama`.
    genre: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ShowtimeFilter {
    /// The city's local date, `YYYY-MM-DD`; default today. Only shows that have not
    /// started are listed.
    date: Option<String>,
    /// Show language, e.g. `en`.
    language: Option<String>,
    /// Show format: `2D`, `3D`, `IMAX`, `IMAX 3D`, `4DX`.
    format: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words to find in movie titles (any locale); every word must match.
    q: String,
    /// Only movies with an upcoming show in this city.
    city_id: Option<String>,
}

/// Short filter values only: they are part of cache keys.
fn check_filter(name: &str, value: Option<&str>) -> Result<(), ApiError> {
    match value {
        Some(v) if v.is_empty() || v.len() > 32 => Err(ApiError::InvalidQuery(format!(
            "{name} must be 1 to 32 characters"
        ))),
        _ => Ok(()),
    }
}

impl MovieFilter {
    fn validated(self) -> Result<ShowQuery, ApiError> {
        check_filter("date", self.date.as_deref())?;
        check_filter("language", self.language.as_deref())?;
        check_filter("genre", self.genre.as_deref())?;
        Ok(ShowQuery {
            date: self.date,
            language: self.language,
            format: None,
            genre: self.genre,
        })
    }
}

impl ShowtimeFilter {
    fn validated(self) -> Result<ShowQuery, ApiError> {
        check_filter("date", self.date.as_deref())?;
        check_filter("language", self.language.as_deref())?;
        check_filter("format", self.format.as_deref())?;
        Ok(ShowQuery {
            date: self.date,
            language: self.language,
            format: self.format,
            genre: None,
        })
    }
}

fn city_id(text: &str) -> Result<CityId, CatalogError> {
    CityId::parse(text).ok_or_else(|| CatalogError::CityNotFound(text.to_owned()))
}

fn movie_id(text: &str) -> Result<MovieId, CatalogError> {
    MovieId::parse(text).ok_or_else(|| CatalogError::MovieNotFound(text.to_owned()))
}

fn theatre_id(text: &str) -> Result<TheatreId, CatalogError> {
    TheatreId::parse(text).ok_or_else(|| CatalogError::TheatreNotFound(text.to_owned()))
}

pub(crate) fn show_id(text: &str) -> Result<ShowId, CatalogError> {
    ShowId::parse(text).ok_or_else(|| CatalogError::ShowNotFound(text.to_owned()))
}

/// List cities, alphabetically.
#[utoipa::path(get, path = "/api/v1/cities", tag = "catalog",
    params(CityFilter, PageParams),
    responses((status = 200, body = Page<City>),
              (status = 304, description = "Not modified: `If-None-Match` names the current `ETag`"),
              (status = 400, body = Problem, content_type = "application/problem+json")))]
async fn list_cities(
    State(app): State<AppState>,
    ApiQuery(filter): ApiQuery<CityFilter>,
    ApiQuery(page): ApiQuery<PageParams>,
    headers: HeaderMap,
) -> Result<CachedJson, ApiError> {
    check_filter("country", filter.country.as_deref())?;
    let request = page.request()?;
    let key = format!("{:?}", ("cities", &filter.country, page.cache_key()));
    let entry = app
        .cache
        .get_or_load(key, Scope::Catalog, || {
            service::list_cities(&app.db, filter.country.as_deref(), request)
        })
        .await?;
    Ok(CachedJson::new(entry, &headers))
}

/// One city.
#[utoipa::path(get, path = "/api/v1/cities/{city_id}", tag = "catalog",
    params(("city_id" = String, Path, description = "City id")),
    responses((status = 200, body = City),
              (status = 304, description = "Not modified: `If-None-Match` names the current `ETag`"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_city(
    State(app): State<AppState>,
    ApiPath(city): ApiPath<String>,
    headers: HeaderMap,
) -> Result<CachedJson, ApiError> {
    let city = city_id(&city)?;
    let key = format!("{:?}", ("city", city.as_str()));
    let entry = app
        .cache
        .get_or_load(key, Scope::Catalog, || {
            service::get_city(&app.db, city.as_str())
        })
        .await?;
    Ok(CachedJson::new(entry, &headers))
}

/// Movies with upcoming shows in a city on a date, newest release first.
#[utoipa::path(get, path = "/api/v1/cities/{city_id}/movies", tag = "catalog",
    params(("city_id" = String, Path, description = "City id"), MovieFilter, PageParams,
           ("Accept-Language" = Option<String>, Header, description = "Preferred title locales")),
    responses((status = 200, body = Page<MovieSummary>),
              (status = 304, description = "Not modified: `If-None-Match` names the current `ETag`"),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn movies_in_city(
    State(app): State<AppState>,
    ApiPath(city): ApiPath<String>,
    ApiQuery(filter): ApiQuery<MovieFilter>,
    ApiQuery(page): ApiQuery<PageParams>,
    Locale(locale): Locale,
    headers: HeaderMap,
) -> Result<CachedJson, ApiError> {
    let city = city_id(&city)?;
    let query = filter.validated()?;
    let request = page.request()?;
    let key = format!(
        "{:?}",
        (
            "movies",
            city.as_str(),
            &query,
            page.cache_key(),
            locale.cache_key()
        )
    );
    let now = app.clock.now();
    let entry = app
        .cache
        .get_or_load(key, Scope::Catalog, || {
            service::movies_in_city(&app.db, city.as_str(), &query, request, &locale, now)
        })
        .await?;
    Ok(CachedJson::new(entry, &headers))
}

/// Theatres in a city running a movie on a date, each with its show times.
///
/// The date is the city's local date; times are given in UTC and in local time. Theatres
/// are paginated alphabetically.
#[utoipa::path(get, path = "/api/v1/cities/{city_id}/movies/{movie_id}/shows", tag = "catalog",
    params(("city_id" = String, Path, description = "City id"), ("movie_id" = String, Path, description = "Movie id"),
           ShowtimeFilter, PageParams,
           ("Accept-Language" = Option<String>, Header, description = "Preferred title locales")),
    responses((status = 200, body = MovieShowtimes),
              (status = 304, description = "Not modified: `If-None-Match` names the current `ETag`"),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn movie_showtimes(
    State(app): State<AppState>,
    ApiPath((city, movie)): ApiPath<(String, String)>,
    ApiQuery(filter): ApiQuery<ShowtimeFilter>,
    ApiQuery(page): ApiQuery<PageParams>,
    Locale(locale): Locale,
    headers: HeaderMap,
) -> Result<CachedJson, ApiError> {
    let city = city_id(&city)?;
    let movie = movie_id(&movie)?;
    let query = filter.validated()?;
    let request = page.request()?;
    let key = format!(
        "{:?}",
        (
            "showtimes",
            city.as_str(),
            movie.as_str(),
            &query,
            page.cache_key(),
            locale.cache_key()
        )
    );
    let now = app.clock.now();
    let entry = app
        .cache
        .get_or_load(key, Scope::Catalog, || async {
            let mut listing = service::movie_showtimes(
                &app.db,
                city.as_str(),
                movie.as_str(),
                &query,
                request,
                &locale,
                now,
            )
            .await?;
            let shows = listing
                .value
                .items
                .iter_mut()
                .flat_map(|t| t.shows.iter_mut());
            crate::pricing::price_showtimes(&app, shows).await?;
            Ok::<_, CatalogError>(listing)
        })
        .await?;
    Ok(CachedJson::new(entry, &headers))
}

/// Theatres in a city, alphabetically.
#[utoipa::path(get, path = "/api/v1/cities/{city_id}/theatres", tag = "catalog",
    params(("city_id" = String, Path, description = "City id"), PageParams),
    responses((status = 200, body = Page<Theatre>),
              (status = 304, description = "Not modified: `If-None-Match` names the current `ETag`"),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn theatres_in_city(
    State(app): State<AppState>,
    ApiPath(city): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageParams>,
    headers: HeaderMap,
) -> Result<CachedJson, ApiError> {
    let city = city_id(&city)?;
    let request = page.request()?;
    let key = format!("{:?}", ("theatres", city.as_str(), page.cache_key()));
    let entry = app
        .cache
        .get_or_load(key, Scope::Catalog, || {
            service::theatres_in_city(&app.db, city.as_str(), request)
        })
        .await?;
    Ok(CachedJson::new(entry, &headers))
}

/// One theatre.
#[utoipa::path(get, path = "/api/v1/theatres/{theatre_id}", tag = "catalog",
    params(("theatre_id" = String, Path, description = "Theatre id")),
    responses((status = 200, body = Theatre),
              (status = 304, description = "Not modified: `If-None-Match` names the current `ETag`"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_theatre(
    State(app): State<AppState>,
    ApiPath(theatre): ApiPath<String>,
    headers: HeaderMap,
) -> Result<CachedJson, ApiError> {
    let theatre = theatre_id(&theatre)?;
    let key = format!("{:?}", ("theatre", theatre.as_str()));
    let entry = app
        .cache
        .get_or_load(key, Scope::Catalog, || {
            service::get_theatre(&app.db, theatre.as_str())
        })
        .await?;
    Ok(CachedJson::new(entry, &headers))
}

/// Everything a theatre shows on a date: movies, each with its show times.
#[utoipa::path(get, path = "/api/v1/theatres/{theatre_id}/shows", tag = "catalog",
    params(("theatre_id" = String, Path, description = "Theatre id"), ShowtimeFilter,
           ("Accept-Language" = Option<String>, Header, description = "Preferred title locales")),
    responses((status = 200, body = TheatreSchedule),
              (status = 304, description = "Not modified: `If-None-Match` names the current `ETag`"),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn theatre_schedule(
    State(app): State<AppState>,
    ApiPath(theatre): ApiPath<String>,
    ApiQuery(filter): ApiQuery<ShowtimeFilter>,
    Locale(locale): Locale,
    headers: HeaderMap,
) -> Result<CachedJson, ApiError> {
    let theatre = theatre_id(&theatre)?;
    let query = filter.validated()?;
    let key = format!(
        "{:?}",
        ("schedule", theatre.as_str(), &query, locale.cache_key())
    );
    let now = app.clock.now();
    let entry = app
        .cache
        .get_or_load(key, Scope::Catalog, || async {
            let mut schedule =
                service::theatre_schedule(&app.db, theatre.as_str(), &query, &locale, now).await?;
            let shows = schedule
                .value
                .movies
                .iter_mut()
                .flat_map(|m| m.shows.iter_mut());
            crate::pricing::price_showtimes(&app, shows).await?;
            Ok::<_, CatalogError>(schedule)
        })
        .await?;
    Ok(CachedJson::new(entry, &headers))
}

/// One movie, with its synopsis in the best available locale.
#[utoipa::path(get, path = "/api/v1/movies/{movie_id}", tag = "catalog",
    params(("movie_id" = String, Path, description = "Movie id"),
           ("Accept-Language" = Option<String>, Header, description = "Preferred locales")),
    responses((status = 200, body = MovieDetail),
              (status = 304, description = "Not modified: `If-None-Match` names the current `ETag`"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_movie(
    State(app): State<AppState>,
    ApiPath(movie): ApiPath<String>,
    Locale(locale): Locale,
    headers: HeaderMap,
) -> Result<CachedJson, ApiError> {
    let movie = movie_id(&movie)?;
    let key = format!("{:?}", ("movie", movie.as_str(), locale.cache_key()));
    let entry = app
        .cache
        .get_or_load(key, Scope::Catalog, || {
            service::movie_detail(&app.db, movie.as_str(), &locale)
        })
        .await?;
    Ok(CachedJson::new(entry, &headers))
}

/// Free-text movie search over titles in every locale (case and accents ignored).
#[utoipa::path(get, path = "/api/v1/search", tag = "catalog",
    params(SearchParams, PageParams,
           ("Accept-Language" = Option<String>, Header, description = "Preferred title locales")),
    responses((status = 200, body = Page<MovieSummary>),
              (status = 304, description = "Not modified: `If-None-Match` names the current `ETag`"),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn search(
    State(app): State<AppState>,
    ApiQuery(params): ApiQuery<SearchParams>,
    ApiQuery(page): ApiQuery<PageParams>,
    Locale(locale): Locale,
    headers: HeaderMap,
) -> Result<CachedJson, ApiError> {
    let city = params.city_id.as_deref().map(city_id).transpose()?;
    let request = page.request::<u32>()?;
    if params.q.len() > 400 {
        return Err(CatalogError::InvalidSearch("q must be at most 100 characters").into());
    }
    let key = format!(
        "{:?}",
        (
            "search",
            &params.q,
            &city,
            page.cache_key(),
            locale.cache_key()
        )
    );
    let now = app.clock.now();
    let entry = app
        .cache
        .get_or_load(key, Scope::Catalog, || {
            service::search_movies(
                &app.db,
                &params.q,
                city.as_ref().map(CityId::as_str),
                request,
                &locale,
                now,
            )
        })
        .await?;
    Ok(CachedJson::new(entry, &headers))
}

/// A show: movie, theatre, screen, times, prices and current availability.
#[utoipa::path(get, path = "/api/v1/shows/{show_id}", tag = "catalog",
    params(("show_id" = String, Path, description = "Show id"),
           ("Accept-Language" = Option<String>, Header, description = "Preferred title locales")),
    responses((status = 200, body = ShowDetail),
              (status = 304, description = "Not modified: `If-None-Match` names the current `ETag`"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_show(
    State(app): State<AppState>,
    ApiPath(show): ApiPath<String>,
    Locale(locale): Locale,
    headers: HeaderMap,
) -> Result<CachedJson, ApiError> {
    let show = show_id(&show)?;
    let key = format!("{:?}", ("show", show.as_str(), locale.cache_key()));
    let now = app.clock.now();
    let entry = app
        .cache
        .get_or_load(key, Scope::Show(show.as_str()), || async {
            let mut detail = service::show_detail(&app.db, show.as_str(), &locale, now).await?;
            let prices = &mut detail.value.prices;
            crate::pricing::price_categories(&app, show.as_str(), prices, Count::Exact).await?;
            Ok::<_, CatalogError>(detail)
        })
        .await?;
    Ok(CachedJson::new(entry, &headers))
}
