//! Integration: what happened, told to whoever listens.
//!
//! Every state change appends a versioned event to the transactional outbox in its own
//! unit of work (`outbox::append`), so an event exists exactly when its change committed.
//! A publisher drains the outbox in order under a lease: the in-process dispatcher
//! (`dispatcher`, the embedded default) hands events to local consumers; `marquee relay`
//! publishes them to NATS JetStream. Consumers record what they handled, so redelivery is
//! harmless. The catalogue of events is `events`; the contract is `docs/events.md`.

pub mod cache_tail;
pub mod dispatcher;
pub mod events;
pub mod notify;
pub mod outbox;
pub mod relay;
pub mod subscriber;

use std::{sync::Arc, time::Duration};

use tokio::{sync::oneshot, task::JoinHandle};

use crate::app::AppState;
use dispatcher::Consumer;

/// The local consumers of events, in the order each event is handed to them.
pub fn consumers(app: &AppState) -> Vec<Arc<dyn Consumer>> {
    vec![Arc::new(notify::Notifications::new(&app.config.notify))]
}

/// The event machinery a serving node runs.
pub struct Running {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    /// Follows the outbox for other nodes' writes (see `cache_tail`).
    tail: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
}

/// Starts the cache tail unless events are off (`events.dispatch_interval_ms` = 0).
fn start_tail(app: &AppState) -> Option<(oneshot::Sender<()>, JoinHandle<()>)> {
    let every = app.config.events.dispatch_interval_ms;
    if every == 0 || !app.config.cache.enabled {
        return None;
    }
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(cache_tail::run(
        app.clone(),
        Duration::from_millis(every.max(50)),
        async move {
            let _ = stopped.await;
        },
    ));
    Some((stop, task))
}

/// Starts the event machinery of a serving node. With `nats_url` set, `marquee relay` owns
/// publishing the outbox, so the node only consumes from JetStream (a durable consumer
/// shared by all nodes); without it, the in-process dispatcher drains the outbox (unless
/// `events.dispatch_interval_ms` is 0).
pub fn start(app: &AppState) -> Running {
    if app.config.nats_url.is_some() {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(subscriber::run(app.clone(), consumers(app), async move {
            let _ = stopped.await;
        }));
        return Running {
            stop: Some(stop),
            task: Some(task),
            tail: start_tail(app),
        };
    }
    if app.config.events.dispatch_interval_ms == 0 {
        return Running {
            stop: None,
            task: None,
            tail: None,
        };
    }
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(dispatcher::run(app.clone(), consumers(app), async move {
        let _ = stopped.await;
    }));
    Running {
        stop: Some(stop),
        task: Some(task),
        tail: start_tail(app),
    }
}

impl Running {
    /// Stops the event tasks, letting them give their lease back (bounded wait).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
        if let Some((stop, task)) = self.tail.take() {
            let _ = stop.send(());
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
    }
}
