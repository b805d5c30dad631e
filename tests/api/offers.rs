//! Offers and quotes over HTTP: admin CRUD with role checks, the public listing by scope
//! and validity, and quotes whose afternoon window is judged in the theatre's local time.

use marquee::{
    catalog::store::{self as catalog, NewShow},
    identity::{model::Role, service},
    ids::{LayoutId, ScreenId, ShowId},
    time::Timestamp,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    db_test,
    fixtures::{self, Fixture, TESTPUR_PRICES},
    helpers::{TestApp, assert_problem, send, test_epoch},
};

const PASSWORD: &str = "correct horse battery";

pub async fn admin(app: &TestApp) -> String {
    let now = Timestamp::from_datetime(test_epoch());
    service::create_account(
        &app.db,
        "admin@example.com",
        PASSWORD,
        "Admin",
        Role::Admin,
        now,
    )
    .await
    .unwrap();
    let body: Value = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": "admin@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

fn third_ticket(city_ids: Vec<String>, theatre_ids: Vec<String>) -> Value {
    json!({
        "name": "Third ticket half price",
        "rule": {"kind": "nth_ticket", "every": 3, "percent_bp": 5000},
        "valid_from": "2026-11-01T00:00:00Z",
        "valid_until": "2026-12-01T00:00:00Z",
        "city_ids": city_ids,
        "theatre_ids": theatre_ids,
    })
}

fn afternoon(city_ids: Vec<String>) -> Value {
    json!({
        "name": "Afternoon 20% off",
        "rule": {"kind": "show_time_window", "from": "12:00:00", "until": "17:00:00", "percent_bp": 2000},
        "valid_from": "2026-11-01T00:00:00+05:30",
        "valid_until": "2026-12-01T00:00:00+05:30",
        "city_ids": city_ids,
    })
}

/// A Testpur show at Aurora starting at `utc`.
async fn show_at(app: &TestApp, f: &Fixture, key: &str, utc: &str) -> ShowId {
    let id = ShowId::derived(key);
    let starts_at =
        Timestamp::from_datetime(chrono::DateTime::parse_from_rfc3339(utc).unwrap().to_utc());
    let (screen, layout) = (
        ScreenId::derived(f.aurora.as_str()),
        LayoutId::derived(f.aurora.as_str()),
    );
    let ids = [
        id.to_string(),
        f.alpha.to_string(),
        screen.to_string(),
        layout.to_string(),
        f.aurora.to_string(),
        f.testpur.to_string(),
    ];
    app.db
        .write(move |tx| {
            let [id, movie, screen, layout, theatre, city] = &ids;
            let show = NewShow {
                id,
                movie_id: movie,
                screen_id: screen,
                layout_id: layout,
                theatre_id: theatre,
                city_id: city,
                starts_at,
                ends_at: starts_at.plus_minutes(120),
                language: "en",
                format: "2D",
                currency: "INR",
                prices: &TESTPUR_PRICES,
                external_id: None,
            };
            catalog::insert_show(tx, &show, starts_at)
        })
        .await
        .unwrap();
    id
}

async fn quote(app: &TestApp, show: &ShowId, seats: &[&str]) -> reqwest::Response {
    send(
        app,
        Method::POST,
        "/api/v1/quotes",
        None,
        Some(json!({"show_id": show.as_str(), "seats": seats})),
    )
    .await
}

db_test!(
    admins_manage_offers_and_the_public_sees_those_in_force,
    |app| {
        let f = fixtures::load(app).await;
        let token = admin(app).await;
        let created = send(
            app,
            Method::POST,
            "/api/v1/admin/offers",
            Some(&token),
            Some(third_ticket(vec![f.testpur.to_string()], vec![])),
        )
        .await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let created: Value = created.json().await.unwrap();
        let id = created["id"].as_str().unwrap().to_owned();
        assert_eq!(
            created["rule"],
            json!({"kind": "nth_ticket", "every": 3, "percent_bp": 5000})
        );
        assert_eq!(created["valid_until"], "2026-12-01T00:00:00Z");
        let rialto_only = third_ticket(vec![], vec![f.rialto.to_string()]);
        let west = send(
            app,
            Method::POST,
            "/api/v1/admin/offers",
            Some(&token),
            Some(rialto_only),
        )
        .await;
        assert_eq!(west.status(), StatusCode::CREATED);

        let listed = |query: String| async move {
            let list: Value = app.get_ok(&format!("/api/v1/offers{query}")).await;
            list.as_array()
                .unwrap()
                .iter()
                .map(|o| o["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(listed(String::new()).await.len(), 2);
        assert_eq!(
            listed(format!("?city_id={}", f.testpur)).await,
            vec![id.clone()]
        );
        assert_eq!(
            listed(format!("?theatre_id={}", f.bijou)).await,
            vec![id.clone()]
        );
        assert_eq!(
            listed(format!("?city_id={}", f.westville)).await.len(),
            1,
            "via its theatre"
        );
        assert!(
            listed(format!("?city_id={}", f.empty_city))
                .await
                .is_empty()
        );

        // Replace, then deactivate: gone from the public list, kept for admins.
        let mut changed = third_ticket(vec![f.testpur.to_string()], vec![]);
        changed["name"] = json!("Every second ticket 10% off");
        changed["rule"] = json!({"kind": "nth_ticket", "every": 2, "percent_bp": 1000});
        let replaced = send(
            app,
            Method::PUT,
            &format!("/api/v1/admin/offers/{id}"),
            Some(&token),
            Some(changed),
        )
        .await;
        assert_eq!(replaced.json::<Value>().await.unwrap()["rule"]["every"], 2);
        let off = send(
            app,
            Method::POST,
            &format!("/api/v1/admin/offers/{id}/deactivate"),
            Some(&token),
            None,
        )
        .await;
        assert_eq!(off.status(), StatusCode::NO_CONTENT);
        assert!(listed(format!("?city_id={}", f.testpur)).await.is_empty());
        let all: Value = send(app, Method::GET, "/api/v1/admin/offers", Some(&token), None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(all.as_array().unwrap().len(), 2);
        assert_eq!(all[0]["active"], false);

        // Expired offers are not listed.
        app.clock.set(
            chrono::DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
                .unwrap()
                .to_utc(),
        );
        assert!(listed(String::new()).await.is_empty());
    }
);

db_test!(invalid_offers_and_wrong_roles_are_refused, |app| {
    let f = fixtures::load(app).await;
    let token = admin(app).await;
    let cases = [
        (
            json!({"kind": "nth_ticket", "every": 0, "percent_bp": 5000}),
            "invalid-offer",
        ),
        (
            json!({"kind": "nth_ticket", "every": 3, "percent_bp": 10001}),
            "invalid-offer",
        ),
        (
            json!({"kind": "show_time_window", "from": "17:00:00", "until": "12:00:00", "percent_bp": 2000}),
            "invalid-offer",
        ),
    ];
    for (rule, code) in cases {
        let mut body = third_ticket(vec![], vec![]);
        body["rule"] = rule;
        assert_problem(
            send(
                app,
                Method::POST,
                "/api/v1/admin/offers",
                Some(&token),
                Some(body),
            )
            .await,
            422,
            code,
        )
        .await;
    }
    let mut reversed = third_ticket(vec![], vec![]);
    reversed["valid_until"] = json!("2026-10-01T00:00:00Z");
    assert_problem(
        send(
            app,
            Method::POST,
            "/api/v1/admin/offers",
            Some(&token),
            Some(reversed),
        )
        .await,
        422,
        "invalid-offer",
    )
    .await;
    let unknown_city = third_ticket(vec!["cty_00000000000000000000000000".into()], vec![]);
    assert_problem(
        send(
            app,
            Method::POST,
            "/api/v1/admin/offers",
            Some(&token),
            Some(unknown_city),
        )
        .await,
        422,
        "unknown-city",
    )
    .await;
    let missing = send(
        app,
        Method::PUT,
        "/api/v1/admin/offers/off_missing",
        Some(&token),
        Some(third_ticket(vec![], vec![])),
    )
    .await;
    assert_problem(missing, 404, "not-found").await;

    let now = Timestamp::from_datetime(test_epoch());
    service::create_account(&app.db, "c@example.com", PASSWORD, "C", Role::Customer, now)
        .await
        .unwrap();
    let customer: Value = send(
        app,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"email": "c@example.com", "password": PASSWORD})),
    )
    .await
    .json()
    .await
    .unwrap();
    let customer = customer["access_token"].as_str().unwrap();
    for (method, path) in [
        (Method::POST, "/api/v1/admin/offers"),
        (Method::GET, "/api/v1/admin/offers"),
        (Method::PUT, "/api/v1/admin/offers/off_x"),
        (Method::POST, "/api/v1/admin/offers/off_x/deactivate"),
    ] {
        assert_problem(
            send(app, method.clone(), path, None, Some(json!({}))).await,
            401,
            "unauthenticated",
        )
        .await;
        assert_problem(
            send(app, method, path, Some(customer), Some(json!({}))).await,
            403,
            "forbidden",
        )
        .await;
    }
    let _ = f;
});

db_test!(quotes_apply_offers_in_the_theatres_local_time, |app| {
    let f = fixtures::load(app).await;
    let token = admin(app).await;
    for body in [
        third_ticket(vec![f.testpur.to_string()], vec![]),
        afternoon(vec![f.testpur.to_string()]),
    ] {
        assert_eq!(
            send(
                app,
                Method::POST,
                "/api/v1/admin/offers",
                Some(&token),
                Some(body)
            )
            .await
            .status(),
            201
        );
    }
    // Testpur is UTC+05:30: 11:59 local is 06:29Z, 17:00 local is 11:30Z.
    let local = [
        ("11:59", "2026-11-23T06:29:00Z", 15_000),
        ("12:00", "2026-11-23T06:30:00Z", 12_000),
        ("16:59", "2026-11-23T11:29:00Z", 12_000),
        ("17:00", "2026-11-23T11:30:00Z", 15_000),
    ];
    for (name, utc, regular_price) in local {
        let show = show_at(app, &f, &format!("q/{name}"), utc).await;
        let response = quote(app, &show, &["A1"]).await;
        assert_eq!(response.status(), StatusCode::OK);
        let q: Value = response.json().await.unwrap();
        assert_eq!(
            q["lines"][0]["price"]["amount"], regular_price,
            "show at {name} local"
        );
    }

    // The noon show: recliner 45,050, premium 25,000 ×2, regular 15,000 — 20% off all,
    // then the third (the second premium) half price, then a 5% fee on each.
    let response = quote(app, &f.noon, &["A1", "B2", "C1", "B1"]).await;
    let q: Value = response.json().await.unwrap();
    let seats: Vec<&str> = q["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["seat"].as_str().unwrap())
        .collect();
    assert_eq!(seats, ["C1", "B1", "B2", "A1"]);
    let prices: Vec<i64> = q["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["price"]["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(prices, [36_040, 20_000, 10_000, 12_000]);
    let fees: Vec<i64> = q["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["fee"]["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(fees, [1_802, 1_000, 500, 600]);
    assert_eq!(
        q["base_total"],
        json!({"amount": 110_050, "currency": "INR"})
    );
    assert_eq!(q["discount_total"]["amount"], 32_010);
    assert_eq!(q["fee_total"]["amount"], 3_902);
    assert_eq!(q["total"], json!({"amount": 81_942, "currency": "INR"}));
    assert_eq!(q["lines"][2]["discounts"].as_array().unwrap().len(), 2);

    // The same seats in another order give the same quote.
    let again: Value = quote(app, &f.noon, &["B1", "C1", "A1", "B2"])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again, q);
    // Out of scope: Westville gets neither offer (only the fee).
    let west: Value = quote(app, &f.west, &["A1"]).await.json().await.unwrap();
    assert_eq!(west["discount_total"]["amount"], 0);
    assert_eq!(west["total"]["amount"], 1_260);

    assert_problem(quote(app, &f.noon, &[]).await, 422, "invalid-offer").await;
    assert_problem(
        quote(app, &f.noon, &["A1", "A1"]).await,
        422,
        "invalid-offer",
    )
    .await;
    let unknown = assert_problem(
        quote(app, &f.noon, &["A1", "Z9"]).await,
        422,
        "unknown-seats",
    )
    .await;
    assert_eq!(unknown["seats"], json!(["Z9"]));
    let missing = ShowId::derived("nope");
    assert_problem(quote(app, &missing, &["A1"]).await, 404, "not-found").await;
});
