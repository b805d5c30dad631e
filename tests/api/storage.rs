//! The storage seam as a whole:
//!
//! - One source for every event payload: the same story told on SQLite and on PostgreSQL
//!   writes the same events — the same types, in the same order, with the same payloads
//!   once the randomly generated ids are replaced by the order they first appeared in. A
//!   payload built anywhere but from the `Event` enum (SQL that writes JSON, an
//!   engine-specific branch) shows here as a difference.
//! - A unit of work is a closed room: one that reaches for the application's state (and
//!   through it a pool, a cache loader or the network) fails, on both engines, every time.

use std::collections::HashMap;

use marquee::{booking::sweeper, db::Engine, integration::outbox};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    booking::{
        cancel, customer, hold_ok, id_of, owning_partner, pay_ok, wait_for_payment, wait_for_status,
    },
    db_test, fixtures,
    helpers::{TestApp, send},
    waitlist::join,
};

/// The story: a paid booking; a hold released; a declined card then a paid retry, then
/// cancelled and refunded; a hold left to lapse and swept; a partner withholding and
/// releasing seats; a sold-out show with a waitlist that is offered freed seats; and that
/// show cancelled by its partner.
async fn tell(app: &TestApp) -> Vec<(String, String, Value)> {
    let f = fixtures::load(app).await;
    let ana = customer(app, "ana@example.com").await;
    let paid = id_of(&hold_ok(app, &ana, &f.noon, &["A1", "A2"]).await);
    pay_ok(app, &ana, &paid, "tok_visa").await;
    wait_for_status(app, &ana, &paid, "confirmed").await;

    let ben = customer(app, "ben@example.com").await;
    let released = id_of(&hold_ok(app, &ben, &f.noon, &["B1"]).await);
    assert_eq!(cancel(app, &ben, &released).await.status(), StatusCode::OK);

    let cy = customer(app, "cy@example.com").await;
    let retried = id_of(&hold_ok(app, &cy, &f.noon, &["C1"]).await);
    let declined = id_of(&pay_ok(app, &cy, &retried, "tok_chargeDeclined").await);
    wait_for_payment(app, &cy, &retried, &declined, "failed").await;
    let second = id_of(&pay_ok(app, &cy, &retried, "tok_visa").await);
    wait_for_status(app, &cy, &retried, "confirmed").await;
    assert_eq!(cancel(app, &cy, &retried).await.status(), StatusCode::OK);
    wait_for_payment(app, &cy, &retried, &second, "refunded").await;

    let dan = customer(app, "dan@example.com").await;
    hold_ok(app, &dan, &f.noon, &["A3"]).await;
    app.clock.advance(chrono::Duration::seconds(301));
    assert_eq!(sweeper::sweep_once(&app.state).await.unwrap(), 1);

    let partner = owning_partner(app, "pat@example.com").await;
    let inventory = format!("/api/v1/partner/shows/{}/inventory", f.noon);
    for change in [json!({"withhold": ["B2"]}), json!({"release": ["B2"]})] {
        let response = send(app, Method::POST, &inventory, Some(&partner), Some(change)).await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    let gus = customer(app, "gus@example.com").await;
    let everything = ["A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4", "C1", "C2"];
    let sold_out = id_of(&hold_ok(app, &gus, &f.evening, &everything).await);
    let hal = customer(app, "hal@example.com").await;
    let joined = join(app, &hal, f.evening.as_str(), json!({"seats_wanted": 2})).await;
    assert_eq!(joined.status(), StatusCode::CREATED);
    assert_eq!(cancel(app, &gus, &sold_out).await.status(), StatusCode::OK);
    let cancelled = send(
        app,
        Method::POST,
        &format!("/api/v1/partner/shows/{}/cancel", f.evening),
        Some(&partner),
        None,
    )
    .await;
    assert_eq!(cancelled.status(), StatusCode::OK);

    normalized(app).await
}

/// The outbox as (type, aggregate type, payload), every generated id in it replaced by
/// `#n`, n counting ids in the order they first appear.
async fn normalized(app: &TestApp) -> Vec<(String, String, Value)> {
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for envelope in outbox::all(&app.state.db).await.unwrap() {
        let payload: Value = serde_json::from_str(&envelope.payload).unwrap();
        out.push((
            envelope.event_type,
            envelope.aggregate_type,
            replace_ids(payload, &mut ids),
        ));
    }
    out
}

fn replace_ids(value: Value, ids: &mut HashMap<String, usize>) -> Value {
    match value {
        Value::String(text) if is_generated_id(&text) => {
            let next = ids.len();
            json!(format!("#{}", ids.entry(text).or_insert(next)))
        }
        Value::Array(items) => items.into_iter().map(|v| replace_ids(v, ids)).collect(),
        Value::Object(map) => map
            .into_iter()
            .map(|(k, v)| (k, replace_ids(v, ids)))
            .collect(),
        other => other,
    }
}

/// `bkg_…`, `pay_…`, `usr_…`, `wl_…`: a prefix and a 26-character ULID.
fn is_generated_id(text: &str) -> bool {
    text.split_once('_').is_some_and(|(prefix, rest)| {
        ["bkg", "pay", "usr", "wl", "grp"].contains(&prefix) && rest.len() == 26
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_story_writes_the_same_events_on_both_engines() {
    let sqlite = TestApp::spawn(Engine::Sqlite).await.expect("SQLite app");
    let sqlite_events = tell(&sqlite).await;
    sqlite.stop().await;
    let Some(postgres) = TestApp::spawn(Engine::Postgres).await else {
        return;
    };
    let postgres_events = tell(&postgres).await;
    postgres.stop().await;

    // The story touches every kind of event a customer, the gateway and a partner cause.
    let mut types: Vec<&str> = sqlite_events.iter().map(|(t, ..)| t.as_str()).collect();
    types.sort_unstable();
    types.dedup();
    assert_eq!(
        types,
        [
            "booking.cancelled",
            "booking.confirmed",
            "booking.expired",
            "booking.held",
            "payment.failed",
            "payment.refunded",
            "seats.released",
            "seats.withdrawn",
            "show.cancelled",
            "waitlist.offered",
        ]
    );
    assert_eq!(sqlite_events.len(), postgres_events.len(), "event counts");
    for (i, (on_sqlite, on_postgres)) in sqlite_events.iter().zip(&postgres_events).enumerate() {
        assert_eq!(
            on_sqlite, on_postgres,
            "event {i} differs between the engines"
        );
    }
}

db_test!(
    a_unit_of_work_that_reaches_the_application_fails_every_time,
    |app| {
        // Whatever it would do there (here only read the configuration), it is refused: in
        // debug builds (every test) the application state cannot be reached from a unit.
        let state = app.state.clone();
        let outcome = app
            .db
            .write(move |tx| {
                tx.execute("DELETE FROM leases WHERE name = 'nothing'", &[])?;
                let _ = state.config.booking.hold_secs;
                Ok::<_, sqlx::Error>(())
            })
            .await;
        match outcome {
            Err(sqlx::Error::Protocol(message)) => {
                assert_eq!(message, "a unit of work panicked");
            }
            other => panic!("the unit was not refused: {other:?}"),
        }
        // The engine is fine afterwards: the next unit runs.
        let ok = app
            .db
            .write(|tx| tx.execute("DELETE FROM leases WHERE name = 'nothing'", &[]))
            .await;
        assert_eq!(ok.unwrap(), 0);
    }
);
