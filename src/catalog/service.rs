//! Browse use cases: turn store rows into the API's views, resolve local dates to UTC
//! windows, pick localized titles, and say how long each answer stays true by itself.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use chrono_tz::Tz;

use super::{
    CatalogError,
    locale::LocalePreferences,
    model::{
        CategoryPrice, City, MovieDetail, MovieShowtimes, MovieSummary, MovieWithShowtimes,
        ScreenRef, Showtime, Theatre, TheatreSchedule, TheatreShowtimes,
    },
    search,
    store::{self, CityRow, MovieRow, ShowFilter, ShowtimePriceRow, TheatreRow},
};
use crate::{
    db::Db,
    http::{
        cache::Fresh,
        pagination::{Page, PageRequest},
    },
    ids::{CityId, MovieId, ScreenId, ShowId, TheatreId},
    inventory::model::SeatCategory,
    money::{Currency, Money},
    time::{Timestamp, local_day_bounds, parse_date, parse_tz},
};

/// How many matches a search ranks before paginating.
const SEARCH_CAP: u32 = 500;

/// Filters for listings of shows.
#[derive(Debug, Clone, Default)]
pub struct ShowQuery {
    pub date: Option<String>,
    pub language: Option<String>,
    pub format: Option<String>,
    /// Movie genre (movie listings only).
    pub genre: Option<String>,
}

/// A movie summary with the synopsis in the same locale and every locale it has.
struct LocalizedMovie {
    summary: MovieSummary,
    synopsis: String,
    available_locales: Vec<String>,
}

/// The local date asked for (today in `tz` by default) and the UTC window `[from, to)` of
/// its shows that are still upcoming at `now`.
pub fn date_window(
    date: Option<&str>,
    tz: Tz,
    now: Timestamp,
) -> Result<(NaiveDate, Timestamp, Timestamp), CatalogError> {
    let date = match date {
        None => now.local_date(tz),
        Some(text) => parse_date(text).ok_or_else(|| CatalogError::InvalidDate(text.to_owned()))?,
    };
    let (start, end) = local_day_bounds(date, tz);
    // A show starting at this very instant is off sale (see `inventory::service::on_sale`).
    let upcoming = Timestamp::from_millis(now.as_millis().saturating_add(1));
    Ok((date, start.max(upcoming), end))
}

pub fn city_view(row: CityRow) -> City {
    City {
        id: CityId::from_trusted(row.id),
        name: row.name,
        country_code: row.country_code,
        timezone: row.timezone,
        currency: row.currency,
    }
}

fn theatre_view(row: TheatreRow) -> Theatre {
    Theatre {
        id: TheatreId::from_trusted(row.id),
        name: row.name,
        address: row.address,
        city_id: CityId::from_trusted(row.city_id),
        timezone: row.timezone,
    }
}

pub async fn city(db: &Db, city_id: &str) -> Result<CityRow, CatalogError> {
    store::get_city(db, city_id)
        .await?
        .ok_or_else(|| CatalogError::CityNotFound(city_id.to_owned()))
}

pub async fn list_cities(
    db: &Db,
    country: Option<&str>,
    page: PageRequest<(String, String)>,
) -> Result<Fresh<Page<City>>, CatalogError> {
    let country = country.map(str::to_ascii_uppercase);
    let rows = store::list_cities(db, country.as_deref(), page.after.as_ref(), page.limit).await?;
    let page = Page::from_rows(rows, page.limit, |c| (c.name.clone(), c.id.clone()));
    Ok(Fresh::forever(page.map(city_view)))
}

pub async fn get_city(db: &Db, city_id: &str) -> Result<Fresh<City>, CatalogError> {
    Ok(Fresh::forever(city_view(city(db, city_id).await?)))
}

