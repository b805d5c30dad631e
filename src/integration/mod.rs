//! Integration: what happened, told to whoever listens.
//!
//! Every state change appends a versioned event to the transactional outbox in its own
//! unit of work (`outbox::append`), so an event exists exactly when its change committed.
//! A publisher drains the outbox in order under a lease: the in-process dispatcher
//! (`dispatcher`, the embedded default) hands events to local consumers; `marquee relay`
//! publishes them to NATS JetStream. Consumers record what they handled, so redelivery is
//! harmless. The catalogue of events is `events`; the contract is `docs/events.md`.

pub mod dispatcher;
pub mod events;
pub mod outbox;

use std::{sync::Arc, time::Duration};

use tokio::{sync::oneshot, task::JoinHandle};

use crate::app::AppState;
use dispatcher::Consumer;

/// The local consumers of events, in the order each event is handed to them.
pub fn consumers(_app: &AppState) -> Vec<Arc<dyn Consumer>> {
    Vec::new()
}

/// The event machinery a serving node runs.
pub struct Running {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// Starts the in-process dispatcher (unless `events.dispatch_interval_ms` is 0).
pub fn start(app: &AppState) -> Running {
    if app.config.events.dispatch_interval_ms == 0 {
        return Running {
            stop: None,
            task: None,
        };
    }
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(dispatcher::run(app.clone(), consumers(app), async move {
        let _ = stopped.await;
    }));
    Running {
        stop: Some(stop),
        task: Some(task),
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
    }
}
