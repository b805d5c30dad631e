//! Catalog storage: SQL for cities, movies, theatres, screens and shows. Each statement is
//! written once and runs on SQLite and PostgreSQL (see `crate::db`).

use chrono::NaiveDate;

use crate::{
    db::{Db, QueryBuilder, Tx},
    db_row, params,
    time::Timestamp,
};

db_row! {
    #[derive(Debug, Clone)]
    pub struct CityRow {
        pub id: String,
        pub name: String,
        pub country_code: String,
        pub timezone: String,
        pub currency: String,
    }
}

db_row! {
    #[derive(Debug, Clone)]
    pub struct MovieRow {
        pub id: String,
        pub title: String,
        pub original_language: String,
        pub synopsis: String,
        pub duration_minutes: i64,
        pub certification: String,
        pub release_date: NaiveDate,
        /// Visible reviews' ratings: how many, and their sum.
        pub rating_count: i64,
        pub rating_sum: i64,
    }
}

db_row! {
    #[derive(Debug, Clone)]
    pub struct MovieTagRow {
        pub movie_id: String,
        pub value: String,
    }
}

db_row! {
    #[derive(Debug, Clone)]
    pub struct LocalizationRow {
        pub movie_id: String,
        pub locale: String,
        pub title: String,
        pub synopsis: String,
    }
}

db_row! {
    #[derive(Debug, Clone)]
    pub struct TheatreRow {
        pub id: String,
        pub name: String,
        pub address: String,
        pub city_id: String,
        pub timezone: String,
    }
}

db_row! {
    /// A show joined with its screen and one of its category prices (one row per category).
    #[derive(Debug, Clone)]
    pub struct ShowtimePriceRow {
        pub id: String,
        pub movie_id: String,
        pub theatre_id: String,
        pub screen_id: String,
        pub screen_name: String,
        pub starts_at: i64,
        pub ends_at: i64,
        pub language: String,
        pub format: String,
        pub currency: String,
        pub category: String,
        pub amount: i64,
    }
}

db_row! {
    #[derive(Debug, Clone)]
    pub struct ShowRow {
        pub id: String,
        pub movie_id: String,
        pub screen_id: String,
        pub screen_name: String,
        pub layout_id: String,
        pub theatre_id: String,
        pub theatre_name: String,
        pub theatre_address: String,
        pub city_id: String,
        pub timezone: String,
        pub starts_at: i64,
        pub ends_at: i64,
        pub language: String,
        pub format: String,
        pub currency: String,
        pub status: String,
    }
}

db_row! {
    #[derive(Debug, Clone)]
    pub struct PriceRow {
        pub category: String,
        pub amount: i64,
    }
}

/// Filters shared by the show listings.
#[derive(Debug, Clone)]
pub struct ShowFilter<'a> {
    pub from: Timestamp,
    pub to: Timestamp,
    pub language: Option<&'a str>,
    pub format: Option<&'a str>,
}

// ---------------------------------------------------------------- reads

pub async fn list_cities(
    db: &Db,
    country: Option<&str>,
    after: Option<&(String, String)>,
    limit: u32,
) -> sqlx::Result<Vec<CityRow>> {
    const SQL: &str = "SELECT id, name, country_code, timezone, currency FROM cities \
        WHERE ($1 IS NULL OR country_code = $1) \
          AND ($2 IS NULL OR name > $2 OR (name = $2 AND id > $3)) \
        ORDER BY name, id LIMIT $4";
    let (after_name, after_id) = split_key(after);
    db.fetch_all(
        SQL,
        params![country, after_name, after_id, i64::from(limit) + 1],
    )
    .await
}

pub async fn get_city(db: &Db, id: &str) -> sqlx::Result<Option<CityRow>> {
    const SQL: &str = "SELECT id, name, country_code, timezone, currency FROM cities WHERE id = $1";
    db.fetch_optional(SQL, params![id]).await
}

const MOVIE_COLUMNS: &str = "m.id, m.title, m.original_language, m.synopsis, \
    m.duration_minutes, m.certification, m.release_date, m.rating_count, m.rating_sum";

