//! A small catalog whose every answer is known, written through the library's own store
//! functions (the same ones the seed uses).
//!
//! Test time starts at 2026-11-22 03:30 UTC = 09:00 in Testpur (Asia/Kolkata, +05:30)
//! = 2026-11-21 19:30 in Westville (America/Los_Angeles, −08:00).
//!
//! Testpur shows (local times):
//! - `started`   22 Nov 08:00  Alpha, Aurora  — already started at test time
//! - `noon`      22 Nov 12:00  Alpha, Aurora, `en`, 2D
//! - `evening`   22 Nov 18:00  Alpha, Bijou,  `hi`, 3D
//! - `late`      22 Nov 23:50  Beta,  Cosmos, `hi`, 2D (18:20 UTC)
//! - `midnight`  23 Nov 00:15  Gamma, Aurora, `en`, 2D (still 22 Nov in UTC)
//! - `cancelled` 22 Nov 15:00  Gamma, Bijou — cancelled, never listed
//! - `day3`      24 Nov 01:00  Alpha, Cosmos, `en`, 2D (23 Nov in UTC)
//!
//! Westville: `west` 21 Nov 21:00 local (22 Nov 05:00 UTC), Amélie at the Rialto.

use chrono::NaiveDate;
use marquee::{
    catalog::store::{self as catalog, NewCity, NewMovie, NewShow, NewTheatre},
    db::Tx,
    identity::store as identity,
    ids::{CityId, LayoutId, MovieId, PartnerOrgId, ScreenId, ShowId, TheatreId},
    inventory::{
        layout::{RowSpec, build_layout},
        model::SeatCategory,
        store::{self as inventory, NewScreen},
    },
    params,
    time::Timestamp,
};

use crate::helpers::{TestApp, test_epoch};

/// id, title, language, minutes, release (y, m, d), genres, languages, localizations.
type MovieSpec<'a> = (
    &'a MovieId,
    &'a str,
    &'a str,
    i64,
    (i32, u32, u32),
    &'a [&'a str],
    &'a [&'a str],
    &'a [(&'a str, &'a str, &'a str)],
);

/// id, movie, theatre, city, UTC start, language, format, minutes.
type ShowSpec<'a> = (
    &'a ShowId,
    &'a MovieId,
    &'a TheatreId,
    &'a CityId,
    &'a str,
    &'a str,
    &'a str,
    i64,
);

#[derive(Clone)]
pub struct Fixture {
    pub testpur: CityId,
    pub westville: CityId,
    pub empty_city: CityId,
    pub alpha: MovieId,
    pub beta: MovieId,
    pub gamma: MovieId,
    pub amelie: MovieId,
    pub unscreened: MovieId,
    pub aurora: TheatreId,
    pub bijou: TheatreId,
    pub cosmos: TheatreId,
    pub rialto: TheatreId,
    pub started: ShowId,
    pub noon: ShowId,
    pub evening: ShowId,
    pub late: ShowId,
    pub midnight: ShowId,
    pub cancelled: ShowId,
    pub day3: ShowId,
    pub west: ShowId,
}

fn utc(text: &str) -> Timestamp {
    Timestamp::from_datetime(chrono::DateTime::parse_from_rfc3339(text).unwrap().to_utc())
}

/// Ten seats: A1–A4 regular, B1–B4 premium, C1–C2 recliner (C1 accessible), an aisle
/// after the second seat of rows A and B.
pub fn small_layout() -> Vec<RowSpec> {
    vec![
        RowSpec {
            label: "A".into(),
            category: SeatCategory::Regular,
            blocks: vec![2, 2],
            offset: 0,
            accessible: vec![],
        },
        RowSpec {
            label: "B".into(),
            category: SeatCategory::Premium,
            blocks: vec![2, 2],
            offset: 0,
            accessible: vec![],
        },
        RowSpec {
            label: "C".into(),
            category: SeatCategory::Recliner,
            blocks: vec![2],
            offset: 1,
            accessible: vec![1],
        },
    ]
}

/// Prices in Testpur: regular ₹150.00, premium ₹250.00, recliner ₹450.50.
pub const TESTPUR_PRICES: [(&str, i64); 3] = [
    ("regular", 15_000),
    ("premium", 25_000),
    ("recliner", 45_050),
];

