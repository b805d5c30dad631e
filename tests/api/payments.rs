//! Payments over HTTP: the mock gateway's test cards, outcomes arriving by signed webhook,
//! refusals, a success that lands after the hold expired (refunded, never confirmed),
//! webhook signatures, redelivered events, idempotent payment creation and racing payments.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use marquee::{clock::Clock, db::Engine, payment::mock::signature_header};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::{
    booking::{
        cancel, customer, get_booking, hold_ok, id_of, inr, pay, pay_ok, payment_in, post_keyed,
        race, replayed, seat_map, states, wait_for_payment, wait_for_status,
    },
    db_test, db_test_with, fixtures,
    helpers::{TestApp, assert_problem, send},
};

const WEBHOOK: &str = "/api/v1/payments/webhooks/mock";

/// The app clock in Unix seconds.
pub(crate) fn now_secs(app: &TestApp) -> i64 {
    app.clock.now().as_millis() / 1000
}

/// A raw webhook delivery with an optional `Mock-Signature` header.
async fn deliver(app: &TestApp, path: &str, signature: Option<&str>, body: &[u8]) -> Response {
    let mut request = app
        .client
        .post(app.url(path))
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(signature) = signature {
        request = request.header("Mock-Signature", signature);
    }
    request.send().await.unwrap()
}

/// A delivery signed with the app's webhook secret at the app's current time.
pub(crate) async fn deliver_signed(app: &TestApp, body: &[u8]) -> Response {
    let signature = signature_header(&app.webhook_secret, now_secs(app), body);
    deliver(app, WEBHOOK, Some(&signature), body).await
}

/// The fields docs/booking.md lists for a payment of a booking (others may be added).
fn documented_one(payment: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for key in ["id", "status", "amount", "created_at", "failure_reason"] {
        out.insert(
            key.to_owned(),
            payment
                .get(key)
                .cloned()
                .unwrap_or_else(|| json!("<missing>")),
        );
    }
    Value::Object(out)
}

fn documented(payments: &Value) -> Value {
    payments
        .as_array()
        .unwrap()
        .iter()
        .map(documented_one)
        .collect()
}

fn event(id: &str, kind: &str, created: i64, payment_id: &str, amount: i64) -> Vec<u8> {
    gateway_event(id, kind, created, payment_id, "pi_test", amount, "INR")
}

/// A webhook body as the mock gateway writes it.
pub(crate) fn gateway_event(
    id: &str,
    kind: &str,
    created: i64,
    payment_id: &str,
    intent_id: &str,
    amount: i64,
    currency: &str,
) -> Vec<u8> {
    let failure = if kind == "payment.failed" {
        json!("card_declined")
    } else {
        Value::Null
    };
    json!({"id": id, "type": kind, "created": created,
           "data": {"intent_id": intent_id, "payment_id": payment_id, "amount": amount,
                    "currency": currency, "failure_reason": failure}})
    .to_string()
    .into_bytes()
}

// ---------------------------------------------------------------------------------------
// Outcomes of the test cards
// ---------------------------------------------------------------------------------------