/// Movies with at least one scheduled show in the city inside the filter window, newest
/// release first. `after` is the (release date, id) of the last movie of the previous page.
pub async fn movies_showing_in_city(
    db: &Db,
    city_id: &str,
    filter: &ShowFilter<'_>,
    genre: Option<&str>,
    after: Option<&(NaiveDate, String)>,
    limit: u32,
) -> sqlx::Result<Vec<MovieRow>> {
    let sql = format!(
        "SELECT {MOVIE_COLUMNS} FROM movies m \
         WHERE m.id IN (SELECT s.movie_id FROM shows s \
                        WHERE s.city_id = $1 AND s.status = 'scheduled' \
                          AND s.starts_at >= $2 AND s.starts_at < $3 \
                          AND ($4 IS NULL OR s.language = $4)) \
           AND ($5 IS NULL OR EXISTS (SELECT 1 FROM movie_genres g \
                                      WHERE g.movie_id = m.id AND g.genre = $5)) \
           AND ($6 IS NULL OR m.release_date < $6 OR (m.release_date = $6 AND m.id > $7)) \
         ORDER BY m.release_date DESC, m.id LIMIT $8"
    );
    let after_date = after.map(|(date, _)| *date);
    let after_id = after.map(|(_, id)| id.as_str());
    db.fetch_all(
        &sql,
        params![
            city_id,
            filter.from.as_millis(),
            filter.to.as_millis(),
            filter.language,
            genre,
            after_date,
            after_id,
            i64::from(limit) + 1
        ],
    )
    .await
}

/// The earliest start of a scheduled show in the city inside the window: the moment a
/// listing computed now may change because a show stops being upcoming.
pub async fn next_show_start_in_city(
    db: &Db,
    city_id: &str,
    from: Timestamp,
    to: Timestamp,
) -> sqlx::Result<Option<Timestamp>> {
    const SQL: &str = "SELECT MIN(starts_at) FROM shows \
        WHERE city_id = $1 AND status = 'scheduled' AND starts_at >= $2 AND starts_at < $3";
    let min: Option<i64> = db
        .fetch_one(SQL, params![city_id, from.as_millis(), to.as_millis()])
        .await?;
    Ok(min.map(Timestamp::from_millis))
}

pub async fn get_movie(db: &Db, id: &str) -> sqlx::Result<Option<MovieRow>> {
    let sql = format!("SELECT {MOVIE_COLUMNS} FROM movies m WHERE m.id = $1");
    db.fetch_optional(&sql, params![id]).await
}

pub async fn get_movies(db: &Db, ids: &[&str]) -> sqlx::Result<Vec<MovieRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = QueryBuilder::new(
        db.engine(),
        format!("SELECT {MOVIE_COLUMNS} FROM movies m WHERE m.id"),
    );
    query
        .push_in(ids)
        .push(" ORDER BY m.release_date DESC, m.id");
    db.fetch_all(query.sql(), query.params()).await
}

/// Genres, languages and localizations of the given movies.
pub async fn movie_extras(
    db: &Db,
    ids: &[&str],
) -> sqlx::Result<(Vec<MovieTagRow>, Vec<MovieTagRow>, Vec<LocalizationRow>)> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let by_movie = |select: &str, order: &str| {
        let mut query = QueryBuilder::new(db.engine(), select);
        query.push(" WHERE movie_id").push_in(ids).push(order);
        query
    };
    let genres = by_movie(
        "SELECT movie_id, genre AS value FROM movie_genres",
        " ORDER BY movie_id, genre",
    );
    let languages = by_movie(
        "SELECT movie_id, language AS value FROM movie_languages",
        " ORDER BY movie_id, language",
    );
    let localizations = by_movie(
        "SELECT movie_id, locale, title, synopsis FROM movie_localizations",
        " ORDER BY movie_id, locale",
    );
    Ok((
        db.fetch_all(genres.sql(), genres.params()).await?,
        db.fetch_all(languages.sql(), languages.params()).await?,
        db.fetch_all(localizations.sql(), localizations.params())
            .await?,
    ))
}

