//! Administrators' catalog: cities and movies (with genres, languages and localizations).

use axum::{Json, extract::State, http::StatusCode};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    manage::{ManageError, text_field},
    model::{City, MovieDetail},
    service,
    store::{self, NewCity, NewMovie},
};
use crate::{
    app::AppState,
    catalog::locale::LocalePreferences,
    http::{
        error::{ApiError, Problem},
        extract::{ApiJson, ApiPath},
    },
    identity::extract::Admin,
    ids::{CityId, MovieId},
    money::Currency,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_city))
        .routes(routes!(update_city))
        .routes(routes!(create_movie))
        .routes(routes!(replace_movie))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CityRequest {
    pub name: String,
    /// ISO 3166-1 alpha-2, e.g. `IN`.
    pub country_code: String,
    /// IANA timezone, e.g. `Asia/Kolkata`.
    pub timezone: String,
    /// ISO 4217, e.g. `INR`.
    pub currency: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocalizationRequest {
    /// BCP 47 tag, e.g. `hi` or `pt-BR`.
    pub locale: String,
    pub title: String,
    #[serde(default)]
    pub synopsis: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MovieRequest {
    pub title: String,
    pub original_language: String,
    #[serde(default)]
    pub synopsis: String,
    pub duration_minutes: i64,
    pub certification: String,
    pub release_date: NaiveDate,
    pub genres: Vec<String>,
    /// Languages the movie can be shown in.
    pub languages: Vec<String>,
    #[serde(default)]
    pub localizations: Vec<LocalizationRequest>,
}

fn invalid(message: impl Into<String>) -> ManageError {
    ManageError::InvalidInput(message.into())
}

fn tag(text: &str, what: &str) -> Result<String, ManageError> {
    let ok = (2..=35).contains(&text.len())
        && text
            .split('-')
            .all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    if ok {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(invalid(format!(
            "{what} must be a language tag such as en or pt-BR"
        )))
    }
}

/// A city request with every field checked and normalised.
struct ValidCity {
    name: String,
    country: String,
    timezone: String,
    currency: Currency,
}

fn validate_city(body: &CityRequest) -> Result<ValidCity, ManageError> {
    let name = text_field("name", &body.name, 100)?;
    let country = body.country_code.trim().to_ascii_uppercase();
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(invalid("country_code must be two letters (ISO 3166-1)"));
    }
    if body.timezone.parse::<chrono_tz::Tz>().is_err() {
        return Err(invalid(
            "timezone must be an IANA name such as Asia/Kolkata",
        ));
    }
    let currency = Currency::parse(&body.currency)
        .ok_or_else(|| invalid("currency must be an ISO 4217 code such as INR"))?;
    Ok(ValidCity {
        name,
        country,
        timezone: body.timezone.clone(),
        currency,
    })
}

/// Add a city (administrators).
#[utoipa::path(post, path = "/api/v1/admin/cities", tag = "admin",
    security(("bearer" = [])),
    request_body = CityRequest,
    responses((status = 201, body = City),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn create_city(
    State(app): State<AppState>,
    _admin: Admin,
    ApiJson(body): ApiJson<CityRequest>,
) -> Result<(StatusCode, Json<City>), ApiError> {
    let ValidCity {
        name,
        country,
        timezone,
        currency,
    } = validate_city(&body)?;
    let id = CityId::generate();
    let now = app.clock.now();
    let unit = (
        id.clone(),
        name.clone(),
        country.clone(),
        timezone.clone(),
        currency,
    );
    let inserted = app
        .db
        .write(move |tx| {
            let (id, name, country, timezone, currency) = &unit;
            let city = NewCity {
                id: id.as_str(),
                name,
                country_code: country,
                timezone,
                currency: currency.as_str(),
            };
            store::insert_city(tx, &city, now)
        })
        .await;
    match inserted {
        Ok(_) => {}
        Err(error) if crate::db::is_unique_violation(&error) => {
            return Err(ManageError::Duplicate(format!(
                "{country} already has a city named {name}"
            ))
            .into());
        }
        Err(error) => return Err(ManageError::from(error).into()),
    }
    app.cache.invalidate_catalog();
    let created = service::get_city(&app.db, id.as_str()).await?;
    Ok((StatusCode::CREATED, Json(created.value)))
}

/// Change a city (administrators). Its timezone and currency are fixed once it has
/// theatres: changing them would shift every local show time and price (`city-in-use`).
#[utoipa::path(put, path = "/api/v1/admin/cities/{city_id}", tag = "admin",
    security(("bearer" = [])),
    params(("city_id" = String, Path, description = "City id")),
    request_body = CityRequest,
    responses((status = 200, body = City),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn update_city(
    State(app): State<AppState>,
    _admin: Admin,
    ApiPath(city_id): ApiPath<String>,
    ApiJson(body): ApiJson<CityRequest>,
) -> Result<Json<City>, ApiError> {
    let ValidCity {
        name,
        country,
        timezone,
        currency,
    } = validate_city(&body)?;
    let current = service::city(&app.db, &city_id).await?;
    let zone_or_money_changes =
        current.timezone != timezone || current.currency != currency.as_str();
    let unit = (
        city_id.clone(),
        name.clone(),
        country.clone(),
        timezone.clone(),
        currency,
    );
    let updated = app
        .db
        .write(move |tx| {
            let (id, name, country, timezone, currency) = &unit;
            if zone_or_money_changes && store::city_has_theatres(tx, id)? {
                return Err(ManageError::CityInUse);
            }
            let city = NewCity {
                id,
                name,
                country_code: country,
                timezone,
                currency: currency.as_str(),
            };
            Ok(store::update_city(tx, &city)?)
        })
        .await;
    match updated {
        Ok(true) => {}
        Ok(false) => return Err(super::CatalogError::CityNotFound(city_id).into()),
        Err(ManageError::Database(error)) if crate::db::is_unique_violation(&error) => {
            return Err(ManageError::Duplicate(format!(
                "{country} already has a city named {name}"
            ))
            .into());
        }
        Err(error) => return Err(error.into()),
    }
    app.cache.invalidate_catalog();
    Ok(Json(service::get_city(&app.db, &city_id).await?.value))
}

/// Validated movie fields, ready to store.
struct ValidMovie {
    title: String,
    language: String,
    synopsis: String,
    certification: String,
    genres: Vec<String>,
    languages: Vec<String>,
    localizations: Vec<(String, String, String)>,
}

fn validate_movie(body: &MovieRequest) -> Result<ValidMovie, ManageError> {
    if !(1..=600).contains(&body.duration_minutes) {
        return Err(invalid("duration_minutes must be 1 to 600"));
    }
    let mut genres = body
        .genres
        .iter()
        .map(|g| text_field("a genre", &g.to_lowercase(), 40))
        .collect::<Result<Vec<_>, _>>()?;
    genres.sort();
    genres.dedup();
    let mut languages = body
        .languages
        .iter()
        .map(|l| tag(l, "a language"))
        .collect::<Result<Vec<_>, _>>()?;
    languages.sort();
    languages.dedup();
    if languages.is_empty() {
        return Err(invalid("a movie needs at least one language"));
    }
    let mut localizations = Vec::new();
    for l in &body.localizations {
        let locale = tag(&l.locale, "locale")?;
        if localizations
            .iter()
            .any(|(existing, _, _)| *existing == locale)
        {
            return Err(invalid(format!("locale {locale} appears twice")));
        }
        localizations.push((
            locale,
            text_field("a localized title", &l.title, 200)?,
            l.synopsis.trim().to_owned(),
        ));
    }
    Ok(ValidMovie {
        title: text_field("title", &body.title, 200)?,
        language: tag(&body.original_language, "original_language")?,
        synopsis: body.synopsis.trim().to_owned(),
        certification: text_field("certification", &body.certification, 20)?,
        genres,
        languages,
        localizations,
    })
}

async fn store_movie(
    app: &AppState,
    id: &MovieId,
    body: &MovieRequest,
    replace: bool,
) -> Result<(), ApiError> {
    let movie = validate_movie(body)?;
    let now = app.clock.now();
    let (id_text, duration, release) = (id.to_string(), body.duration_minutes, body.release_date);
    let stored = app
        .db
        .write(move |tx| {
            let genres: Vec<&str> = movie.genres.iter().map(String::as_str).collect();
            let languages: Vec<&str> = movie.languages.iter().map(String::as_str).collect();
            let localizations: Vec<(&str, &str, &str)> = movie
                .localizations
                .iter()
                .map(|(l, t, s)| (l.as_str(), t.as_str(), s.as_str()))
                .collect();
            let new = NewMovie {
                id: &id_text,
                title: &movie.title,
                original_language: &movie.language,
                synopsis: &movie.synopsis,
                duration_minutes: duration,
                certification: &movie.certification,
                release_date: release,
                genres: &genres,
                languages: &languages,
                localizations: &localizations,
            };
            if replace {
                store::replace_movie(tx, &new, now)
            } else {
                store::insert_movie(tx, &new, now)
            }
        })
        .await
        .map_err(ManageError::from)?;
    if !stored {
        return Err(super::CatalogError::MovieNotFound(id.to_string()).into());
    }
    app.cache.invalidate_catalog();
    Ok(())
}

/// Add a movie with its genres, languages and localized titles (administrators).
#[utoipa::path(post, path = "/api/v1/admin/movies", tag = "admin",
    security(("bearer" = [])),
    request_body = MovieRequest,
    responses((status = 201, body = MovieDetail),
              (status = 400, body = Problem, content_type = "application/problem+json")))]
async fn create_movie(
    State(app): State<AppState>,
    _admin: Admin,
    ApiJson(body): ApiJson<MovieRequest>,
) -> Result<(StatusCode, Json<MovieDetail>), ApiError> {
    let id = MovieId::generate();
    store_movie(&app, &id, &body, false).await?;
    let detail = service::movie_detail(&app.db, id.as_str(), &LocalePreferences::default()).await?;
    Ok((StatusCode::CREATED, Json(detail.value)))
}

/// Replace a movie's details, genres, languages and localizations (administrators).
/// Shows already scheduled keep their times.
#[utoipa::path(put, path = "/api/v1/admin/movies/{movie_id}", tag = "admin",
    security(("bearer" = [])),
    params(("movie_id" = String, Path, description = "Movie id")),
    request_body = MovieRequest,
    responses((status = 200, body = MovieDetail),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn replace_movie(
    State(app): State<AppState>,
    _admin: Admin,
    ApiPath(movie_id): ApiPath<String>,
    ApiJson(body): ApiJson<MovieRequest>,
) -> Result<Json<MovieDetail>, ApiError> {
    let id = MovieId::parse(&movie_id)
        .ok_or_else(|| super::CatalogError::MovieNotFound(movie_id.clone()))?;
    store_movie(&app, &id, &body, true).await?;
    let detail = service::movie_detail(&app.db, id.as_str(), &LocalePreferences::default()).await?;
    Ok(Json(detail.value))
}