/// Movie rows (in their order) with genres, languages and the title and synopsis in the
/// best locale.
async fn localize(
    db: &Db,
    rows: Vec<MovieRow>,
    locale: &LocalePreferences,
) -> Result<Vec<LocalizedMovie>, CatalogError> {
    let ids: Vec<&str> = rows.iter().map(|m| m.id.as_str()).collect();
    let (genres, languages, localizations) = store::movie_extras(db, &ids).await?;
    let mut genres_of: HashMap<String, Vec<String>> = HashMap::new();
    for tag in genres {
        genres_of.entry(tag.movie_id).or_default().push(tag.value);
    }
    let mut languages_of: HashMap<String, Vec<String>> = HashMap::new();
    for tag in languages {
        languages_of
            .entry(tag.movie_id)
            .or_default()
            .push(tag.value);
    }
    let mut localizations_of: HashMap<String, Vec<store::LocalizationRow>> = HashMap::new();
    for localization in localizations {
        localizations_of
            .entry(localization.movie_id.clone())
            .or_default()
            .push(localization);
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let available = localizations_of.remove(&row.id).unwrap_or_default();
            let chosen = locale
                .choose(available.iter().map(|l| l.locale.as_str()))
                .and_then(|tag| available.iter().find(|l| l.locale == tag));
            let (title, synopsis, chosen_locale) = match chosen {
                Some(l) => (l.title.clone(), l.synopsis.clone(), Some(l.locale.clone())),
                None => (row.title.clone(), row.synopsis.clone(), None),
            };
            let available_locales = available.iter().map(|l| l.locale.clone()).collect();
            let summary = MovieSummary {
                title,
                original_title: row.title,
                locale: chosen_locale,
                original_language: row.original_language,
                languages: languages_of.remove(&row.id).unwrap_or_default(),
                genres: genres_of.remove(&row.id).unwrap_or_default(),
                duration_minutes: row.duration_minutes,
                certification: row.certification,
                release_date: row.release_date,
                rating: crate::reviews::Rating::of(row.rating_count, row.rating_sum),
                id: MovieId::from_trusted(row.id),
            };
            LocalizedMovie {
                summary,
                synopsis,
                available_locales,
            }
        })
        .collect())
}

/// Just the summaries of `localize`.
async fn summaries(
    db: &Db,
    rows: Vec<MovieRow>,
    locale: &LocalePreferences,
) -> Result<Vec<MovieSummary>, CatalogError> {
    Ok(localize(db, rows, locale)
        .await?
        .into_iter()
        .map(|movie| movie.summary)
        .collect())
}

/// One movie, localized.
async fn localized_movie(
    db: &Db,
    movie_id: &str,
    locale: &LocalePreferences,
) -> Result<LocalizedMovie, CatalogError> {
    let row = store::get_movie(db, movie_id)
        .await?
        .ok_or_else(|| CatalogError::MovieNotFound(movie_id.to_owned()))?;
    localize(db, vec![row], locale)
        .await?
        .pop()
        .ok_or_else(|| CatalogError::MovieNotFound(movie_id.to_owned()))
}

pub async fn movie_summary(
    db: &Db,
    movie_id: &str,
    locale: &LocalePreferences,
) -> Result<MovieSummary, CatalogError> {
    Ok(localized_movie(db, movie_id, locale).await?.summary)
}

pub async fn movie_detail(
    db: &Db,
    movie_id: &str,
    locale: &LocalePreferences,
) -> Result<Fresh<MovieDetail>, CatalogError> {
    let movie = localized_movie(db, movie_id, locale).await?;
    Ok(Fresh::forever(MovieDetail {
        summary: movie.summary,
        synopsis: movie.synopsis,
        available_locales: movie.available_locales,
    }))
}

