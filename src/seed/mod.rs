//! `marquee seed --demo`: a browsable, bookable demo. Five cities in two countries, ten
//! movies in six languages, three partner theatres per city with screens of 100–400 seats in
//! all three categories, a week of shows from today, and three demo accounts.
//!
//! Every id is derived from a stable natural key and every insert skips existing rows, so
//! seeding twice changes nothing, and seeding on a later day only adds the new days' shows.

use chrono::{Days, NaiveDate, NaiveTime, TimeZone};
use chrono_tz::Tz;

use crate::{
    catalog::store::{self as catalog, NewCity, NewMovie, NewShow, NewTheatre},
    db::{Db, Tx},
    identity::{password, store as identity},
    ids::{CityId, LayoutId, MovieId, PartnerOrgId, ScreenId, ShowId, TheatreId, UserId},
    inventory::{
        layout::{RowSpec, build_layout},
        model::SeatCategory,
        store::{self as inventory, NewScreen},
    },
    time::Timestamp,
};

pub const DEMO_PASSWORD: &str = "demo-password";
pub const DEMO_DAYS: u64 = 7;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    pub cities: u32,
    pub movies: u32,
    pub theatres: u32,
    pub screens: u32,
    pub shows: u32,
    pub users: u32,
    pub offers: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("invalid demo layout: {0}")]
    Layout(#[from] crate::inventory::layout::LayoutError),
}

impl crate::db::WriteError for SeedError {
    fn retryable(&self) -> bool {
        matches!(self, SeedError::Database(e) if crate::db::is_retryable(e))
    }
}

struct DemoCity {
    key: &'static str,
    name: &'static str,
    country: &'static str,
    timezone: Tz,
    currency: &'static str,
    /// Languages shows are given in here, most common first.
    languages: &'static [&'static str],
    theatres: &'static [(&'static str, &'static str)],
}

const CITIES: &[DemoCity] = &[
    DemoCity {
        key: "in/bengaluru",
        name: "Bengaluru",
        country: "IN",
        timezone: chrono_tz::Asia::Kolkata,
        currency: "INR",
        languages: &["en", "hi", "ta", "te"],
        theatres: &[
            (
                "Marquee Forum Koramangala",
                "Hosur Road, Koramangala, Bengaluru 560029",
            ),
            (
                "Marquee Orion Rajajinagar",
                "Dr Rajkumar Road, Rajajinagar, Bengaluru 560055",
            ),
            (
                "Lakeside Cinemas Whitefield",
                "ITPL Main Road, Whitefield, Bengaluru 560066",
            ),
        ],
    },
    DemoCity {
        key: "in/mumbai",
        name: "Mumbai",
        country: "IN",
        timezone: chrono_tz::Asia::Kolkata,
        currency: "INR",
        languages: &["hi", "en", "ta"],
        theatres: &[
            (
                "Marquee Phoenix Lower Parel",
                "Senapati Bapat Marg, Lower Parel, Mumbai 400013",
            ),
            (
                "Marquee Andheri West",
                "Link Road, Andheri West, Mumbai 400053",
            ),
            (
                "Sea Breeze Talkies Bandra",
                "Hill Road, Bandra West, Mumbai 400050",
            ),
        ],
    },
    DemoCity {
        key: "in/chennai",
        name: "Chennai",
        country: "IN",
        timezone: chrono_tz::Asia::Kolkata,
        currency: "INR",
        languages: &["ta", "en", "te", "hi"],
        theatres: &[
            (
                "Marquee Express Avenue",
                "Whites Road, Royapettah, Chennai 600014",
            ),
            ("Marquee Velachery", "Velachery Main Road, Chennai 600042"),
            (
                "Marina Screens Mylapore",
                "Luz Church Road, Mylapore, Chennai 600004",
            ),
        ],
    },
    DemoCity {
        key: "gb/london",
        name: "London",
        country: "GB",
        timezone: chrono_tz::Europe::London,
        currency: "GBP",
        languages: &["en", "fr", "hi"],
        theatres: &[
            (
                "Marquee Leicester Square",
                "5 Leicester Square, London WC2H 7NA",
            ),
            (
                "Marquee Greenwich",
                "180 Greenwich High Road, London SE10 8NN",
            ),
            (
                "Riverside Picturehouse",
                "Crisp Road, Hammersmith, London W6 9RL",
            ),
        ],
    },
    DemoCity {
        key: "gb/manchester",
        name: "Manchester",
        country: "GB",
        timezone: chrono_tz::Europe::London,
        currency: "GBP",
        languages: &["en", "fr"],
        theatres: &[
            ("Marquee Printworks", "27 Withy Grove, Manchester M4 2BS"),
            ("Marquee Salford Quays", "The Quays, Salford M50 3AH"),
            ("Northern Lights Cinema", "Oxford Road, Manchester M1 5QA"),
        ],
    },
];

