//! `marquee relay` against a real NATS JetStream server (MARQUEE_TEST_NATS_URL, default
//! nats://127.0.0.1:4222): outbox events are published in order with their ids as message
//! ids, a rolled-back change publishes nothing, a restarted relay loses and repeats
//! nothing, two relays publish each event once, consumers are duplicate-safe, and a node
//! configured with NATS consumes what the relay publishes. Each test has its own stream
//! and subject prefix, deleted at the end.

use std::{
    future::Future,
    pin::Pin,
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use async_nats::jetstream;
use marquee::{
    app::AppState,
    clock::Clock,
    config::Config,
    db::{Db, Engine},
    integration::{
        dispatcher::{self, Consumer},
        events::{Envelope, Event},
        outbox,
        relay::{self, Relay},
    },
};

use crate::helpers::TestApp;

pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";

pub fn nats_url() -> String {
    std::env::var("MARQUEE_TEST_NATS_URL").unwrap_or_else(|_| DEFAULT_NATS_URL.to_owned())
}

/// A stream and subject prefix of this test's own.
pub fn own_stream(config: &mut Config) {
    let tag = ulid::Ulid::new().to_string();
    config.events.nats_stream = format!("MARQUEE_TEST_{tag}");
    config.events.nats_subject_prefix = format!("test.{}", tag.to_lowercase());
}

/// JetStream at the test server, or `None` (skipping) when it is down outside CI.
pub async fn jetstream() -> Option<jetstream::Context> {
    let url = nats_url();
    match async_nats::connect(&url).await {
        Ok(client) => Some(jetstream::new(client)),
        Err(error) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("NATS at {url} is required under CI=true: {error}");
            }
            eprintln!("skipping NATS test: cannot reach {url}: {error}");
            None
        }
    }
}

/// Runs `body` on `app`, then deletes the test's stream even if `body` panicked.
pub async fn with_stream<F>(app: TestApp, js: jetstream::Context, body: F)
where
    F: for<'a> FnOnce(
            &'a TestApp,
            &'a jetstream::Context,
        ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>
        + Send
        + 'static,
{
    let stream = app.state.config.events.nats_stream.clone();
    let js_for_body = js.clone();
    let outcome = tokio::spawn(async move {
        body(&app, &js_for_body).await;
        app.stop().await;
    })
    .await;
    let _ = js.delete_stream(&stream).await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

/// Defines `mod $name { sqlite, postgres }` on an app whose in-process dispatcher is off
/// (the relay under test is the only publisher), with a stream of its own.
macro_rules! relay_test {
    ($name:ident, |$app:ident, $js:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: &TestApp, $js: &jetstream::Context) $body

            async fn on(engine: Engine) {
                let Some(js) = jetstream().await else { return };
                let configure = |config: &mut Config| {
                    config.events.dispatch_interval_ms = 0;
                    own_stream(config);
                };
                if let Some(app) = TestApp::spawn_with(engine, configure).await {
                    with_stream(app, js, |app, js| Box::pin(run(app, js))).await;
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                on(Engine::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                on(Engine::Postgres).await;
            }
        }
    };
}

fn now(app: &TestApp) -> i64 {
    app.clock.now().as_millis()
}

/// `n` events of a few aggregates, in the order they are appended.
fn sample_events(n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| match i % 3 {
            0 => Event::ShowChanged {
                show_id: format!("shw_{}", i / 3),
            },
            1 => Event::BookingConfirmed {
                booking_id: format!("bkg_{i}"),
                show_id: format!("shw_{}", i / 3),
                payment_id: format!("pay_{i}"),
                seats: vec![format!("B{i}")],
            },
            _ => Event::SeatsReleased {
                show_id: format!("shw_{}", i / 3),
                seats: vec![format!("A{i}")],
                reason: "expired".into(),
            },
        })
        .collect()
}

/// Appends `events` in one committed transaction.
async fn append_committed(app: &TestApp, events: &[Event]) {
    let (events, now) = (events.to_vec(), now(app));
    app.state
        .db
        .write(move |tx| outbox::append_all(tx, &events, now))
        .await
        .unwrap();
}

/// Appends `events` in a unit of work that then fails (and so rolls back).
async fn append_rolled_back(app: &TestApp, events: &[Event]) {
    let (events, now) = (events.to_vec(), now(app));
    let refused = app
        .state
        .db
        .write(move |tx| {
            outbox::append_all(tx, &events, now)?;
            Err::<(), _>(sqlx::Error::RowNotFound)
        })
        .await;
    assert!(refused.is_err());
}

/// One message as stored in the stream.
#[derive(Debug)]
struct Stored {
    subject: String,
    msg_id: String,
    envelope: Envelope,
}

