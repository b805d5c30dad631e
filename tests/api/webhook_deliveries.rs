//! Webhook deliveries to a real HTTP receiver on loopback: signed so that an independent
//! Standard Webhooks implementation (the `standardwebhooks` crate) accepts them, one
//! `webhook-id` per event, retried on 5xx with backoff (the app clock moves), never on a
//! 4xx, in order per show, logged attempt by attempt, replayed on request; an endpoint
//! that keeps failing is disabled and its organisation mailed; a node that dies mid-
//! delivery loses nothing.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode as AxumStatus},
    routing::post,
};
use marquee::{clock::Clock, config::Config, db::Engine, integration::outbox};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    booking::{cancel, confirmed, customer, id_of, login, other_partner, owning_partner},
    db_test_with, fixtures,
    helpers::{TestApp, assert_problem, send},
};

const ENDPOINTS: &str = "/api/v1/partner/webhook-endpoints";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    event_type: String,
    body: String,
    headers: HeaderMap,
}

#[derive(Default)]
struct ReceiverState {
    received: Vec<Received>,
    /// Answers 503 to this many more requests of the event type.
    failing: HashMap<String, u32>,
    /// Answers 400 to every request of these event types.
    refusing: Vec<String>,
    /// The next request is never answered.
    hang_next: bool,
    /// No request is answered.
    hang_all: bool,
    /// Every request is answered 503 while set.
    down: bool,
}

/// A webhook receiver on loopback that records what it gets and answers as scripted.
#[derive(Clone)]
struct Receiver {
    state: Arc<Mutex<ReceiverState>>,
    url: String,
}

