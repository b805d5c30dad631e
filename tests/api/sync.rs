//! Inbound sync by the theatre system's own ids: created once, the same document again
//! changes nothing, what may change is updated, what may not is refused.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    booking::{other_partner, owning_partner, race_with},
    db_test, fixtures,
    helpers::{TestApp, assert_problem, send},
};

async fn put(app: &TestApp, token: &str, path: &str, body: &Value) -> (StatusCode, Value) {
    let response = send(app, Method::PUT, path, Some(token), Some(body.clone())).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

db_test!(
    a_theatre_sent_by_its_own_id_is_created_once_then_updated_or_left_alone,
    |app| {
        let f = fixtures::load(app).await;
        let partner = owning_partner(app, "owner@example.com").await;
        let path = "/api/v1/partner/sync/theatres/BLR-01";
        let document = json!({"city_id": f.testpur.to_string(), "name": "Lakeside",
                          "address": "1 Lake Road"});

        let (status, created) = put(app, &partner, path, &document).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        assert!(id.starts_with("thr_"));
        assert_eq!(
            created,
            json!({"id": id, "external_id": "BLR-01", "city_id": f.testpur.to_string(),
               "name": "Lakeside", "address": "1 Lake Road", "outcome": "created"})
        );
        let (status, again) = put(app, &partner, path, &document).await;
        assert_eq!(
            (status, &again["outcome"], &again["id"]),
            (StatusCode::OK, &json!("unchanged"), &json!(id))
        );

        let renamed = json!({"city_id": f.testpur.to_string(), "name": "Lakeside Grand",
                         "address": "1 Lake Road"});
        let (status, updated) = put(app, &partner, path, &renamed).await;
        assert_eq!(
            (status, &updated["outcome"]),
            (StatusCode::OK, &json!("updated"))
        );
        assert_eq!(updated["name"], "Lakeside Grand");
        let listed: Value = send(
            app,
            Method::GET,
            "/api/v1/partner/theatres",
            Some(&partner),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
        let named: Vec<&Value> = listed["items"]
            .as_array()
            .or(listed.as_array())
            .unwrap()
            .iter()
            .filter(|t| t["id"] == json!(id))
            .collect();
        assert_eq!(named.len(), 1);
        assert_eq!(named[0]["name"], "Lakeside Grand");

        // A theatre does not move.
        let moved = json!({"city_id": f.westville.to_string(), "name": "Lakeside Grand",
                       "address": "1 Lake Road"});
        let response = send(app, Method::PUT, path, Some(&partner), Some(moved)).await;
        assert_problem(response, 409, "sync-change-refused").await;

        // Bad ids and documents.
        for bad in [
            "/api/v1/partner/sync/theatres/a%20b",
            "/api/v1/partner/sync/theatres/%C3%A9",
        ] {
            let response = send(
                app,
                Method::PUT,
                bad,
                Some(&partner),
                Some(document.clone()),
            )
            .await;
            assert_problem(response, 400, "invalid-request").await;
        }
        let nowhere = json!({"city_id": "cty_nowhere", "name": "X", "address": "Y"});
        let response = send(app, Method::PUT, path, Some(&partner), Some(nowhere)).await;
        assert_problem(response, 422, "unknown-city").await;

        // Another organisation's same id is its own theatre.
        let other = other_partner(app, "other@example.com").await;
        let (status, theirs) = put(app, &other, path, &document).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_ne!(theirs["id"], json!(id));
    }
);

db_test!(
    the_same_new_theatre_sent_six_times_at_once_is_created_once,
    |app| {
        let f = fixtures::load(app).await;
        let partner = owning_partner(app, "owner@example.com").await;
        let document =
            json!({"city_id": f.testpur.to_string(), "name": "Twin", "address": "2 Road"});
        let path = "/api/v1/partner/sync/theatres/TWIN";
        let answers = race_with(app, Method::PUT, path, vec![(partner, document); 6]).await;
        let mut statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 200, 200, 200, 200, 201], "{answers:?}");
        let ids: BTreeSet<&str> = answers
            .iter()
            .map(|(_, b)| b["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 1);
        let rows: Vec<String> = app
            .db
            .fetch_all(
                "SELECT id FROM theatres WHERE external_id = $1",
                marquee::params!["TWIN"],
            )
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
    }
);

db_test!(
    a_screen_sent_by_its_own_id_keeps_its_layout_until_the_rows_change,
    |app| {
        let f = fixtures::load(app).await;
        let partner = owning_partner(app, "owner@example.com").await;
        let theatre =
            json!({"city_id": f.testpur.to_string(), "name": "Lakeside", "address": "1 Road"});
        put(
            app,
            &partner,
            "/api/v1/partner/sync/theatres/BLR-01",
            &theatre,
        )
        .await;
        let path = "/api/v1/partner/sync/theatres/BLR-01/screens/S1";
        let rows = json!([
            {"label": "A", "category": "regular", "blocks": [3, 3]},
            {"label": "B", "category": "premium", "blocks": [4], "accessible": [1]}
        ]);
        let document = json!({"name": "Audi 1", "rows": rows});

        let (status, created) = put(app, &partner, path, &document).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert!(created["id"].as_str().unwrap().starts_with("scr_"));
        assert_eq!(created["seat_count"], 10);
        assert_eq!(created["theatre_external_id"], "BLR-01");
        assert_eq!(created["outcome"], "created");
        let layout = created["layout_id"].clone();

        let (status, same) = put(app, &partner, path, &document).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(same["outcome"], "unchanged");
        assert_eq!((&same["id"], &same["layout_id"]), (&created["id"], &layout));

        let renamed = json!({"name": "Audi One", "rows": rows});
        let (_, renamed) = put(app, &partner, path, &renamed).await;
        assert_eq!(
            (&renamed["outcome"], &renamed["layout_id"]),
            (&json!("updated"), &layout)
        );

        let bigger = json!({"name": "Audi One", "rows": [
            {"label": "A", "category": "regular", "blocks": [3, 3]},
            {"label": "B", "category": "premium", "blocks": [4], "accessible": [1]},
            {"label": "C", "category": "recliner", "blocks": [2]}
        ]});
        let (status, relaid) = put(app, &partner, path, &bigger).await;
        assert_eq!(
            (status, &relaid["outcome"]),
            (StatusCode::OK, &json!("updated"))
        );
        assert_ne!(relaid["layout_id"], layout);
        assert_eq!(relaid["seat_count"], 12);
        let (_, again) = put(app, &partner, path, &bigger).await;
        assert_eq!(
            (&again["outcome"], &again["layout_id"]),
            (&json!("unchanged"), &relaid["layout_id"])
        );

        // Another screen of the theatre may not take the name; an unknown theatre is 404.
        let clash = json!({"name": "Audi One", "rows": rows});
        let response = send(
            app,
            Method::PUT,
            "/api/v1/partner/sync/theatres/BLR-01/screens/S2",
            Some(&partner),
            Some(clash.clone()),
        )
        .await;
        assert_problem(response, 409, "duplicate-screen").await;
        let response = send(
            app,
            Method::PUT,
            "/api/v1/partner/sync/theatres/NOPE/screens/S1",
            Some(&partner),
            Some(clash.clone()),
        )
        .await;
        assert_problem(response, 404, "not-found").await;
        // Another organisation cannot reach this theatre by its id.
        let other = other_partner(app, "other@example.com").await;
        let response = send(app, Method::PUT, path, Some(&other), Some(clash)).await;
        assert_problem(response, 404, "not-found").await;
    }
);

/// A synced theatre `BLR-01` with screen `S1` (ten seats: regular and premium).
async fn synced_screen(app: &TestApp, partner: &str, f: &fixtures::Fixture) {
    let theatre =
        json!({"city_id": f.testpur.to_string(), "name": "Lakeside", "address": "1 Road"});
    put(
        app,
        partner,
        "/api/v1/partner/sync/theatres/BLR-01",
        &theatre,
    )
    .await;
    let screen = json!({"name": "Audi 1", "rows": [
        {"label": "A", "category": "regular", "blocks": [3, 3]},
        {"label": "B", "category": "premium", "blocks": [4]}
    ]});
    let (status, _) = put(
        app,
        partner,
        "/api/v1/partner/sync/theatres/BLR-01/screens/S1",
        &screen,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
}

fn show(f: &fixtures::Fixture, starts_at: &str, regular: i64) -> Value {
    json!({"screen_external_id": "S1", "movie_id": f.alpha.to_string(), "starts_at": starts_at,
           "language": "en", "format": "2D", "prices": {"regular": regular, "premium": 30000}})
}

db_test!(
    a_show_sent_by_its_own_id_changes_what_may_change_and_nothing_else,
    |app| {
        let f = fixtures::load(app).await;
        let partner = owning_partner(app, "owner@example.com").await;
        synced_screen(app, &partner, &f).await;
        let path = "/api/v1/partner/sync/theatres/BLR-01/shows/SH-1";
        let document = show(&f, "2026-11-23T10:00:00Z", 20000);

        let (status, created) = put(app, &partner, path, &document).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        assert!(id.starts_with("shw_"));
        assert_eq!(created["seats"], 10);
        assert_eq!(created["starts_at"], "2026-11-23T10:00:00Z");
        assert_eq!(created["ends_at"], "2026-11-23T12:00:00Z");
        let (status, same) = put(app, &partner, path, &document).await;
        assert_eq!(
            (status, &same["outcome"], &same["id"]),
            (StatusCode::OK, &json!("unchanged"), &json!(id))
        );

        // New prices apply; the public sees them.
        let (_, repriced) = put(
            app,
            &partner,
            path,
            &show(&f, "2026-11-23T10:00:00Z", 25000),
        )
        .await;
        assert_eq!(repriced["outcome"], "updated");
        let map: Value = app.get_ok(&format!("/api/v1/shows/{id}/seats")).await;
        assert_eq!(map["seats"][0]["price"]["amount"], 25000);

        // Once a customer holds a seat, the show does not move; its screen never changes.
        let ann = crate::booking::customer(app, "ann@example.com").await;
        let show_id = marquee::ids::ShowId::parse(&id).unwrap();
        crate::booking::hold_ok(app, &ann, &show_id, &["A1"]).await;
        let moved = send(
            app,
            Method::PUT,
            path,
            Some(&partner),
            Some(show(&f, "2026-11-23T14:00:00Z", 25000)),
        )
        .await;
        assert_problem(moved, 409, "show-has-bookings").await;
        let mut elsewhere = show(&f, "2026-11-23T10:00:00Z", 25000);
        elsewhere["screen_external_id"] = json!("S9");
        let refused = send(app, Method::PUT, path, Some(&partner), Some(elsewhere)).await;
        assert_problem(refused, 409, "sync-change-refused").await;

        // A box-office sale names the show by the id sync gave it.
        let sale = send(
            app,
            Method::POST,
            "/api/v1/partner/counter-sales",
            Some(&partner),
            Some(json!({"show_id": id, "external_sale_id": "BO-1", "seats": ["B1"]})),
        )
        .await;
        assert_eq!(sale.status(), StatusCode::CREATED);
    }
);

db_test!(
    a_schedule_batch_is_all_or_nothing_with_an_error_per_failing_show,
    |app| {
        let f = fixtures::load(app).await;
        let partner = owning_partner(app, "owner@example.com").await;
        synced_screen(app, &partner, &f).await;
        let path = "/api/v1/partner/sync/theatres/BLR-01/schedule";
        let first = put(
            app,
            &partner,
            "/api/v1/partner/sync/theatres/BLR-01/shows/SH-1",
            &show(&f, "2026-11-23T10:00:00Z", 20000),
        )
        .await;
        assert_eq!(first.0, StatusCode::CREATED);
        let item = |id: &str, starts: &str| {
            let mut item = show(&f, starts, 20000);
            item["external_id"] = json!(id);
            item
        };

        // SH-3 overlaps SH-2, and SH-4's screen is unknown: nothing of the batch is written.
        let bad = json!({"shows": [
            item("SH-1", "2026-11-23T10:00:00Z"),
            item("SH-2", "2026-11-23T13:00:00Z"),
            item("SH-3", "2026-11-23T14:00:00Z"),
            {"external_id": "SH-4", "screen_external_id": "S9", "movie_id": f.alpha.to_string(),
             "starts_at": "2026-11-24T10:00:00Z", "language": "en", "format": "2D",
             "prices": {"regular": 1, "premium": 1}}
        ]});
        let response = send(app, Method::POST, path, Some(&partner), Some(bad)).await;
        let problem = assert_problem(response, 422, "bulk-invalid").await;
        let failed: Vec<(i64, &str)> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let code = e["type"].as_str().unwrap().rsplit('/').next().unwrap();
                (e["index"].as_i64().unwrap(), code)
            })
            .collect();
        // The two overlapping shows each name the other; SH-1 is fine.
        assert_eq!(
            failed,
            [
                (1, "show-overlap"),
                (2, "show-overlap"),
                (3, "unknown-screen")
            ],
            "{problem}"
        );
        let rows: Vec<String> = app
            .db
            .fetch_all(
                "SELECT external_id FROM shows WHERE external_id IS NOT NULL",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(rows, ["SH-1"]);

        // The corrected week: SH-1 as it was, SH-1 moved is not in it, two new shows.
        let good = json!({"shows": [
            item("SH-1", "2026-11-23T10:00:00Z"),
            item("SH-2", "2026-11-23T13:00:00Z"),
            item("SH-3", "2026-11-23T16:00:00Z"),
        ]});
        let response = send(app, Method::POST, path, Some(&partner), Some(good.clone())).await;
        assert_eq!(response.status(), StatusCode::OK);
        let synced: Value = response.json().await.unwrap();
        let outcomes: Vec<&str> = synced["shows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["outcome"].as_str().unwrap())
            .collect();
        assert_eq!(outcomes, ["unchanged", "created", "created"]);
        // Sent again: nothing changes, the same ids.
        let again: Value = send(app, Method::POST, path, Some(&partner), Some(good))
            .await
            .json()
            .await
            .unwrap();
        for (before, after) in synced["shows"]
            .as_array()
            .unwrap()
            .iter()
            .zip(again["shows"].as_array().unwrap())
        {
            assert_eq!(before["id"], after["id"]);
            assert_eq!(after["outcome"], "unchanged");
        }
        let twice = json!({"shows": [item("SH-5", "2026-11-25T10:00:00Z"), item("SH-5", "2026-11-25T13:00:00Z")]});
        let response = send(app, Method::POST, path, Some(&partner), Some(twice)).await;
        assert_problem(response, 400, "invalid-request").await;
    }
);

db_test!(
    the_same_new_show_sent_five_times_at_once_is_created_once,
    |app| {
        let f = fixtures::load(app).await;
        let partner = owning_partner(app, "owner@example.com").await;
        synced_screen(app, &partner, &f).await;
        let document = show(&f, "2026-11-23T10:00:00Z", 20000);
        let path = "/api/v1/partner/sync/theatres/BLR-01/shows/SH-1";
        let answers = race_with(app, Method::PUT, path, vec![(partner, document); 5]).await;
        let mut statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 200, 200, 200, 201], "{answers:?}");
        let rows: Vec<String> = app
            .db
            .fetch_all(
                "SELECT id FROM shows WHERE external_id = $1",
                marquee::params!["SH-1"],
            )
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
    }
);

db_test!(
    the_sync_status_counts_each_synced_shows_seats_by_who_has_them,
    |app| {
        let f = fixtures::load(app).await;
        let partner = owning_partner(app, "owner@example.com").await;
        synced_screen(app, &partner, &f).await;
        let (_, created) = put(
            app,
            &partner,
            "/api/v1/partner/sync/theatres/BLR-01/shows/SH-1",
            &show(&f, "2026-11-23T10:00:00Z", 20000),
        )
        .await;
        let id = created["id"].as_str().unwrap().to_owned();
        let show_id = marquee::ids::ShowId::parse(&id).unwrap();
        let ann = crate::booking::customer(app, "ann@example.com").await;
        crate::booking::hold_ok(app, &ann, &show_id, &["A1", "A2"]).await;
        crate::booking::confirmed(app, &ann, &show_id, &["A3"]).await;
        let sale = send(
            app,
            Method::POST,
            "/api/v1/partner/counter-sales",
            Some(&partner),
            Some(json!({"show_id": id, "external_sale_id": "BO-1", "seats": ["B1", "B2"]})),
        )
        .await;
        assert_eq!(sale.status(), StatusCode::CREATED);
        send(
            app,
            Method::POST,
            &format!("/api/v1/partner/shows/{id}/inventory"),
            Some(&partner),
            Some(json!({"withhold": ["B3"], "block": ["B4"]})),
        )
        .await;

        let status: Value = app
            .client
            .get(app.url("/api/v1/partner/sync/theatres/BLR-01/status"))
            .bearer_auth(&partner)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(status["external_id"], "BLR-01");
        assert_eq!(status["screens"][0]["external_id"], "S1");
        assert_eq!(status["shows"].as_array().unwrap().len(), 1, "{status}");
        let shown = &status["shows"][0];
        assert_eq!(
            (&shown["id"], &shown["external_id"]),
            (&json!(id), &json!("SH-1"))
        );
        assert_eq!(shown["screen_external_id"], "S1");
        assert_eq!(shown["starts_at"], "2026-11-23T10:00:00Z");
        assert_eq!(
            shown["seats"],
            json!({"total": 10, "available": 3, "held": 2, "sold_online": 1, "sold_at_counter": 2,
               "withheld": 1, "blocked": 1})
        );
        // Another organisation's partner cannot read it.
        let other = other_partner(app, "other@example.com").await;
        let response = send(
            app,
            Method::GET,
            "/api/v1/partner/sync/theatres/BLR-01/status",
            Some(&other),
            None,
        )
        .await;
        assert_problem(response, 404, "not-found").await;
    }
);