/// Every message in the test's stream, in stream order.
async fn stored(app: &TestApp, js: &jetstream::Context) -> Vec<Stored> {
    let mut stream = relay::ensure_stream(js, &app.state.config.events)
        .await
        .unwrap();
    let info = stream.info().await.unwrap().state.clone();
    if info.messages == 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for seq in info.first_sequence..=info.last_sequence {
        let message = stream.get_raw_message(seq).await.unwrap();
        out.push(Stored {
            subject: message.subject.to_string(),
            msg_id: message
                .headers
                .get(async_nats::header::NATS_MESSAGE_ID)
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default(),
            envelope: serde_json::from_slice(&message.payload).unwrap(),
        });
    }
    out
}

/// `published_at` of every outbox row, in order.
async fn published_at(db: &Db) -> Vec<Option<i64>> {
    db.fetch_all("SELECT published_at FROM outbox ORDER BY seq", &[])
        .await
        .unwrap()
}

fn event_ids(envelopes: &[Envelope]) -> Vec<String> {
    envelopes.iter().map(|e| e.event_id.clone()).collect()
}

/// Asserts the stream holds exactly the outbox, once each, in outbox order.
async fn assert_stream_is_the_outbox(app: &TestApp, js: &jetstream::Context) {
    let outbox = outbox::all(&app.state.db).await.unwrap();
    let stored = stored(app, js).await;
    let ids: Vec<String> = stored.iter().map(|s| s.msg_id.clone()).collect();
    assert_eq!(
        ids,
        event_ids(&outbox),
        "stream message ids vs outbox order"
    );
    let envelopes: Vec<Envelope> = stored.into_iter().map(|s| s.envelope).collect();
    assert_eq!(envelopes, outbox);
}

/// Clears `published_at` of the event `seq`, as if the relay had crashed after the
/// stream acked it and before the outbox said so.
async fn forget_published(db: &Db, seq: i64) {
    db.write(move |tx| {
        tx.execute(
            "UPDATE outbox SET published_at = NULL WHERE seq = $1",
            marquee::params![seq],
        )
    })
    .await
    .unwrap();
}

relay_test!(
    relayed_events_keep_outbox_order_and_carry_their_ids_as_message_ids,
    |app, js| {
        relay::ensure_stream(js, &app.state.config.events)
            .await
            .unwrap();
        append_committed(app, &sample_events(4)).await;
        append_committed(app, &sample_events(2)).await;

        let relay = Relay::new(js.clone(), app.state.config.events.clone());
        assert_eq!(
            relay
                .relay_once(&app.state.db, now(app), 100)
                .await
                .unwrap(),
            6
        );

        let outbox = outbox::all(&app.state.db).await.unwrap();
        assert_eq!(outbox.len(), 6);
        assert_eq!(published_at(&app.state.db).await, vec![Some(now(app)); 6]);
        let prefix = &app.state.config.events.nats_subject_prefix;
        let stored = stored(app, js).await;
        assert_eq!(
            stored.iter().map(|s| s.subject.clone()).collect::<Vec<_>>(),
            outbox
                .iter()
                .map(|e| format!("{prefix}.{}.{}", e.aggregate_type, e.event_type))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            stored[1].subject,
            format!("{prefix}.booking.booking.confirmed")
        );
        assert_stream_is_the_outbox(app, js).await;
        // Nothing is left to publish.
        assert_eq!(
            relay
                .relay_once(&app.state.db, now(app), 100)
                .await
                .unwrap(),
            0
        );
        assert!(
            outbox::unpublished(&app.state.db, 100)
                .await
                .unwrap()
                .is_empty()
        );
    }
);

relay_test!(
    an_event_whose_transaction_rolled_back_is_never_published,
    |app, js| {
        append_rolled_back(app, &sample_events(2)).await;
        append_committed(app, &sample_events(1)).await;
        append_rolled_back(app, &sample_events(3)).await;

        let relay = Relay::new(js.clone(), app.state.config.events.clone());
        relay::ensure_stream(js, &app.state.config.events)
            .await
            .unwrap();
        assert_eq!(
            relay
                .relay_once(&app.state.db, now(app), 100)
                .await
                .unwrap(),
            1
        );
        assert_eq!(outbox::all(&app.state.db).await.unwrap().len(), 1);
        assert_stream_is_the_outbox(app, js).await;
    }
);