pub async fn load(app: &TestApp) -> Fixture {
    let now = Timestamp::from_datetime(test_epoch());
    let f = Fixture {
        testpur: CityId::derived("test/testpur"),
        westville: CityId::derived("test/westville"),
        empty_city: CityId::derived("test/empty"),
        alpha: MovieId::derived("test/alpha"),
        beta: MovieId::derived("test/beta"),
        gamma: MovieId::derived("test/gamma"),
        amelie: MovieId::derived("test/amelie"),
        unscreened: MovieId::derived("test/unscreened"),
        aurora: TheatreId::derived("test/aurora"),
        bijou: TheatreId::derived("test/bijou"),
        cosmos: TheatreId::derived("test/cosmos"),
        rialto: TheatreId::derived("test/rialto"),
        started: ShowId::derived("test/started"),
        noon: ShowId::derived("test/noon"),
        evening: ShowId::derived("test/evening"),
        late: ShowId::derived("test/late"),
        midnight: ShowId::derived("test/midnight"),
        cancelled: ShowId::derived("test/cancelled"),
        day3: ShowId::derived("test/day3"),
        west: ShowId::derived("test/west"),
    };
    let inserted = f.clone();
    app.db
        .write(move |tx| {
            insert(tx, &inserted, now);
            Ok::<_, sqlx::Error>(())
        })
        .await
        .unwrap();
    set_show_status(app, &f.cancelled, "cancelled").await;
    f
}

/// Writes the fixture's catalog in one unit of work.
fn insert(tx: &mut Tx<'_>, f: &Fixture, now: Timestamp) {
    for (id, name, country, tz, currency) in [
        (&f.testpur, "Testpur", "IN", "Asia/Kolkata", "INR"),
        (
            &f.westville,
            "Westville",
            "US",
            "America/Los_Angeles",
            "USD",
        ),
        (&f.empty_city, "Emptyville", "IN", "Asia/Kolkata", "INR"),
    ] {
        let city = NewCity {
            id: id.as_str(),
            name,
            country_code: country,
            timezone: tz,
            currency,
        };
        assert!(catalog::insert_city(tx, &city, now).unwrap());
    }

    let movies: [MovieSpec; 5] = [
        (
            &f.alpha,
            "Alpha Adventure",
            "en",
            120,
            (2026, 11, 20),
            &["action"],
            &["en", "hi"],
            &[
                ("hi", "अल्फ़ा एडवेंचर", "हिंदी सारांश"),
                ("de", "Alpha-Abenteuer", "Deutsche Zusammenfassung"),
                ("pt-br", "Aventura Alfa", "Sinopse em português"),
            ],
        ),
        (
            &f.beta,
            "Beta Drama",
            "hi",
            150,
            (2026, 11, 13),
            &["drama"],
            &["hi"],
            &[("hi", "बीटा ड्रामा", "")],
        ),
        (
            &f.gamma,
            "Gamma Comedy",
            "en",
            95,
            (2026, 10, 30),
            &["comedy", "family"],
            &["en"],
            &[],
        ),
        (
            &f.amelie,
            "Amélie Returns",
            "fr",
            100,
            (2026, 9, 1),
            &["romance"],
            &["fr", "en"],
            &[],
        ),
        (
            &f.unscreened,
            "Unscreened Story",
            "en",
            90,
            (2026, 12, 25),
            &["drama"],
            &["en"],
            &[],
        ),
    ];
    for (id, title, language, minutes, (y, m, d), genres, languages, localizations) in movies {
        let movie = NewMovie {
            id: id.as_str(),
            title,
            original_language: language,
            synopsis: "Original synopsis",
            duration_minutes: minutes,
            certification: "U",
            release_date: NaiveDate::from_ymd_opt(y, m, d).unwrap(),
            genres,
            languages,
            localizations,
        };
        assert!(catalog::insert_movie(tx, &movie, now).unwrap());
    }

    let org = PartnerOrgId::derived("test/org");
    identity::insert_approved_org(tx, org.as_str(), "Test Org", now).unwrap();
    let seats = build_layout(&small_layout()).unwrap();
    for (theatre, city, name) in [
        (&f.aurora, &f.testpur, "Aurora Cinema"),
        (&f.bijou, &f.testpur, "Bijou Theatre"),
        (&f.cosmos, &f.testpur, "Cosmos Multiplex"),
        (&f.rialto, &f.westville, "Rialto"),
    ] {
        let new = NewTheatre {
            id: theatre.as_str(),
            org_id: org.as_str(),
            city_id: city.as_str(),
            name,
            address: "1 Test Street",
            external_id: None,
        };
        assert!(catalog::insert_theatre(tx, &new, now).unwrap());
        let (screen_id, layout_id) = (
            ScreenId::derived(theatre.as_str()),
            LayoutId::derived(theatre.as_str()),
        );
        let screen = NewScreen {
            id: screen_id.as_str(),
            theatre_id: theatre.as_str(),
            name: "Screen 1",
            layout_id: layout_id.as_str(),
            seats: &seats,
            external_id: None,
        };
        assert!(inventory::insert_screen(tx, &screen, now).unwrap());
    }

    let shows: [ShowSpec; 8] = [
        (
            &f.started,
            &f.alpha,
            &f.aurora,
            &f.testpur,
            "2026-11-22T02:30:00Z",
            "en",
            "2D",
            120,
        ),
        (
            &f.noon,
            &f.alpha,
            &f.aurora,
            &f.testpur,
            "2026-11-22T06:30:00Z",
            "en",
            "2D",
            120,
        ),
        (
            &f.evening,
            &f.alpha,
            &f.bijou,
            &f.testpur,
            "2026-11-22T12:30:00Z",
            "hi",
            "3D",
            120,
        ),
        (
            &f.late,
            &f.beta,
            &f.cosmos,
            &f.testpur,
            "2026-11-22T18:20:00Z",
            "hi",
            "2D",
            150,
        ),
        (
            &f.midnight,
            &f.gamma,
            &f.aurora,
            &f.testpur,
            "2026-11-22T18:45:00Z",
            "en",
            "2D",
            95,
        ),
        (
            &f.cancelled,
            &f.gamma,
            &f.bijou,
            &f.testpur,
            "2026-11-22T09:30:00Z",
            "en",
            "2D",
            95,
        ),
        (
            &f.day3,
            &f.alpha,
            &f.cosmos,
            &f.testpur,
            "2026-11-23T19:30:00Z",
            "en",
            "2D",
            120,
        ),
        (
            &f.west,
            &f.amelie,
            &f.rialto,
            &f.westville,
            "2026-11-22T05:00:00Z",
            "fr",
            "2D",
            100,
        ),
    ];
    for (id, movie, theatre, city, starts, language, format, minutes) in shows {
        let starts_at = utc(starts);
        let currency = if city == &f.westville { "USD" } else { "INR" };
        let prices: &[(&str, i64)] = if currency == "USD" {
            &[("regular", 1_200), ("premium", 1_500), ("recliner", 2_000)]
        } else {
            &TESTPUR_PRICES
        };
        let (screen_id, layout_id) = (
            ScreenId::derived(theatre.as_str()),
            LayoutId::derived(theatre.as_str()),
        );
        let show = NewShow {
            id: id.as_str(),
            movie_id: movie.as_str(),
            screen_id: screen_id.as_str(),
            layout_id: layout_id.as_str(),
            theatre_id: theatre.as_str(),
            city_id: city.as_str(),
            starts_at,
            ends_at: starts_at.plus_minutes(minutes),
            language,
            format,
            currency,
            prices,
            external_id: None,
        };
        assert!(catalog::insert_show(tx, &show, now).unwrap());
    }
}