/// Movies whose search text contains every term (already lower-cased), at most `cap`.
pub async fn search_movies(
    db: &Db,
    terms: &[String],
    showing_in_city: Option<(&str, Timestamp)>,
    cap: u32,
) -> sqlx::Result<Vec<MovieRow>> {
    let patterns: Vec<String> = terms
        .iter()
        .map(|term| format!("%{}%", escape_like(term)))
        .collect();
    let mut query = QueryBuilder::new(
        db.engine(),
        format!("SELECT {MOVIE_COLUMNS} FROM movies m WHERE 1 = 1"),
    );
    for pattern in &patterns {
        query
            .push(" AND m.search_text LIKE ")
            .push_bind(pattern)
            .push(" ESCAPE '\\'");
    }
    if let Some((city_id, now)) = showing_in_city {
        query
            .push(" AND m.id IN (SELECT s.movie_id FROM shows s WHERE s.city_id = ")
            .push_bind(city_id)
            .push(" AND s.status = 'scheduled' AND s.starts_at >= ")
            .push_bind(now.as_millis())
            .push(")");
    }
    query
        .push(" ORDER BY m.release_date DESC, m.id LIMIT ")
        .push_bind(i64::from(cap));
    db.fetch_all(query.sql(), query.params()).await
}

pub async fn list_theatres_in_city(
    db: &Db,
    city_id: &str,
    after: Option<&(String, String)>,
    limit: u32,
) -> sqlx::Result<Vec<TheatreRow>> {
    const SQL: &str = "SELECT t.id, t.name, t.address, t.city_id, c.timezone \
        FROM theatres t JOIN cities c ON c.id = t.city_id \
        WHERE t.city_id = $1 AND ($2 IS NULL OR t.name > $2 OR (t.name = $2 AND t.id > $3)) \
        ORDER BY t.name, t.id LIMIT $4";
    let (after_name, after_id) = split_key(after);
    db.fetch_all(
        SQL,
        params![city_id, after_name, after_id, i64::from(limit) + 1],
    )
    .await
}

pub async fn get_theatre(db: &Db, id: &str) -> sqlx::Result<Option<TheatreRow>> {
    const SQL: &str = "SELECT t.id, t.name, t.address, t.city_id, c.timezone \
        FROM theatres t JOIN cities c ON c.id = t.city_id WHERE t.id = $1";
    db.fetch_optional(SQL, params![id]).await
}

/// Theatres in the city with a scheduled show of the movie inside the filter window.
pub async fn theatres_showing_movie(
    db: &Db,
    city_id: &str,
    movie_id: &str,
    filter: &ShowFilter<'_>,
    after: Option<&(String, String)>,
    limit: u32,
) -> sqlx::Result<Vec<TheatreRow>> {
    const SQL: &str = "SELECT t.id, t.name, t.address, t.city_id, c.timezone \
        FROM theatres t JOIN cities c ON c.id = t.city_id \
        WHERE t.id IN (SELECT s.theatre_id FROM shows s \
                       WHERE s.city_id = $1 AND s.movie_id = $2 AND s.status = 'scheduled' \
                         AND s.starts_at >= $3 AND s.starts_at < $4 \
                         AND ($5 IS NULL OR s.language = $5) AND ($6 IS NULL OR s.format = $6)) \
          AND ($7 IS NULL OR t.name > $7 OR (t.name = $7 AND t.id > $8)) \
        ORDER BY t.name, t.id LIMIT $9";
    let (after_name, after_id) = split_key(after);
    db.fetch_all(
        SQL,
        params![
            city_id,
            movie_id,
            filter.from.as_millis(),
            filter.to.as_millis(),
            filter.language,
            filter.format,
            after_name,
            after_id,
            i64::from(limit) + 1
        ],
    )
    .await
}

/// Scheduled shows (with their prices) in the window at the given theatres, optionally of
/// one movie, ordered by start time.
pub async fn showtimes_at_theatres(
    db: &Db,
    theatre_ids: &[&str],
    movie_id: Option<&str>,
    filter: &ShowFilter<'_>,
) -> sqlx::Result<Vec<ShowtimePriceRow>> {
    if theatre_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = QueryBuilder::new(
        db.engine(),
        "SELECT s.id, s.movie_id, s.theatre_id, s.screen_id, sc.name AS screen_name, \
                s.starts_at, s.ends_at, s.language, s.format, s.currency, \
                p.category, p.amount \
         FROM shows s \
         JOIN screens sc ON sc.id = s.screen_id \
         JOIN show_prices p ON p.show_id = s.id \
         WHERE s.status = 'scheduled' AND s.starts_at >= ",
    );
    query
        .push_bind(filter.from.as_millis())
        .push(" AND s.starts_at < ")
        .push_bind(filter.to.as_millis());
    if let Some(movie_id) = movie_id {
        query.push(" AND s.movie_id = ").push_bind(movie_id);
    }
    if let Some(language) = filter.language {
        query.push(" AND s.language = ").push_bind(language);
    }
    if let Some(format) = filter.format {
        query.push(" AND s.format = ").push_bind(format);
    }
    query
        .push(" AND s.theatre_id")
        .push_in(theatre_ids)
        .push(" ORDER BY s.starts_at, s.id, p.category");
    db.fetch_all(query.sql(), query.params()).await
}