db_test!(
    a_visa_payment_confirms_the_booking_and_books_its_seats,
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        let booking = hold_ok(app, &ana, &f.noon, &["A2", "A1"]).await;
        let id = id_of(&booking);
        assert_eq!(booking["total"], inr(31_500));

        let response = pay(app, &ana, &id, "tok_visa").await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let payment: Value = response.json().await.unwrap();
        let payment_id = id_of(&payment);
        assert!(payment_id.starts_with("pay_"), "{payment_id}");
        assert_eq!(
            payment,
            json!({"id": payment_id, "booking_id": id, "status": "pending", "amount": inr(31_500)})
        );

        let done = wait_for_status(app, &ana, &id, "confirmed").await;
        assert_eq!(done["confirmed_at"], "2026-11-22T03:30:00Z");
        assert_eq!(done["cancelled_at"], Value::Null);
        assert_eq!(done["refund"], Value::Null);
        assert_eq!(done["seats"], json!(["A1", "A2"]));
        assert_eq!(done["total"], inr(31_500));
        assert_eq!(
            documented(&done["payments"]),
            json!([{"id": payment_id, "status": "succeeded", "amount": inr(31_500),
                "created_at": "2026-11-22T03:30:00Z", "failure_reason": null}])
        );
        let map = seat_map(app, &f.noon).await;
        assert_eq!(
            states(app, &f.noon, &["A1", "A2", "A3"]).await,
            ["booked", "booked", "available"]
        );
        assert_eq!(map["availability"]["available"], 8);
        // A confirmed booking is paid for: a second payment is refused.
        assert_problem(
            pay(app, &ana, &id, "tok_visa").await,
            409,
            "booking-not-pending",
        )
        .await;
        assert_eq!(
            get_booking(app, &ana, &id).await["payments"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
);

db_test!(a_declined_card_keeps_the_hold_and_a_retry_confirms, |app| {
    let f = fixtures::load(app).await;
    let ana = customer(app, "ana@example.com").await;
    let booking = hold_ok(app, &ana, &f.noon, &["C2"]).await;
    let id = id_of(&booking);
    // 45,050 + 2,253.
    assert_eq!(booking["total"], inr(47_303));

    let declined = pay_ok(app, &ana, &id, "tok_chargeDeclined").await;
    assert_eq!(declined["status"], "pending");
    assert_eq!(declined["amount"], inr(47_303));
    let declined_id = id_of(&declined);
    let after = wait_for_payment(app, &ana, &id, &declined_id, "failed").await;
    assert_eq!(
        documented_one(payment_in(&after, &declined_id)),
        json!({"id": declined_id, "status": "failed", "amount": inr(47_303),
               "created_at": "2026-11-22T03:30:00Z", "failure_reason": "card_declined"})
    );
    assert_eq!(after["status"], "pending_payment");
    assert_eq!(after["expires_at"], "2026-11-22T03:35:00Z");
    assert_eq!(states(app, &f.noon, &["C2"]).await, ["held"]);
    let bob = customer(app, "bob@example.com").await;
    assert_problem(
        crate::booking::hold(app, &bob, &f.noon, &["C2"]).await,
        409,
        "seat-unavailable",
    )
    .await;

    app.clock.advance(chrono::Duration::seconds(60));
    let retry = pay_ok(app, &ana, &id, "tok_visa").await;
    let retry_id = id_of(&retry);
    assert_ne!(retry_id, declined_id);
    let done = wait_for_status(app, &ana, &id, "confirmed").await;
    assert_eq!(done["confirmed_at"], "2026-11-22T03:31:00Z");
    assert_eq!(done["payments"].as_array().unwrap().len(), 2);
    assert_eq!(payment_in(&done, &declined_id)["status"], "failed");
    assert_eq!(payment_in(&done, &retry_id)["status"], "succeeded");
    assert_eq!(payment_in(&done, &retry_id)["failure_reason"], Value::Null);
    assert_eq!(states(app, &f.noon, &["C2"]).await, ["booked"]);
});

db_test!(
    an_unknown_card_token_is_refused_and_recorded_failed,
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        let booking = hold_ok(app, &ana, &f.noon, &["B4"]).await;
        let id = id_of(&booking);
        assert_problem(
            pay(app, &ana, &id, "tok_unheard_of").await,
            422,
            "invalid-card-token",
        )
        .await;
        let after = get_booking(app, &ana, &id).await;
        assert_eq!(after["status"], "pending_payment");
        let payments = after["payments"].as_array().unwrap();
        assert_eq!(payments.len(), 1, "the refused attempt is recorded");
        assert_eq!(payments[0]["status"], "failed");
        assert_eq!(payments[0]["amount"], inr(26_250));
        assert_eq!(states(app, &f.noon, &["B4"]).await, ["held"]);

        pay_ok(app, &ana, &id, "tok_visa").await;
        wait_for_status(app, &ana, &id, "confirmed").await;
    }
);

db_test!(payments_are_for_the_owner_of_an_existing_booking, |app| {
    let f = fixtures::load(app).await;
    let ana = customer(app, "ana@example.com").await;
    let bob = customer(app, "bob@example.com").await;
    let booking = hold_ok(app, &ana, &f.noon, &["A1"]).await;
    let id = id_of(&booking);
    assert_problem(
        send(
            app,
            Method::POST,
            &format!("/api/v1/bookings/{id}/payments"),
            None,
            Some(json!({"card_token": "tok_visa"})),
        )
        .await,
        401,
        "unauthenticated",
    )
    .await;
    assert_problem(pay(app, &bob, &id, "tok_visa").await, 404, "not-found").await;
    assert_problem(
        pay(app, &ana, "bkg_00000000000000000000000000", "tok_visa").await,
        404,
        "not-found",
    )
    .await;
    assert_eq!(get_booking(app, &ana, &id).await["payments"], json!([]));
});

db_test_with!(
    a_second_payment_while_one_is_pending_is_refused,
    |config| {
        config.payment.mock_delay_ms = 6_000;
    },
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        let booking = hold_ok(app, &ana, &f.noon, &["B1"]).await;
        let id = id_of(&booking);
        let started = Instant::now();
        let delayed = pay_ok(app, &ana, &id, "tok_delayed").await;
        let delayed_id = id_of(&delayed);
        let pending = get_booking(app, &ana, &id).await;
        assert_eq!(pending["status"], "pending_payment");
        assert_eq!(payment_in(&pending, &delayed_id)["status"], "pending");
        for card in ["tok_visa", "tok_delayed", "tok_chargeDeclined"] {
            assert_problem(pay(app, &ana, &id, card).await, 409, "payment-in-progress").await;
        }
        assert!(
            started.elapsed() < Duration::from_millis(6_000),
            "the refusals came before the delayed answer"
        );
        let done = wait_for_status(app, &ana, &id, "confirmed").await;
        assert_eq!(
            documented(&done["payments"]),
            json!([{"id": delayed_id, "status": "succeeded", "amount": inr(26_250),
                    "created_at": "2026-11-22T03:30:00Z", "failure_reason": null}])
        );
        assert_problem(
            pay(app, &ana, &id, "tok_visa").await,
            409,
            "booking-not-pending",
        )
        .await;
    }
);

