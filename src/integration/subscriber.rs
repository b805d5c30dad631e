//! The consuming side when events go through NATS: a durable JetStream pull consumer that
//! hands each relayed event to the local consumers and acks it once they all handled it.
//! Every serving node binds to the same durable consumer, so each event is handed out
//! once across the deployment; one unacked message at a time keeps outbox order, and a
//! failure naks the message so it (not a later one) comes back first.

use std::{future::Future, sync::Arc, time::Duration};

use async_nats::jetstream::{self, AckKind, consumer::pull};
use futures::StreamExt;

use super::{dispatcher, dispatcher::Consumer, events::Envelope, relay};
use crate::app::AppState;

/// The durable consumer every node shares.
pub const DURABLE: &str = "marquee-consumers";

/// How long JetStream waits for an ack before handing the message out again (a node
/// that died mid-event).
const ACK_WAIT: Duration = Duration::from_secs(30);

/// Pause before retrying after the server could not be reached or a consumer failed.
const RETRY: Duration = Duration::from_secs(1);

/// Consumes until `shutdown` resolves, reconnecting after any failure of the connection.
pub async fn run(
    app: AppState,
    consumers: Vec<Arc<dyn Consumer>>,
    shutdown: impl Future<Output = ()>,
) {
    let work = async {
        loop {
            if let Err(error) = consume(&app, &consumers).await {
                tracing::warn!(error = format!("{error:#}"), "JetStream consumer stopped");
            }
            tokio::time::sleep(RETRY).await;
        }
    };
    tokio::select! {
        () = work => {}
        () = shutdown => {}
    }
}

/// Binds to the durable consumer and handles messages until the connection fails.
async fn consume(app: &AppState, consumers: &[Arc<dyn Consumer>]) -> anyhow::Result<()> {
    let js = relay::connect(&app.config).await?;
    // The stream may not exist yet if no relay has run; creating it here is the same
    // idempotent call the relay makes.
    let stream = relay::ensure_stream(&js, &app.config.events).await?;
    let consumer: jetstream::consumer::Consumer<pull::Config> = stream
        .get_or_create_consumer(
            DURABLE,
            pull::Config {
                durable_name: Some(DURABLE.to_owned()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: ACK_WAIT,
                max_ack_pending: 1,
                ..Default::default()
            },
        )
        .await?;
    let mut messages = consumer.messages().await?;
    while let Some(message) = messages.next().await {
        let message = message?;
        let envelope: Envelope = match serde_json::from_slice(&message.payload) {
            Ok(envelope) => envelope,
            Err(error) => {
                // Not an envelope: no retry can make it one.
                tracing::warn!(%error, subject = %message.subject, "undecodable event dropped");
                message
                    .ack_with(AckKind::Term)
                    .await
                    .map_err(|e| anyhow::anyhow!(e))?;
                continue;
            }
        };
        match deliver_all(app, consumers, &envelope).await {
            Ok(()) => message.ack().await.map_err(|e| anyhow::anyhow!(e))?,
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "event handling failed; redelivering"
                );
                message
                    .ack_with(AckKind::Nak(Some(RETRY)))
                    .await
                    .map_err(|e| anyhow::anyhow!(e))?;
            }
        }
    }
    Ok(())
}

/// Hands `event` to every consumer in order; the first failure stops it (those that
/// succeeded recorded it and will skip it on redelivery).
pub async fn deliver_all(
    app: &AppState,
    consumers: &[Arc<dyn Consumer>],
    event: &Envelope,
) -> anyhow::Result<()> {
    for consumer in consumers {
        dispatcher::deliver(app, consumer.as_ref(), event)
            .await
            .map_err(|error| {
                error.context(format!(
                    "consumer {} failed on event {} ({})",
                    consumer.name(),
                    event.event_id,
                    event.event_type
                ))
            })?;
    }
    metrics::counter!("marquee_events_consumed_total").increment(1);
    Ok(())
}
