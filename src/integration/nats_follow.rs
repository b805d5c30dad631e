//! Following the deployment's events through NATS instead of the outbox table
//! (`events.follow = "nats"`): each node reads every event `marquee relay` publishes, on
//! an ordered consumer of its own, and with it drops stale cached responses and feeds its
//! live seat maps. The database then serves no tail queries at all: N nodes add N
//! JetStream subscribers, not N pollers of the outbox.
//!
//! Where it starts: the consumer delivers what is published after it is created; the
//! outbox's last number, read after that, is where the seat streams begin, because every
//! event up to it is already in the database the streams' snapshots are read from (an
//! event published before the consumer existed was in the outbox before it). After a
//! lost connection it resumes at the JetStream sequence after the last one it handled.

use std::{future::Future, time::Duration};

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use futures::StreamExt;

use super::{cache_tail, events::Envelope, outbox, relay};
use crate::app::AppState;

/// Pause before reconnecting after the server could not be reached.
const RETRY: Duration = Duration::from_secs(1);

/// The show an event concerns, as the outbox would have stored it.
pub fn show_of(envelope: &Envelope) -> Option<String> {
    match envelope.event() {
        Some(event) => event.show_id().map(str::to_owned),
        None => (envelope.aggregate_type == "show").then(|| envelope.aggregate_id.clone()),
    }
}

/// Follows the stream until `shutdown` resolves, reconnecting after any failure.
pub async fn run(app: AppState, shutdown: impl Future<Output = ()>) {
    let work = async {
        let mut resume_after: Option<u64> = None;
        loop {
            if let Err(error) = follow(&app, &mut resume_after).await {
                tracing::warn!(error = format!("{error:#}"), "NATS event follower stopped");
            }
            tokio::time::sleep(RETRY).await;
        }
    };
    tokio::select! {
        () = work => {}
        () = shutdown => {}
    }
}

async fn follow(app: &AppState, resume_after: &mut Option<u64>) -> anyhow::Result<()> {
    let js = relay::connect(&app.config).await?;
    let stream = relay::ensure_stream(&js, &app.config.events).await?;
    let deliver_policy = match *resume_after {
        Some(sequence) => DeliverPolicy::ByStartSequence {
            start_sequence: sequence + 1,
        },
        None => DeliverPolicy::New,
    };
    let consumer = stream
        .create_consumer(pull::OrderedConfig {
            deliver_policy,
            ..Default::default()
        })
        .await?;
    if resume_after.is_none() {
        app.seat_streams.start_at(outbox::last_seq(&app.db).await?);
    }
    let mut messages = consumer.messages().await?;
    while let Some(message) = messages.next().await {
        let message = message?;
        if let Ok(info) = message.info() {
            *resume_after = Some(info.stream_sequence);
        }
        let envelope: Envelope = match serde_json::from_slice(&message.payload) {
            Ok(envelope) => envelope,
            Err(error) => {
                tracing::warn!(%error, subject = %message.subject, "undecodable event skipped");
                continue;
            }
        };
        cache_tail::invalidate(app, &envelope);
        let seq = envelope.seq;
        let show = show_of(&envelope);
        app.seat_streams.dispatch(&[envelope], &[show], seq);
        metrics::counter!("marquee_events_followed_total", "via" => "nats").increment(1);
    }
    Ok(())
}
