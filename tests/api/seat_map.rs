//! Seat maps: layout, states, prices, counts, hold expiry and freshness after writes.

use serde_json::{Value, json};

use crate::{db_test, fixtures, helpers::test_epoch};

fn seat<'a>(map: &'a Value, label: &str) -> &'a Value {
    map["seats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["label"] == label)
        .unwrap_or_else(|| panic!("seat {label}"))
}

db_test!(
    seat_map_lists_every_seat_with_grid_category_and_price,
    |app| {
        let f = fixtures::load(app).await;
        let map = app.get_ok(&format!("/api/v1/shows/{}/seats", f.noon)).await;
        assert_eq!(map["show_id"], f.noon.as_str());
        assert_eq!(map["on_sale"], true);
        assert_eq!(
            (map["grid_rows"].as_u64(), map["grid_cols"].as_u64()),
            (Some(3), Some(5))
        );
        let labels: Vec<&str> = map["seats"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["label"].as_str().unwrap())
            .collect();
        assert_eq!(
            labels,
            ["A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4", "C1", "C2"]
        );
        assert_eq!(
            seat(&map, "A3"),
            &json!({"label": "A3", "row": "A", "grid_row": 0, "grid_col": 3, "category": "regular",
                "state": "available", "price": {"amount": 15000, "currency": "INR"}, "accessible": false})
        );
        assert_eq!(seat(&map, "B1")["price"]["amount"], 25000);
        assert_eq!(seat(&map, "C1")["grid_col"], 1);
        assert_eq!(seat(&map, "C1")["accessible"], true);
        assert_eq!(
            seat(&map, "C2")["price"],
            json!({"amount": 45050, "currency": "INR"})
        );
        assert_eq!(map["availability"]["available"], 10);
    }
);