/// Movies with upcoming shows in the city on the date, filtered by show language and genre.
pub async fn movies_in_city(
    db: &Db,
    city_id: &str,
    query: &ShowQuery,
    page: PageRequest<(NaiveDate, String)>,
    locale: &LocalePreferences,
    now: Timestamp,
) -> Result<Fresh<Page<MovieSummary>>, CatalogError> {
    let city = city(db, city_id).await?;
    let (_, from, to) = date_window(query.date.as_deref(), parse_tz(&city.timezone), now)?;
    let filter = ShowFilter {
        from,
        to,
        language: query.language.as_deref(),
        format: None,
    };
    let rows = store::movies_showing_in_city(
        db,
        city_id,
        &filter,
        query.genre.as_deref(),
        page.after.as_ref(),
        page.limit,
    )
    .await?;
    let next_start = store::next_show_start_in_city(db, city_id, from, to).await?;
    let page = Page::from_rows(rows, page.limit, |m| (m.release_date, m.id.clone()));
    let items = summaries(db, page.items, locale).await?;
    // The listing changes when a show starts, and at the end of the local day.
    let valid_until = Some(next_start.map_or(to, |start| start.min(to)));
    Ok(Fresh::until(
        Page {
            items,
            next_cursor: page.next_cursor,
        },
        valid_until,
    ))
}

/// Builds showtimes from rows that carry one price each, keeping first-seen order.
fn group_showtimes(rows: Vec<ShowtimePriceRow>, tz: Tz) -> Vec<(String, String, Showtime)> {
    let mut out: Vec<(String, String, Showtime)> = Vec::new();
    for row in rows {
        let price = SeatCategory::parse(&row.category).map(|category| CategoryPrice {
            category,
            price: Money::new(
                row.amount,
                Currency::parse(&row.currency).unwrap_or(Currency::UNKNOWN),
            ),
        });
        if let Some((_, _, last)) = out.last_mut().filter(|(_, _, s)| s.id.as_str() == row.id) {
            last.prices.extend(price);
            last.prices.sort_by_key(|p| p.category);
            continue;
        }
        let starts_at = Timestamp::from_millis(row.starts_at);
        let ends_at = Timestamp::from_millis(row.ends_at);
        out.push((
            row.theatre_id,
            row.movie_id,
            Showtime {
                id: ShowId::from_trusted(row.id),
                starts_at: starts_at.to_rfc3339(),
                starts_at_local: starts_at.to_local_rfc3339(tz),
                ends_at: ends_at.to_rfc3339(),
                ends_at_local: ends_at.to_local_rfc3339(tz),
                language: row.language,
                format: row.format,
                screen: ScreenRef {
                    id: ScreenId::from_trusted(row.screen_id),
                    name: row.screen_name,
                },
                prices: price.into_iter().collect(),
            },
        ));
    }
    out
}

/// Theatres in the city running the movie on the date, each with its showtimes.
pub async fn movie_showtimes(
    db: &Db,
    city_id: &str,
    movie_id: &str,
    query: &ShowQuery,
    page: PageRequest<(String, String)>,
    locale: &LocalePreferences,
    now: Timestamp,
) -> Result<Fresh<MovieShowtimes>, CatalogError> {
    let city = city(db, city_id).await?;
    let movie = movie_summary(db, movie_id, locale).await?;
    let tz = parse_tz(&city.timezone);
    let (date, from, to) = date_window(query.date.as_deref(), tz, now)?;
    let filter = ShowFilter {
        from,
        to,
        language: query.language.as_deref(),
        format: query.format.as_deref(),
    };
    let theatres = store::theatres_showing_movie(
        db,
        city_id,
        movie_id,
        &filter,
        page.after.as_ref(),
        page.limit,
    )
    .await?;
    let page = Page::from_rows(theatres, page.limit, |t| (t.name.clone(), t.id.clone()));
    let theatre_ids: Vec<&str> = page.items.iter().map(|t| t.id.as_str()).collect();
    let rows = store::showtimes_at_theatres(db, &theatre_ids, Some(movie_id), &filter).await?;
    let first_start = rows
        .iter()
        .map(|r| r.starts_at)
        .min()
        .map(Timestamp::from_millis);
    let mut by_theatre: HashMap<String, Vec<Showtime>> = HashMap::new();
    for (theatre_id, _, show) in group_showtimes(rows, tz) {
        by_theatre.entry(theatre_id).or_default().push(show);
    }
    let items = page
        .items
        .into_iter()
        .map(|row| TheatreShowtimes {
            shows: by_theatre.remove(&row.id).unwrap_or_default(),
            theatre: theatre_view(row),
        })
        .collect();
    let valid_until = Some(first_start.map_or(to, |start| start.min(to)));
    Ok(Fresh::until(
        MovieShowtimes {
            city: city_view(city),
            movie,
            date,
            items,
            next_cursor: page.next_cursor,
        },
        valid_until,
    ))
}

