//! Booking over HTTP: holds at the quoted price, refusals that hold nothing, expiry by the
//! clock (with and without the sweeper), cancellation and its cutoff, bulk booking and bulk
//! cancellation, history, partner show cancellation, signed tickets, idempotency keys, and
//! races where many customers want the same seats. Payments have their own file
//! (`payments.rs`) and share the helpers below.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, Instant},
};

use marquee::{
    identity::{model::Role, service, store as identity_store},
    ids::{PartnerOrgId, ShowId},
    time::Timestamp,
};
use rand::{Rng, SeedableRng, rngs::SmallRng};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::{
    db_test, fixtures,
    helpers::{TestApp, assert_problem, send, test_epoch},
};

pub const PASSWORD: &str = "correct horse battery";

/// Like `db_test!`, with the app's configuration changed before it starts.
#[macro_export]
macro_rules! db_test_with {
    ($name:ident, |$config:ident| $configure:block, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn configure($config: &mut marquee::config::Config) $configure

            async fn run($app: &$crate::helpers::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(app) =
                    $crate::helpers::TestApp::spawn_with(marquee::db::Engine::Sqlite, configure).await
                {
                    run(&app).await;
                    app.stop().await;
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) =
                    $crate::helpers::TestApp::spawn_with(marquee::db::Engine::Postgres, configure).await
                {
                    run(&app).await;
                    app.stop().await;
                }
            }
        }
    };
}

// ---------------------------------------------------------------------------------------
// Helpers shared with payments.rs
// ---------------------------------------------------------------------------------------

pub fn inr(amount: i64) -> Value {
    json!({"amount": amount, "currency": "INR"})
}

/// A fresh access token for `email` (tokens expire 15 minutes after login by the app's
/// clock, so tests that move time far log in again).
pub async fn login(app: &TestApp, email: &str) -> String {
    login_with(app, email, PASSWORD).await
}

pub async fn login_with(app: &TestApp, email: &str, password: &str) -> String {
    let response = send(
        app,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"email": email, "password": password})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK, "login {email}");
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// Registers a customer through the public API and logs in.
pub async fn customer(app: &TestApp, email: &str) -> String {
    let response = send(
        app,
        Method::POST,
        "/api/v1/auth/register",
        None,
        Some(json!({"email": email, "password": PASSWORD, "display_name": "Cust"})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED, "register {email}");
    login(app, email).await
}

async fn partner_in(app: &TestApp, org: &PartnerOrgId, email: &str, new_org: bool) -> String {
    let now = Timestamp::from_datetime(test_epoch());
    let account = service::create_account(&app.db, email, PASSWORD, "Pat", Role::Partner, now)
        .await
        .unwrap();
    let (org, user) = (org.to_string(), account.id.to_string());
    app.db
        .write(move |tx| {
            if new_org {
                identity_store::insert_approved_org(tx, &org, "Other Org", now)?;
            }
            identity_store::add_member(tx, &org, &user)
        })
        .await
        .unwrap();
    login(app, email).await
}

/// A partner of the organisation that owns every fixture theatre (and so every show).
pub async fn owning_partner(app: &TestApp, email: &str) -> String {
    partner_in(app, &PartnerOrgId::derived("test/org"), email, false).await
}

/// A partner of another approved organisation, owning nothing.
pub async fn other_partner(app: &TestApp, email: &str) -> String {
    partner_in(app, &PartnerOrgId::derived("test/other-org"), email, true).await
}

pub async fn hold(app: &TestApp, token: &str, show: &ShowId, seats: &[&str]) -> Response {
    send(
        app,
        Method::POST,
        "/api/v1/bookings",
        Some(token),
        Some(json!({"show_id": show.as_str(), "seats": seats})),
    )
    .await
}

/// Holds seats, which must succeed; returns the booking.
pub async fn hold_ok(app: &TestApp, token: &str, show: &ShowId, seats: &[&str]) -> Value {
    let response = hold(app, token, show, seats).await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "hold {seats:?}: {body}");
    serde_json::from_str(&body).unwrap()
}

pub fn id_of(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

pub async fn get_booking(app: &TestApp, token: &str, id: &str) -> Value {
    let response = send(
        app,
        Method::GET,
        &format!("/api/v1/bookings/{id}"),
        Some(token),
        None,
    )
    .await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "GET booking {id}: {body}");
    serde_json::from_str(&body).unwrap()
}

pub async fn pay(app: &TestApp, token: &str, booking: &str, card: &str) -> Response {
    send(
        app,
        Method::POST,
        &format!("/api/v1/bookings/{booking}/payments"),
        Some(token),
        Some(json!({"card_token": card})),
    )
    .await
}

/// Starts a payment, which must be accepted; returns the payment.
pub async fn pay_ok(app: &TestApp, token: &str, booking: &str, card: &str) -> Value {
    let response = pay(app, token, booking, card).await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(
        status,
        StatusCode::CREATED,
        "pay {booking} with {card}: {body}"
    );
    serde_json::from_str(&body).unwrap()
}

pub async fn cancel(app: &TestApp, token: &str, booking: &str) -> Response {
    send(
        app,
        Method::POST,
        &format!("/api/v1/bookings/{booking}/cancel"),
        Some(token),
        None,
    )
    .await
}

/// Polls `GET /bookings/{id}` every 20 ms for up to 10 s until `done` holds.
pub async fn wait_for(
    app: &TestApp,
    token: &str,
    id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    // Generous: it returns as soon as the booking is there, and a loaded machine (CI
    // beside other work) can take seconds to deliver a webhook.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let booking = get_booking(app, token, id).await;
        if done(&booking) {
            return booking;
        }
        assert!(
            Instant::now() < deadline,
            "booking {id} is still not {what} after 30 s: {booking}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn wait_for_status(app: &TestApp, token: &str, id: &str, status: &str) -> Value {
    wait_for(app, token, id, status, |b| b["status"] == status).await
}

/// The payment `payment_id` as listed in `booking`.
pub fn payment_in<'a>(booking: &'a Value, payment_id: &str) -> &'a Value {
    booking["payments"]
        .as_array()
        .expect("payments")
        .iter()
        .find(|p| p["id"] == payment_id)
        .unwrap_or_else(|| panic!("payment {payment_id} in {booking}"))
}

/// Waits until the payment `payment_id` of the booking has `status`.
pub async fn wait_for_payment(
    app: &TestApp,
    token: &str,
    booking: &str,
    payment_id: &str,
    status: &str,
) -> Value {
    wait_for(
        app,
        token,
        booking,
        &format!("with payment {payment_id} {status}"),
        |b| {
            b["payments"].as_array().is_some_and(|ps| {
                ps.iter()
                    .any(|p| p["id"] == payment_id && p["status"] == status)
            })
        },
    )
    .await
}

/// Holds and pays with `tok_visa`, waiting for the confirmation; returns the booking.
pub async fn confirmed(app: &TestApp, token: &str, show: &ShowId, seats: &[&str]) -> Value {
    let booking = hold_ok(app, token, show, seats).await;
    let id = id_of(&booking);
    pay_ok(app, token, &id, "tok_visa").await;
    wait_for_status(app, token, &id, "confirmed").await
}

pub async fn seat_map(app: &TestApp, show: &ShowId) -> Value {
    app.get_ok(&format!("/api/v1/shows/{show}/seats")).await
}