/// Direct storage edits standing in for the write paths that arrive later.
pub async fn set_show_status(app: &TestApp, show: &ShowId, status: &str) {
    exec(
        app,
        "UPDATE shows SET status = $2 WHERE id = $1",
        &[show.as_str(), status],
    )
    .await;
}

/// Sets one seat's state (and hold expiry, in UTC ms) directly in storage.
pub async fn set_seat(
    app: &TestApp,
    show: &ShowId,
    label: &str,
    state: &str,
    held_until: Option<i64>,
) {
    let sql =
        "UPDATE show_seats SET state = $3, held_until = $4 WHERE show_id = $1 AND seat_label = $2";
    let (id, label, state) = (show.to_string(), label.to_owned(), state.to_owned());
    let done = app
        .db
        .write(move |tx| tx.execute(sql, params![&id, &label, &state, held_until]))
        .await
        .unwrap();
    assert_eq!(done, 1, "the seat exists");
    // What every seat write path does after it commits.
    app.cache.invalidate_show(show.as_str());
}

async fn exec(app: &TestApp, sql: &'static str, binds: &[&str]) {
    let binds: Vec<String> = binds.iter().map(|b| (*b).to_owned()).collect();
    app.db
        .write(move |tx| {
            let params: Vec<marquee::db::Value<'_>> =
                binds.iter().map(marquee::db::Value::from).collect();
            tx.execute(sql, &params)
        })
        .await
        .unwrap();
}