pub async fn theatres_in_city(
    db: &Db,
    city_id: &str,
    page: PageRequest<(String, String)>,
) -> Result<Fresh<Page<Theatre>>, CatalogError> {
    city(db, city_id).await?;
    let rows = store::list_theatres_in_city(db, city_id, page.after.as_ref(), page.limit).await?;
    let page = Page::from_rows(rows, page.limit, |t| (t.name.clone(), t.id.clone()));
    Ok(Fresh::forever(page.map(theatre_view)))
}

pub async fn get_theatre(db: &Db, theatre_id: &str) -> Result<Fresh<Theatre>, CatalogError> {
    let row = store::get_theatre(db, theatre_id)
        .await?
        .ok_or_else(|| CatalogError::TheatreNotFound(theatre_id.to_owned()))?;
    Ok(Fresh::forever(theatre_view(row)))
}

/// Everything a theatre shows on the date, grouped by movie (movies by first showtime).
pub async fn theatre_schedule(
    db: &Db,
    theatre_id: &str,
    query: &ShowQuery,
    locale: &LocalePreferences,
    now: Timestamp,
) -> Result<Fresh<TheatreSchedule>, CatalogError> {
    let theatre = store::get_theatre(db, theatre_id)
        .await?
        .ok_or_else(|| CatalogError::TheatreNotFound(theatre_id.to_owned()))?;
    let tz = parse_tz(&theatre.timezone);
    let (date, from, to) = date_window(query.date.as_deref(), tz, now)?;
    let filter = ShowFilter {
        from,
        to,
        language: query.language.as_deref(),
        format: query.format.as_deref(),
    };
    let rows = store::showtimes_at_theatres(db, &[theatre_id], None, &filter).await?;
    let first_start = rows
        .iter()
        .map(|r| r.starts_at)
        .min()
        .map(Timestamp::from_millis);
    let mut order: Vec<String> = Vec::new();
    let mut by_movie: BTreeMap<String, Vec<Showtime>> = BTreeMap::new();
    for (_, movie_id, show) in group_showtimes(rows, tz) {
        if !by_movie.contains_key(&movie_id) {
            order.push(movie_id.clone());
        }
        by_movie.entry(movie_id).or_default().push(show);
    }
    let ids: Vec<&str> = order.iter().map(String::as_str).collect();
    let movie_rows = store::get_movies(db, &ids).await?;
    let mut summaries_by_id: HashMap<String, MovieSummary> = summaries(db, movie_rows, locale)
        .await?
        .into_iter()
        .map(|s| (s.id.as_str().to_owned(), s))
        .collect();
    let movies = order
        .iter()
        .filter_map(|id| {
            Some(MovieWithShowtimes {
                movie: summaries_by_id.remove(id)?,
                shows: by_movie.remove(id).unwrap_or_default(),
            })
        })
        .collect();
    let valid_until = Some(first_start.map_or(to, |start| start.min(to)));
    Ok(Fresh::until(
        TheatreSchedule {
            theatre: theatre_view(theatre),
            date,
            movies,
        },
        valid_until,
    ))
}

