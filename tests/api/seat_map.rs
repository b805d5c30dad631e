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
