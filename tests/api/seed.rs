//! The demo seed: exact figures, idempotence, later-day top-ups, and a browse walk over the
//! seeded data down to a seat map.

use chrono::Duration;
use marquee::{
    identity::password,
    seed::{SeedReport, seed_demo},
    time::Timestamp,
};
use serde_json::{Value, json};

use crate::{db_test, helpers::test_epoch};

/// 5 cities × 3 theatres; theatres 0 and 1 of each city have 3 screens, theatre 2 has 2:
/// 5 × (3 + 3 + 2) = 40 screens; 4 slots × 7 days per screen = 1,120 shows.
const FIRST_SEED: SeedReport = SeedReport {
    cities: 5,
    movies: 10,
    theatres: 15,
    screens: 40,
    shows: 1_120,
    users: 3,
    offers: 2,
};

fn items(page: &Value) -> &Vec<Value> {
    page["items"].as_array().expect("items")
}

db_test!(demo_seed_is_idempotent_and_browsable, |app| {
    let now = Timestamp::from_datetime(test_epoch());
    let first = seed_demo(&app.db, now).await.expect("first seed");
    assert_eq!(first, FIRST_SEED);
    let second = seed_demo(&app.db, now).await.expect("second seed");
    assert_eq!(second, SeedReport::default(), "seeding twice adds nothing");

    let cities = app.get_ok("/api/v1/cities").await;
    let names: Vec<&str> = items(&cities)
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Bengaluru", "Chennai", "London", "Manchester", "Mumbai"]
    );
    assert!(cities["next_cursor"].is_null());
    let bengaluru = items(&cities)[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(items(&cities)[0]["timezone"], "Asia/Kolkata");

    // Tomorrow in Bengaluru (the epoch is 22 Nov 09:00 there). The seed is deterministic
    // and mixes movies across screens and slots: all ten play, newest release first.
    let movies = app
        .get_ok(&format!(
            "/api/v1/cities/{bengaluru}/movies?date=2026-11-23"
        ))
        .await;
    let titles: Vec<&str> = items(&movies)
        .iter()
        .map(|m| m["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            "Neon Tides",
            "Kaveri Rising",
            "Godavari Nights",
            "The Starlight Heist",
            "Laugh Riot in Lucknow",
            "Monsoon Letters",
            "Amélie's Bakery",
            "The Clockmaker's Daughter",
            "Silent Harbour",
            "Pebble and the Moon"
        ]
    );
    assert!(movies["next_cursor"].is_null());
    let movie = items(&movies)[0]["id"].as_str().unwrap().to_owned();

    let showtimes = app
        .get_ok(&format!(
            "/api/v1/cities/{bengaluru}/movies/{movie}/shows?date=2026-11-23"
        ))
        .await;
    assert_eq!(showtimes["date"], "2026-11-23");
    assert_eq!(showtimes["movie"]["title"], "Neon Tides");
    let theatre = &items(&showtimes)[0];
    assert_eq!(theatre["theatre"]["name"], "Lakeside Cinemas Whitefield");
    let show = &theatre["shows"][0];
    assert_eq!(show["starts_at_local"], "2026-11-23T17:15:00+05:30");
    assert_eq!(show["screen"]["name"], "Screen 2");
    let show = show["id"].as_str().unwrap().to_owned();

    let map = app.get_ok(&format!("/api/v1/shows/{show}/seats")).await;
    assert_eq!(map["on_sale"], true);
    let seats = map["seats"].as_array().unwrap();
    let total = map["availability"]["total"].as_u64().unwrap();
    assert_eq!(seats.len() as u64, total);
    // One of the three demo screen sizes: Screen 2 is the small one.
    assert!(
        [114, 300, 398].contains(&total),
        "a demo screen size: {total}"
    );
    assert_eq!(
        map["availability"],
        json!({"total": 114, "available": 114, "by_category": [
            {"category": "regular", "total": 72, "available": 72},
            {"category": "premium", "total": 36, "available": 36},
            {"category": "recliner", "total": 6, "available": 6},
        ]})
    );
    let not_available: Vec<&Value> = seats.iter().filter(|s| s["state"] != "available").collect();
    assert_eq!(
        not_available,
        Vec::<&Value>::new(),
        "a fresh show is all available"
    );
    let mut categories: Vec<&str> = seats
        .iter()
        .map(|s| s["category"].as_str().unwrap())
        .collect();
    categories.dedup();
    assert_eq!(categories, ["regular", "premium", "recliner"]);

    let users: Vec<(String, String, String)> = app
        .db
        .fetch_all(
            "SELECT email, role, password_hash FROM users ORDER BY email",
            &[],
        )
        .await
        .unwrap();
    let roles: Vec<(&str, &str)> = users
        .iter()
        .map(|(email, role, _)| (email.as_str(), role.as_str()))
        .collect();
    assert_eq!(
        roles,
        [
            ("admin@demo.test", "admin"),
            ("customer@demo.test", "customer"),
            ("partner@demo.test", "partner"),
        ]
    );
    for (email, _, hash) in &users {
        assert!(hash.starts_with("$argon2id$"), "{email}: {hash}");
        assert!(password::verify("demo-password", hash), "{email}");
    }
});

db_test!(seeding_on_a_later_day_only_adds_the_new_days_shows, |app| {
    let now = Timestamp::from_datetime(test_epoch());
    assert_eq!(seed_demo(&app.db, now).await.unwrap(), FIRST_SEED);
    let tomorrow = Timestamp::from_datetime(test_epoch() + Duration::days(1));
    assert_eq!(
        seed_demo(&app.db, tomorrow).await.unwrap(),
        SeedReport {
            shows: 160,
            ..SeedReport::default()
        },
        "one new day: 40 screens × 4 slots"
    );
});