pub async fn get_show(db: &Db, id: &str) -> sqlx::Result<Option<ShowRow>> {
    const SQL: &str = "SELECT s.id, s.movie_id, s.screen_id, sc.name AS screen_name, \
            s.layout_id, s.theatre_id, t.name AS theatre_name, t.address AS theatre_address, \
            s.city_id, c.timezone, s.starts_at, s.ends_at, s.language, s.format, s.currency, \
            s.status \
        FROM shows s \
        JOIN screens sc ON sc.id = s.screen_id \
        JOIN theatres t ON t.id = s.theatre_id \
        JOIN cities c ON c.id = s.city_id \
        WHERE s.id = $1";
    db.fetch_optional(SQL, params![id]).await
}

pub async fn show_prices(db: &Db, show_id: &str) -> sqlx::Result<Vec<PriceRow>> {
    const SQL: &str =
        "SELECT category, amount FROM show_prices WHERE show_id = $1 ORDER BY category";
    db.fetch_all(SQL, params![show_id]).await
}

// ---------------------------------------------------------------- writes

pub struct NewCity<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub country_code: &'a str,
    pub timezone: &'a str,
    pub currency: &'a str,
}

/// Inserts a city unless one with this id exists; true if inserted.
pub fn insert_city(tx: &mut Tx<'_>, city: &NewCity<'_>, now: Timestamp) -> sqlx::Result<bool> {
    const SQL: &str = "INSERT INTO cities (id, name, country_code, timezone, currency, created_at) \
        VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING";
    let done = tx.execute(
        SQL,
        params![
            city.id,
            city.name,
            city.country_code,
            city.timezone,
            city.currency,
            now.as_millis()
        ],
    )?;
    Ok(done == 1)
}

pub struct NewMovie<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub original_language: &'a str,
    pub synopsis: &'a str,
    pub duration_minutes: i64,
    pub certification: &'a str,
    pub release_date: NaiveDate,
    pub genres: &'a [&'a str],
    pub languages: &'a [&'a str],
    /// (locale, title, synopsis)
    pub localizations: &'a [(&'a str, &'a str, &'a str)],
}

impl NewMovie<'_> {
    /// The lower-cased text free-text search matches against: every title the movie has.
    pub fn search_text(&self) -> String {
        let mut text = crate::catalog::search::normalize(self.title);
        for (_, title, _) in self.localizations {
            text.push('\n');
            text.push_str(&crate::catalog::search::normalize(title));
        }
        text
    }
}

/// Inserts a movie with its genres, languages and localizations unless it exists.
pub fn insert_movie(tx: &mut Tx<'_>, movie: &NewMovie<'_>, now: Timestamp) -> sqlx::Result<bool> {
    const MOVIE: &str = "INSERT INTO movies (id, title, original_language, synopsis, \
            duration_minutes, certification, release_date, search_text, created_at, updated_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) ON CONFLICT (id) DO NOTHING";
    if write_movie_row(tx, MOVIE, movie, now)? == 0 {
        return Ok(false);
    }
    insert_movie_children(tx, movie)?;
    Ok(true)
}

/// Replaces an existing movie's fields and its genres, languages and localizations; false
/// if there is no such movie.
pub fn replace_movie(tx: &mut Tx<'_>, movie: &NewMovie<'_>, now: Timestamp) -> sqlx::Result<bool> {
    const MOVIE: &str = "UPDATE movies SET title = $2, original_language = $3, synopsis = $4, \
            duration_minutes = $5, certification = $6, release_date = $7, search_text = $8, \
            updated_at = $9 WHERE id = $1";
    if write_movie_row(tx, MOVIE, movie, now)? == 0 {
        return Ok(false);
    }
    for sql in [
        "DELETE FROM movie_genres WHERE movie_id = $1",
        "DELETE FROM movie_languages WHERE movie_id = $1",
        "DELETE FROM movie_localizations WHERE movie_id = $1",
    ] {
        tx.execute(sql, params![movie.id])?;
    }
    insert_movie_children(tx, movie)?;
    Ok(true)
}

