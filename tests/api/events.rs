//! The in-process dispatcher: events reach every consumer once, each aggregate's in outbox
//! order, under a lease only one node holds; a failing consumer stops its aggregate's
//! events at the failed one, and the next round resumes there.

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
};

use marquee::{
    app::AppState,
    integration::{
        dispatcher::{Consumer, LeaseHolder, dispatch_once},
        events::{Envelope, Event},
        outbox,
    },
};

use crate::{db_test_with, helpers::TestApp};

/// Remembers the events it saw; fails on the event types listed in `refuse`.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<String>>,
    refuse: Mutex<Vec<String>>,
}

impl Consumer for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }

    fn handle<'a>(
        &'a self,
        _app: &'a AppState,
        event: &'a Envelope,
    ) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>> {
        Box::pin(async move {
            if self.refuse.lock().unwrap().contains(&event.event_type) {
                anyhow::bail!("refused {}", event.event_type);
            }
            self.seen
                .lock()
                .unwrap()
                .push(format!("{} {}", event.aggregate_id, event.event_type));
            Ok(())
        })
    }
}

async fn append(app: &TestApp, events: &[Event]) {
    let events = events.to_vec();
    app.state
        .db
        .write(move |tx| outbox::append_all(tx, &events, 1))
        .await
        .unwrap();
}

fn show_changed(id: &str) -> Event {
    Event::ShowChanged { show_id: id.into() }
}

db_test_with!(
    the_dispatcher_delivers_each_event_once_in_order_under_one_lease,
    |config| {
        // The test drives the dispatcher itself.
        config.events.dispatch_interval_ms = 0;
    },
    |app| {
        let recorder = Arc::new(Recorder::default());
        let consumers: Vec<Arc<dyn Consumer>> = vec![recorder.clone()];
        append(
            app,
            &[
                show_changed("shw_1"),
                Event::ShowCancelled {
                    show_id: "shw_1".into(),
                },
            ],
        )
        .await;
        // A unit of work that fails leaves nothing to deliver.
        let refused = app
            .state
            .db
            .write(|tx| {
                outbox::append(tx, &show_changed("shw_2"), 1)?;
                Err::<(), _>(sqlx::Error::RowNotFound)
            })
            .await;
        assert!(refused.is_err());
        let mut node_a = LeaseHolder::new("node-a".into());
        let mut node_b = LeaseHolder::new("node-b".into());
        assert_eq!(
            dispatch_once(&app.state, &mut node_a, &consumers, 100)
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            *recorder.seen.lock().unwrap(),
            ["shw_1 show.changed", "shw_1 show.cancelled"]
        );
        // Nothing left; and node B cannot take the lease node A holds.
        append(app, &[show_changed("shw_3")]).await;
        assert_eq!(
            dispatch_once(&app.state, &mut node_b, &consumers, 100)
                .await
                .unwrap(),
            0
        );
        assert_eq!(recorder.seen.lock().unwrap().len(), 2);

        // A consumer failing on an event stops its aggregate there (shw_3); other
        // aggregates go on (shw_4); the next round resumes shw_3 where it stopped.
        append(
            app,
            &[
                Event::ShowCancelled {
                    show_id: "shw_3".into(),
                },
                show_changed("shw_4"),
            ],
        )
        .await;
        recorder
            .refuse
            .lock()
            .unwrap()
            .push("show.cancelled".into());
        assert!(
            dispatch_once(&app.state, &mut node_a, &consumers, 100)
                .await
                .is_err()
        );
        let mut later = recorder.seen.lock().unwrap()[2..].to_vec();
        later.sort();
        assert_eq!(later, ["shw_3 show.changed", "shw_4 show.changed"]);
        let left: Vec<String> = outbox::unpublished(&app.state.db, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| format!("{} {}", e.aggregate_id, e.event_type))
            .collect();
        assert_eq!(left, ["shw_3 show.cancelled"]);
        recorder.refuse.lock().unwrap().clear();
        assert_eq!(
            dispatch_once(&app.state, &mut node_a, &consumers, 100)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            recorder.seen.lock().unwrap().last().map(String::as_str),
            Some("shw_3 show.cancelled")
        );
        assert_eq!(recorder.seen.lock().unwrap().len(), 5);
        let all = outbox::all(&app.state.db).await.unwrap();
        assert_eq!(all.len(), 5);
        assert!(
            outbox::unpublished(&app.state.db, 10)
                .await
                .unwrap()
                .is_empty()
        );
        let seqs: Vec<i64> = all.iter().map(|e| e.seq).collect();
        let mut sorted = seqs.clone();
        sorted.sort();
        assert_eq!(seqs, sorted);
    }
);

/// Blocks a seat in storage without telling the cache, as another node would; with
/// `announce`, also appends the event that node's write would have appended.
async fn block_seat_elsewhere(app: &TestApp, show: &str, seat: &str, announce: bool) {
    let (show, seat) = (show.to_owned(), seat.to_owned());
    app.state
        .db
        .write(move |tx| {
            tx.execute(
                "UPDATE show_seats SET state = 'blocked' WHERE show_id = $1 AND seat_label = $2",
                marquee::params![&show, &seat],
            )?;
            if announce {
                outbox::append(tx, &show_changed(&show), 1)?;
            }
            Ok::<_, sqlx::Error>(())
        })
        .await
        .unwrap();
}

fn state_of(map: &serde_json::Value, seat: &str) -> String {
    map["seats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["label"] == seat)
        .map(|s| s["state"].as_str().unwrap().to_owned())
        .unwrap()
}

db_test_with!(
    another_nodes_write_reaches_this_nodes_cache_through_the_outbox,
    |config| {
        // Without the outbox tail a cached seat map would be served for a minute.
        config.cache.show_max_age_ms = 60_000;
        config.events.dispatch_interval_ms = 50;
    },
    |app| {
        let f = crate::fixtures::load(app).await;
        let path = format!("/api/v1/shows/{}/seats", f.noon);
        assert_eq!(state_of(&app.get_ok(&path).await, "A1"), "available");
        // A write nobody announces stays unseen (the cache is doing its job).
        block_seat_elsewhere(app, f.noon.as_str(), "A1", false).await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(state_of(&app.get_ok(&path).await, "A1"), "available");
        // Announced through the outbox, the next write is seen within a few polls.
        block_seat_elsewhere(app, f.noon.as_str(), "A2", true).await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let map = app.get_ok(&path).await;
            if state_of(&map, "A2") == "blocked" {
                assert_eq!(state_of(&map, "A1"), "blocked");
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the seat map still shows A2 {} after 20 s",
                state_of(&map, "A2")
            );
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }
);