/// Movies matching every term of `q`, best match first, optionally only those with an
/// upcoming show in a city. The page key is an offset into the ranked list.
pub async fn search_movies(
    db: &Db,
    q: &str,
    city_id: Option<&str>,
    page: PageRequest<u32>,
    locale: &LocalePreferences,
    now: Timestamp,
) -> Result<Fresh<Page<MovieSummary>>, CatalogError> {
    let terms = search::terms(q).ok_or(CatalogError::InvalidSearch(
        "q must hold at least one letter or digit and at most 100 characters",
    ))?;
    let upcoming = Timestamp::from_millis(now.as_millis().saturating_add(1));
    let mut valid_until = None;
    if let Some(city_id) = city_id {
        city(db, city_id).await?;
        valid_until =
            store::next_show_start_in_city(db, city_id, upcoming, Timestamp::from_millis(i64::MAX))
                .await?;
    }
    let rows = store::search_movies(db, &terms, city_id.map(|c| (c, upcoming)), SEARCH_CAP).await?;
    let mut matches = summaries(db, rows, locale).await?;
    // Stable: equal ranks keep the store's order (newest release first).
    matches.sort_by_cached_key(|movie| {
        search::rank(
            &[movie.title.as_str(), movie.original_title.as_str()],
            &terms,
        )
    });
    let offset = page.after.unwrap_or(0);
    let rest: Vec<MovieSummary> = matches
        .into_iter()
        .skip(offset as usize)
        .take(page.limit as usize + 1)
        .collect();
    let page = Page::from_rows(rest, page.limit, |_| offset + page.limit);
    Ok(Fresh::until(page, valid_until))
}

/// A show with its movie, theatre, prices and current availability.
pub async fn show_detail(
    db: &Db,
    show_id: &str,
    locale: &LocalePreferences,
    now: Timestamp,
) -> Result<Fresh<super::model::ShowDetail>, CatalogError> {
    use crate::inventory::service as inventory;
    let show = inventory::show_row(db, show_id).await?;
    let movie = movie_summary(db, &show.movie_id, locale).await?;
    let prices = inventory::prices(db, &show).await?;
    let (availability, next_hold_expiry) = inventory::availability(db, show_id, now).await?;
    let tz = parse_tz(&show.timezone);
    let starts_at = Timestamp::from_millis(show.starts_at);
    let ends_at = Timestamp::from_millis(show.ends_at);
    let valid_until = inventory::seat_view_valid_until(&show, next_hold_expiry, now);
    let on_sale = inventory::on_sale(&show, now);
    let room: Option<(i64, i64)> = db
        .fetch_optional(
            "SELECT on_sale_at, seats_per_account FROM waiting_rooms WHERE show_id = $1",
            crate::params![show_id],
        )
        .await?;
    let waiting_room = room.map(|(on_sale_at, seats_per_account)| {
        let on_sale_at = Timestamp::from_millis(on_sale_at);
        super::model::ShowWaitingRoom {
            on_sale_at: on_sale_at.to_rfc3339(),
            on_sale_at_local: on_sale_at.to_local_rfc3339(tz),
            seats_per_account,
        }
    });
    Ok(Fresh::until(
        super::model::ShowDetail {
            movie,
            theatre: Theatre {
                id: TheatreId::from_trusted(show.theatre_id),
                name: show.theatre_name,
                address: show.theatre_address,
                city_id: CityId::from_trusted(show.city_id),
                timezone: show.timezone,
            },
            screen: ScreenRef {
                id: ScreenId::from_trusted(show.screen_id),
                name: show.screen_name,
            },
            starts_at: starts_at.to_rfc3339(),
            starts_at_local: starts_at.to_local_rfc3339(tz),
            ends_at: ends_at.to_rfc3339(),
            ends_at_local: ends_at.to_local_rfc3339(tz),
            language: show.language,
            format: show.format,
            status: show.status,
            on_sale,
            prices,
            availability,
            waiting_room,
            id: ShowId::from_trusted(show.id),
        },
        valid_until,
    ))
}