/// Runs `sql` (an insert or an update of the movie row) with the movie's fields; returns
/// the rows written.
fn write_movie_row(
    tx: &mut Tx<'_>,
    sql: &str,
    movie: &NewMovie<'_>,
    now: Timestamp,
) -> sqlx::Result<u64> {
    let search_text = movie.search_text();
    tx.execute(
        sql,
        params![
            movie.id,
            movie.title,
            movie.original_language,
            movie.synopsis,
            movie.duration_minutes,
            movie.certification,
            movie.release_date,
            &search_text,
            now.as_millis()
        ],
    )
}

fn insert_movie_children(tx: &mut Tx<'_>, movie: &NewMovie<'_>) -> sqlx::Result<()> {
    const GENRE: &str = "INSERT INTO movie_genres (movie_id, genre) VALUES ($1, $2)";
    const LANGUAGE: &str = "INSERT INTO movie_languages (movie_id, language) VALUES ($1, $2)";
    const LOCALIZATION: &str = "INSERT INTO movie_localizations (movie_id, locale, title, synopsis) \
        VALUES ($1, $2, $3, $4)";
    for genre in movie.genres {
        tx.execute(GENRE, params![movie.id, genre])?;
    }
    for language in movie.languages {
        tx.execute(LANGUAGE, params![movie.id, language])?;
    }
    for (locale, title, synopsis) in movie.localizations {
        let locale = locale.to_ascii_lowercase();
        tx.execute(LOCALIZATION, params![movie.id, &locale, title, synopsis])?;
    }
    Ok(())
}

pub struct NewTheatre<'a> {
    pub id: &'a str,
    pub org_id: &'a str,
    pub city_id: &'a str,
    pub name: &'a str,
    pub address: &'a str,
    /// The theatre's own id, when its system created it (`integration::sync`).
    pub external_id: Option<&'a str>,
}

pub fn insert_theatre(
    tx: &mut Tx<'_>,
    theatre: &NewTheatre<'_>,
    now: Timestamp,
) -> sqlx::Result<bool> {
    const SQL: &str = "INSERT INTO theatres (id, org_id, city_id, name, address, created_at, \
        updated_at, external_id) VALUES ($1, $2, $3, $4, $5, $6, $6, $7) ON CONFLICT (id) DO NOTHING";
    let done = tx.execute(
        SQL,
        params![
            theatre.id,
            theatre.org_id,
            theatre.city_id,
            theatre.name,
            theatre.address,
            now.as_millis(),
            theatre.external_id
        ],
    )?;
    Ok(done == 1)
}

pub struct NewShow<'a> {
    pub id: &'a str,
    pub movie_id: &'a str,
    pub screen_id: &'a str,
    pub layout_id: &'a str,
    pub theatre_id: &'a str,
    pub city_id: &'a str,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub language: &'a str,
    pub format: &'a str,
    pub currency: &'a str,
    /// (category, minor units)
    pub prices: &'a [(&'a str, i64)],
    /// The theatre's own id, when its system created it (`integration::sync`).
    pub external_id: Option<&'a str>,
}

/// Inserts a show and its prices unless it exists, and allocates its seat inventory from
/// its layout (every seat available). True if inserted.
pub fn insert_show(tx: &mut Tx<'_>, show: &NewShow<'_>, now: Timestamp) -> sqlx::Result<bool> {
    const SHOW: &str = "INSERT INTO shows (id, movie_id, screen_id, layout_id, theatre_id, city_id, \
            starts_at, ends_at, language, format, currency, status, created_at, updated_at, \
            external_id) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'scheduled', $12, $12, $13) \
        ON CONFLICT (id) DO NOTHING";
    let inserted = tx.execute(
        SHOW,
        params![
            show.id,
            show.movie_id,
            show.screen_id,
            show.layout_id,
            show.theatre_id,
            show.city_id,
            show.starts_at.as_millis(),
            show.ends_at.as_millis(),
            show.language,
            show.format,
            show.currency,
            now.as_millis(),
            show.external_id
        ],
    )?;
    if inserted == 0 {
        return Ok(false);
    }
    insert_prices(tx, show.id, show.prices)?;
    crate::inventory::store::allocate_show_seats(tx, show.id, show.layout_id)?;
    Ok(true)
}

