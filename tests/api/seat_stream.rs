//! The live seat map (`GET /shows/{id}/seats/stream`): a snapshot, then every seat change
//! in outbox order — holds, confirmations, expiries, cancellations, partner changes —
//! resumed exactly after `Last-Event-ID`, and a reload when the outbox no longer holds
//! what was missed.

use std::time::{Duration, Instant};

use marquee::{booking::sweeper::sweep_once, config::Config, ids::ShowId, params};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    booking::{
        cancel, customer, get_booking, hold_ok, id_of, owning_partner, pay_ok, wait_for_status,
    },
    db_test_with, fixtures,
    helpers::{TestApp, assert_problem, send},
};

/// The tests move the clock and sweep themselves.
fn no_sweeper(config: &mut Config) {
    config.booking.sweep_interval_ms = 0;
}

/// One server-sent event.
#[derive(Debug)]
struct Message {
    id: i64,
    event: String,
    data: Value,
}

/// An open stream, read event by event.
struct SeatStream {
    response: reqwest::Response,
    buffer: String,
}

impl SeatStream {
    async fn open(app: &TestApp, show: &ShowId, last_event_id: Option<i64>) -> Self {
        let mut request = app
            .client
            .get(app.url(&format!("/api/v1/shows/{show}/seats/stream")));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await.expect("open the stream");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event, waiting at most `limit`.
    async fn next_within(&mut self, limit: Duration) -> Option<Message> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(message) = parse(&block) {
                    return Some(message);
                }
                continue;
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.response.chunk()).await {
                Ok(Ok(Some(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(Ok(None)) | Ok(Err(_)) => panic!("the stream ended"),
                Err(_) => return None,
            }
        }
    }

    async fn next(&mut self) -> Message {
        self.next_within(Duration::from_secs(5))
            .await
            .expect("an event within 5 s")
    }

    /// The server closes the stream within `limit`, sending nothing more.
    async fn assert_ends_within(&mut self, limit: Duration) {
        match tokio::time::timeout(limit, self.response.chunk()).await {
            Ok(Ok(None)) => {}
            Ok(Ok(Some(chunk))) => panic!("more: {}", String::from_utf8_lossy(&chunk)),
            Ok(Err(error)) => panic!("the stream failed: {error}"),
            Err(_) => panic!("the stream still open after {limit:?}"),
        }
    }

    /// Nothing arrives for a while.
    async fn assert_quiet(&mut self) {
        let message = self.next_within(Duration::from_millis(400)).await;
        assert!(message.is_none(), "unexpected {message:?}");
    }
}

/// An event block, or `None` for comments (keep-alives) and the bare `retry` field.
fn parse(block: &str) -> Option<Message> {
    let (mut id, mut event, mut data) = (None, None, String::new());
    for line in block.lines() {
        if let Some(value) = line.strip_prefix("id:") {
            id = value.trim().parse().ok();
        } else if let Some(value) = line.strip_prefix("event:") {
            event = Some(value.trim().to_owned());
        } else if let Some(value) = line.strip_prefix("data:") {
            data.push_str(value.trim_start());
        }
    }
    Some(Message {
        id: id?,
        event: event?,
        data: serde_json::from_str(&data).expect("JSON data"),
    })
}

/// A `seats` delta without its sequence, which the caller checks separately.
fn delta(message: &Message) -> Value {
    assert_eq!(message.event, "seats", "{message:?}");
    assert_eq!(message.data["seq"], message.id, "the id is the sequence");
    json!({
        "state": message.data["state"],
        "seats": message.data["seats"],
        "held_until": message.data["held_until"],
    })
}

fn seats(state: &str, seats: &[&str]) -> Value {
    json!({"state": state, "seats": seats, "held_until": null})
}

/// `held_until` as the stream sends it: the booking's expiry instant, in UTC.
fn held(seats: &[&str], booking: &Value) -> Value {
    let expires = chrono::DateTime::parse_from_rfc3339(booking["expires_at"].as_str().unwrap())
        .expect("an RFC 3339 expiry");
    let utc = marquee::time::Timestamp::from_datetime(expires.to_utc()).to_rfc3339();
    json!({"state": "held", "seats": seats, "held_until": utc})
}

async fn inventory(app: &TestApp, partner: &str, show: &ShowId, change: Value) {
    let response = send(
        app,
        Method::POST,
        &format!("/api/v1/partner/shows/{show}/inventory"),
        Some(partner),
        Some(change),
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        response.text().await.unwrap()
    );
}

db_test_with!(
    a_stream_starts_with_every_seat_then_sends_each_change_in_order,
    |config| {
        no_sweeper(config);
    },
    |app| {
        let f = fixtures::load(app).await;
        let ann = customer(app, "ann@example.com").await;
        let bob = customer(app, "bob@example.com").await;
        let partner = owning_partner(app, "owner@example.com").await;
        fixtures::set_seat(app, &f.noon, "C2", "blocked", None).await;

        let mut stream = SeatStream::open(app, &f.noon, None).await;
        let snapshot = stream.next().await;
        assert_eq!(snapshot.event, "snapshot");
        assert_eq!(snapshot.data["seq"], snapshot.id);
        assert_eq!(snapshot.data["on_sale"], true);
        let states: Vec<(String, String)> = snapshot.data["seats"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["label"].as_str().unwrap().into(),
                    s["state"].as_str().unwrap().into(),
                )
            })
            .collect();
        let expected: Vec<(String, String)> =
            ["A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4", "C1", "C2"]
                .iter()
                .map(|l| {
                    (
                        l.to_string(),
                        if *l == "C2" { "blocked" } else { "available" }.to_owned(),
                    )
                })
                .collect();
        assert_eq!(states, expected);