db_test_with!(
    a_success_after_expiry_is_refunded_and_never_confirms,
    |config| {
        config.payment.mock_delay_ms = 300;
        config.booking.sweep_interval_ms = 0;
    },
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        let booking = hold_ok(app, &ana, &f.noon, &["B3", "B4"]).await;
        let id = id_of(&booking);
        let payment = pay_ok(app, &ana, &id, "tok_delayed").await;
        let payment_id = id_of(&payment);
        // The hold lapses while the gateway is still thinking.
        app.clock.advance(chrono::Duration::seconds(301));
        let after = wait_for_payment(app, &ana, &id, &payment_id, "refunded").await;
        assert_ne!(after["status"], "confirmed", "{after}");
        assert_eq!(after["confirmed_at"], Value::Null);
        assert_eq!(payment_in(&after, &payment_id)["amount"], inr(52_500));
        assert_eq!(
            states(app, &f.noon, &["B3", "B4"]).await,
            ["available", "available"]
        );

        marquee::booking::sweeper::sweep_once(&app.state)
            .await
            .expect("sweep");
        let expired = get_booking(app, &ana, &id).await;
        assert_eq!(expired["status"], "expired");
        assert_eq!(expired["confirmed_at"], Value::Null);
        assert_eq!(payment_in(&expired, &payment_id)["status"], "refunded");
        assert_problem(ticket_of(app, &ana, &id).await, 409, "ticket-unavailable").await;
        let bob = customer(app, "bob@example.com").await;
        hold_ok(app, &bob, &f.noon, &["B3", "B4"]).await;
        // Refunded once: still refunded a while later, the booking still expired.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let later = get_booking(app, &ana, &id).await;
        assert_eq!(later, expired);
    }
);

async fn ticket_of(app: &TestApp, token: &str, booking: &str) -> Response {
    send(
        app,
        Method::GET,
        &format!("/api/v1/bookings/{booking}/ticket"),
        Some(token),
        None,
    )
    .await
}

// ---------------------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------------------