pub fn seat_state(map: &Value, label: &str) -> String {
    map["seats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["label"] == label)
        .map(|s| s["state"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("seat {label}"))
}

/// States of `labels` on the show's public seat map.
pub async fn states(app: &TestApp, show: &ShowId, labels: &[&str]) -> Vec<String> {
    let map = seat_map(app, show).await;
    labels.iter().map(|l| seat_state(&map, l)).collect()
}

pub async fn history(app: &TestApp, token: &str) -> Value {
    let response = send(app, Method::GET, "/api/v1/bookings", Some(token), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

pub fn ids(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_owned())
        .collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("an array: {value}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Base prices of the fixture's Testpur shows by row.
fn base_price(seat: &str) -> (&'static str, i64) {
    match &seat[..1] {
        "A" => ("regular", 15_000),
        "B" => ("premium", 25_000),
        "C" => ("recliner", 45_050),
        _ => panic!("no such row: {seat}"),
    }
}

/// The quote of `seats` on a Testpur fixture show with no offers in force: lines in canonical
/// order (price desc, then label), the default 5% convenience fee rounded half up per ticket.
pub fn expected_quote(seats: &[&str]) -> Value {
    let mut ordered: Vec<&str> = seats.to_vec();
    ordered.sort_by(|a, b| base_price(b).1.cmp(&base_price(a).1).then(a.cmp(b)));
    let (mut base_total, mut fee_total) = (0, 0);
    let lines: Vec<Value> = ordered
        .iter()
        .map(|seat| {
            let (category, base) = base_price(seat);
            let fee = (base * 500 + 5_000) / 10_000;
            base_total += base;
            fee_total += fee;
            json!({"seat": seat, "category": category, "base": inr(base), "rules": [],
                   "list_price": inr(base), "discounts": [],
                   "price": inr(base), "fee": inr(fee), "total": inr(base + fee)})
        })
        .collect();
    json!({"lines": lines, "base_total": inr(base_total), "rule_total": inr(0), "discount_total": inr(0),
           "fee_total": inr(fee_total), "total": inr(base_total + fee_total)})
}

/// A POST with an `Idempotency-Key` and a raw JSON body (to vary whitespace and key order).
pub async fn post_keyed(
    app: &TestApp,
    path: &str,
    token: &str,
    key: &str,
    raw_body: &str,
) -> Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .header("content-type", "application/json")
        .body(raw_body.to_owned())
        .send()
        .await
        .unwrap()
}

pub fn replayed(response: &Response) -> Option<String> {
    response
        .headers()
        .get("idempotent-replayed")
        .map(|v| v.to_str().unwrap().to_owned())
}

fn utc(text: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

// ---------------------------------------------------------------------------------------
// Holds
// ---------------------------------------------------------------------------------------

db_test!(
    a_hold_takes_the_seats_for_five_minutes_at_the_quoted_price,
    |app| {
        let f = fixtures::load(app).await;
        let token = customer(app, "ana@example.com").await;
        let response = hold(app, &token, &f.noon, &["A1", "C1", "B1"]).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let booking: Value = response.json().await.unwrap();

        let id = id_of(&booking);
        assert!(id.starts_with("bkg_"), "{id}");
        assert_eq!(booking["status"], "pending_payment");
        assert_eq!(booking["show_id"], f.noon.as_str());
        assert_eq!(booking["group_id"], Value::Null);
        assert_eq!(booking["seats"], json!(["C1", "B1", "A1"]));
        assert_eq!(booking["starts_at"], "2026-11-22T06:30:00Z");
        assert_eq!(booking["created_at"], "2026-11-22T03:30:00Z");
        assert_eq!(booking["expires_at"], "2026-11-22T03:35:00Z");
        assert_eq!(booking["confirmed_at"], Value::Null);
        assert_eq!(booking["cancelled_at"], Value::Null);
        assert_eq!(booking["refund"], Value::Null);
        assert_eq!(booking["payments"], json!([]));
        // C1 45,050 + 2,253 fee (2,252.5 rounded up), B1 25,000 + 1,250, A1 15,000 + 750.
        let quote = &booking["quote"];
        assert_eq!(quote["base_total"], inr(85_050));
        assert_eq!(quote["discount_total"], inr(0));
        assert_eq!(quote["fee_total"], inr(4_253));
        assert_eq!(quote["total"], inr(89_303));
        assert_eq!(booking["total"], inr(89_303));
        assert_eq!(*quote, expected_quote(&["A1", "B1", "C1"]));
        // The same as the public quote for those seats.
        let public: Value = send(
            app,
            Method::POST,
            "/api/v1/quotes",
            None,
            Some(json!({"show_id": f.noon.as_str(), "seats": ["B1", "A1", "C1"]})),
        )
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(*quote, public);

        let map = seat_map(app, &f.noon).await;
        for label in ["A1", "B1", "C1"] {
            assert_eq!(seat_state(&map, label), "held", "{label}");
        }
        assert_eq!(seat_state(&map, "A2"), "available");
        assert_eq!(map["availability"]["available"], 7);

        assert_eq!(get_booking(app, &token, &id).await, booking);
        let listed = history(app, &token).await;
        assert_eq!(listed, json!({"items": [booking], "next_cursor": null}));
    }
);

db_test!(a_seat_taken_by_another_refuses_the_whole_hold, |app| {
    let f = fixtures::load(app).await;
    let ana = customer(app, "ana@example.com").await;
    let bob = customer(app, "bob@example.com").await;
    hold_ok(app, &ana, &f.noon, &["A1", "A2"]).await;
    fixtures::set_seat(app, &f.noon, "C2", "blocked", None).await;
    fixtures::set_seat(app, &f.noon, "B4", "withheld", None).await;

    let refused = hold(app, &bob, &f.noon, &["A3", "A2", "A1"]).await;
    let problem = assert_problem(refused, 409, "seat-unavailable").await;
    assert_eq!(sorted(strings(&problem["seats"])), ["A1", "A2"]);
    // All or none: the free seat of the request was not held.
    assert_eq!(
        states(app, &f.noon, &["A1", "A2", "A3"]).await,
        ["held", "held", "available"]
    );
    for (seats, taken) in [
        (vec!["C2", "C1"], vec!["C2"]),
        (vec!["B3", "B4"], vec!["B4"]),
    ] {
        let problem = assert_problem(
            hold(app, &bob, &f.noon, &seats).await,
            409,
            "seat-unavailable",
        )
        .await;
        assert_eq!(strings(&problem["seats"]), taken, "{seats:?}");
    }
    assert_eq!(
        states(app, &f.noon, &["A3", "B3", "C1"]).await,
        ["available", "available", "available"]
    );
    assert_eq!(history(app, &bob).await["items"], json!([]));
    // The same customer cannot hold their own held seats twice either.
    assert_problem(
        hold(app, &ana, &f.noon, &["A1"]).await,
        409,
        "seat-unavailable",
    )
    .await;
    assert_eq!(
        history(app, &ana).await["items"].as_array().unwrap().len(),
        1
    );
});

db_test!(malformed_holds_are_refused_and_hold_nothing, |app| {
    let f = fixtures::load(app).await;
    let token = customer(app, "ana@example.com").await;
    let unknown = assert_problem(
        hold(app, &token, &f.noon, &["A1", "Z9", "D1"]).await,
        422,
        "unknown-seats",
    )
    .await;
    assert_eq!(sorted(strings(&unknown["seats"])), ["D1", "Z9"]);
    let all_ten = ["A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4", "C1", "C2"];
    let mut eleven = all_ten.to_vec();
    eleven.push("A1");
    for seats in [vec![], vec!["A1", "A1"], vec!["B2", "A1", "B2"], eleven] {
        assert_problem(
            hold(app, &token, &f.noon, &seats).await,
            422,
            "invalid-booking",
        )
        .await;
    }
    let missing = ShowId::derived("test/no-such-show");
    assert_problem(hold(app, &token, &missing, &["A1"]).await, 404, "not-found").await;
    assert_problem(
        hold(app, &token, &f.started, &["A1"]).await,
        409,
        "show-not-on-sale",
    )
    .await;
    assert_problem(
        hold(app, &token, &f.cancelled, &["A1"]).await,
        409,
        "show-not-on-sale",
    )
    .await;
    assert_eq!(history(app, &token).await["items"], json!([]));
    assert_eq!(
        seat_map(app, &f.noon).await["availability"]["available"],
        10
    );

    // Ten seats, the whole show, is within the limit.
    let whole = hold_ok(app, &token, &f.evening, &all_ten).await;
    assert_eq!(whole["seats"].as_array().unwrap().len(), 10);
    assert_eq!(
        seat_map(app, &f.evening).await["availability"]["available"],
        0
    );
});

db_test_with!(
    a_hold_above_max_seats_is_refused,
    |config| {
        config.booking.max_seats = 2;
    },
    |app| {
        let f = fixtures::load(app).await;
        let token = customer(app, "ana@example.com").await;
        assert_problem(
            hold(app, &token, &f.noon, &["A1", "A2", "A3"]).await,
            422,
            "invalid-booking",
        )
        .await;
        assert_eq!(
            seat_map(app, &f.noon).await["availability"]["available"],
            10
        );
        hold_ok(app, &token, &f.noon, &["A1", "A2"]).await;
    }
);

db_test!(bookings_belong_to_customers_only, |app| {
    let f = fixtures::load(app).await;
    let ana = customer(app, "ana@example.com").await;
    let bob = customer(app, "bob@example.com").await;
    let partner = owning_partner(app, "pat@example.com").await;
    let booking = hold_ok(app, &ana, &f.noon, &["A1"]).await;
    let id = id_of(&booking);

    let body = json!({"show_id": f.noon.as_str(), "seats": ["A2"]});
    assert_problem(
        send(
            app,
            Method::POST,
            "/api/v1/bookings",
            None,
            Some(body.clone()),
        )
        .await,
        401,
        "unauthenticated",
    )
    .await;
    assert_problem(
        send(
            app,
            Method::POST,
            "/api/v1/bookings",
            Some("garbage"),
            Some(body.clone()),
        )
        .await,
        401,
        "unauthenticated",
    )
    .await;
    assert_problem(
        send(
            app,
            Method::POST,
            "/api/v1/bookings",
            Some(&partner),
            Some(body),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        send(app, Method::GET, "/api/v1/bookings", None, None).await,
        401,
        "unauthenticated",
    )
    .await;
    assert_problem(
        send(app, Method::GET, "/api/v1/bookings", Some(&partner), None).await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(states(app, &f.noon, &["A2"]).await, ["available"]);

    // Another customer's booking does not exist for them, whatever they try.
    let path = format!("/api/v1/bookings/{id}");
    assert_problem(
        send(app, Method::GET, &path, Some(&bob), None).await,
        404,
        "not-found",
    )
    .await;
    assert_problem(pay(app, &bob, &id, "tok_visa").await, 404, "not-found").await;
    assert_problem(cancel(app, &bob, &id).await, 404, "not-found").await;
    assert_problem(
        send(
            app,
            Method::GET,
            &format!("{path}/ticket"),
            Some(&bob),
            None,
        )
        .await,
        404,
        "not-found",
    )
    .await;
    assert_problem(
        send(
            app,
            Method::GET,
            "/api/v1/bookings/bkg_00000000000000000000000000",
            Some(&ana),
            None,
        )
        .await,
        404,
        "not-found",
    )
    .await;
    assert_eq!(history(app, &bob).await["items"], json!([]));
    // Nothing happened to it.
    assert_eq!(get_booking(app, &ana, &id).await, booking);
});

// ---------------------------------------------------------------------------------------
// Expiry
// ---------------------------------------------------------------------------------------

db_test_with!(
    an_expired_hold_frees_its_seats_before_the_sweeper_runs,
    |config| {
        config.booking.sweep_interval_ms = 0;
    },
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        let bob = customer(app, "bob@example.com").await;
        let first = hold_ok(app, &ana, &f.noon, &["B1", "B2"]).await;
        let other = hold_ok(app, &ana, &f.noon, &["A3"]).await;
        let (first_id, other_id) = (id_of(&first), id_of(&other));
        assert_eq!(first["expires_at"], "2026-11-22T03:35:00Z");

        // One second before expiry the hold still blocks.
        app.clock.advance(chrono::Duration::seconds(299));
        assert_problem(
            hold(app, &bob, &f.noon, &["B2", "B3"]).await,
            409,
            "seat-unavailable",
        )
        .await;
        // Past expires_at the seats are free though nothing has swept them.
        app.clock.advance(chrono::Duration::seconds(2));
        let second = hold_ok(app, &bob, &f.noon, &["B2", "B1"]).await;
        let second_id = id_of(&second);
        assert_eq!(second["expires_at"], "2026-11-22T03:40:01Z");
        assert_eq!(
            states(app, &f.noon, &["B1", "B2", "A3"]).await,
            ["held", "held", "available"]
        );
        // Paying a lapsed hold is refused even before the sweeper marks it.
        assert_problem(
            pay(app, &ana, &other_id, "tok_visa").await,
            409,
            "booking-expired",
        )
        .await;

        let swept = marquee::booking::sweeper::sweep_once(&app.state)
            .await
            .expect("sweep");
        assert_eq!(swept, 2, "both of Ana's lapsed holds");
        for id in [&first_id, &other_id] {
            assert_eq!(get_booking(app, &ana, id).await["status"], "expired");
        }
        // The sweep did not release the seats Bob holds now.
        let bobs = get_booking(app, &bob, &second_id).await;
        assert_eq!(bobs["status"], "pending_payment");
        assert_eq!(
            states(app, &f.noon, &["B1", "B2", "A3"]).await,
            ["held", "held", "available"]
        );
        assert_problem(
            hold(app, &ana, &f.noon, &["B1"]).await,
            409,
            "seat-unavailable",
        )
        .await;
        assert_eq!(
            marquee::booking::sweeper::sweep_once(&app.state)
                .await
                .expect("sweep"),
            0
        );

        assert_problem(
            pay(app, &ana, &first_id, "tok_visa").await,
            409,
            "booking-expired",
        )
        .await;
        assert_problem(
            cancel(app, &ana, &first_id).await,
            409,
            "booking-not-cancellable",
        )
        .await;
        // Bob's booking is whole: he can pay for it.
        pay_ok(app, &bob, &second_id, "tok_visa").await;
        wait_for_status(app, &bob, &second_id, "confirmed").await;
        assert_eq!(
            states(app, &f.noon, &["B1", "B2"]).await,
            ["booked", "booked"]
        );
    }
);

db_test_with!(
    a_show_whose_holds_collide_refuses_taken_seats_early_as_the_writer_would,
    |config| {
        config.booking.sweep_interval_ms = 0;
    },
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        let bob = customer(app, "bob@example.com").await;
        let show = f.noon.to_string();
        let contended = |app: &TestApp| {
            app.state
                .hold_contention
                .is_contended(&show, marquee::clock::Clock::now(&app.clock))
        };
        confirmed(app, &ana, &f.noon, &["C1"]).await;
        hold_ok(app, &ana, &f.noon, &["A1", "A2"]).await;
        fixtures::set_seat(app, &f.noon, "C2", "blocked", None).await;
        fixtures::set_seat(app, &f.noon, "B4", "withheld", None).await;
        assert!(!contended(app), "nothing has collided yet");

        // The writer refuses the first colliding hold, and the show is marked.
        let problem = assert_problem(
            hold(app, &bob, &f.noon, &["A2"]).await,
            409,
            "seat-unavailable",
        )
        .await;
        assert_eq!(strings(&problem["seats"]), ["A2"]);
        assert!(contended(app));

        // From now on taken seats are refused on the read path: the same answer (seats in
        // the quote's order, as the writer lists them), and nothing held.
        let asked_taken = [
            (vec!["A3", "A2", "A1"], vec!["A1", "A2"]),
            (vec!["C2", "B3", "C1"], vec!["C1", "C2"]),
            (vec!["B4"], vec!["B4"]),
        ];
        for (asked, taken) in &asked_taken {
            let problem = assert_problem(
                hold(app, &bob, &f.noon, asked).await,
                409,
                "seat-unavailable",
            )
            .await;
            assert_eq!(strings(&problem["seats"]), *taken, "{asked:?}");
            let mut asked: Vec<String> = asked.iter().map(|s| s.to_string()).collect();
            asked.sort();
            let now = marquee::clock::Clock::now(&app.clock).as_millis();
            let read = marquee::booking::store::taken_seats(&app.db, &show, &asked, now)
                .await
                .unwrap();
            assert_eq!(read, *taken, "{asked:?}");
        }
        assert_eq!(
            states(app, &f.noon, &["A3", "B3"]).await,
            ["available", "available"]
        );
        assert_eq!(history(app, &bob).await["items"], json!([]));
        // Free seats still go through the writer and are held.
        hold_ok(app, &bob, &f.noon, &["B3"]).await;

        // The mark lapses a few seconds after the last collision.
        app.clock.advance(chrono::Duration::seconds(301));
        assert!(!contended(app));
        assert_problem(
            hold(app, &bob, &f.noon, &["C2"]).await,
            409,
            "seat-unavailable",
        )
        .await;
        assert!(contended(app));
        // Ana's hold has lapsed and nothing has swept it: the early check counts its seats
        // as free, and the writer gives them to Bob.
        let stored: Vec<String> = app
            .db
            .fetch_all(
                "SELECT state FROM show_seats WHERE show_id = $1 AND seat_label IN ('A1', 'A2')",
                marquee::params![&show],
            )
            .await
            .unwrap();
        assert_eq!(stored, ["held", "held"], "not swept");
        let held = hold_ok(app, &bob, &f.noon, &["A1", "A2"]).await;
        assert_eq!(sorted(strings(&held["seats"])), ["A1", "A2"]);
    }
);

db_test!(the_sweeper_expires_lapsed_holds_on_its_own, |app| {
    let f = fixtures::load(app).await;
    let ana = customer(app, "ana@example.com").await;
    let booking = hold_ok(app, &ana, &f.noon, &["C1"]).await;
    let id = id_of(&booking);
    app.clock.advance(chrono::Duration::seconds(301));
    // The default sweeper runs every second.
    let expired = wait_for_status(app, &ana, &id, "expired").await;
    assert_eq!(expired["seats"], json!(["C1"]));
    assert_eq!(states(app, &f.noon, &["C1"]).await, ["available"]);
    hold_ok(app, &ana, &f.noon, &["C1"]).await;
});

// ---------------------------------------------------------------------------------------
// Cancellation
// ---------------------------------------------------------------------------------------

db_test!(
    a_confirmed_booking_cancelled_in_time_is_refunded_less_fees,
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        let booking = confirmed(app, &ana, &f.noon, &["C1", "A1"]).await;
        let id = id_of(&booking);
        // C1 45,050 + 2,253, A1 15,000 + 750.
        assert_eq!(booking["total"], inr(63_053));
        let payment_id = booking["payments"][0]["id"].as_str().unwrap().to_owned();

        // The show starts 06:30; cancelling closes 120 minutes before, at 04:30.
        app.clock.set(utc("2026-11-22T04:29:00Z"));
        let ana = login(app, "ana@example.com").await;
        let response = cancel(app, &ana, &id).await;
        assert_eq!(response.status(), StatusCode::OK);
        let cancelled: Value = response.json().await.unwrap();
        assert_eq!(cancelled["id"], id.as_str());
        assert_eq!(cancelled["status"], "cancelled");
        assert_eq!(cancelled["cancelled_at"], "2026-11-22T04:29:00Z");
        assert_eq!(cancelled["confirmed_at"], booking["confirmed_at"]);
        assert_eq!(cancelled["refund"], inr(60_050), "total less the 3,003 fee");
        assert_eq!(cancelled["total"], inr(63_053));
        assert_eq!(
            states(app, &f.noon, &["C1", "A1"]).await,
            ["available", "available"]
        );
        let done = wait_for_payment(app, &ana, &id, &payment_id, "refunded").await;
        assert_eq!(done["status"], "cancelled");
        assert_eq!(done["refund"], inr(60_050));
        // The seats are for sale again.
        let bob = customer(app, "bob@example.com").await;
        hold_ok(app, &bob, &f.noon, &["C1", "A1"]).await;

        assert_problem(cancel(app, &ana, &id).await, 409, "booking-not-cancellable").await;
    }
);

db_test!(cancelling_inside_the_cutoff_is_refused, |app| {
    let f = fixtures::load(app).await;
    let ana = customer(app, "ana@example.com").await;
    let booking = confirmed(app, &ana, &f.noon, &["B3"]).await;
    let id = id_of(&booking);
    // 119 minutes before the 06:30 show.
    app.clock.set(utc("2026-11-22T04:31:00Z"));
    let ana = login(app, "ana@example.com").await;
    assert_problem(cancel(app, &ana, &id).await, 409, "cancellation-closed").await;
    let still = get_booking(app, &ana, &id).await;
    assert_eq!(still["status"], "confirmed");
    assert_eq!(still["refund"], Value::Null);
    assert_eq!(states(app, &f.noon, &["B3"]).await, ["booked"]);
});

db_test!(cancelling_a_hold_releases_its_seats_once, |app| {
    let f = fixtures::load(app).await;
    let ana = customer(app, "ana@example.com").await;
    let booking = hold_ok(app, &ana, &f.noon, &["B1", "B2"]).await;
    let id = id_of(&booking);
    let response = cancel(app, &ana, &id).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cancelled: Value = response.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["cancelled_at"], "2026-11-22T03:30:00Z");
    // Nothing was paid, so nothing is returned (`null`, or zero).
    assert!(
        cancelled["refund"].is_null() || cancelled["refund"] == inr(0),
        "refund of an unpaid hold: {}",
        cancelled["refund"]
    );
    assert_eq!(
        states(app, &f.noon, &["B1", "B2"]).await,
        ["available", "available"]
    );
    assert_problem(cancel(app, &ana, &id).await, 409, "booking-not-cancellable").await;
    assert_problem(
        pay(app, &ana, &id, "tok_visa").await,
        409,
        "booking-not-pending",
    )
    .await;
    let bob = customer(app, "bob@example.com").await;
    hold_ok(app, &bob, &f.noon, &["B2"]).await;
    assert_eq!(get_booking(app, &ana, &id).await["status"], "cancelled");
});

// ---------------------------------------------------------------------------------------
// History
// ---------------------------------------------------------------------------------------

db_test!(history_is_own_bookings_newest_first_in_pages, |app| {
    let f = fixtures::load(app).await;
    let ana = customer(app, "ana@example.com").await;
    let bob = customer(app, "bob@example.com").await;
    let mut made = Vec::new();
    for (show, seat) in [(&f.noon, "A1"), (&f.evening, "A1"), (&f.late, "B1")] {
        made.push(id_of(&hold_ok(app, &ana, show, &[seat]).await));
        app.clock.advance(chrono::Duration::seconds(1));
    }
    hold_ok(app, &bob, &f.noon, &["A2"]).await;
    made.reverse();

    let all = history(app, &ana).await;
    assert_eq!(ids(&all["items"]), made);
    assert_eq!(all["next_cursor"], Value::Null);

    let first = send(
        app,
        Method::GET,
        "/api/v1/bookings?limit=2",
        Some(&ana),
        None,
    )
    .await;
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.unwrap();
    assert_eq!(ids(&first["items"]), made[..2]);
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let second: Value = send(
        app,
        Method::GET,
        &format!("/api/v1/bookings?limit=2&cursor={}", encode(&cursor)),
        Some(&ana),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(ids(&second["items"]), made[2..]);
    assert_eq!(second["next_cursor"], Value::Null);
    assert_eq!(
        history(app, &bob).await["items"].as_array().unwrap().len(),
        1
    );
});

// ---------------------------------------------------------------------------------------
// Partner: show cancellation and the show's bookings
// ---------------------------------------------------------------------------------------

db_test!(
    a_partner_cancelling_a_show_cancels_and_refunds_its_bookings,
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        let bob = customer(app, "bob@example.com").await;
        let owner = owning_partner(app, "pat@example.com").await;
        let stranger = other_partner(app, "sam@example.com").await;
        // A1 15,000 + 750, B1 25,000 + 1,250.
        let paid = confirmed(app, &ana, &f.noon, &["A1", "B1"]).await;
        assert_eq!(paid["total"], inr(42_000));
        let payment_id = paid["payments"][0]["id"].as_str().unwrap().to_owned();
        let pending = hold_ok(app, &bob, &f.noon, &["C1"]).await;
        let elsewhere = hold_ok(app, &bob, &f.evening, &["C1"]).await;
        let path = format!("/api/v1/partner/shows/{}/cancel", f.noon);

        assert_problem(
            send(app, Method::POST, &path, Some(&stranger), None).await,
            404,
            "not-found",
        )
        .await;
        assert_problem(
            send(app, Method::POST, &path, Some(&ana), None).await,
            403,
            "forbidden",
        )
        .await;
        assert_problem(
            send(app, Method::POST, &path, None, None).await,
            401,
            "unauthenticated",
        )
        .await;
        assert_eq!(
            get_booking(app, &ana, &id_of(&paid)).await["status"],
            "confirmed"
        );

        let response = send(app, Method::POST, &path, Some(&owner), None).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({"show_id": f.noon.as_str(), "status": "cancelled", "bookings_cancelled": 2,
               "refunds": 1, "refunded_total": inr(42_000)})
        );
        let paid_now = get_booking(app, &ana, &id_of(&paid)).await;
        assert_eq!(paid_now["status"], "cancelled");
        assert_eq!(paid_now["refund"], inr(42_000), "fees included");
        let pending_now = get_booking(app, &bob, &id_of(&pending)).await;
        assert_eq!(pending_now["status"], "cancelled");
        assert!(pending_now["refund"].is_null() || pending_now["refund"] == inr(0));
        wait_for_payment(app, &ana, &id_of(&paid), &payment_id, "refunded").await;
        // Other shows are untouched.
        assert_eq!(
            get_booking(app, &bob, &id_of(&elsewhere)).await["status"],
            "pending_payment"
        );

        let again: Value = send(app, Method::POST, &path, Some(&owner), None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            again,
            json!({"show_id": f.noon.as_str(), "status": "cancelled", "bookings_cancelled": 0,
               "refunds": 0, "refunded_total": inr(0)})
        );
        assert_problem(
            hold(app, &bob, &f.noon, &["A4"]).await,
            409,
            "show-not-on-sale",
        )
        .await;
        assert_problem(
            cancel(app, &ana, &id_of(&paid)).await,
            409,
            "booking-not-cancellable",
        )
        .await;
    }
);

db_test!(partners_list_the_bookings_of_their_own_shows, |app| {
    let f = fixtures::load(app).await;
    let ana = customer(app, "ana@example.com").await;
    let bob = customer(app, "bob@example.com").await;
    let owner = owning_partner(app, "pat@example.com").await;
    let stranger = other_partner(app, "sam@example.com").await;
    let first = hold_ok(app, &ana, &f.noon, &["A1"]).await;
    app.clock.advance(chrono::Duration::seconds(1));
    let second = confirmed(app, &bob, &f.noon, &["B1", "B2"]).await;
    hold_ok(app, &ana, &f.evening, &["A1"]).await;
    let path = format!("/api/v1/partner/shows/{}/bookings", f.noon);

    let response = send(app, Method::GET, &path, Some(&owner), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let listed: Value = response.json().await.unwrap();
    assert_eq!(ids(&listed["items"]), [id_of(&second), id_of(&first)]);
    assert_eq!(listed["next_cursor"], Value::Null);
    assert_eq!(listed["items"][0]["status"], "confirmed");
    assert_eq!(listed["items"][0]["seats"], json!(["B1", "B2"]));
    assert_eq!(listed["items"][1]["status"], "pending_payment");

    let page: Value = send(
        app,
        Method::GET,
        &format!("{path}?limit=1"),
        Some(&owner),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(ids(&page["items"]), [id_of(&second)]);
    let cursor = page["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let rest: Value = send(
        app,
        Method::GET,
        &format!("{path}?limit=1&cursor={}", encode(&cursor)),
        Some(&owner),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(ids(&rest["items"]), [id_of(&first)]);
    assert_eq!(rest["next_cursor"], Value::Null);

    assert_problem(
        send(app, Method::GET, &path, Some(&stranger), None).await,
        404,
        "not-found",
    )
    .await;
    assert_problem(
        send(app, Method::GET, &path, Some(&ana), None).await,
        403,
        "forbidden",
    )
    .await;
    let none = format!("/api/v1/partner/shows/{}/bookings", f.late);
    let empty: Value = send(app, Method::GET, &none, Some(&owner), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(empty, json!({"items": [], "next_cursor": null}));
});

// ---------------------------------------------------------------------------------------
// Bulk booking and bulk cancellation
// ---------------------------------------------------------------------------------------

async fn bulk(app: &TestApp, token: &str, items: Value) -> Response {
    send(
        app,
        Method::POST,
        "/api/v1/bookings/bulk",
        Some(token),
        Some(json!({"items": items})),
    )
    .await
}

db_test!(a_bulk_booking_holds_seats_in_every_show_or_none, |app| {
    let f = fixtures::load(app).await;
    let ana = customer(app, "ana@example.com").await;
    let bob = customer(app, "bob@example.com").await;
    let response = bulk(
        app,
        &ana,
        json!([
            {"show_id": f.noon.as_str(), "seats": ["A2", "A1"]},
            {"show_id": f.evening.as_str(), "seats": ["B1"]},
        ]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let group: Value = response.json().await.unwrap();
    let group_id = group["group_id"].as_str().unwrap();
    assert!(group_id.starts_with("grp_"), "{group_id}");
    let bookings = group["bookings"].as_array().unwrap();
    assert_eq!(bookings.len(), 2);
    // Regular seats 2 × (15,000 + 750); a premium seat 25,000 + 1,250.
    assert_eq!(bookings[0]["show_id"], f.noon.as_str());
    assert_eq!(bookings[0]["seats"], json!(["A1", "A2"]));
    assert_eq!(bookings[0]["total"], inr(31_500));
    assert_eq!(bookings[0]["quote"], expected_quote(&["A1", "A2"]));
    assert_eq!(bookings[1]["show_id"], f.evening.as_str());
    assert_eq!(bookings[1]["seats"], json!(["B1"]));
    assert_eq!(bookings[1]["total"], inr(26_250));
    assert_eq!(group["total"], inr(57_750));
    for booking in bookings {
        assert_eq!(booking["status"], "pending_payment");
        assert_eq!(booking["group_id"], group_id);
        assert_eq!(booking["expires_at"], "2026-11-22T03:35:00Z");
        assert_eq!(get_booking(app, &ana, &id_of(booking)).await, *booking);
    }
    assert_eq!(states(app, &f.noon, &["A1", "A2"]).await, ["held", "held"]);
    assert_eq!(states(app, &f.evening, &["B1"]).await, ["held"]);
    assert_eq!(
        history(app, &ana).await["items"].as_array().unwrap().len(),
        2
    );
    // Each booking of the group is paid on its own.
    let noon_id = id_of(&bookings[0]);
    pay_ok(app, &ana, &noon_id, "tok_visa").await;
    wait_for_status(app, &ana, &noon_id, "confirmed").await;
    assert_eq!(
        get_booking(app, &ana, &id_of(&bookings[1])).await["status"],
        "pending_payment"
    );

    // One seat taken in the second show: nothing at all is held.
    hold_ok(app, &bob, &f.late, &["C1"]).await;
    let refused = bulk(
        app,
        &ana,
        json!([
            {"show_id": f.day3.as_str(), "seats": ["A3", "A4"]},
            {"show_id": f.late.as_str(), "seats": ["C2", "C1"]},
        ]),
    )
    .await;
    let problem = assert_problem(refused, 409, "seat-unavailable").await;
    assert_eq!(problem["seats"], json!([format!("{}:C1", f.late)]));
    assert_eq!(
        states(app, &f.day3, &["A3", "A4"]).await,
        ["available", "available"]
    );
    assert_eq!(states(app, &f.late, &["C2"]).await, ["available"]);
    assert_eq!(
        history(app, &ana).await["items"].as_array().unwrap().len(),
        2
    );

    // A show that is not on sale, or unknown seats, refuse everything as well.
    let refused = bulk(
        app,
        &ana,
        json!([
            {"show_id": f.day3.as_str(), "seats": ["A3"]},
            {"show_id": f.cancelled.as_str(), "seats": ["A1"]},
        ]),
    )
    .await;
    assert_problem(refused, 409, "show-not-on-sale").await;
    let refused = bulk(
        app,
        &ana,
        json!([
            {"show_id": f.day3.as_str(), "seats": ["A3"]},
            {"show_id": f.late.as_str(), "seats": ["Q7"]},
        ]),
    )
    .await;
    assert_problem(refused, 422, "unknown-seats").await;
    assert_eq!(states(app, &f.day3, &["A3"]).await, ["available"]);
    assert_eq!(
        history(app, &ana).await["items"].as_array().unwrap().len(),
        2
    );
});

db_test_with!(
    bulk_bookings_have_their_own_limits,
    |config| {
        config.booking.max_seats = 2;
        config.booking.bulk_max_seats = 3;
        config.booking.bulk_max_items = 2;
    },
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        let too_many_seats = json!([
            {"show_id": f.noon.as_str(), "seats": ["B1", "B2"]},
            {"show_id": f.evening.as_str(), "seats": ["A1", "A2"]},
        ]);
        let too_many_shows = json!([
            {"show_id": f.noon.as_str(), "seats": ["B1"]},
            {"show_id": f.evening.as_str(), "seats": ["A1"]},
            {"show_id": f.late.as_str(), "seats": ["A1"]},
        ]);
        let same_show_twice = json!([
            {"show_id": f.noon.as_str(), "seats": ["B1"]},
            {"show_id": f.noon.as_str(), "seats": ["B2"]},
        ]);
        let no_seats = json!([{"show_id": f.noon.as_str(), "seats": []}]);
        let seat_twice = json!([{"show_id": f.noon.as_str(), "seats": ["A1", "A1"]}]);
        for items in [
            too_many_seats,
            too_many_shows,
            same_show_twice,
            no_seats,
            seat_twice,
            json!([]),
        ] {
            assert_problem(bulk(app, &ana, items.clone()).await, 422, "invalid-booking").await;
        }
        assert_eq!(
            seat_map(app, &f.noon).await["availability"]["available"],
            10
        );
        assert_eq!(
            seat_map(app, &f.evening).await["availability"]["available"],
            10
        );
        assert_eq!(history(app, &ana).await["items"], json!([]));

        // Three seats in one show: above max_seats for a single booking, fine in bulk.
        let response = bulk(
            app,
            &ana,
            json!([{"show_id": f.noon.as_str(), "seats": ["A1", "A2", "A3"]}]),
        )
        .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let group: Value = response.json().await.unwrap();
        assert_eq!(group["bookings"][0]["seats"], json!(["A1", "A2", "A3"]));
        assert_eq!(group["total"], inr(47_250));
    }
);

db_test!(bulk_cancel_answers_each_booking_in_order, |app| {
    let f = fixtures::load(app).await;
    let ana = customer(app, "ana@example.com").await;
    let bob = customer(app, "bob@example.com").await;
    let paid = confirmed(app, &ana, &f.noon, &["B1"]).await;
    let pending = hold_ok(app, &ana, &f.evening, &["A1", "A2"]).await;
    let bobs = hold_ok(app, &bob, &f.late, &["A1"]).await;
    let missing = "bkg_00000000000000000000000000";
    let request = json!({"booking_ids": [
        id_of(&paid), id_of(&bobs), id_of(&pending), missing, id_of(&paid)
    ]});
    let response = send(
        app,
        Method::POST,
        "/api/v1/bookings/bulk-cancel",
        Some(&ana),
        Some(request),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);

    assert_eq!(results[0]["booking_id"], id_of(&paid).as_str());
    assert_eq!(results[0]["ok"], true);
    assert_eq!(results[0]["booking"]["status"], "cancelled");
    assert_eq!(
        results[0]["booking"]["refund"],
        inr(25_000),
        "less the 1,250 fee"
    );

    assert_eq!(results[1]["booking_id"], id_of(&bobs).as_str());
    assert_eq!(results[1]["ok"], false);
    assert_eq!(
        results[1]["problem"]["type"],
        "https://marquee.example/problems/not-found"
    );
    assert_eq!(results[1]["problem"]["status"], 404);

    assert_eq!(results[2]["booking_id"], id_of(&pending).as_str());
    assert_eq!(results[2]["ok"], true);
    assert_eq!(results[2]["booking"]["status"], "cancelled");

    assert_eq!(results[3]["booking_id"], missing);
    assert_eq!(results[3]["ok"], false);
    assert_eq!(
        results[3]["problem"]["type"],
        "https://marquee.example/problems/not-found"
    );
    assert_eq!(results[3]["problem"]["status"], 404);

    assert_eq!(results[4]["booking_id"], id_of(&paid).as_str());
    assert_eq!(results[4]["ok"], false);
    assert_eq!(
        results[4]["problem"]["type"],
        "https://marquee.example/problems/booking-not-cancellable"
    );
    assert_eq!(results[4]["problem"]["status"], 409);
    for failed in [&results[1], &results[3], &results[4]] {
        assert!(failed["problem"]["title"].is_string(), "{failed}");
        assert!(failed["problem"]["detail"].is_string(), "{failed}");
        assert!(failed.get("booking").is_none_or(Value::is_null), "{failed}");
    }

    assert_eq!(states(app, &f.noon, &["B1"]).await, ["available"]);
    assert_eq!(
        states(app, &f.evening, &["A1", "A2"]).await,
        ["available", "available"]
    );
    // Bob's booking is untouched.
    assert_eq!(
        get_booking(app, &bob, &id_of(&bobs)).await["status"],
        "pending_payment"
    );
    assert_eq!(states(app, &f.late, &["A1"]).await, ["held"]);
});

db_test_with!(
    bulk_cancel_has_a_cap,
    |config| {
        config.booking.bulk_cancel_max = 2;
    },
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        let mut held = Vec::new();
        for seat in ["A1", "A2", "A3"] {
            held.push(id_of(&hold_ok(app, &ana, &f.noon, &[seat]).await));
        }
        let response = send(
            app,
            Method::POST,
            "/api/v1/bookings/bulk-cancel",
            Some(&ana),
            Some(json!({"booking_ids": held})),
        )
        .await;
        assert_eq!(response.status().as_u16(), 422, "over bulk_cancel_max");
        assert_eq!(
            states(app, &f.noon, &["A1", "A2", "A3"]).await,
            ["held", "held", "held"]
        );
        let response = send(
            app,
            Method::POST,
            "/api/v1/bookings/bulk-cancel",
            Some(&ana),
            Some(json!({"booking_ids": held[..2]})),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
);

// ---------------------------------------------------------------------------------------
// Tickets
// ---------------------------------------------------------------------------------------

async fn ticket(app: &TestApp, token: &str, booking: &str) -> Response {
    send(
        app,
        Method::GET,
        &format!("/api/v1/bookings/{booking}/ticket"),
        Some(token),
        None,
    )
    .await
}

async fn verify(app: &TestApp, token: &str, code: &str) -> Response {
    send(
        app,
        Method::POST,
        "/api/v1/tickets/verify",
        Some(token),
        Some(json!({"code": code})),
    )
    .await
}

/// `code` with the first character of its signature part changed.
fn with_forged_signature(code: &str) -> String {
    let (rest, signature) = code.rsplit_once('.').unwrap();
    let mut chars: Vec<char> = signature.chars().collect();
    chars[0] = if chars[0] == 'A' { 'B' } else { 'A' };
    format!("{rest}.{}", chars.into_iter().collect::<String>())
}

db_test!(
    confirmed_bookings_have_tickets_their_theatre_can_verify,
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        let owner = owning_partner(app, "pat@example.com").await;
        let stranger = other_partner(app, "sam@example.com").await;
        let booking = confirmed(app, &ana, &f.noon, &["B2", "B1"]).await;
        let id = id_of(&booking);

        let response = ticket(app, &ana, &id).await;
        assert_eq!(response.status(), StatusCode::OK);
        let issued: Value = response.json().await.unwrap();
        assert_eq!(issued["booking_id"], id.as_str());
        assert_eq!(issued["show_id"], f.noon.as_str());
        assert_eq!(issued["seats"], json!(["B1", "B2"]));
        assert_eq!(issued["starts_at"], "2026-11-22T06:30:00Z");
        let code = issued["code"].as_str().unwrap().to_owned();
        let parts: Vec<&str> = code.split('.').collect();
        assert_eq!(parts.len(), 3, "{code}");
        assert_eq!(parts[0], "MQ1");
        let b64url = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        assert!(b64url(parts[1]) && b64url(parts[2]), "{code}");
        // The same ticket every time it is asked for.
        let again: Value = ticket(app, &ana, &id).await.json().await.unwrap();
        assert_eq!(again, issued);

        let response = verify(app, &owner, &code).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({"valid": true, "booking_id": id.as_str(), "show_id": f.noon.as_str(),
               "seats": ["B1", "B2"], "status": "confirmed"})
        );
        // An API key of the organisation verifies too.
        let key: Value = send(
            app,
            Method::POST,
            "/api/v1/partner/api-keys",
            Some(&owner),
            Some(json!({"name": "door scanner"})),
        )
        .await
        .json()
        .await
        .unwrap();
        let key = key["key"].as_str().unwrap();
        assert_eq!(
            verify(app, key, &code).await.json::<Value>().await.unwrap()["valid"],
            true
        );

        assert_problem(
            verify(app, &owner, &with_forged_signature(&code)).await,
            422,
            "invalid-ticket",
        )
        .await;
        let (_, payload, signature) = (parts[0], parts[1], parts[2]);
        let mut payload_chars: Vec<char> = payload.chars().collect();
        let middle = payload_chars.len() / 2;
        payload_chars[middle] = if payload_chars[middle] == 'x' {
            'y'
        } else {
            'x'
        };
        let forged_payload = format!(
            "MQ1.{}.{signature}",
            payload_chars.into_iter().collect::<String>()
        );
        for bad in [
            forged_payload.as_str(),
            "MQ1.bm90aGluZw.c2lnbmF0dXJl",
            "hello",
            "",
            &format!("MQ2.{payload}.{signature}"),
        ] {
            assert_problem(verify(app, &owner, bad).await, 422, "invalid-ticket").await;
        }
        assert_problem(verify(app, &stranger, &code).await, 404, "not-found").await;
        assert_problem(verify(app, &ana, &code).await, 403, "forbidden").await;
        assert_problem(
            send(
                app,
                Method::POST,
                "/api/v1/tickets/verify",
                None,
                Some(json!({"code": code})),
            )
            .await,
            401,
            "unauthenticated",
        )
        .await;

        // After cancellation the genuine code still reads, but is no longer valid.
        assert_eq!(cancel(app, &ana, &id).await.status(), StatusCode::OK);
        let response = verify(app, &owner, &code).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({"valid": false, "booking_id": id.as_str(), "show_id": f.noon.as_str(),
               "seats": ["B1", "B2"], "status": "cancelled"})
        );
        assert_problem(ticket(app, &ana, &id).await, 409, "ticket-unavailable").await;
    }
);

db_test!(unpaid_bookings_have_no_ticket, |app| {
    let f = fixtures::load(app).await;
    let ana = customer(app, "ana@example.com").await;
    let booking = hold_ok(app, &ana, &f.noon, &["A1"]).await;
    assert_problem(
        ticket(app, &ana, &id_of(&booking)).await,
        409,
        "ticket-unavailable",
    )
    .await;
});

db_test!(the_ticket_comes_as_a_qr_code_for_its_owner_only, |app| {
    let f = fixtures::load(app).await;
    let ana = customer(app, "ana@example.com").await;
    let bob = customer(app, "bob@example.com").await;
    let held = hold_ok(app, &ana, &f.noon, &["A1", "A2"]).await;
    let id = id_of(&held);
    let path = format!("/api/v1/bookings/{id}/ticket.svg");
    let svg = |token: String| {
        let path = path.clone();
        async move { send(app, Method::GET, &path, Some(&token), None).await }
    };
    assert_problem(svg(ana.clone()).await, 409, "ticket-unavailable").await;
    pay_ok(app, &ana, &id, "tok_visa").await;
    wait_for_status(app, &ana, &id, "confirmed").await;

    let response = svg(ana.clone()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    assert_eq!(response.headers()["cache-control"], "private, no-store");
    let body = response.text().await.unwrap();
    // The image is the QR code of exactly the code the JSON ticket carries.
    let code: Value = ticket(app, &ana, &id).await.json().await.unwrap();
    let code = code["code"].as_str().unwrap();
    assert_eq!(body, marquee::booking::tickets::qr_svg(code).unwrap());
    assert!(body.starts_with("<?xml") && body.contains("<svg"));

    assert_problem(svg(bob.clone()).await, 404, "not-found").await;
    let anonymous = send(
        app,
        Method::GET,
        &format!("/api/v1/bookings/{id}/ticket.svg"),
        None,
        None,
    )
    .await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
});

// ---------------------------------------------------------------------------------------
// Idempotency of holds
// ---------------------------------------------------------------------------------------

db_test!(
    a_repeated_hold_with_the_same_key_returns_the_stored_booking,
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        let bob = customer(app, "bob@example.com").await;
        let show = f.noon.as_str();
        let body = format!(r#"{{"show_id": "{show}", "seats": ["B1", "A1"]}}"#);
        // The same request: keys in another order, other whitespace.
        let same = format!(r#"{{"seats":["B1","A1"],"show_id":"{show}"}}"#);

        let first = post_keyed(app, "/api/v1/bookings", &ana, "hold-1", &body).await;
        assert_eq!(first.status(), StatusCode::CREATED);
        assert_eq!(replayed(&first), None);
        let first_body = first.text().await.unwrap();
        let booking: Value = serde_json::from_str(&first_body).unwrap();

        let again = post_keyed(app, "/api/v1/bookings", &ana, "hold-1", &same).await;
        let (status, again_replayed) = (again.status(), replayed(&again));
        let again_body = again.text().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{again_body}");
        assert_eq!(again_replayed.as_deref(), Some("true"));
        assert_eq!(again_body, first_body, "the stored response, byte for byte");
        assert_eq!(ids(&history(app, &ana).await["items"]), [id_of(&booking)]);
        assert_eq!(seat_map(app, &f.noon).await["availability"]["available"], 8);

        // The key with another request: refused, nothing held.
        let other = format!(r#"{{"show_id": "{show}", "seats": ["A2"]}}"#);
        assert_problem(
            post_keyed(app, "/api/v1/bookings", &ana, "hold-1", &other).await,
            422,
            "idempotency-key-reused",
        )
        .await;
        assert_eq!(states(app, &f.noon, &["A2"]).await, ["available"]);

        // Keys are per account: Bob's "hold-1" is his own request, never Ana's stored answer.
        let bobs_same = post_keyed(app, "/api/v1/bookings", &bob, "hold-1", &body).await;
        assert_eq!(replayed(&bobs_same), None);
        assert_problem(bobs_same, 409, "seat-unavailable").await;
        let bobs = post_keyed(app, "/api/v1/bookings", &bob, "hold-1", &other).await;
        assert_eq!(bobs.status(), StatusCode::CREATED);
        assert_eq!(replayed(&bobs), None);
        let bobs: Value = bobs.json().await.unwrap();
        assert_eq!(bobs["seats"], json!(["A2"]));
        assert_ne!(id_of(&bobs), id_of(&booking));
        assert_eq!(ids(&history(app, &bob).await["items"]), [id_of(&bobs)]);
        assert_eq!(ids(&history(app, &ana).await["items"]), [id_of(&booking)]);

        // The stored answer is replayed even after the booking moved on.
        assert_eq!(
            cancel(app, &ana, &id_of(&booking)).await.status(),
            StatusCode::OK
        );
        let later = post_keyed(app, "/api/v1/bookings", &ana, "hold-1", &body).await;
        assert_eq!(later.status(), StatusCode::CREATED);
        assert_eq!(replayed(&later).as_deref(), Some("true"));
        assert_eq!(later.text().await.unwrap(), first_body);
        assert_eq!(
            states(app, &f.noon, &["A1", "B1"]).await,
            ["available", "available"]
        );
    }
);

db_test!(
    a_refused_keyed_request_can_be_retried_and_bad_keys_are_400,
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        let bob = customer(app, "bob@example.com").await;
        let taken = hold_ok(app, &ana, &f.noon, &["C2"]).await;
        let body = format!(r#"{{"show_id": "{}", "seats": ["C2"]}}"#, f.noon);
        assert_problem(
            post_keyed(app, "/api/v1/bookings", &bob, "try-again", &body).await,
            409,
            "seat-unavailable",
        )
        .await;
        assert_eq!(
            cancel(app, &ana, &id_of(&taken)).await.status(),
            StatusCode::OK
        );
        let retried = post_keyed(app, "/api/v1/bookings", &bob, "try-again", &body).await;
        assert_eq!(retried.status(), StatusCode::CREATED);
        assert_eq!(replayed(&retried), None);

        let long = "k".repeat(256);
        for key in ["with space", long.as_str(), ""] {
            let body = format!(r#"{{"show_id": "{}", "seats": ["A1"]}}"#, f.noon);
            assert_problem(
                post_keyed(app, "/api/v1/bookings", &bob, key, &body).await,
                400,
                "invalid-idempotency-key",
            )
            .await;
        }
        assert_eq!(states(app, &f.noon, &["A1"]).await, ["available"]);
        let longest = "k".repeat(255);
        let body = format!(r#"{{"show_id": "{}", "seats": ["A1"]}}"#, f.noon);
        assert_eq!(
            post_keyed(app, "/api/v1/bookings", &bob, &longest, &body)
                .await
                .status(),
            StatusCode::CREATED
        );
    }
);

// ---------------------------------------------------------------------------------------
// Races
// ---------------------------------------------------------------------------------------

/// Registers `n` customers; returns their e-mail addresses and tokens.
pub async fn customers(app: &TestApp, n: usize) -> Vec<(String, String)> {
    let mut all = Vec::new();
    for i in 0..n {
        let email = format!("racer{i}@example.com");
        let token = customer(app, &email).await;
        all.push((email, token));
    }
    all
}

/// Sends every `(token, body)` to `POST path` at once from spawned tasks; returns each
/// answer's status and JSON body in request order.
pub async fn race(app: &TestApp, path: &str, requests: Vec<(String, Value)>) -> Vec<(u16, Value)> {
    race_with(app, Method::POST, path, requests).await
}

/// `race` with another method.
pub async fn race_with(
    app: &TestApp,
    method: Method,
    path: &str,
    requests: Vec<(String, Value)>,
) -> Vec<(u16, Value)> {
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(requests.len()));
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|(token, body)| {
            let client = app.client.clone();
            let url = app.url(path);
            let (start, method) = (start.clone(), method.clone());
            tokio::spawn(async move {
                start.wait().await;
                let response = client
                    .request(method, url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .expect("request");
                let status = response.status().as_u16();
                let text = response.text().await.unwrap();
                let body = serde_json::from_str(&text)
                    .unwrap_or_else(|_| panic!("status {status}, not JSON: {text}"));
                (status, body)
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

db_test!(two_hundred_holds_race_for_one_seat_and_one_wins, |app| {
    let f = fixtures::load(app).await;
    let racers = customers(app, 8).await;
    let requests = (0..200)
        .map(|i| {
            (
                racers[i % racers.len()].1.clone(),
                json!({"show_id": f.noon.as_str(), "seats": ["B2"]}),
            )
        })
        .collect();
    let answers = race(app, "/api/v1/bookings", requests).await;
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for (status, _) in &answers {
        *by_status.entry(*status).or_default() += 1;
    }
    assert_eq!(
        by_status,
        BTreeMap::from([(201, 1), (409, 199)]),
        "{answers:?}"
    );
    for (status, body) in &answers {
        if *status == 409 {
            assert_eq!(
                body["type"],
                "https://marquee.example/problems/seat-unavailable"
            );
            assert_eq!(body["seats"], json!(["B2"]));
        }
    }
    let map = seat_map(app, &f.noon).await;
    assert_eq!(seat_state(&map, "B2"), "held");
    assert_eq!(map["availability"]["available"], 9);
    let mut live = 0;
    for (_, token) in &racers {
        live += history(app, token).await["items"].as_array().unwrap().len();
    }
    assert_eq!(live, 1, "exactly one booking exists");
});

db_test!(overlapping_holds_never_share_a_seat, |app| {
    let f = fixtures::load(app).await;
    let racers = customers(app, 8).await;
    let labels = ["A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4", "C1", "C2"];
    let mut rng = SmallRng::seed_from_u64(20_261_122);
    let wanted: Vec<Vec<&str>> = (0..50)
        .map(|_| {
            let n = rng.random_range(1..=4);
            rand::seq::index::sample(&mut rng, labels.len(), n)
                .into_iter()
                .map(|i| labels[i])
                .collect()
        })
        .collect();
    let requests = wanted
        .iter()
        .enumerate()
        .map(|(i, seats)| {
            (
                racers[i % racers.len()].1.clone(),
                json!({"show_id": f.noon.as_str(), "seats": seats}),
            )
        })
        .collect();
    let answers = race(app, "/api/v1/bookings", requests).await;

    let mut owner_of: BTreeMap<String, String> = BTreeMap::new();
    let mut won = 0;
    for (i, (status, body)) in answers.iter().enumerate() {
        let token = &racers[i % racers.len()].1;
        match status {
            201 => {
                won += 1;
                let booking = get_booking(app, token, &id_of(body)).await;
                assert_eq!(booking["status"], "pending_payment");
                let mut mine = strings(&booking["seats"]);
                mine.sort();
                let mut asked: Vec<String> = wanted[i].iter().map(|s| s.to_string()).collect();
                asked.sort();
                assert_eq!(mine, asked, "a booking holds exactly what it asked for");
                for seat in mine {
                    let previous = owner_of.insert(seat.clone(), id_of(&booking));
                    assert!(previous.is_none(), "{seat} is in two live bookings");
                }
            }
            409 => {
                assert_eq!(
                    body["type"],
                    "https://marquee.example/problems/seat-unavailable"
                );
                let named = strings(&body["seats"]);
                assert!(!named.is_empty());
                for seat in &named {
                    assert!(
                        wanted[i].contains(&seat.as_str()),
                        "{seat} was not asked for"
                    );
                }
            }
            other => panic!("request {i} answered {other}: {body}"),
        }
    }
    assert!(won >= 1);
    // Every refused request named a seat someone else won.
    for (i, (status, body)) in answers.iter().enumerate() {
        if *status == 409 {
            let named = strings(&body["seats"]);
            assert!(
                named.iter().any(|s| owner_of.contains_key(s)),
                "request {i} was refused for {named:?}, which nobody holds"
            );
        }
    }
    let map = seat_map(app, &f.noon).await;
    let held: BTreeSet<String> = map["seats"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["state"] == "held")
        .map(|s| s["label"].as_str().unwrap().to_owned())
        .collect();
    let booked: BTreeSet<String> = owner_of.keys().cloned().collect();
    assert_eq!(held, booked, "the seat map agrees with the bookings");
    assert_eq!(
        map["availability"]["available"],
        labels.len() - owner_of.len()
    );
    let mut live = 0;
    for (_, token) in &racers {
        live += history(app, token).await["items"].as_array().unwrap().len();
    }
    assert_eq!(live, won);
});

db_test_with!(
    a_show_whose_bookings_all_ended_is_not_deleted_but_can_be_cancelled,
    |config| {
        config.booking.sweep_interval_ms = 0;
    },
    |app| {
        let f = fixtures::load(app).await;
        let partner = owning_partner(app, "pat@example.com").await;
        let ana = customer(app, "ana@example.com").await;
        // One hold released by its customer, one left to lapse and swept: no live booking.
        let released = id_of(&hold_ok(app, &ana, &f.noon, &["A1"]).await);
        assert_eq!(cancel(app, &ana, &released).await.status(), StatusCode::OK);
        hold_ok(app, &ana, &f.noon, &["B1"]).await;
        app.clock.advance(chrono::Duration::seconds(301));
        marquee::booking::sweeper::sweep_once(&app.state)
            .await
            .unwrap();

        let path = format!("/api/v1/partner/shows/{}", f.noon);
        let refused = send(app, Method::DELETE, &path, Some(&partner), None).await;
        let problem = assert_problem(refused, 409, "show-has-history").await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("cancel it instead"),
            "{problem}"
        );
        // Nothing went: the customer's history and the show are intact.
        assert_eq!(
            history(app, &ana).await["items"].as_array().unwrap().len(),
            2
        );
        app.get_ok(&format!("/api/v1/shows/{}", f.noon)).await;

        // Cancelling takes it off sale (and out of listings), keeping the history.
        let cancelled = send(
            app,
            Method::POST,
            &format!("/api/v1/partner/shows/{}/cancel", f.noon),
            Some(&partner),
            None,
        )
        .await;
        assert_eq!(cancelled.status(), StatusCode::OK);
        let body: Value = cancelled.json().await.unwrap();
        assert_eq!(body["bookings_cancelled"], 0);
        assert_eq!(body["refunds"], 0);
        assert_problem(
            hold(app, &ana, &f.noon, &["C1"]).await,
            409,
            "show-not-on-sale",
        )
        .await;
        assert_eq!(
            history(app, &ana).await["items"].as_array().unwrap().len(),
            2
        );
    }
);

db_test!(
    best_available_holds_racing_for_one_show_all_win_disjoint_seats_until_none_are_left,
    |app| {
        let f = fixtures::load(app).await;
        let racers = customers(app, 6).await;
        // The show has 10 seats: five holds of two take all of them; the sixth finds none.
        let requests = racers
            .iter()
            .map(|(_, token)| {
                (
                    token.clone(),
                    json!({"show_id": f.noon.to_string(), "best_available": {"count": 2}}),
                )
            })
            .collect();
        let answers = race(app, "/api/v1/bookings", requests).await;
        let mut seats = std::collections::BTreeSet::new();
        let mut refused = Vec::new();
        for (status, body) in &answers {
            match status {
                201 => {
                    let held = body["seats"].as_array().unwrap();
                    assert_eq!(held.len(), 2, "{body}");
                    for seat in held {
                        assert!(
                            seats.insert(seat.as_str().unwrap().to_owned()),
                            "{seat} twice"
                        );
                    }
                }
                409 => refused.push(body["type"].as_str().unwrap().to_owned()),
                other => panic!("{other}: {body}"),
            }
        }
        assert_eq!(seats.len(), 10, "every seat held once");
        assert_eq!(
            refused,
            ["https://marquee.example/problems/no-seats-to-propose"]
        );
        let map = seat_map(app, &f.noon).await;
        let held: Vec<&str> = map["seats"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["state"].as_str().unwrap())
            .collect();
        assert_eq!(held, ["held"; 10]);
    }
);

db_test!(
    a_best_available_hold_takes_what_best_available_proposes_and_refuses_mixed_requests,
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        let proposal = send(
            app,
            Method::POST,
            &format!("/api/v1/shows/{}/best-available", f.evening),
            None,
            Some(json!({"count": 2})),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
        let proposed: Vec<&str> = proposal["seats"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["label"].as_str().unwrap())
            .collect();
        let body = json!({"show_id": f.evening.to_string(), "best_available": {"count": 2}});
        let held = send(
            app,
            Method::POST,
            "/api/v1/bookings",
            Some(&ana),
            Some(body),
        )
        .await;
        assert_eq!(held.status(), StatusCode::CREATED);
        let held: Value = held.json().await.unwrap();
        assert_eq!(held["seats"], json!(proposed));
        assert_eq!(states(app, &f.evening, &proposed).await, ["held", "held"]);

        let both = json!({"show_id": f.evening.to_string(), "seats": ["C1"],
                          "best_available": {"count": 1}});
        assert_problem(
            send(
                app,
                Method::POST,
                "/api/v1/bookings",
                Some(&ana),
                Some(both),
            )
            .await,
            422,
            "invalid-booking",
        )
        .await;
        let none = json!({"show_id": f.evening.to_string(), "best_available": {"count": 0}});
        assert_problem(
            send(
                app,
                Method::POST,
                "/api/v1/bookings",
                Some(&ana),
                Some(none),
            )
            .await,
            422,
            "invalid-booking",
        )
        .await;
        let bulk = json!({"items": [{"show_id": f.evening.to_string(),
                                     "best_available": {"count": 1}}]});
        assert_problem(
            send(
                app,
                Method::POST,
                "/api/v1/bookings/bulk",
                Some(&ana),
                Some(bulk),
            )
            .await,
            422,
            "invalid-booking",
        )
        .await;
    }
);