async fn receive(
    State(state): State<Arc<Mutex<ReceiverState>>>,
    headers: HeaderMap,
    body: Bytes,
) -> (AxumStatus, &'static str) {
    let body = String::from_utf8_lossy(&body).into_owned();
    let event_type = serde_json::from_str::<Value>(&body).unwrap_or_default()["type"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let hang = {
        let mut state = state.lock().unwrap();
        state.received.push(Received {
            id: header("webhook-id"),
            event_type: event_type.clone(),
            body,
            headers: headers.clone(),
        });
        std::mem::take(&mut state.hang_next) || state.hang_all
    };
    if hang {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let mut state = state.lock().unwrap();
    if state.down {
        return (AxumStatus::SERVICE_UNAVAILABLE, "down for maintenance");
    }
    if state.refusing.contains(&event_type) {
        return (AxumStatus::BAD_REQUEST, "unknown show");
    }
    if let Some(left) = state.failing.get_mut(&event_type)
        && *left > 0
    {
        *left -= 1;
        return (AxumStatus::SERVICE_UNAVAILABLE, "try later");
    }
    (AxumStatus::OK, "ok")
}

impl Receiver {
    async fn start() -> Self {
        let state = Arc::new(Mutex::new(ReceiverState::default()));
        let router = axum::Router::new()
            .route("/hooks", post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { state, url }
    }

    fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    fn types(&self) -> Vec<String> {
        self.received().into_iter().map(|r| r.event_type).collect()
    }

    fn with(&self, change: impl FnOnce(&mut ReceiverState)) {
        change(&mut self.state.lock().unwrap());
    }

    /// Waits until `n` requests arrived (or fails after 15 s).
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..300 {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} requests, got {:#?}", self.types());
    }
}

fn receiving(config: &mut Config) {
    config.webhooks.allow_private_targets = true;
    config.webhooks.poll_interval_ms = 20;
    config.events.dispatch_interval_ms = 20;
}

/// Registers an endpoint for the owning partner's organisation: (id, secret).
async fn endpoint(app: &TestApp, partner: &str, url: &str, types: &[&str]) -> (String, String) {
    let response = send(
        app,
        Method::POST,
        ENDPOINTS,
        Some(partner),
        Some(json!({"url": url, "event_types": types})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    (
        created["id"].as_str().unwrap().to_owned(),
        created["secret"].as_str().unwrap().to_owned(),
    )
}

async fn get_json(app: &TestApp, token: &str, path: &str) -> Value {
    let response = send(app, Method::GET, path, Some(token), None).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{path}: {text}");
    serde_json::from_str(&text).unwrap()
}

async fn deliveries(app: &TestApp, token: &str, endpoint: &str) -> Vec<Value> {
    let page = get_json(
        app,
        token,
        &format!("{ENDPOINTS}/{endpoint}/deliveries?limit=100"),
    )
    .await;
    page["items"].as_array().unwrap().clone()
}

/// The delivery of the event type (the only one of that type).
async fn delivery_of(app: &TestApp, token: &str, endpoint: &str, event_type: &str) -> Value {
    let all = deliveries(app, token, endpoint).await;
    let found: Vec<&Value> = all
        .iter()
        .filter(|d| d["event_type"] == event_type)
        .collect();
    assert_eq!(found.len(), 1, "{event_type} in {all:#?}");
    let id = found[0]["id"].as_str().unwrap();
    get_json(
        app,
        token,
        &format!("/api/v1/partner/webhook-deliveries/{id}"),
    )
    .await
}

fn counter_sale(show: &str, sale: &str, seats: &[&str]) -> Value {
    json!({"show_id": show, "external_sale_id": sale, "seats": seats})
}

async fn sell(app: &TestApp, token: &str, body: Value) -> StatusCode {
    send(
        app,
        Method::POST,
        "/api/v1/partner/counter-sales",
        Some(token),
        Some(body),
    )
    .await
    .status()
}

db_test_with!(
    a_theatre_system_gets_signed_webhooks_an_independent_verifier_accepts,
    |config| { receiving(config) },
    |app| {
        let f = fixtures::load(app).await;
        let receiver = Receiver::start().await;
        let partner = owning_partner(app, "owner@example.com").await;
        let all = [
            "booking.confirmed",
            "booking.cancelled",
            "payment.refunded",
            "counter_sale.recorded",
            "counter_sale.conflicted",
            "show.changed",
        ];
        let (endpoint_id, secret) = endpoint(app, &partner, &receiver.url, &all).await;

        let ana = customer(app, "ana@example.com").await;
        let booking = confirmed(app, &ana, &f.noon, &["A1", "A2"]).await;
        let booking_id = id_of(&booking);
        // The box office tries to sell A2, sold online: refused, and the theatre is told.
        let sale = counter_sale(f.noon.as_ref(), "POS-7", &["A2", "A3"]);
        assert_eq!(sell(app, &partner, sale).await, StatusCode::CONFLICT);
        assert_eq!(
            cancel(app, &ana, &booking_id).await.status(),
            StatusCode::OK
        );

        let received = receiver.wait_for(4).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let received = if receiver.received().len() > received.len() {
            receiver.received()
        } else {
            received
        };
        let types: Vec<&str> = received.iter().map(|r| r.event_type.as_str()).collect();
        assert_eq!(types.len(), 4, "{types:?}");
        // One show's events arrive in the order they happened.
        let show_events: Vec<&str> = types
            .iter()
            .copied()
            .filter(|t| *t != "payment.refunded")
            .collect();
        assert_eq!(
            show_events,
            [
                "booking.confirmed",
                "counter_sale.conflicted",
                "booking.cancelled"
            ]
        );
        assert!(types.contains(&"payment.refunded"), "{types:?}");

        // Every message verifies with an independent Standard Webhooks implementation, and
        // carries the outbox event's id as its `webhook-id`.
        let verifier = standardwebhooks::Webhook::new(&secret).unwrap();
        let stranger =
            standardwebhooks::Webhook::new(&marquee::integration::webhooks::new_secret()).unwrap();
        let events = outbox::all(&app.db).await.unwrap();
        for message in &received {
            verifier
                .verify(message.body.as_bytes(), &message.headers)
                .unwrap_or_else(|e| panic!("{} refused: {e:?}", message.event_type));
            assert!(
                stranger
                    .verify(message.body.as_bytes(), &message.headers)
                    .is_err()
            );
            let event = events
                .iter()
                .find(|e| e.event_id == message.id)
                .unwrap_or_else(|| panic!("webhook-id {} is no outbox event", message.id));
            assert_eq!(event.event_type, message.event_type);
            let body: Value = serde_json::from_str(&message.body).unwrap();
            assert_eq!(body["type"], event.event_type.as_str());
            assert_eq!(
                body["data"],
                serde_json::from_str::<Value>(&event.payload).unwrap()
            );
        }
        let conflicted = received
            .iter()
            .find(|r| r.event_type == "counter_sale.conflicted")
            .unwrap();
        let conflicted: Value = serde_json::from_str(&conflicted.body).unwrap();
        assert_eq!(
            conflicted["data"],
            json!({"show_id": f.noon.to_string(), "external_sale_id": "POS-7",
                   "seats": ["A2", "A3"], "conflicting": ["A2"]})
        );
        let confirmation = received
            .iter()
            .find(|r| r.event_type == "booking.confirmed")
            .unwrap();
        let confirmation: Value = serde_json::from_str(&confirmation.body).unwrap();
        assert_eq!(confirmation["data"]["booking_id"], booking_id.as_str());
        assert_eq!(confirmation["data"]["seats"], json!(["A1", "A2"]));

        // The delivery log: each delivered at the first attempt, with its answer.
        let log = deliveries(app, &partner, &endpoint_id).await;
        assert_eq!(log.len(), 4);
        assert!(
            log.iter()
                .all(|d| d["status"] == "delivered" && d["attempts"] == 1),
            "{log:#?}"
        );
        let detail = delivery_of(app, &partner, &endpoint_id, "booking.confirmed").await;
        assert_eq!(detail["event_id"], received[0].id.as_str());
        let attempt = &detail["attempts_log"][0];
        assert_eq!(attempt["outcome"], "delivered");
        assert_eq!(attempt["status_code"], 200);
        assert_eq!(attempt["response_excerpt"], "ok");
        assert!(attempt["latency_ms"].as_i64().unwrap() >= 0);
        let filtered = get_json(
            app,
            &partner,
            &format!("{ENDPOINTS}/{endpoint_id}/deliveries?status=failed"),
        )
        .await;
        assert_eq!(filtered["items"], json!([]));

        // Replay: the same message again, same id and bytes.
        let replay = format!(
            "/api/v1/partner/webhook-deliveries/{}/replay",
            detail["id"].as_str().unwrap()
        );
        let response = send(app, Method::POST, &replay, Some(&partner), None).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let again = receiver.wait_for(5).await;
        assert_eq!(again[4].id, received[0].id);
        assert_eq!(again[4].body, received[0].body);

        // Another organisation sees none of it.
        let other = other_partner(app, "other@example.com").await;
        assert_problem(
            send(
                app,
                Method::GET,
                &format!("{ENDPOINTS}/{endpoint_id}/deliveries"),
                Some(&other),
                None,
            )
            .await,
            404,
            "not-found",
        )
        .await;
        assert_problem(
            send(app, Method::POST, &replay, Some(&other), None).await,
            404,
            "not-found",
        )
        .await;
        assert_problem(
            send(
                app,
                Method::GET,
                &format!("{ENDPOINTS}/{endpoint_id}/deliveries?status=lost"),
                Some(&partner),
                None,
            )
            .await,
            400,
            "invalid-request",
        )
        .await;

        // The log is kept for 30 days; finished deliveries older than that are forgotten.
        let month_ago =
            app.clock.now().as_millis() - marquee::integration::deliveries::LOG_RETENTION_MS;
        assert_eq!(
            marquee::integration::deliveries::purge(&app.db, month_ago)
                .await
                .unwrap(),
            0
        );
        let later = app.clock.now().as_millis() + 1;
        assert_eq!(
            marquee::integration::deliveries::purge(&app.db, later)
                .await
                .unwrap(),
            4
        );
        assert!(deliveries(app, &partner, &endpoint_id).await.is_empty());
    }
);

db_test_with!(
    a_failing_delivery_is_retried_with_backoff_and_holds_back_only_its_show,
    |config| { receiving(config) },
    |app| {
        let f = fixtures::load(app).await;
        let receiver = Receiver::start().await;
        receiver.with(|s| {
            s.failing.insert("booking.confirmed".into(), 2);
            s.refusing.push("counter_sale.voided".into());
        });
        let partner = owning_partner(app, "owner@example.com").await;
        let types = [
            "booking.confirmed",
            "counter_sale.recorded",
            "counter_sale.voided",
        ];
        let (endpoint_id, _) = endpoint(app, &partner, &receiver.url, &types).await;
        let ana = customer(app, "ana@example.com").await;
        confirmed(app, &ana, &f.noon, &["A1"]).await;
        receiver.wait_for(1).await;
        // Later events: one of the same show (waits behind the failing one), one of
        // another show (goes at once).
        let noon = f.noon.to_string();
        let evening = f.evening.to_string();
        assert_eq!(
            sell(app, &partner, counter_sale(&noon, "POS-1", &["B1"])).await,
            StatusCode::CREATED
        );
        assert_eq!(
            sell(app, &partner, counter_sale(&evening, "POS-2", &["B1"])).await,
            StatusCode::CREATED
        );
        let received = receiver.wait_for(2).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(receiver.received().len(), 2, "{:?}", receiver.types());
        let second: Value = serde_json::from_str(&received[1].body).unwrap();
        assert_eq!(second["data"]["show_id"], evening.as_str());

        // The retries come when the clock reaches them: about 5 s, then about 5 min.
        app.clock.advance(chrono::Duration::seconds(7));
        receiver.wait_for(3).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(receiver.received().len(), 3, "{:?}", receiver.types());
        app.clock.advance(chrono::Duration::minutes(7));
        let received = receiver.wait_for(4).await;
        assert_eq!(received[3].event_type, "booking.confirmed");
        assert_eq!(
            received[3].id, received[0].id,
            "a retry is the same message"
        );
        // Then the show's next event.
        let received = receiver.wait_for(5).await;
        let fifth: Value = serde_json::from_str(&received[4].body).unwrap();
        assert_eq!(fifth["type"], "counter_sale.recorded");
        assert_eq!(fifth["data"]["show_id"], noon.as_str());

        let partner = login(app, "owner@example.com").await;
        let detail = delivery_of(app, &partner, &endpoint_id, "booking.confirmed").await;
        assert_eq!(detail["status"], "delivered");
        assert_eq!(detail["attempts"], 3);
        let log: Vec<(String, i64)> = detail["attempts_log"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["outcome"].as_str().unwrap().to_owned(),
                    a["status_code"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            log,
            [
                ("retry".into(), 503),
                ("retry".into(), 503),
                ("delivered".into(), 200)
            ]
        );
        assert_eq!(detail["attempts_log"][0]["response_excerpt"], "try later");

        // A 4xx is the receiver refusing the message: not retried.
        let void = send(
            app,
            Method::POST,
            "/api/v1/partner/counter-sales/POS-1/void",
            Some(&partner),
            None,
        )
        .await;
        assert_eq!(
            void.status(),
            StatusCode::OK,
            "{}",
            void.text().await.unwrap()
        );
        receiver.wait_for(6).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        app.clock.advance(chrono::Duration::hours(2));
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(receiver.received().len(), 6, "{:?}", receiver.types());
        let partner = login(app, "owner@example.com").await;
        let voided = delivery_of(app, &partner, &endpoint_id, "counter_sale.voided").await;
        assert_eq!(voided["status"], "failed");
        assert_eq!(voided["attempts_log"][0]["outcome"], "rejected");
        assert_eq!(voided["attempts_log"][0]["status_code"], 400);

        // Once the receiver is fixed, the failed ones of a time range are sent again.
        receiver.with(|s| s.refusing.clear());
        let replay = send(
            app,
            Method::POST,
            &format!("{ENDPOINTS}/{endpoint_id}/replay"),
            Some(&partner),
            Some(json!({"since": "2026-11-22T00:00:00Z"})),
        )
        .await;
        assert_eq!(replay.status(), StatusCode::ACCEPTED);
        assert_eq!(
            replay.json::<Value>().await.unwrap(),
            json!({"replayed": 1})
        );
        let received = receiver.wait_for(7).await;
        assert_eq!(received[6].id, received[5].id);
        let voided = delivery_of(app, &partner, &endpoint_id, "counter_sale.voided").await;
        assert_eq!(voided["status"], "delivered");
        assert_eq!(voided["attempts"], 2);
        let bad_range = send(
            app,
            Method::POST,
            &format!("{ENDPOINTS}/{endpoint_id}/replay"),
            Some(&partner),
            Some(json!({"since": "2026-11-23T00:00:00Z", "until": "2026-11-22T00:00:00Z"})),
        )
        .await;
        assert_problem(bad_range, 400, "invalid-request").await;
    }
);

db_test_with!(
    an_endpoint_failing_for_long_is_disabled_its_partner_told_and_nothing_lost,
    |config| {
        receiving(config);
        config.webhooks.disable_after_failing_hours = 1;
        config.notify.file = Some(std::env::temp_dir().join(format!(
            "marquee-webhook-notices-{}.jsonl",
            ulid::Ulid::new()
        )));
    },
    |app| {
        let f = fixtures::load(app).await;
        let receiver = Receiver::start().await;
        receiver.with(|s| s.down = true);
        let partner = owning_partner(app, "owner@example.com").await;
        let (endpoint_id, _) = endpoint(app, &partner, &receiver.url, &["booking.confirmed"]).await;
        let ana = customer(app, "ana@example.com").await;
        confirmed(app, &ana, &f.noon, &["A1"]).await;
        receiver.wait_for(1).await;
        // Past the configured hour of failing (72 by default), the retry fails too: the
        // endpoint is disabled.
        app.clock.advance(chrono::Duration::minutes(61));
        receiver.wait_for(2).await;
        let mut status = Value::Null;
        for _ in 0..100 {
            let partner = login(app, "owner@example.com").await;
            let listed = get_json(app, &partner, ENDPOINTS).await;
            status = listed[0]["status"].clone();
            if status == "disabled" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(status, "disabled");
        let events = outbox::all(&app.db).await.unwrap();
        assert_eq!(
            events
                .iter()
                .filter(|e| e.event_type == "webhook_endpoint.disabled")
                .count(),
            1
        );
        // The organisation's members are mailed.
        let path = app.state.config.notify.file.clone().unwrap();
        let mut notices = String::new();
        for _ in 0..100 {
            notices = std::fs::read_to_string(&path).unwrap_or_default();
            if notices.contains("webhook_endpoint_disabled") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let notice: Value = serde_json::from_str(
            notices
                .lines()
                .find(|l| l.contains("webhook_endpoint_disabled"))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(notice["to"], "owner@example.com");
        assert!(notice["body"].as_str().unwrap().contains(&receiver.url));

        // While disabled, nothing is sent; events are kept.
        let bob = customer(app, "bob@example.com").await;
        confirmed(app, &bob, &f.noon, &["A2"]).await;
        app.clock.advance(chrono::Duration::minutes(30));
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(receiver.received().len(), 2);

        // Fixed and enabled again: the waiting deliveries go, oldest first.
        receiver.with(|s| s.down = false);
        let partner = login(app, "owner@example.com").await;
        let enable = send(
            app,
            Method::POST,
            &format!("{ENDPOINTS}/{endpoint_id}/enable"),
            Some(&partner),
            None,
        )
        .await;
        assert_eq!(enable.status(), StatusCode::NO_CONTENT);
        // The first delivery's next retry (the third attempt) was due within 6 minutes.
        app.clock.advance(chrono::Duration::minutes(7));
        let received = receiver.wait_for(4).await;
        assert_eq!(received[2].id, received[0].id);
        let fourth: Value = serde_json::from_str(&received[3].body).unwrap();
        assert_eq!(fourth["data"]["seats"], json!(["A2"]));
        let _ = std::fs::remove_file(path);
    }
);

/// A node stops while the receiver holds its request unanswered: the attempt leaves no
/// record, and once the claim lapses the delivery goes again with the same id.
async fn a_node_dying_mid_delivery_loses_nothing(engine: Engine) {
    let Some(mut app) = TestApp::spawn_with(engine, |config| {
        receiving(config);
        config.webhooks.timeout_ms = 60_000;
    })
    .await
    else {
        return;
    };
    let f = fixtures::load(&app).await;
    let receiver = Receiver::start().await;
    receiver.with(|s| s.hang_next = true);
    let partner = owning_partner(&app, "owner@example.com").await;
    let (endpoint_id, _) = endpoint(&app, &partner, &receiver.url, &["booking.confirmed"]).await;
    let ana = customer(&app, "ana@example.com").await;
    confirmed(&app, &ana, &f.noon, &["A1"]).await;
    receiver.wait_for(1).await;
    app.restart().await;
    // Its claim lapses (timeout + margin); then the delivery is sent again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 1, "not before the claim lapses");
    app.clock.advance(chrono::Duration::minutes(2));
    let received = receiver.wait_for(2).await;
    assert_eq!(received[1].id, received[0].id);
    assert_eq!(received[1].body, received[0].body);
    let partner = login(&app, "owner@example.com").await;
    let detail = delivery_of(&app, &partner, &endpoint_id, "booking.confirmed").await;
    assert_eq!(detail["status"], "delivered");
    assert_eq!(
        detail["attempts"], 1,
        "the interrupted attempt left no record"
    );
    app.stop().await;
}

mod a_node_dying_mid_delivery_loses_nothing_and_the_repeat_has_the_same_id {
    use marquee::db::Engine;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::a_node_dying_mid_delivery_loses_nothing(Engine::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::a_node_dying_mid_delivery_loses_nothing(Engine::Postgres).await;
    }
}

db_test_with!(
    a_theatre_system_with_only_its_api_key_schedules_a_week_sells_at_the_counter_hears_back_and_is_paid,
    |config| { receiving(config); config.settlement.run_interval_ms = 0; },
    |app| {
        let f = fixtures::load(app).await;
        let receiver = Receiver::start().await;
        let partner = owning_partner(app, "owner@example.com").await;
        let key: Value = send(app, Method::POST, "/api/v1/partner/api-keys", Some(&partner),
            Some(json!({"name": "theatre system"}))).await.json().await.unwrap();
        // From here on, only the key and the theatre system's own ids.
        let key = key["key"].as_str().unwrap().to_owned();
        let (_, secret) = endpoint(app, &key, &receiver.url,
            &["booking.confirmed", "counter_sale.recorded", "counter_sale.conflicted"]).await;
        let put = |path: &'static str, body: Value| {
            let key = key.clone();
            async move { send(app, Method::PUT, path, Some(&key), Some(body)).await.status() }
        };
        assert_eq!(put("/api/v1/partner/sync/theatres/BLR-01",
            json!({"city_id": f.testpur.to_string(), "name": "Lakeside", "address": "1 Road"})).await,
            StatusCode::CREATED);
        assert_eq!(put("/api/v1/partner/sync/theatres/BLR-01/screens/S1",
            json!({"name": "Audi 1", "rows": [
                {"label": "A", "category": "regular", "blocks": [3, 3]},
                {"label": "B", "category": "premium", "blocks": [4]}]})).await,
            StatusCode::CREATED);
        let week: Vec<Value> = (0..7)
            .map(|day| json!({"external_id": format!("SH-{}", day + 1), "screen_external_id": "S1",
                "movie_id": f.alpha.to_string(),
                "starts_at": format!("2026-11-{}T10:00:00Z", 23 + day),
                "language": "en", "format": "2D", "prices": {"regular": 20_000, "premium": 30_000}}))
            .collect();
        let schedule = send(app, Method::POST, "/api/v1/partner/sync/theatres/BLR-01/schedule",
            Some(&key), Some(json!({"shows": week}))).await;
        assert_eq!(schedule.status(), StatusCode::OK);
        let schedule: Value = schedule.json().await.unwrap();
        let shows = schedule["shows"].as_array().unwrap();
        assert_eq!(shows.len(), 7);
        assert!(shows.iter().all(|s| s["outcome"] == "created"), "{schedule}");
        let first = shows[0]["id"].as_str().unwrap().to_owned();

        // The box office sells A1 and A2; online, A1 is refused and A3 sells; the box
        // office's A3 is refused in turn.
        let sale = |id: &str, seats: &[&str]| json!({"show_id": first, "external_sale_id": id, "seats": seats});
        assert_eq!(sell(app, &key, sale("POS-1", &["A1", "A2"])).await, StatusCode::CREATED);
        let ana = customer(app, "ana@example.com").await;
        let show_id = marquee::ids::ShowId::parse(&first).unwrap();
        assert_eq!(crate::booking::hold(app, &ana, &show_id, &["A1"]).await.status(), StatusCode::CONFLICT);
        let booking = confirmed(app, &ana, &show_id, &["A3"]).await;
        assert_eq!(sell(app, &key, sale("POS-2", &["A3", "A4"])).await, StatusCode::CONFLICT);

        // The theatre's system hears all three, signed, with its own show id.
        let received = receiver.wait_for(3).await;
        let verifier = standardwebhooks::Webhook::new(&secret).unwrap();
        let mut types = Vec::new();
        for message in &received {
            verifier.verify(message.body.as_bytes(), &message.headers).unwrap();
            let body: Value = serde_json::from_str(&message.body).unwrap();
            assert_eq!(body["data"]["show_external_id"], "SH-1");
            types.push(message.event_type.clone());
        }
        assert_eq!(types, ["counter_sale.recorded", "booking.confirmed", "counter_sale.conflicted"]);

        // Paid: the next day, yesterday's statement as CSV, with the key; it reconciles
        // to the cent with the gateway's ledger.
        app.clock.set("2026-11-23T09:00:00Z".parse().unwrap());
        let root = crate::offers::admin(app).await;
        let org = marquee::ids::PartnerOrgId::derived("test/org").to_string();
        let run = send(app, Method::POST, "/api/v1/admin/settlements", Some(&root),
            Some(json!({"org_id": org, "business_date": "2026-11-22"}))).await;
        assert_eq!(run.status(), StatusCode::CREATED);
        let statements: Value = send(app, Method::GET, "/api/v1/partner/settlements", Some(&key), None)
            .await.json().await.unwrap();
        let yesterday = &statements["items"][0];
        assert_eq!(yesterday["business_date"], "2026-11-22");
        let csv = send(app, Method::GET,
            &format!("/api/v1/partner/settlements/{}.csv", yesterday["id"].as_str().unwrap()),
            Some(&key), None).await.text().await.unwrap();
        let lines: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
        assert_eq!(lines.len(), 2, "one sale and the total: {csv}");
        assert_eq!(lines[0][3], id_of(&booking));
        // A3 at 20,000 with the 5 % fee; 10 % default commission on the tickets.
        assert_eq!(&lines[0][10..16], ["21000", "20000", "1000", "1000", "2000", "18000"]);
        let recon: Value = send(app, Method::GET, "/api/v1/admin/reconciliation?date=2026-11-22",
            Some(&root), None).await.json().await.unwrap();
        assert_eq!(recon["mismatches"], json!([]));
        let gateway = recon["totals"][0]["gateway_captured"].as_i64().unwrap()
            - recon["totals"][0]["gateway_refunded"].as_i64().unwrap();
        assert_eq!(lines[1][10].parse::<i64>().unwrap(), gateway);
    }
);

db_test_with!(
    an_endpoint_that_never_answers_holds_back_only_itself,
    |config| {
        receiving(config);
        // One request in flight per endpoint on this node.
        config.webhooks.concurrency = 4;
        config.webhooks.timeout_ms = 60_000;
    },
    |app| {
        let f = fixtures::load(app).await;
        let (stuck, healthy) = (Receiver::start().await, Receiver::start().await);
        stuck.with(|s| s.hang_all = true);
        let partner = owning_partner(app, "owner@example.com").await;
        endpoint(app, &partner, &stuck.url, &["booking.confirmed"]).await;
        endpoint(app, &partner, &healthy.url, &["booking.confirmed"]).await;
        let ana = customer(app, "ana@example.com").await;
        for show in [&f.noon, &f.evening, &f.day3] {
            confirmed(app, &ana, show, &["A1"]).await;
        }
        // The healthy endpoint gets all three while the stuck one holds its only slot.
        let received = healthy.wait_for(3).await;
        assert_eq!(received.len(), 3);
        assert_eq!(stuck.received().len(), 1);
        assert_eq!(marquee::integration::deliveries::per_endpoint(4), 1);
    }
);