db_test_with!(
    webhooks_need_a_fresh_valid_signature,
    |config| {
        // tok_delayed never answers during this test: only forged events could confirm.
        config.payment.mock_delay_ms = 8_000;
    },
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        let booking = hold_ok(app, &ana, &f.noon, &["A4"]).await;
        let id = id_of(&booking);
        let payment_id = id_of(&pay_ok(app, &ana, &id, "tok_delayed").await);
        let now = now_secs(app);
        let body = event("evt_forged", "payment.succeeded", now, &payment_id, 15_750);

        let missing = deliver(app, WEBHOOK, None, &body).await;
        assert_problem(missing, 400, "invalid-webhook-signature").await;
        let forged = signature_header(b"not the webhook secret", now, &body);
        assert_problem(
            deliver(app, WEBHOOK, Some(&forged), &body).await,
            400,
            "invalid-webhook-signature",
        )
        .await;
        // A genuine signature of another body.
        let other = event("evt_other", "payment.succeeded", now, &payment_id, 1);
        let theirs = signature_header(&app.webhook_secret, now, &other);
        assert_problem(
            deliver(app, WEBHOOK, Some(&theirs), &body).await,
            400,
            "invalid-webhook-signature",
        )
        .await;
        for garbage in ["", "t=,v1=", "v1=abc", "t=notanumber,v1=00", "nonsense"] {
            assert_problem(
                deliver(app, WEBHOOK, Some(garbage), &body).await,
                400,
                "invalid-webhook-signature",
            )
            .await;
        }
        // Outside the 300 s tolerance, either way: replays of old deliveries.
        for at in [now - 300 - 1, now + 300 + 1] {
            let stale = signature_header(&app.webhook_secret, at, &body);
            assert_problem(
                deliver(app, WEBHOOK, Some(&stale), &body).await,
                400,
                "invalid-webhook-signature",
            )
            .await;
        }
        let after = get_booking(app, &ana, &id).await;
        assert_eq!(after["status"], "pending_payment");
        assert_eq!(payment_in(&after, &payment_id)["status"], "pending");
        assert_eq!(states(app, &f.noon, &["A4"]).await, ["held"]);

        // Events about payments nobody knows are accepted and ignored.
        let unknown = event(
            "evt_unknown",
            "payment.succeeded",
            now,
            "pay_00000000000000000000000000",
            15_750,
        );
        assert_eq!(
            deliver_signed(app, &unknown).await.status(),
            StatusCode::NO_CONTENT
        );
        let within = signature_header(&app.webhook_secret, now - 299, &unknown);
        assert_eq!(
            deliver(app, WEBHOOK, Some(&within), &unknown)
                .await
                .status(),
            StatusCode::NO_CONTENT
        );
        let signature = signature_header(&app.webhook_secret, now, &unknown);
        assert_problem(
            deliver(
                app,
                "/api/v1/payments/webhooks/stripe",
                Some(&signature),
                &unknown,
            )
            .await,
            404,
            "not-found",
        )
        .await;
        assert_eq!(get_booking(app, &ana, &id).await, after);
    }
);

/// A webhook receiver standing between the mock gateway and the app: it records each
/// delivery (signature header and raw body) and forwards it unchanged.
/// One recorded delivery: the `Mock-Signature` header (if any) and the raw body.
type Delivery = (Option<String>, Vec<u8>);

#[derive(Clone, Default)]
struct Relay {
    target: Arc<Mutex<Option<String>>>,
    deliveries: Arc<Mutex<Vec<Delivery>>>,
    client: reqwest::Client,
}

async fn forward(
    axum::extract::State(relay): axum::extract::State<Relay>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    let signature = headers
        .get("mock-signature")
        .map(|v| v.to_str().unwrap().to_owned());
    relay
        .deliveries
        .lock()
        .unwrap()
        .push((signature.clone(), body.to_vec()));
    let Some(target) = relay.target.lock().unwrap().clone() else {
        return axum::http::StatusCode::SERVICE_UNAVAILABLE;
    };
    let mut request = relay
        .client
        .post(target)
        .header("content-type", "application/json")
        .body(body);
    if let Some(signature) = signature {
        request = request.header("Mock-Signature", signature);
    }
    match request.send().await {
        Ok(response) => axum::http::StatusCode::from_u16(response.status().as_u16()).unwrap(),
        Err(_) => axum::http::StatusCode::BAD_GATEWAY,
    }
}

async fn start_relay() -> (Relay, String) {
    let relay = Relay::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new()
        .fallback(forward)
        .with_state(relay.clone());
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (relay, format!("http://{addr}/hook"))
}