        // A hold, then its payment.
        let booking = hold_ok(app, &ann, &f.noon, &["A1", "A2"]).await;
        let id = id_of(&booking);
        let mut ids = vec![snapshot.id];
        let mut next = async |stream: &mut SeatStream| {
            let message = stream.next().await;
            ids.push(message.id);
            delta(&message)
        };
        assert_eq!(next(&mut stream).await, held(&["A1", "A2"], &booking));
        pay_ok(app, &ann, &id, "tok_visa").await;
        wait_for_status(app, &ann, &id, "confirmed").await;
        assert_eq!(next(&mut stream).await, seats("booked", &["A1", "A2"]));

        // The partner takes seats off sale and puts them back.
        inventory(
            app,
            &partner,
            &f.noon,
            json!({"withhold": ["B4"], "block": ["C1"]}),
        )
        .await;
        assert_eq!(next(&mut stream).await, seats("withheld", &["B4"]));
        assert_eq!(next(&mut stream).await, seats("blocked", &["C1"]));
        inventory(
            app,
            &partner,
            &f.noon,
            json!({"release": ["C1", "B4", "C2"]}),
        )
        .await;
        assert_eq!(
            next(&mut stream).await,
            seats("available", &["C1", "B4", "C2"])
        );

        // A hold that lapses and is swept.
        let lapsing = hold_ok(app, &bob, &f.noon, &["B1"]).await;
        assert_eq!(next(&mut stream).await, held(&["B1"], &lapsing));
        app.clock.advance(chrono::Duration::minutes(11));
        assert_eq!(sweep_once(&app.state).await.expect("sweep"), 1);
        assert_eq!(next(&mut stream).await, seats("available", &["B1"]));

        // The customer cancels; then the partner cancels the show.
        let response = cancel(app, &ann, &id).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(next(&mut stream).await, seats("available", &["A1", "A2"]));
        let response = send(
            app,
            Method::POST,
            &format!("/api/v1/partner/shows/{}/cancel", f.noon),
            Some(&partner),
            None,
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        let cancelled = stream.next().await;
        assert_eq!(cancelled.event, "show-cancelled");
        assert_eq!(cancelled.data, json!({"seq": cancelled.id}));
        ids.push(cancelled.id);

        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "increasing ids: {ids:?}"
        );
        stream.assert_quiet().await;
        assert_eq!(get_booking(app, &ann, &id).await["status"], "cancelled");
    }
);

db_test_with!(
    every_open_map_sees_a_taken_seat_within_a_second,
    |config| {
        no_sweeper(config);
    },
    |app| {
        let f = fixtures::load(app).await;
        let ann = customer(app, "ann@example.com").await;
        let mut first = SeatStream::open(app, &f.noon, None).await;
        let mut second = SeatStream::open(app, &f.noon, None).await;
        assert_eq!(first.next().await.event, "snapshot");
        assert_eq!(second.next().await.event, "snapshot");

        let booking = hold_ok(app, &ann, &f.noon, &["B2"]).await;
        let answered = Instant::now();
        for stream in [&mut first, &mut second] {
            let message = stream
                .next_within(Duration::from_secs(1))
                .await
                .expect("the hold within 1 s of its answer");
            assert_eq!(delta(&message), held(&["B2"], &booking));
        }
        assert!(answered.elapsed() < Duration::from_secs(1));
        // Another show's changes are not sent.
        hold_ok(app, &ann, &f.evening, &["A1"]).await;
        first.assert_quiet().await;
    }
);