fn insert_prices(tx: &mut Tx<'_>, show_id: &str, prices: &[(&str, i64)]) -> sqlx::Result<()> {
    const PRICE: &str = "INSERT INTO show_prices (show_id, category, amount) VALUES ($1, $2, $3)";
    for (category, amount) in prices {
        tx.execute(PRICE, params![show_id, category, amount])?;
    }
    Ok(())
}

// ---------------------------------------------------------------- helpers

fn split_key(key: Option<&(String, String)>) -> (Option<&str>, Option<&str>) {
    match key {
        Some((a, b)) => (Some(a.as_str()), Some(b.as_str())),
        None => (None, None),
    }
}

/// Escapes LIKE wildcards so user text matches literally (with `ESCAPE '\'`).
pub fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

// ---------------------------------------------------------------- partner management

db_row! {
    #[derive(Debug, Clone)]
    pub struct OrgTheatreRow {
        pub id: String,
        pub city_id: String,
        pub name: String,
        pub address: String,
    }
}

pub async fn theatres_of_org(db: &Db, org_id: &str) -> sqlx::Result<Vec<OrgTheatreRow>> {
    const SQL: &str =
        "SELECT id, city_id, name, address FROM theatres WHERE org_id = $1 ORDER BY name, id";
    db.fetch_all(SQL, params![org_id]).await
}

/// The organisation owning a theatre.
pub async fn theatre_org(db: &Db, theatre_id: &str) -> sqlx::Result<Option<String>> {
    const SQL: &str = "SELECT org_id FROM theatres WHERE id = $1";
    db.fetch_optional(SQL, params![theatre_id]).await
}

db_row! {
    /// A screen with what scheduling a show on it needs.
    #[derive(Debug, Clone)]
    pub struct ScreenRow {
        pub id: String,
        pub theatre_id: String,
        pub city_id: String,
        pub currency: String,
        pub layout_id: String,
    }
}

/// The screen if it belongs to the organisation (and has a layout).
pub fn screen_of_org(
    tx: &mut Tx<'_>,
    screen_id: &str,
    org_id: &str,
) -> sqlx::Result<Option<ScreenRow>> {
    const SQL: &str = "SELECT s.id, s.theatre_id, t.city_id, c.currency, s.layout_id \
        FROM screens s JOIN theatres t ON t.id = s.theatre_id JOIN cities c ON c.id = t.city_id \
        WHERE s.id = $1 AND t.org_id = $2 AND s.layout_id IS NOT NULL";
    tx.fetch_optional(SQL, params![screen_id, org_id])
}

/// Scheduled shows on the screen that start before `to` and end after `from`.
pub fn slots_on_screen(
    tx: &mut Tx<'_>,
    screen_id: &str,
    from: Timestamp,
    to: Timestamp,
) -> sqlx::Result<Vec<crate::catalog::schedule::Slot>> {
    const SQL: &str = "SELECT id, starts_at, ends_at FROM shows \
        WHERE screen_id = $1 AND status = 'scheduled' AND starts_at < $3 AND ends_at > $2";
    let rows: Vec<(String, i64, i64)> =
        tx.fetch_all(SQL, params![screen_id, from.as_millis(), to.as_millis()])?;
    Ok(rows
        .into_iter()
        .map(|(label, starts, ends)| crate::catalog::schedule::Slot {
            label,
            starts_at: Timestamp::from_millis(starts),
            ends_at: Timestamp::from_millis(ends),
        })
        .collect())
}

/// The seat categories present in a layout.
pub fn layout_categories(
    tx: &mut Tx<'_>,
    layout_id: &str,
) -> sqlx::Result<std::collections::BTreeSet<crate::inventory::model::SeatCategory>> {
    const SQL: &str = "SELECT DISTINCT category FROM layout_seats WHERE layout_id = $1";
    let rows: Vec<String> = tx.fetch_all(SQL, params![layout_id])?;
    Ok(rows
        .iter()
        .filter_map(|c| crate::inventory::model::SeatCategory::parse(c))
        .collect())
}

db_row! {
    /// A show of the organisation with what changing it needs.
    #[derive(Debug, Clone)]
    pub struct OwnedShowRow {
        pub id: String,
        pub screen_id: String,
        pub movie_id: String,
        pub layout_id: String,
        pub starts_at: i64,
        pub ends_at: i64,
        pub language: String,
        pub format: String,
        pub status: String,
    }
}

