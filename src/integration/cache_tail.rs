//! Every node follows the outbox to drop its cached responses that another node's writes
//! made stale: a seat map when its show's seats or bookings change, the catalog when a
//! show is created, changed or cancelled. Writes through this node already invalidated
//! at once; this shortens how long another node's write can go unseen from the caches'
//! maximum age to about one poll. It only reads (no lease: every node needs every event).
//! On PostgreSQL an event whose transaction commits after a later-numbered one was read
//! can be passed over; the maximum age still bounds that case.

use std::{future::Future, time::Duration};

use super::{events::Envelope, outbox};
use crate::app::AppState;

/// Drops what `event` makes stale from this node's response cache.
pub fn invalidate(app: &AppState, event: &Envelope) {
    match event.aggregate_type.as_str() {
        "show" => {
            app.cache.invalidate_show(&event.aggregate_id);
            if event.event_type.starts_with("show.") {
                app.cache.invalidate_catalog();
            }
        }
        "booking" | "waitlist_entry" | "counter_sale" => {
            let payload: serde_json::Value =
                serde_json::from_str(&event.payload).unwrap_or_default();
            if let Some(show) = payload["show_id"].as_str() {
                app.cache.invalidate_show(show);
            }
        }
        // A movie's rating shows in the listings.
        "movie" => app.cache.invalidate_catalog(),
        _ => {}
    }
}

/// Follows the outbox from its current end until `shutdown` resolves.
pub async fn run(app: AppState, interval: Duration, shutdown: impl Future<Output = ()>) {
    let work = async {
        let mut cursor = loop {
            match outbox::last_seq(&app.db).await {
                Ok(seq) => break seq,
                Err(error) => {
                    tracing::debug!(%error, "cache tail cannot read the outbox yet");
                    tokio::time::sleep(interval).await;
                }
            }
        };
        loop {
            tokio::time::sleep(interval).await;
            match outbox::after(&app.db, cursor, 500).await {
                Ok(events) => {
                    for event in &events {
                        invalidate(&app, event);
                        cursor = cursor.max(event.seq);
                    }
                }
                Err(error) => tracing::debug!(%error, "cache tail read failed"),
            }
        }
    };
    tokio::select! {
        () = work => {}
        () = shutdown => {}
    }
}