db_test_with!(
    a_stream_resumed_after_last_event_id_is_sent_exactly_what_it_missed,
    |config| {
        no_sweeper(config);
    },
    |app| {
        let f = fixtures::load(app).await;
        let ann = customer(app, "ann@example.com").await;
        let partner = owning_partner(app, "owner@example.com").await;
        let mut stream = SeatStream::open(app, &f.noon, None).await;
        let seen = stream.next().await.id;
        drop(stream);

        // Missed while disconnected (one of them on another show).
        let booking = hold_ok(app, &ann, &f.noon, &["A3"]).await;
        hold_ok(app, &ann, &f.evening, &["A3"]).await;
        inventory(app, &partner, &f.noon, json!({"block": ["C1"]})).await;

        let mut resumed = SeatStream::open(app, &f.noon, Some(seen)).await;
        let first = resumed.next().await;
        let second = resumed.next().await;
        assert!(seen < first.id && first.id < second.id);
        assert_eq!(delta(&first), held(&["A3"], &booking));
        assert_eq!(delta(&second), seats("blocked", &["C1"]));
        resumed.assert_quiet().await;

        // Resuming from the latest id sends nothing old, and the next change live.
        let mut latest = SeatStream::open(app, &f.noon, Some(second.id)).await;
        latest.assert_quiet().await;
        inventory(app, &partner, &f.noon, json!({"release": ["C1"]})).await;
        let live = latest.next().await;
        assert!(live.id > second.id);
        assert_eq!(delta(&live), seats("available", &["C1"]));
        assert_eq!(delta(&resumed.next().await), seats("available", &["C1"]));
    }
);

db_test_with!(
    a_gap_the_outbox_no_longer_holds_is_told_to_reload_with_a_new_snapshot,
    |config| {
        no_sweeper(config);
    },
    |app| {
        let f = fixtures::load(app).await;
        let ann = customer(app, "ann@example.com").await;
        let mut stream = SeatStream::open(app, &f.noon, None).await;
        let seen = stream.next().await.id;
        drop(stream);
        hold_ok(app, &ann, &f.noon, &["A4"]).await;
        // Published events are purged after a while (long after every node's tail passed
        // them); here, everything so far, once this node's tail has passed it.
        let last = marquee::integration::outbox::last_seq(&app.db)
            .await
            .unwrap();
        let waited = Instant::now();
        while app.state.seat_streams.cursor() < last {
            assert!(
                waited.elapsed() < Duration::from_secs(5),
                "the tail passes {last}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        app.db
            .write(move |tx| tx.execute("DELETE FROM outbox WHERE seq <= $1", params![last]))
            .await
            .unwrap();

        let mut resumed = SeatStream::open(app, &f.noon, Some(seen)).await;
        let reload = resumed.next().await;
        assert_eq!(reload.event, "reload");
        assert_eq!(reload.data["reason"], "gap");
        let snapshot = resumed.next().await;
        assert_eq!(snapshot.event, "snapshot");
        assert_eq!(snapshot.id, reload.id);
        let a4 = snapshot.data["seats"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["label"] == "A4")
            .cloned()
            .unwrap();
        assert_eq!(a4["state"], "held");
        assert!(a4["held_until"].is_string());

        // An expired hold is sent as available, without waiting for the sweeper.
        app.clock.advance(chrono::Duration::minutes(11));
        let mut later = SeatStream::open(app, &f.noon, None).await;
        let snapshot = later.next().await;
        let a4 = snapshot.data["seats"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["label"] == "A4")
            .cloned()
            .unwrap();
        assert_eq!(a4, json!({"label": "A4", "state": "available"}));
    }
);

db_test_with!(
    a_stream_refuses_unknown_shows_and_malformed_ids,
    |config| {
        no_sweeper(config);
    },
    |app| {
        let f = fixtures::load(app).await;
        let unknown = app
            .client
            .get(app.url("/api/v1/shows/shw_01J0000000000000000000000/seats/stream"))
            .send()
            .await
            .unwrap();
        assert_problem(unknown, 404, "not-found").await;
        for bad in ["abc", "-1", "1.5", "9999999999999999999999"] {
            let response = app
                .client
                .get(app.url(&format!("/api/v1/shows/{}/seats/stream", f.noon)))
                .header("Last-Event-ID", bad)
                .send()
                .await
                .unwrap();
            assert_problem(response, 400, "invalid-request").await;
        }
    }
);

db_test_with!(
    a_stream_closes_at_its_maximum_age_and_resumes_without_loss,
    |config| {
        no_sweeper(config);
        config.events.seat_stream_max_secs = 1;
    },
    |app| {
        let f = fixtures::load(app).await;
        let ann = customer(app, "ann@example.com").await;
        let mut stream = SeatStream::open(app, &f.noon, None).await;
        let seen = stream.next().await.id;
        stream.assert_ends_within(Duration::from_secs(3)).await;
        let booking = hold_ok(app, &ann, &f.noon, &["B3"]).await;
        let mut resumed = SeatStream::open(app, &f.noon, Some(seen)).await;
        assert_eq!(delta(&resumed.next().await), held(&["B3"], &booking));
    }
);