struct DemoMovie {
    key: &'static str,
    title: &'static str,
    language: &'static str,
    synopsis: &'static str,
    minutes: i64,
    certification: &'static str,
    release: (i32, u32, u32),
    genres: &'static [&'static str],
    languages: &'static [&'static str],
    localizations: &'static [(&'static str, &'static str, &'static str)],
}

const MOVIES: &[DemoMovie] = &[
    DemoMovie {
        key: "starlight-heist",
        title: "The Starlight Heist",
        language: "en",
        synopsis: "A crew of retired thieves reunites to rob a moving train under a meteor shower.",
        minutes: 142,
        certification: "UA13+",
        release: (2026, 11, 6),
        genres: &["action", "thriller"],
        languages: &["en", "hi", "ta", "te"],
        localizations: &[
            (
                "hi",
                "द स्टारलाइट हाइस्ट",
                "रिटायर चोरों का एक दल उल्का वर्षा के नीचे चलती ट्रेन लूटने के लिए फिर मिलता है।",
            ),
            (
                "ta",
                "ஸ்டார்லைட் கொள்ளை",
                "ஓய்வுபெற்ற திருடர்கள் ஒரு ஓடும் ரயிலைக் கொள்ளையடிக்க மீண்டும் இணைகிறார்கள்.",
            ),
            (
                "de",
                "Der Sternenlicht-Coup",
                "Eine Bande pensionierter Diebe überfällt einen fahrenden Zug im Meteorschauer.",
            ),
            (
                "fr",
                "Le Casse de Starlight",
                "Des voleurs à la retraite braquent un train en marche sous une pluie d'étoiles filantes.",
            ),
        ],
    },
    DemoMovie {
        key: "monsoon-letters",
        title: "Monsoon Letters",
        language: "hi",
        synopsis: "Two strangers fall in love through letters left in a Mumbai lending library.",
        minutes: 128,
        certification: "U",
        release: (2026, 10, 30),
        genres: &["drama", "romance"],
        languages: &["hi", "en"],
        localizations: &[
            (
                "hi",
                "मानसून के ख़त",
                "मुंबई की एक लाइब्रेरी में छोड़े गए ख़तों से दो अजनबियों को प्यार हो जाता है।",
            ),
            (
                "fr",
                "Lettres de mousson",
                "Deux inconnus tombent amoureux grâce à des lettres laissées dans une bibliothèque de Bombay.",
            ),
        ],
    },
    DemoMovie {
        key: "kaveri-rising",
        title: "Kaveri Rising",
        language: "ta",
        synopsis: "A village engineer races a flood to save the dam her grandfather built.",
        minutes: 156,
        certification: "UA16+",
        release: (2026, 11, 13),
        genres: &["action", "drama"],
        languages: &["ta", "te", "hi"],
        localizations: &[
            (
                "ta",
                "காவேரி எழுச்சி",
                "தன் தாத்தா கட்டிய அணையைக் காப்பாற்ற ஒரு கிராமப் பொறியாளர் வெள்ளத்துடன் போராடுகிறாள்.",
            ),
            (
                "hi",
                "कावेरी का उदय",
                "एक गाँव की इंजीनियर अपने दादा के बनाए बाँध को बाढ़ से बचाने की दौड़ में है।",
            ),
        ],
    },
    DemoMovie {
        key: "clockmakers-daughter",
        title: "The Clockmaker's Daughter",
        language: "en",
        synopsis: "A girl who can pause time for one minute a day must find her missing father.",
        minutes: 118,
        certification: "U",
        release: (2026, 10, 16),
        genres: &["fantasy", "family"],
        languages: &["en", "hi"],
        localizations: &[
            (
                "de",
                "Die Tochter des Uhrmachers",
                "Ein Mädchen, das die Zeit täglich für eine Minute anhalten kann, sucht ihren Vater.",
            ),
            (
                "fr",
                "La Fille de l'horloger",
                "Une fille capable d'arrêter le temps une minute par jour cherche son père disparu.",
            ),
            (
                "hi",
                "घड़ीसाज़ की बेटी",
                "एक लड़की जो रोज़ एक मिनट के लिए समय रोक सकती है, अपने पिता को ढूँढती है।",
            ),
        ],
    },
    DemoMovie {
        key: "neon-tides",
        title: "Neon Tides",
        language: "en",
        synopsis: "In a drowned future city, a diver finds a signal that should not exist.",
        minutes: 134,
        certification: "UA13+",
        release: (2026, 11, 20),
        genres: &["sci-fi", "thriller"],
        languages: &["en"],
        localizations: &[(
            "de",
            "Neon-Gezeiten",
            "In einer versunkenen Stadt der Zukunft empfängt eine Taucherin ein unmögliches Signal.",
        )],
    },
    DemoMovie {
        key: "lucknow-laugh-riot",
        title: "Laugh Riot in Lucknow",
        language: "hi",
        synopsis: "A wedding planner books three weddings into one palace on the same night.",
        minutes: 124,
        certification: "U",
        release: (2026, 11, 1),
        genres: &["comedy"],
        languages: &["hi"],
        localizations: &[(
            "hi",
            "लखनऊ में हंगामा",
            "एक वेडिंग प्लानर एक ही रात एक महल में तीन शादियाँ बुक कर देता है।",
        )],
    },
    DemoMovie {
        key: "pebble-and-the-moon",
        title: "Pebble and the Moon",
        language: "en",
        synopsis: "A pebble on a beach wants to visit the moon, and the tide offers to help.",
        minutes: 96,
        certification: "U",
        release: (2026, 9, 25),
        genres: &["animation", "family"],
        languages: &["en", "hi", "ta"],
        localizations: &[
            (
                "hi",
                "कंकड़ और चाँद",
                "समुद्र तट का एक कंकड़ चाँद पर जाना चाहता है, और ज्वार उसकी मदद करता है।",
            ),
            (
                "de",
                "Kiesel und der Mond",
                "Ein Kieselstein will zum Mond, und die Flut hilft ihm.",
            ),
            (
                "fr",
                "Galet et la Lune",
                "Un galet veut aller sur la Lune, et la marée l'aide.",
            ),
        ],
    },
    DemoMovie {
        key: "silent-harbour",
        title: "Silent Harbour",
        language: "en",
        synopsis: "A harbour master investigates a ship that docks every night with no crew.",
        minutes: 121,
        certification: "UA16+",
        release: (2026, 10, 9),
        genres: &["mystery", "drama"],
        languages: &["en"],
        localizations: &[(
            "fr",
            "Le Port silencieux",
            "Un capitaine de port enquête sur un navire sans équipage.",
        )],
    },
    DemoMovie {
        key: "godavari-nights",
        title: "Godavari Nights",
        language: "te",
        synopsis: "A folk singer and a ferryman keep a river festival alive for one last year.",
        minutes: 149,
        certification: "U",
        release: (2026, 11, 8),
        genres: &["drama", "musical"],
        languages: &["te", "ta"],
        localizations: &[(
            "te",
            "గోదావరి రాత్రులు",
            "ఒక జానపద గాయని, ఒక పడవవాడు నది పండుగను చివరిసారి నిలబెడతారు.",
        )],
    },
    DemoMovie {
        key: "amelies-bakery",
        title: "Amélie's Bakery",
        language: "fr",
        synopsis: "A Parisian baker enters a contest against the chain store next door.",
        minutes: 104,
        certification: "U",
        release: (2026, 10, 23),
        genres: &["comedy", "romance"],
        languages: &["fr", "en"],
        localizations: &[(
            "en",
            "Amélie's Bakery",
            "A Parisian baker enters a contest against the chain store next door.",
        )],
    },
];