pub fn owned_show(
    tx: &mut Tx<'_>,
    show_id: &str,
    org_id: &str,
) -> sqlx::Result<Option<OwnedShowRow>> {
    const SQL: &str = "SELECT s.id, s.screen_id, s.movie_id, s.layout_id, s.starts_at, s.ends_at, \
            s.language, s.format, s.status \
        FROM shows s JOIN theatres t ON t.id = s.theatre_id WHERE s.id = $1 AND t.org_id = $2";
    tx.fetch_optional(SQL, params![show_id, org_id])
}

/// Seats of the show held (unexpired) or sold at `now`: the show has customers.
pub fn customer_seats(tx: &mut Tx<'_>, show_id: &str, now: Timestamp) -> sqlx::Result<i64> {
    const SQL: &str = "SELECT COUNT(*) FROM show_seats WHERE show_id = $1 \
        AND (state = 'booked' OR (state = 'held' AND held_until > $2))";
    tx.fetch_one(SQL, params![show_id, now.as_millis()])
}

/// Whether any booking (live or ended) was ever made for the show.
pub fn show_has_bookings(tx: &mut Tx<'_>, show_id: &str) -> sqlx::Result<bool> {
    const SQL: &str = "SELECT COUNT(*) FROM bookings WHERE show_id = $1";
    let count: i64 = tx.fetch_one(SQL, params![show_id])?;
    Ok(count > 0)
}

pub fn update_show(
    tx: &mut Tx<'_>,
    show_id: &str,
    starts_at: Timestamp,
    ends_at: Timestamp,
    language: &str,
    format: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    const SQL: &str = "UPDATE shows SET starts_at = $2, ends_at = $3, language = $4, format = $5, updated_at = $6 \
        WHERE id = $1";
    tx.execute(
        SQL,
        params![
            show_id,
            starts_at.as_millis(),
            ends_at.as_millis(),
            language,
            format,
            now.as_millis()
        ],
    )?;
    Ok(())
}

pub fn replace_show_prices(
    tx: &mut Tx<'_>,
    show_id: &str,
    prices: &[(&str, i64)],
) -> sqlx::Result<()> {
    tx.execute(
        "DELETE FROM show_prices WHERE show_id = $1",
        params![show_id],
    )?;
    insert_prices(tx, show_id, prices)
}

pub fn show_price_map(tx: &mut Tx<'_>, show_id: &str) -> sqlx::Result<Vec<(String, i64)>> {
    const SQL: &str = "SELECT category, amount FROM show_prices WHERE show_id = $1";
    tx.fetch_all(SQL, params![show_id])
}

/// Deletes a show with its prices and seats.
pub fn delete_show(tx: &mut Tx<'_>, show_id: &str) -> sqlx::Result<()> {
    for sql in [
        "DELETE FROM show_seats WHERE show_id = $1",
        "DELETE FROM show_prices WHERE show_id = $1",
        "DELETE FROM shows WHERE id = $1",
    ] {
        tx.execute(sql, params![show_id])?;
    }
    Ok(())
}

/// Updates a city's fields; false when there is no such city.
pub fn update_city(tx: &mut Tx<'_>, city: &NewCity<'_>) -> sqlx::Result<bool> {
    const SQL: &str = "UPDATE cities SET name = $2, country_code = $3, timezone = $4, currency = $5 \
        WHERE id = $1";
    let updated = tx.execute(
        SQL,
        params![
            city.id,
            city.name,
            city.country_code,
            city.timezone,
            city.currency
        ],
    )?;
    Ok(updated == 1)
}

pub fn city_has_theatres(tx: &mut Tx<'_>, city_id: &str) -> sqlx::Result<bool> {
    const SQL: &str = "SELECT COUNT(*) FROM theatres WHERE city_id = $1";
    let count: i64 = tx.fetch_one(SQL, params![city_id])?;
    Ok(count > 0)
}

/// A movie's running time, read inside the caller's unit of work.
pub fn movie_minutes(tx: &mut Tx<'_>, movie_id: &str) -> sqlx::Result<Option<i64>> {
    const SQL: &str = "SELECT duration_minutes FROM movies WHERE id = $1";
    tx.fetch_optional(SQL, params![movie_id])
}