async fn redelivered_events_change_nothing(engine: Engine) {
    let (relay, hook) = start_relay().await;
    let Some(app) = TestApp::spawn_with(engine, |config| {
        config.payment.mock_webhook_url = Some(hook);
    })
    .await
    else {
        return;
    };
    *relay.target.lock().unwrap() = Some(app.url(WEBHOOK));
    let app = &app;
    let f = fixtures::load(app).await;
    let ana = customer(app, "ana@example.com").await;
    let booking = hold_ok(app, &ana, &f.noon, &["B1"]).await;
    let id = id_of(&booking);
    let payment_id = id_of(&pay_ok(app, &ana, &id, "tok_visa").await);
    let confirmed = wait_for_status(app, &ana, &id, "confirmed").await;

    // What the gateway sent, signed as the contract says.
    let (signature, body) = relay.deliveries.lock().unwrap()[0].clone();
    let signature = signature.expect("a Mock-Signature header");
    let sent: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(sent["type"], "payment.succeeded");
    assert!(sent["id"].as_str().unwrap().starts_with("evt_"), "{sent}");
    assert_eq!(sent["data"]["payment_id"], payment_id.as_str());
    assert_eq!(sent["data"]["amount"], 26_250);
    assert_eq!(sent["data"]["currency"], "INR");
    assert!(
        sent["data"]["intent_id"]
            .as_str()
            .unwrap()
            .starts_with("pi_"),
        "{sent}"
    );
    let t: i64 = signature
        .strip_prefix("t=")
        .and_then(|rest| rest.split(',').next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("signature {signature}"));
    assert_eq!(t, now_secs(app));
    assert_eq!(signature, signature_header(&app.webhook_secret, t, &body));

    // The same delivery again, and again freshly signed: accepted, nothing changes.
    assert_eq!(
        deliver(app, WEBHOOK, Some(&signature), &body)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        deliver_signed(app, &body).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(get_booking(app, &ana, &id).await, confirmed);
    // Another success event for the payment that confirmed the booking: not a late success
    // to refund, just a duplicate.
    let intent = sent["data"]["intent_id"].as_str().unwrap();
    let second = gateway_event(
        "evt_second",
        "payment.succeeded",
        t,
        &payment_id,
        intent,
        26_250,
        "INR",
    );
    assert_eq!(
        deliver_signed(app, &second).await.status(),
        StatusCode::NO_CONTENT
    );
    // A failure after the success cannot undo it.
    let failed = gateway_event(
        "evt_failed",
        "payment.failed",
        t,
        &payment_id,
        intent,
        26_250,
        "INR",
    );
    assert_eq!(
        deliver_signed(app, &failed).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(get_booking(app, &ana, &id).await, confirmed);
    assert_eq!(states(app, &f.noon, &["B1"]).await, ["booked"]);

    // Cancelled and refunded; the old success arriving again refunds nothing more.
    let cancelled = cancel(app, &ana, &id).await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    let refunded = wait_for_payment(app, &ana, &id, &payment_id, "refunded").await;
    assert_eq!(refunded["refund"], inr(25_000));
    assert_eq!(
        deliver_signed(app, &body).await.status(),
        StatusCode::NO_CONTENT
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(get_booking(app, &ana, &id).await, refunded);
    assert_eq!(states(app, &f.noon, &["B1"]).await, ["available"]);
}

mod a_redelivered_success_event_changes_nothing {
    use marquee::db::Engine;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::redelivered_events_change_nothing(Engine::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::redelivered_events_change_nothing(Engine::Postgres).await;
    }
}

// ---------------------------------------------------------------------------------------
// Idempotency and races
// ---------------------------------------------------------------------------------------

db_test!(a_repeated_payment_with_the_same_key_charges_once, |app| {
    let f = fixtures::load(app).await;
    let ana = customer(app, "ana@example.com").await;
    let bob = customer(app, "bob@example.com").await;
    let booking = hold_ok(app, &ana, &f.noon, &["C1"]).await;
    let id = id_of(&booking);
    let path = format!("/api/v1/bookings/{id}/payments");

    let first = post_keyed(app, &path, &ana, "pay-1", r#"{"card_token": "tok_visa"}"#).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert_eq!(replayed(&first), None);
    let first_body = first.text().await.unwrap();
    let payment: Value = serde_json::from_str(&first_body).unwrap();
    let again = post_keyed(app, &path, &ana, "pay-1", r#"{ "card_token":"tok_visa" }"#).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(replayed(&again).as_deref(), Some("true"));
    assert_eq!(again.text().await.unwrap(), first_body);

    let done = wait_for_status(app, &ana, &id, "confirmed").await;
    assert_eq!(done["payments"].as_array().unwrap().len(), 1);
    assert_eq!(done["payments"][0]["id"], payment["id"]);
    // Still the stored answer once the booking is confirmed, not a refusal.
    let later = post_keyed(app, &path, &ana, "pay-1", r#"{"card_token": "tok_visa"}"#).await;
    assert_eq!(later.status(), StatusCode::CREATED);
    assert_eq!(replayed(&later).as_deref(), Some("true"));
    assert_eq!(later.text().await.unwrap(), first_body);

    assert_problem(
        post_keyed(
            app,
            &path,
            &ana,
            "pay-1",
            r#"{"card_token": "tok_chargeDeclined"}"#,
        )
        .await,
        422,
        "idempotency-key-reused",
    )
    .await;
    // The path is part of the request: the key on another booking is another request.
    let other = hold_ok(app, &ana, &f.noon, &["C2"]).await;
    let other_path = format!("/api/v1/bookings/{}/payments", id_of(&other));
    assert_problem(
        post_keyed(
            app,
            &other_path,
            &ana,
            "pay-1",
            r#"{"card_token": "tok_visa"}"#,
        )
        .await,
        422,
        "idempotency-key-reused",
    )
    .await;
    assert_eq!(
        get_booking(app, &ana, &id_of(&other)).await["payments"],
        json!([])
    );
    let done = get_booking(app, &ana, &id).await;
    assert_eq!(done["payments"].as_array().unwrap().len(), 1);

    // Bob's "pay-1" is his own.
    let his = hold_ok(app, &bob, &f.noon, &["A1"]).await;
    let his_path = format!("/api/v1/bookings/{}/payments", id_of(&his));
    let bobs = post_keyed(
        app,
        &his_path,
        &bob,
        "pay-1",
        r#"{"card_token": "tok_visa"}"#,
    )
    .await;
    assert_eq!(bobs.status(), StatusCode::CREATED);
    assert_eq!(replayed(&bobs), None);
    let bobs: Value = bobs.json().await.unwrap();
    assert_ne!(bobs["id"], payment["id"]);
    assert_eq!(bobs["booking_id"], id_of(&his).as_str());
    wait_for_status(app, &bob, &id_of(&his), "confirmed").await;
});

db_test_with!(
    racing_payments_for_one_booking_charge_once,
    |config| {
        // The race, not the rate limit, decides here.
        config.limits.payments_per_booking_per_minute = 1_000;
        config.limits.payments_per_account_per_minute = 1_000;
    },
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        let booking = hold_ok(app, &ana, &f.noon, &["B2"]).await;
        let id = id_of(&booking);
        let requests = (0..20)
            .map(|_| (ana.clone(), json!({"card_token": "tok_visa"})))
            .collect();
        let answers = race(app, &format!("/api/v1/bookings/{id}/payments"), requests).await;
        let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
        for (status, body) in &answers {
            *by_status.entry(*status).or_default() += 1;
            if *status == 409 {
                let kind = body["type"].as_str().unwrap();
                assert!(
                    kind.ends_with("/payment-in-progress")
                        || kind.ends_with("/booking-not-pending"),
                    "{body}"
                );
            }
        }
        assert_eq!(
            by_status,
            BTreeMap::from([(201, 1), (409, 19)]),
            "{answers:?}"
        );
        let done = wait_for_status(app, &ana, &id, "confirmed").await;
        assert_eq!(done["payments"].as_array().unwrap().len(), 1);
        assert_eq!(done["payments"][0]["status"], "succeeded");
        // Nothing else lands later.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(get_booking(app, &ana, &id).await, done);
    }
);

db_test_with!(
    waiting_for_a_booking_answers_when_the_payment_lands,
    |config| {
        config.payment.mock_delay_ms = 300;
    },
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "wanda@example.com").await;
        let booking = hold_ok(app, &ana, &f.noon, &["C1"]).await;
        let id = id_of(&booking);
        // Nothing pending: answers at once.
        let started = Instant::now();
        let now = send(
            app,
            Method::GET,
            &format!("/api/v1/bookings/{id}?wait_ms=5000"),
            Some(&ana),
            None,
        )
        .await;
        assert_eq!(now.status(), StatusCode::OK);
        // Well short of the 5 s it could have waited (loose: a busy machine is slow).
        assert!(started.elapsed() < Duration::from_millis(3_000));
        pay_ok(app, &ana, &id, "tok_delayed").await;
        // One request that waits for the webhook instead of polling.
        let started = Instant::now();
        let waited = send(
            app,
            Method::GET,
            &format!("/api/v1/bookings/{id}?wait_ms=10000"),
            Some(&ana),
            None,
        )
        .await;
        assert_eq!(waited.status(), StatusCode::OK);
        let waited: Value = waited.json().await.unwrap();
        assert_eq!(waited["status"], "confirmed");
        // Woken by the webhook (after 0.3 s), not by the end of the wait.
        assert!(started.elapsed() < Duration::from_millis(8_000));
        assert_problem(
            send(
                app,
                Method::GET,
                &format!("/api/v1/bookings/{id}?wait_ms=10001"),
                Some(&ana),
                None,
            )
            .await,
            400,
            "invalid-query",
        )
        .await;
    }
);