/// Screen sizes, by index: (name, format, rows).
fn screen_specs() -> [(&'static str, &'static str, Vec<RowSpec>); 3] {
    use SeatCategory::{Premium, Recliner, Regular};
    let rows =
        |labels: &str, category: SeatCategory, blocks: &[u16], offset: u16, accessible: &[u16]| {
            labels
                .chars()
                .map(|l| RowSpec {
                    label: l.to_string(),
                    category,
                    blocks: blocks.to_vec(),
                    offset,
                    accessible: accessible.to_vec(),
                })
                .collect::<Vec<_>>()
        };
    // Small: 6×12 regular, 3×12 premium, 1×6 recliner = 114 seats.
    let small = [
        rows("ABCDEF", Regular, &[6, 6], 0, &[]),
        rows("GHI", Premium, &[6, 6], 0, &[]),
        rows("J", Recliner, &[2, 2, 2], 2, &[1, 6]),
    ]
    .concat();
    // Medium: 10×20 regular, 4×20 premium, 2×10 recliner = 300 seats.
    let medium = [
        rows("ABCDEFGHIJ", Regular, &[4, 12, 4], 0, &[]),
        rows("KLMN", Premium, &[4, 12, 4], 0, &[]),
        rows("OP", Recliner, &[5, 5], 5, &[1, 10]),
    ]
    .concat();
    // Large: 12×22 regular, 5×22 premium, 2×12 recliner = 398 seats.
    let large = [
        rows("ABCDEFGHIJKL", Regular, &[5, 12, 5], 0, &[1, 22]),
        rows("MNOPQ", Premium, &[5, 12, 5], 0, &[]),
        rows("RS", Recliner, &[6, 6], 5, &[1, 12]),
    ]
    .concat();
    [
        ("Screen 1", "2D", medium),
        ("Screen 2", "3D", small),
        ("Screen 3 IMAX", "IMAX", large),
    ]
}

