//! Integration: what happened, told to whoever listens.
//!
//! Every state change appends a versioned event to the transactional outbox in its own
//! unit of work (`outbox::append`), so an event exists exactly when its change committed.
//! A publisher drains the outbox in order under a lease: the in-process dispatcher
//! (`dispatcher`, the embedded default) hands events to local consumers; `marquee relay`
//! publishes them to NATS JetStream. Consumers record what they handled, so redelivery is
//! harmless. The catalogue of events is `events`; the contract is `docs/events.md`.

pub mod cache_tail;
pub mod counter_sales;
pub mod deliveries;
pub mod dispatcher;
pub mod events;
pub mod mail;
pub mod nats_follow;
pub mod notify;
pub mod outbox;
pub mod relay;
pub mod routes;
pub mod subscriber;
pub mod sync;
pub mod templates;
pub mod webhooks;

use std::{sync::Arc, time::Duration};

use tokio::{sync::oneshot, task::JoinHandle};

use crate::app::AppState;
use dispatcher::Consumer;

/// The local consumers of events, in the order each event is handed to them.
pub fn consumers(app: &AppState) -> Vec<Arc<dyn Consumer>> {
    vec![
        Arc::new(notify::Notifications::new(&app.config.notify)),
        Arc::new(deliveries::WebhookFanOut),
    ]
}

/// A background task of the event machinery and the signal that stops it.
struct Task {
    stop: oneshot::Sender<()>,
    handle: JoinHandle<()>,
}

/// Spawns the future `make` builds around a shutdown signal of its own.
fn spawn_stoppable<Fut>(make: impl FnOnce(futures::future::BoxFuture<'static, ()>) -> Fut) -> Task
where
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(make(Box::pin(async move {
        let _ = stopped.await;
    })));
    Task { stop, handle }
}

/// The event machinery a serving node runs.
pub struct Running {
    tasks: Vec<Task>,
}

/// Starts the event machinery of a serving node. With `nats_url` set, `marquee relay` owns
/// publishing the outbox, so the node only consumes from JetStream (a durable consumer
/// shared by all nodes); without it, the in-process dispatcher drains the outbox (unless
/// `events.dispatch_interval_ms` is 0). Either way the node follows other nodes' writes,
/// to keep its cache fresh and its live seat maps moving: from the outbox table
/// (`cache_tail`, the seat streams' tail) or, with `events.follow = "nats"`, from what the
/// relay publishes (`nats_follow`).
pub fn start(app: &AppState) -> Running {
    let every = app.config.events.dispatch_interval_ms;
    let mut tasks = Vec::new();
    if app.config.nats_url.is_some() {
        let (app, consumers) = (app.clone(), consumers(app));
        tasks.push(spawn_stoppable(|stop| {
            subscriber::run(app, consumers, stop)
        }));
    } else if every > 0 {
        let (app, consumers) = (app.clone(), consumers(app));
        tasks.push(spawn_stoppable(|stop| {
            dispatcher::run(app, consumers, stop)
        }));
    }
    let follow_nats = app.config.events.follow == crate::config::EventFollow::Nats;
    if follow_nats {
        let app = app.clone();
        tasks.push(spawn_stoppable(|stop| nats_follow::run(app, stop)));
    }
    if every > 0 && app.config.cache.enabled && !follow_nats {
        let app = app.clone();
        let interval = Duration::from_millis(every.max(50));
        tasks.push(spawn_stoppable(|stop| cache_tail::run(app, interval, stop)));
    }
    if app.config.webhooks.poll_interval_ms > 0 {
        let app = app.clone();
        tasks.push(spawn_stoppable(|stop| deliveries::run(app, stop)));
    }
    if app.config.notify.poll_interval_ms > 0 {
        let app = app.clone();
        tasks.push(spawn_stoppable(|stop| mail::run(app, stop)));
    }
    if app.config.waiting_room.tick_ms > 0 {
        let app = app.clone();
        tasks.push(spawn_stoppable(|stop| {
            crate::waiting_room::service::run(app, stop)
        }));
    }
    if app.config.settlement.run_interval_ms > 0 {
        let app = app.clone();
        tasks.push(spawn_stoppable(|stop| {
            crate::settlement::runs::run_scheduler(app, stop)
        }));
    }
    if !follow_nats {
        let events = &app.config.events;
        let (db, streams) = (app.db.clone(), app.seat_streams.clone());
        let poll = Duration::from_millis(events.seat_stream_poll_ms);
        let gap_wait = Duration::from_millis(events.seat_stream_gap_wait_ms);
        tasks.push(spawn_stoppable(move |stop| {
            crate::inventory::stream::run(db, streams, poll, gap_wait, stop)
        }));
    }
    Running { tasks }
}

impl Running {
    /// Stops the event tasks, letting them give their lease back (bounded wait).
    pub async fn stop(self) {
        for task in self.tasks {
            let _ = task.stop.send(());
            let _ = tokio::time::timeout(Duration::from_secs(2), task.handle).await;
        }
    }
}