db_test!(seat_states_and_counts_reflect_storage, |app| {
    let f = fixtures::load(app).await;
    let hold_until = test_epoch().timestamp_millis() + 5 * 60_000;
    fixtures::set_seat(app, &f.noon, "A1", "booked", None).await;
    fixtures::set_seat(app, &f.noon, "A2", "blocked", None).await;
    fixtures::set_seat(app, &f.noon, "B1", "withheld", None).await;
    fixtures::set_seat(app, &f.noon, "B2", "held", Some(hold_until)).await;
    let map = app.get_ok(&format!("/api/v1/shows/{}/seats", f.noon)).await;
    let states: Vec<(&str, &str)> = ["A1", "A2", "A3", "B1", "B2"]
        .iter()
        .map(|l| (*l, seat(&map, l)["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [
            ("A1", "booked"),
            ("A2", "blocked"),
            ("A3", "available"),
            ("B1", "withheld"),
            ("B2", "held")
        ]
    );
    let expected = json!({"total": 10, "available": 6, "by_category": [
        {"category": "regular", "total": 4, "available": 2},
        {"category": "premium", "total": 4, "available": 2},
        {"category": "recliner", "total": 2, "available": 2},
    ]});
    assert_eq!(map["availability"], expected);
    let detail = app.get_ok(&format!("/api/v1/shows/{}", f.noon)).await;
    assert_eq!(
        detail["availability"], expected,
        "show detail agrees with the seat map"
    );
});

db_test!(an_expired_hold_shows_available_without_any_write, |app| {
    let f = fixtures::load(app).await;
    let hold_until = test_epoch().timestamp_millis() + 5 * 60_000;
    fixtures::set_seat(app, &f.noon, "B2", "held", Some(hold_until)).await;
    let path = format!("/api/v1/shows/{}/seats", f.noon);
    assert_eq!(seat(&app.get_ok(&path).await, "B2")["state"], "held");

    app.clock
        .advance(chrono::Duration::minutes(5) - chrono::Duration::milliseconds(1));
    assert_eq!(seat(&app.get_ok(&path).await, "B2")["state"], "held");
    app.clock.advance(chrono::Duration::milliseconds(1));
    let map = app.get_ok(&path).await;
    assert_eq!(seat(&map, "B2")["state"], "available");
    assert_eq!(map["availability"]["available"], 10);
    let detail = app.get_ok(&format!("/api/v1/shows/{}", f.noon)).await;
    assert_eq!(detail["availability"]["available"], 10);
});

db_test!(a_seat_write_is_visible_on_the_next_read, |app| {
    let f = fixtures::load(app).await;
    let path = format!("/api/v1/shows/{}/seats", f.noon);
    for (label, state) in [("A1", "booked"), ("A1", "available"), ("C2", "blocked")] {
        let _warm = app.get_ok(&path).await;
        fixtures::set_seat(app, &f.noon, label, state, None).await;
        let map = app.get_ok(&path).await;
        assert_eq!(seat(&map, label)["state"], state, "{label} after write");
    }
    // Other shows' maps are unaffected.
    let other = app
        .get_ok(&format!("/api/v1/shows/{}/seats", f.evening))
        .await;
    assert_eq!(other["availability"]["available"], 10);
});

db_test!(seat_map_goes_off_sale_when_the_show_starts, |app| {
    let f = fixtures::load(app).await;
    let path = format!("/api/v1/shows/{}/seats", f.noon);
    assert_eq!(app.get_ok(&path).await["on_sale"], true);
    app.clock.set(
        chrono::DateTime::parse_from_rfc3339("2026-11-22T06:30:00Z")
            .unwrap()
            .to_utc(),
    );
    assert_eq!(app.get_ok(&path).await["on_sale"], false);
});

// ---------------------------------------------------------------------------------------
// Best available
// ---------------------------------------------------------------------------------------

async fn best(
    app: &crate::helpers::TestApp,
    show: &marquee::ids::ShowId,
    body: Value,
) -> reqwest::Response {
    crate::helpers::send(
        app,
        reqwest::Method::POST,
        &format!("/api/v1/shows/{show}/best-available"),
        None,
        Some(body),
    )
    .await
}

async fn best_ok(
    app: &crate::helpers::TestApp,
    show: &marquee::ids::ShowId,
    body: Value,
) -> (Vec<String>, bool, u64) {
    let response = best(app, show, body.clone()).await;
    assert_eq!(response.status(), 200, "{body}");
    let proposal: Value = response.json().await.unwrap();
    let labels = proposal["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap().to_owned())
        .collect();
    (
        labels,
        proposal["together"].as_bool().unwrap(),
        proposal["stranded"].as_u64().unwrap(),
    )
}

db_test!(
    best_available_proposes_neighbours_nearest_the_focal_point,
    |app| {
        use crate::booking::{customer, hold_ok};
        use crate::helpers::assert_problem;
        let f = fixtures::load(app).await;
        // Rows A and B: two pairs split by an aisle; row C: C1 (accessible) C2, one column in.
        // The focal point is between rows B and C on the centre column, where C1–C2 sit.
        let (seats, together, stranded) = best_ok(app, &f.noon, json!({"count": 2})).await;
        assert_eq!(
            (seats, together, stranded),
            (vec!["C1".into(), "C2".into()], true, 0)
        );
        let response = best(app, &f.noon, json!({"count": 2, "category": "premium"})).await;
        let proposal: Value = response.json().await.unwrap();
        assert_eq!(
            proposal["seats"][0],
            json!({"label": "B1", "row": "B", "grid_row": 1, "grid_col": 0, "category": "premium",
            "state": "available", "price": {"amount": 25000, "currency": "INR"}, "accessible": false})
        );
        assert_eq!(proposal["seats"][1]["label"], "B2");
        // Four: no block that long, so the four of row B (nearer than row A), not together.
        assert_eq!(
            best_ok(app, &f.noon, json!({"count": 4})).await,
            (
                vec!["B1".into(), "B2".into(), "B3".into(), "B4".into()],
                false,
                0
            )
        );
        // One regular seat always strands its pair's other seat: the inner seat, left first.
        assert_eq!(
            best_ok(app, &f.noon, json!({"count": 1, "category": "regular"})).await,
            (vec!["A2".into()], true, 1)
        );
        assert_eq!(
            best_ok(app, &f.noon, json!({"count": 2, "accessible": true})).await,
            (vec!["C1".into(), "C2".into()], true, 0)
        );

        // Held seats are not proposed; the proposal follows the seat map.
        let ana = customer(app, "ana@example.com").await;
        hold_ok(app, &ana, &f.noon, &["C2", "B1"]).await;
        assert_eq!(
            best_ok(app, &f.noon, json!({"count": 2})).await,
            (vec!["B3".into(), "B4".into()], true, 0)
        );
        assert_eq!(
            best_ok(app, &f.noon, json!({"count": 1, "accessible": true})).await,
            (vec!["C1".into()], true, 0)
        );
        let problem = assert_problem(
            best(app, &f.noon, json!({"count": 2, "accessible": true})).await,
            409,
            "no-seats-to-propose",
        )
        .await;
        assert_eq!(
            problem["detail"],
            "no proposal: the show has not 2 free seats together, one of them accessible"
        );
        assert_problem(
            best(app, &f.noon, json!({"count": 3, "category": "recliner"})).await,
            409,
            "no-seats-to-propose",
        )
        .await;

        // Bad requests.
        for (body, status, code) in [
            (json!({"count": 0}), 422, "invalid-booking"),
            (json!({"count": 11}), 422, "invalid-booking"),
            (
                json!({"count": 2, "category": "balcony"}),
                400,
                "invalid-body",
            ),
            (json!({"count": 2, "seats": ["A1"]}), 400, "invalid-body"),
            (json!({}), 400, "invalid-body"),
        ] {
            assert_problem(best(app, &f.noon, body).await, status, code).await;
        }
        let missing = marquee::ids::ShowId::generate();
        assert_problem(
            best(app, &missing, json!({"count": 1})).await,
            404,
            "not-found",
        )
        .await;

        // Once the show has started nothing is proposed.
        app.clock.set(
            chrono::DateTime::parse_from_rfc3339("2026-11-22T07:00:00Z")
                .unwrap()
                .into(),
        );
        assert_problem(
            best(app, &f.noon, json!({"count": 1})).await,
            409,
            "show-not-on-sale",
        )
        .await;
    }
);

crate::db_test_with!(
    best_available_proposes_seats_whose_hold_lapsed_though_its_map_was_cached_before,
    |config| {
        // Nothing writes when the hold lapses: only the clock moves.
        config.booking.sweep_interval_ms = 0;
    },
    |app| {
        use crate::booking::{customer, hold_ok};
        use crate::helpers::assert_problem;
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        hold_ok(
            app,
            &ana,
            &f.noon,
            &["A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4"],
        )
        .await;
        // The seat map is cached with two free seats.
        assert_problem(
            best(app, &f.noon, json!({"count": 3})).await,
            409,
            "no-seats-to-propose",
        )
        .await;
        app.clock.advance(chrono::Duration::minutes(11));
        assert_eq!(
            best_ok(app, &f.noon, json!({"count": 4})).await,
            (
                vec!["B1".into(), "B2".into(), "B3".into(), "B4".into()],
                false,
                0
            )
        );
    }
);