relay_test!(
    a_restarted_relay_continues_where_the_last_stopped_without_loss_or_duplicates,
    |app, js| {
        relay::ensure_stream(js, &app.state.config.events)
            .await
            .unwrap();
        append_committed(app, &sample_events(7)).await;
        let db = &app.state.db;
        let lease_ms = app.state.config.events.lease_ms as i64;

        let first = Relay::new(js.clone(), app.state.config.events.clone());
        assert_eq!(first.relay_once(db, now(app), 3).await.unwrap(), 3);
        // The first relay dies without giving its lease back.
        drop(first);

        let second = Relay::new(js.clone(), app.state.config.events.clone());
        assert_eq!(
            second.relay_once(db, now(app), 100).await.unwrap(),
            0,
            "the dead relay's lease stands until it expires"
        );
        let later = now(app) + lease_ms;
        assert_eq!(second.relay_once(db, later, 100).await.unwrap(), 4);
        assert_stream_is_the_outbox(app, js).await;

        // A crash after the stream acked an event and before the outbox recorded it: the
        // next round publishes it again and the stream drops the copy.
        let fourth = outbox::all(db).await.unwrap()[3].clone();
        forget_published(db, fourth.seq).await;
        let ack = relay::publish(js, &app.state.config.events.nats_subject_prefix, &fourth)
            .await
            .unwrap();
        assert!(ack.duplicate, "JetStream de-duplicates by Nats-Msg-Id");
        assert_eq!(second.relay_once(db, later, 100).await.unwrap(), 1);
        assert!(outbox::unpublished(db, 100).await.unwrap().is_empty());
        assert_stream_is_the_outbox(app, js).await;
    }
);

relay_test!(
    two_relays_at_once_publish_every_event_once_in_order,
    |app, js| {
        relay::ensure_stream(js, &app.state.config.events)
            .await
            .unwrap();
        append_committed(app, &sample_events(30)).await;
        let start = now(app);

        let run = move |relay: Relay, db: Db| {
            tokio::spawn(async move {
                let mut published = 0;
                let deadline = Instant::now() + Duration::from_secs(30);
                while Instant::now() < deadline {
                    published += relay.relay_once(&db, start, 4).await.unwrap();
                    if outbox::unpublished(&db, 1).await.unwrap().is_empty() {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
                published
            })
        };
        let a = run(
            Relay::new(js.clone(), app.state.config.events.clone()),
            app.state.db.clone(),
        );
        let b = run(
            Relay::new(js.clone(), app.state.config.events.clone()),
            app.state.db.clone(),
        );
        let (a, b) = (a.await.unwrap(), b.await.unwrap());
        assert_eq!(a + b, 30, "every event published once: {a} + {b}");
        assert!(a == 0 || b == 0, "one relay holds the lease: {a} and {b}");
        assert_stream_is_the_outbox(app, js).await;
    }
);

/// Counts the events it is handed.
struct Counting(AtomicUsize);

impl Consumer for Counting {
    fn name(&self) -> &'static str {
        "counting"
    }

    fn handle<'a>(
        &'a self,
        _app: &'a AppState,
        _event: &'a Envelope,
    ) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(()) })
    }
}

crate::db_test!(a_consumer_handles_a_redelivered_event_once, |app| {
    append_committed(app, &sample_events(2)).await;
    let event = outbox::all(&app.state.db).await.unwrap()[1].clone();
    let counting = Counting(AtomicUsize::new(0));
    dispatcher::deliver(&app.state, &counting, &event)
        .await
        .unwrap();
    dispatcher::deliver(&app.state, &counting, &event)
        .await
        .unwrap();
    assert_eq!(counting.0.load(Ordering::SeqCst), 1);
    assert!(
        outbox::was_processed(&app.state.db, "counting", &event.event_id)
            .await
            .unwrap()
    );
    assert!(
        !outbox::was_processed(&app.state.db, "counting", "evt_other")
            .await
            .unwrap()
    );
});

/// A node configured with NATS does not drain the outbox itself; what the relay publishes
/// reaches its consumers through the durable JetStream consumer.
mod a_node_with_nats_consumes_what_the_relay_publishes {
    use super::*;

    async fn on(engine: Engine) {
        let Some(js) = jetstream().await else { return };
        let configure = |config: &mut Config| {
            config.nats_url = Some(nats_url());
            config.events.dispatch_interval_ms = 20;
            own_stream(config);
        };
        let Some(app) = TestApp::spawn_with(engine, configure).await else {
            return;
        };
        with_stream(app, js, |app, js| {
            Box::pin(async move {
                append_committed(app, &sample_events(3)).await;
                // The node's dispatcher is not running: nothing is marked published.
                tokio::time::sleep(Duration::from_millis(200)).await;
                assert_eq!(
                    outbox::unpublished(&app.state.db, 100).await.unwrap().len(),
                    3
                );
                relay::ensure_stream(js, &app.state.config.events)
                    .await
                    .unwrap();
                let relay = Relay::new(js.clone(), app.state.config.events.clone());
                assert_eq!(
                    relay
                        .relay_once(&app.state.db, now(app), 100)
                        .await
                        .unwrap(),
                    3
                );
                let ids = event_ids(&outbox::all(&app.state.db).await.unwrap());
                let deadline = Instant::now() + Duration::from_secs(30);
                loop {
                    let mut handled = 0;
                    for id in &ids {
                        if outbox::was_processed(&app.state.db, "notifications", id)
                            .await
                            .unwrap()
                        {
                            handled += 1;
                        }
                    }
                    if handled == ids.len() {
                        break;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "consumed {handled} of {} relayed events",
                        ids.len()
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        on(Engine::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        on(Engine::Postgres).await;
    }
}
