//! The browse path: cities → movies → theatres with showtimes → show detail, with filters,
//! local-date boundaries, localization and pagination.

use serde_json::Value;

use crate::{db_test, fixtures};

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["id"].as_str().expect("id").to_owned())
        .collect()
}

fn names(page: &Value, field: &str) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item[field].as_str().expect("field").to_owned())
        .collect()
}

db_test!(cities_are_alphabetical_paginated_and_filterable, |app| {
    fixtures::load(app).await;
    let first = app.get_ok("/api/v1/cities?limit=2").await;
    assert_eq!(names(&first, "name"), ["Emptyville", "Testpur"]);
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let second = app
        .get_ok(&format!("/api/v1/cities?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(names(&second, "name"), ["Westville"]);
    assert!(second["next_cursor"].is_null());

    let us = app.get_ok("/api/v1/cities?country=us").await;
    assert_eq!(names(&us, "name"), ["Westville"]);
    assert_eq!(us["items"][0]["timezone"], "America/Los_Angeles");
    assert_eq!(us["items"][0]["currency"], "USD");
});

db_test!(
    movies_today_exclude_started_cancelled_and_next_local_day,
    |app| {
        let f = fixtures::load(app).await;
        // 09:00 in Testpur: `started` has begun, `cancelled` is cancelled, `midnight` is 23 Nov
        // local even though it is 22 Nov in UTC.
        let page = app
            .get_ok(&format!("/api/v1/cities/{}/movies", f.testpur))
            .await;
        assert_eq!(ids(&page), [f.alpha.to_string(), f.beta.to_string()]);
        let explicit = app
            .get_ok(&format!(
                "/api/v1/cities/{}/movies?date=2026-11-22",
                f.testpur
            ))
            .await;
        assert_eq!(ids(&explicit), ids(&page));
    }
);

db_test!(movie_listing_follows_the_city_local_date, |app| {
    let f = fixtures::load(app).await;
    let on = |date: &str| format!("/api/v1/cities/{}/movies?date={date}", f.testpur);
    assert_eq!(
        ids(&app.get_ok(&on("2026-11-23")).await),
        [f.gamma.to_string()]
    );
    assert_eq!(
        ids(&app.get_ok(&on("2026-11-24")).await),
        [f.alpha.to_string()]
    );
    assert!(ids(&app.get_ok(&on("2026-11-25")).await).is_empty());
    assert!(ids(&app.get_ok(&on("2026-11-21")).await).is_empty());

    // Westville is behind UTC: at test time it is still 21 Nov there.
    let west = app
        .get_ok(&format!("/api/v1/cities/{}/movies", f.westville))
        .await;
    assert_eq!(ids(&west), [f.amelie.to_string()]);
    let west_next = app
        .get_ok(&format!(
            "/api/v1/cities/{}/movies?date=2026-11-22",
            f.westville
        ))
        .await;
    assert!(ids(&west_next).is_empty());
});

db_test!(movies_filter_by_show_language_and_genre, |app| {
    let f = fixtures::load(app).await;
    let base = format!("/api/v1/cities/{}/movies?date=2026-11-22", f.testpur);
    let hindi = app.get_ok(&format!("{base}&language=hi")).await;
    assert_eq!(ids(&hindi), [f.alpha.to_string(), f.beta.to_string()]);
    let english = app.get_ok(&format!("{base}&language=en")).await;
    assert_eq!(ids(&english), [f.alpha.to_string()]);
    let drama = app.get_ok(&format!("{base}&genre=drama")).await;
    assert_eq!(ids(&drama), [f.beta.to_string()]);
    let comedy = app.get_ok(&format!("{base}&genre=comedy")).await;
    assert!(ids(&comedy).is_empty());
    let both = app
        .get_ok(&format!("{base}&genre=action&language=hi"))
        .await;
    assert_eq!(ids(&both), [f.alpha.to_string()]);
    let empty_city = app
        .get_ok(&format!("/api/v1/cities/{}/movies", f.empty_city))
        .await;
    assert!(ids(&empty_city).is_empty());
    assert!(empty_city["next_cursor"].is_null());
});

db_test!(movies_paginate_newest_release_first, |app| {
    let f = fixtures::load(app).await;
    let first = app
        .get_ok(&format!("/api/v1/cities/{}/movies?limit=1", f.testpur))
        .await;
    assert_eq!(ids(&first), [f.alpha.to_string()]);
    let cursor = first["next_cursor"].as_str().expect("cursor");
    let second = app
        .get_ok(&format!(
            "/api/v1/cities/{}/movies?limit=1&cursor={cursor}",
            f.testpur
        ))
        .await;
    assert_eq!(ids(&second), [f.beta.to_string()]);
    assert!(second["next_cursor"].is_null());
});

db_test!(
    theatres_running_a_movie_list_showtimes_in_utc_and_local_time,
    |app| {
        let f = fixtures::load(app).await;
        let listing = app
            .get_ok(&format!(
                "/api/v1/cities/{}/movies/{}/shows?date=2026-11-22",
                f.testpur, f.alpha
            ))
            .await;
        assert_eq!(listing["date"], "2026-11-22");
        assert_eq!(listing["city"]["name"], "Testpur");
        assert_eq!(listing["movie"]["id"], f.alpha.as_str());
        let items = listing["items"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["theatre"]["name"], "Aurora Cinema");
        assert_eq!(items[1]["theatre"]["name"], "Bijou Theatre");

        let noon = &items[0]["shows"][0];
        assert_eq!(
            items[0]["shows"].as_array().unwrap().len(),
            1,
            "the started show is not listed"
        );
        assert_eq!(noon["id"], f.noon.as_str());
        assert_eq!(noon["starts_at"], "2026-11-22T06:30:00Z");
        assert_eq!(noon["starts_at_local"], "2026-11-22T12:00:00+05:30");
        assert_eq!(noon["ends_at"], "2026-11-22T08:30:00Z");
        assert_eq!(noon["ends_at_local"], "2026-11-22T14:00:00+05:30");
        assert_eq!(noon["language"], "en");
        assert_eq!(noon["format"], "2D");
        assert_eq!(noon["screen"]["name"], "Screen 1");
        assert_eq!(
            noon["prices"],
            serde_json::json!([
                {"category": "regular", "price": {"amount": 15000, "currency": "INR"}},
                {"category": "premium", "price": {"amount": 25000, "currency": "INR"}},
                {"category": "recliner", "price": {"amount": 45050, "currency": "INR"}},
            ])
        );
        assert_eq!(items[1]["shows"][0]["id"], f.evening.as_str());
    }
);

db_test!(showtimes_on_a_day_whose_utc_date_differs, |app| {
    let f = fixtures::load(app).await;
    let listing = app
        .get_ok(&format!(
            "/api/v1/cities/{}/movies/{}/shows?date=2026-11-24",
            f.testpur, f.alpha
        ))
        .await;
    let items = listing["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["theatre"]["name"], "Cosmos Multiplex");
    assert_eq!(items[0]["shows"][0]["starts_at"], "2026-11-23T19:30:00Z");
    assert_eq!(
        items[0]["shows"][0]["starts_at_local"],
        "2026-11-24T01:00:00+05:30"
    );
    let none = app
        .get_ok(&format!(
            "/api/v1/cities/{}/movies/{}/shows?date=2026-11-23",
            f.testpur, f.alpha
        ))
        .await;
    assert!(none["items"].as_array().unwrap().is_empty());
});

db_test!(
    showtimes_filter_by_format_and_language_and_paginate_theatres,
    |app| {
        let f = fixtures::load(app).await;
        let base = format!(
            "/api/v1/cities/{}/movies/{}/shows?date=2026-11-22",
            f.testpur, f.alpha
        );
        let three_d = app.get_ok(&format!("{base}&format=3D")).await;
        assert_eq!(three_d["items"].as_array().unwrap().len(), 1);
        assert_eq!(three_d["items"][0]["theatre"]["name"], "Bijou Theatre");
        let english = app.get_ok(&format!("{base}&language=en")).await;
        assert_eq!(english["items"][0]["theatre"]["name"], "Aurora Cinema");
        assert_eq!(english["items"].as_array().unwrap().len(), 1);

        let first = app.get_ok(&format!("{base}&limit=1")).await;
        assert_eq!(first["items"][0]["theatre"]["name"], "Aurora Cinema");
        let cursor = first["next_cursor"].as_str().expect("cursor");
        let second = app.get_ok(&format!("{base}&limit=1&cursor={cursor}")).await;
        assert_eq!(second["items"][0]["theatre"]["name"], "Bijou Theatre");
        assert!(second["next_cursor"].is_null());
    }
);

db_test!(theatres_in_a_city_and_a_theatres_schedule, |app| {
    let f = fixtures::load(app).await;
    let first = app
        .get_ok(&format!("/api/v1/cities/{}/theatres?limit=2", f.testpur))
        .await;
    assert_eq!(names(&first, "name"), ["Aurora Cinema", "Bijou Theatre"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = app
        .get_ok(&format!(
            "/api/v1/cities/{}/theatres?limit=2&cursor={cursor}",
            f.testpur
        ))
        .await;
    assert_eq!(names(&rest, "name"), ["Cosmos Multiplex"]);

    let theatre = app.get_ok(&format!("/api/v1/theatres/{}", f.aurora)).await;
    assert_eq!(theatre["timezone"], "Asia/Kolkata");
    assert_eq!(theatre["city_id"], f.testpur.as_str());

    let today = app
        .get_ok(&format!("/api/v1/theatres/{}/shows", f.aurora))
        .await;
    assert_eq!(today["date"], "2026-11-22");
    let movies = today["movies"].as_array().unwrap();
    assert_eq!(movies.len(), 1);
    assert_eq!(movies[0]["movie"]["id"], f.alpha.as_str());
    let shows: Vec<&str> = movies[0]["shows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(shows, [f.noon.as_str()]);

    let tomorrow = app
        .get_ok(&format!(
            "/api/v1/theatres/{}/shows?date=2026-11-23",
            f.aurora
        ))
        .await;
    assert_eq!(tomorrow["movies"][0]["movie"]["id"], f.gamma.as_str());
    assert_eq!(
        tomorrow["movies"][0]["shows"][0]["starts_at_local"],
        "2026-11-23T00:15:00+05:30"
    );
});

db_test!(accept_language_picks_title_with_fallback, |app| {
    let f = fixtures::load(app).await;
    let path = format!("/api/v1/movies/{}", f.alpha);
    let title = |lang: &'static str| {
        let path = path.clone();
        async move {
            let response = app.get_with(&path, ("accept-language", lang)).await;
            assert_eq!(response.status(), 200);
            let body: Value = response.json().await.unwrap();
            (
                body["title"].as_str().unwrap().to_owned(),
                body["locale"].clone(),
            )
        }
    };
    assert_eq!(
        title("hi").await,
        ("अल्फ़ा एडवेंचर".to_owned(), Value::from("hi"))
    );
    assert_eq!(
        title("de-AT").await,
        ("Alpha-Abenteuer".to_owned(), Value::from("de"))
    );
    assert_eq!(
        title("pt-BR").await,
        ("Aventura Alfa".to_owned(), Value::from("pt-br"))
    );
    // `pt` does not reach the more specific `pt-br`; falls back to the original title.
    assert_eq!(
        title("pt").await,
        ("Alpha Adventure".to_owned(), Value::Null)
    );
    assert_eq!(
        title("fr, de;q=0.5").await,
        ("Alpha-Abenteuer".to_owned(), Value::from("de"))
    );
    assert_eq!(
        title("ja, *").await,
        ("Alpha Adventure".to_owned(), Value::Null)
    );

    let detail = app
        .get_with(&path, ("accept-language", "de"))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(detail["synopsis"], "Deutsche Zusammenfassung");
    assert_eq!(detail["original_title"], "Alpha Adventure");
    assert_eq!(
        detail["available_locales"],
        serde_json::json!(["de", "hi", "pt-br"])
    );
    assert_eq!(detail["genres"], serde_json::json!(["action"]));
    assert_eq!(detail["languages"], serde_json::json!(["en", "hi"]));

    // Lists localize too, and a movie without the locale keeps its own title.
    let list = app
        .get_with(
            &format!("/api/v1/cities/{}/movies", f.testpur),
            ("accept-language", "hi"),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(names(&list, "title"), ["अल्फ़ा एडवेंचर", "बीटा ड्रामा"]);
    let untranslated = app
        .get_with(
            &format!("/api/v1/movies/{}", f.gamma),
            ("accept-language", "hi"),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(untranslated["title"], "Gamma Comedy");
});

db_test!(
    free_text_search_matches_every_title_ignoring_case_and_accents,
    |app| {
        let f = fixtures::load(app).await;
        let search = |q: &str| {
            let path = format!("/api/v1/search?q={q}");
            async move { app.get_ok(&path).await }
        };
        assert_eq!(ids(&search("alpha").await), [f.alpha.to_string()]);
        assert_eq!(ids(&search("AMELIE").await), [f.amelie.to_string()]);
        // Accents are folded on both sides: "abénteuer" finds the German "Abenteuer".
        assert_eq!(ids(&search("ab%C3%A9nteuer").await), [f.alpha.to_string()]);
        assert_eq!(ids(&search("abenteuer").await), [f.alpha.to_string()]);
        assert_eq!(
            ids(&search("adventure%20alpha").await),
            [f.alpha.to_string()]
        );
        assert!(ids(&search("zzz").await).is_empty());
        // A title that starts with the query ranks before one that only has the word.
        assert_eq!(ids(&search("drama").await), [f.beta.to_string()]);
        assert_eq!(ids(&search("gamma%20comedy").await), [f.gamma.to_string()]);
        assert_eq!(search("e").await["items"].as_array().unwrap().len(), 5);

        let in_westville = app
            .get_ok(&format!("/api/v1/search?q=e&city_id={}", f.westville))
            .await;
        assert_eq!(ids(&in_westville), [f.amelie.to_string()]);

        let first = app.get_ok("/api/v1/search?q=e&limit=2").await;
        let cursor = first["next_cursor"].as_str().unwrap();
        let second = app
            .get_ok(&format!("/api/v1/search?q=e&limit=2&cursor={cursor}"))
            .await;
        let third_cursor = second["next_cursor"].as_str().unwrap();
        let third = app
            .get_ok(&format!("/api/v1/search?q=e&limit=2&cursor={third_cursor}"))
            .await;
        let mut all = [ids(&first), ids(&second), ids(&third)].concat();
        assert!(third["next_cursor"].is_null());
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 5, "pages neither repeat nor skip");
    }
);

db_test!(show_detail_has_times_prices_and_availability, |app| {
    let f = fixtures::load(app).await;
    let show = app
        .get_with(
            &format!("/api/v1/shows/{}", f.noon),
            ("accept-language", "hi"),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(show["id"], f.noon.as_str());
    assert_eq!(show["movie"]["title"], "अल्फ़ा एडवेंचर");
    assert_eq!(show["theatre"]["name"], "Aurora Cinema");
    assert_eq!(show["screen"]["name"], "Screen 1");
    assert_eq!(show["starts_at_local"], "2026-11-22T12:00:00+05:30");
    assert_eq!(show["status"], "scheduled");
    assert_eq!(show["on_sale"], true);
    assert_eq!(show["prices"][2]["price"]["amount"], 45050);
    assert_eq!(
        show["availability"],
        serde_json::json!({"total": 10, "available": 10, "by_category": [
            {"category": "regular", "total": 4, "available": 4},
            {"category": "premium", "total": 4, "available": 4},
            {"category": "recliner", "total": 2, "available": 2},
        ]})
    );
    let started = app.get_ok(&format!("/api/v1/shows/{}", f.started)).await;
    assert_eq!(started["on_sale"], false);
    let cancelled = app.get_ok(&format!("/api/v1/shows/{}", f.cancelled)).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["on_sale"], false);
});

db_test!(listings_drop_a_show_once_it_starts, |app| {
    let f = fixtures::load(app).await;
    let path = format!("/api/v1/cities/{}/movies/{}/shows", f.testpur, f.alpha);
    let before = app.get_ok(&path).await;
    assert_eq!(before["items"].as_array().unwrap().len(), 2);
    // The cached listing must not outlive the noon show's start.
    app.clock.set(
        chrono::DateTime::parse_from_rfc3339("2026-11-22T06:30:00Z")
            .unwrap()
            .to_utc(),
    );
    let after = app.get_ok(&path).await;
    let items = after["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["theatre"]["name"], "Bijou Theatre");
});