/// Local start times per screen index; 3.5 hours apart, longer than any demo movie plus the
/// cleaning buffer, and two of each screen's four in the afternoon.
const SLOTS: [[(u32, u32); 4]; 3] = [
    [(9, 30), (13, 0), (16, 30), (20, 0)],
    [(10, 15), (13, 45), (17, 15), (20, 45)],
    [(11, 0), (14, 30), (18, 0), (21, 30)],
];

/// Minor-unit prices (regular, premium, recliner) by currency and format.
fn prices(currency: &str, format: &str) -> [(&'static str, i64); 3] {
    let (regular, premium, recliner) = match (currency, format) {
        ("INR", "IMAX") => (35_000, 45_000, 70_000),
        ("INR", "3D") => (25_000, 35_000, 55_000),
        ("INR", _) => (20_000, 32_000, 55_000),
        (_, "IMAX") => (1_695, 1_995, 2_495),
        (_, "3D") => (1_350, 1_550, 1_995),
        _ => (1_150, 1_450, 1_895),
    };
    [
        ("regular", regular),
        ("premium", premium),
        ("recliner", recliner),
    ]
}

/// A deterministic choice among `len` items that differs between neighbouring screens,
/// slots, theatres, cities and days (splitmix64: stable across Rust releases, unlike
/// `DefaultHasher`, so the demo schedule is the same wherever it is seeded).
fn pick(key: [u64; 5], len: usize) -> usize {
    let mut x = key.iter().fold(0x9e37_79b9_7f4a_7c15_u64, |acc, &part| {
        acc.rotate_left(17) ^ part.wrapping_mul(0xbf58_476d_1ce4_e5b9)
    });
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    (x % len.max(1) as u64) as usize
}

/// Loads the demo data; `now` decides "today" in each city.
pub async fn seed_demo(db: &Db, now: Timestamp) -> Result<SeedReport, SeedError> {
    let layouts = screen_specs()
        .iter()
        .map(|(_, _, rows)| build_layout(rows))
        .collect::<Result<Vec<_>, _>>()?;

    // Hash passwords before the transaction: Argon2 is deliberately slow.
    let accounts = [
        ("admin@demo.test", "Demo Admin", "admin"),
        ("partner@demo.test", "Demo Partner", "partner"),
        ("customer@demo.test", "Demo Customer", "customer"),
    ];
    let mut hashed = Vec::new();
    for (email, name, role) in accounts {
        let existing: i64 = db
            .fetch_one(
                "SELECT COUNT(*) FROM users WHERE email = $1",
                crate::params![email],
            )
            .await?;
        if existing == 0 {
            let hash = password::hash(DEMO_PASSWORD).map_err(|e| SeedError::Hash(e.to_string()))?;
            hashed.push((email, name, role, hash));
        }
    }
    db.write(move |tx| write_demo(tx, &layouts, &hashed, now))
        .await
}

type DemoAccount = (&'static str, &'static str, &'static str, String);

/// The unit of work of `seed_demo`: everything the demo has that the database lacks.
fn write_demo(
    tx: &mut Tx<'_>,
    layouts: &[Vec<crate::inventory::model::LayoutSeat>],
    hashed: &[DemoAccount],
    now: Timestamp,
) -> Result<SeedReport, SeedError> {
    let mut report = SeedReport::default();
    let specs = screen_specs();
    let org_id = PartnerOrgId::derived("demo-cinemas");
    identity::insert_approved_org(tx, org_id.as_str(), "Demo Cinemas Pvt Ltd", now)?;
    for (email, name, role, hash) in hashed {
        let user_id = UserId::derived(email);
        let user = identity::NewUser {
            id: user_id.as_str(),
            email,
            display_name: name,
            password_hash: hash,
            role,
        };
        if identity::insert_user(tx, &user, now)? {
            report.users += 1;
        }
    }
    identity::add_member(
        tx,
        org_id.as_str(),
        UserId::derived("partner@demo.test").as_str(),
    )?;

    for movie in MOVIES {
        let id = MovieId::derived(movie.key);
        let (y, m, d) = movie.release;
        let new = NewMovie {
            id: id.as_str(),
            title: movie.title,
            original_language: movie.language,
            synopsis: movie.synopsis,
            duration_minutes: movie.minutes,
            certification: movie.certification,
            release_date: NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default(),
            genres: movie.genres,
            languages: movie.languages,
            localizations: movie.localizations,
        };
        if catalog::insert_movie(tx, &new, now)? {
            report.movies += 1;
        }
    }

    for (city_index, city) in CITIES.iter().enumerate() {
        let city_id = CityId::derived(city.key);
        let new_city = NewCity {
            id: city_id.as_str(),
            name: city.name,
            country_code: city.country,
            timezone: city.timezone.name(),
            currency: city.currency,
        };
        if catalog::insert_city(tx, &new_city, now)? {
            report.cities += 1;
        }
        // Movies shown here: those with a language this city's shows are given in.
        let movies: Vec<(&DemoMovie, Vec<&str>)> = MOVIES
            .iter()
            .map(|m| {
                let languages = city
                    .languages
                    .iter()
                    .filter(|l| m.languages.contains(l))
                    .copied()
                    .collect();
                (m, languages)
            })
            .filter(|(_, languages): &(&DemoMovie, Vec<&str>)| !languages.is_empty())
            .collect();
        let today = now.local_date(city.timezone);

        for (theatre_index, (name, address)) in city.theatres.iter().enumerate() {
            let theatre_key = format!("{}/{}", city.key, theatre_index);
            let theatre_id = TheatreId::derived(&theatre_key);
            let new_theatre = NewTheatre {
                id: theatre_id.as_str(),
                org_id: org_id.as_str(),
                city_id: city_id.as_str(),
                name,
                address,
                external_id: None,
            };
            if catalog::insert_theatre(tx, &new_theatre, now)? {
                report.theatres += 1;
            }
            // The third theatre of each city has no IMAX screen.
            let screen_count = if theatre_index == 2 { 2 } else { 3 };
            for screen_index in 0..screen_count {
                let (screen_name, format, _) = &specs[screen_index];
                let screen_key = format!("{theatre_key}/{screen_index}");
                let screen_id = ScreenId::derived(&screen_key);
                let layout_id = LayoutId::derived(&screen_key);
                let new_screen = NewScreen {
                    id: screen_id.as_str(),
                    theatre_id: theatre_id.as_str(),
                    name: screen_name,
                    layout_id: layout_id.as_str(),
                    seats: &layouts[screen_index],
                    external_id: None,
                };
                if inventory::insert_screen(tx, &new_screen, now)? {
                    report.screens += 1;
                }
                for day in 0..DEMO_DAYS {
                    let Some(date) = today.checked_add_days(Days::new(day)) else {
                        continue;
                    };
                    for (slot_index, (hour, minute)) in SLOTS[screen_index].iter().enumerate() {
                        let day_number = (date - NaiveDate::default()).num_days() as u64;
                        let key = [
                            city_index as u64,
                            theatre_index as u64,
                            screen_index as u64,
                            slot_index as u64,
                            day_number,
                        ];
                        let (movie, languages) = &movies[pick(key, movies.len())];
                        let mut language_key = key;
                        language_key[4] = language_key[4].wrapping_add(1 << 32);
                        let language = languages[pick(language_key, languages.len())];
                        let movie_id = MovieId::derived(movie.key);
                        let Some(time) = NaiveTime::from_hms_opt(*hour, *minute, 0) else {
                            continue;
                        };
                        let Some(starts) = city
                            .timezone
                            .from_local_datetime(&date.and_time(time))
                            .earliest()
                        else {
                            continue;
                        };
                        let starts_at = Timestamp::from_datetime(starts.to_utc());
                        let show_id = ShowId::derived(&format!("{screen_key}/{date}/{slot_index}"));
                        let show = NewShow {
                            id: show_id.as_str(),
                            movie_id: movie_id.as_str(),
                            screen_id: screen_id.as_str(),
                            layout_id: layout_id.as_str(),
                            theatre_id: theatre_id.as_str(),
                            city_id: city_id.as_str(),
                            starts_at,
                            ends_at: starts_at.plus_minutes(movie.minutes),
                            language,
                            format,
                            currency: city.currency,
                            prices: &prices(city.currency, format),
                            external_id: None,
                        };
                        if catalog::insert_show(tx, &show, now)? {
                            report.shows += 1;
                        }
                    }
                }
            }
        }
    }
    report.offers = seed_launch_offers(tx, now)?;
    Ok(report)
}

/// The two launch offers, scoped to some cities and theatres (not all), valid for a year
/// from the first seeding.
fn seed_launch_offers(tx: &mut Tx<'_>, now: Timestamp) -> Result<u32, SeedError> {
    use crate::offers::{
        model::{Offer, OfferKind, OfferScope},
        store as offers,
    };
    let theatre = |city_key: &str, index: usize| TheatreId::derived(&format!("{city_key}/{index}"));
    let launch = [
        Offer {
            id: crate::ids::OfferId::derived("launch/third-ticket").to_string(),
            name: "Launch offer: every third ticket half price".into(),
            kind: OfferKind::NthTicket {
                every: 3,
                percent_bp: 5_000,
            },
            valid_from: now.plus_minutes(-24 * 60),
            valid_until: now.plus_minutes(365 * 24 * 60),
            scope: OfferScope {
                cities: vec![
                    CityId::derived("in/bengaluru"),
                    CityId::derived("in/mumbai"),
                ],
                theatres: vec![theatre("gb/london", 0)],
            },
            active: true,
        },
        Offer {
            id: crate::ids::OfferId::derived("launch/afternoon").to_string(),
            name: "Launch offer: 20% off afternoon shows".into(),
            kind: OfferKind::ShowTimeWindow {
                from: NaiveTime::from_hms_opt(12, 0, 0).unwrap_or(NaiveTime::MIN),
                until: NaiveTime::from_hms_opt(17, 0, 0).unwrap_or(NaiveTime::MIN),
                percent_bp: 2_000,
            },
            valid_from: now.plus_minutes(-24 * 60),
            valid_until: now.plus_minutes(365 * 24 * 60),
            scope: OfferScope {
                cities: vec![
                    CityId::derived("in/chennai"),
                    CityId::derived("in/bengaluru"),
                ],
                theatres: vec![theatre("gb/manchester", 0)],
            },
            active: true,
        },
    ];
    let mut inserted = 0;
    for offer in &launch {
        if offers::save_offer(tx, offer, false, now)? {
            inserted += 1;
        }
    }
    Ok(inserted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pick_spreads_neighbouring_keys_over_all_choices() {
        // Ten movies, the three screens of one theatre, four slots, one day: not one
        // movie per slot everywhere (the failure mode of a weak mix).
        let mut seen = std::collections::BTreeSet::new();
        let mut per_slot_identical = true;
        for slot in 0..4 {
            let first = pick([0, 0, 0, slot, 20_000], 10);
            for screen in 0..3 {
                let chosen = pick([0, 0, screen, slot, 20_000], 10);
                per_slot_identical &= chosen == first;
                seen.insert(chosen);
            }
        }
        assert!(!per_slot_identical);
        assert!(seen.len() >= 6, "only {seen:?}");
        // Stable: the same key always picks the same item.
        assert_eq!(
            pick([1, 2, 0, 3, 20_415], 10),
            pick([1, 2, 0, 3, 20_415], 10)
        );
    }
}
