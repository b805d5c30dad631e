//! The in-process dispatcher (the embedded default, when no NATS server is configured):
//! on every node, a task tries to take the outbox lease; the holder drains the outbox in
//! order, hands each event to every local consumer, and marks it published. Events of one
//! aggregate are handled one after another, in order; different aggregates are handled
//! concurrently (a consumer's writes and mail then overlap instead of queueing). A
//! consumer that fails leaves its event unpublished and stops that aggregate's events
//! for the round, so they are retried next round and nothing of that aggregate overtakes
//! it.

use std::{collections::HashMap, future::Future, pin::Pin, sync::Arc, time::Duration};

use futures::StreamExt;

use super::{events::Envelope, outbox};
use crate::app::AppState;

/// Something that reacts to events. It must be idempotent: an event can arrive again
/// (after a crash or a lease takeover), and `handle` is then called again.
pub trait Consumer: Send + Sync {
    /// Stable name, the key of what it has processed.
    fn name(&self) -> &'static str;
    fn handle<'a>(
        &'a self,
        app: &'a AppState,
        event: &'a Envelope,
    ) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>>;
}

/// Hands `event` to `consumer` unless it already handled it, and records that it did.
pub async fn deliver(
    app: &AppState,
    consumer: &dyn Consumer,
    event: &Envelope,
) -> anyhow::Result<()> {
    if handle_unless_processed(app, consumer, event).await? {
        let now = app.clock.now().as_millis();
        outbox::record_processed(&app.db, consumer.name(), &event.event_id, now).await?;
    }
    Ok(())
}

/// Hands `event` to `consumer` unless its record says it already handled it; true when it
/// handled it now (the caller records that).
async fn handle_unless_processed(
    app: &AppState,
    consumer: &dyn Consumer,
    event: &Envelope,
) -> anyhow::Result<bool> {
    if outbox::was_processed(&app.db, consumer.name(), &event.event_id).await? {
        return Ok(false);
    }
    consumer.handle(app, event).await?;
    Ok(true)
}

pub use super::outbox::LeaseHolder;

/// One round: if there is anything to publish and this node holds (or takes) the lease,
/// publish up to `batch` events to the consumers. Returns how many were published.
pub async fn dispatch_once(
    app: &AppState,
    lease: &mut LeaseHolder,
    consumers: &[Arc<dyn Consumer>],
    batch: i64,
) -> anyhow::Result<usize> {
    // Idle rounds cost one read, not a lease write.
    let events = outbox::unpublished(&app.db, batch).await?;
    let now = app.clock.now().as_millis();
    let lease_ms = i64::try_from(app.config.events.lease_ms).unwrap_or(i64::MAX / 4);
    if events.is_empty() || !lease.hold(&app.db, now, lease_ms).await? {
        return Ok(0);
    }
    // The batch split by aggregate, each part in outbox order.
    let mut index: HashMap<(&str, &str), usize> = HashMap::new();
    let mut groups: Vec<Vec<&Envelope>> = Vec::new();
    for event in &events {
        let key = (event.aggregate_type.as_str(), event.aggregate_id.as_str());
        let at = *index.entry(key).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[at].push(event);
    }
    // Boxed before they reach the stream: a closure over borrowed events inside the
    // stream adaptor defeats the compiler's proof that the spawned task is `Send`.
    let work: Vec<GroupFuture<'_>> = groups
        .into_iter()
        .map(|group| Box::pin(dispatch_group(app, consumers, group)) as GroupFuture<'_>)
        .collect();
    let outcomes: Vec<GroupOutcome<'_>> = futures::stream::iter(work)
        .buffer_unordered(CONCURRENT_AGGREGATES)
        .collect()
        .await;
    let mut published = Vec::with_capacity(events.len());
    let mut handled: Vec<(&'static str, &str)> = Vec::new();
    let mut failure = None;
    for outcome in outcomes {
        published.extend(outcome.published);
        handled.extend(outcome.handled);
        if let Some(error) = outcome.failure {
            failure.get_or_insert(error);
        }
    }
    // One transaction for the whole batch: what each consumer handled, and what is
    // published. A crash before it commits redelivers the batch (at least once).
    let now = app.clock.now().as_millis();
    outbox::settle_batch(&app.db, &handled, &published, now).await?;
    metrics::counter!("marquee_events_dispatched_total").increment(published.len() as u64);
    match failure {
        Some(error) => Err(error),
        None => Ok(published.len()),
    }
}

/// Aggregates whose events are handled at once.
const CONCURRENT_AGGREGATES: usize = 8;

type GroupFuture<'a> = Pin<Box<dyn Future<Output = GroupOutcome<'a>> + Send + 'a>>;

/// What dispatching one aggregate's events did.
struct GroupOutcome<'a> {
    published: Vec<i64>,
    handled: Vec<(&'static str, &'a str)>,
    failure: Option<anyhow::Error>,
}

/// Hands one aggregate's events to every consumer, in order, stopping at a failure.
async fn dispatch_group<'a>(
    app: &AppState,
    consumers: &[Arc<dyn Consumer>],
    group: Vec<&'a Envelope>,
) -> GroupOutcome<'a> {
    let mut outcome = GroupOutcome {
        published: Vec::with_capacity(group.len()),
        handled: Vec::new(),
        failure: None,
    };
    for event in group {
        for consumer in consumers {
            match handle_unless_processed(app, consumer.as_ref(), event).await {
                Ok(true) => outcome.handled.push((consumer.name(), &event.event_id)),
                Ok(false) => {}
                Err(error) => {
                    outcome.failure = Some(error.context(format!(
                        "consumer {} failed on event {} ({})",
                        consumer.name(),
                        event.event_id,
                        event.event_type
                    )));
                    return outcome;
                }
            }
        }
        outcome.published.push(event.seq);
    }
    outcome
}

/// Runs the dispatcher until `shutdown` resolves; gives the lease back on the way out.
pub async fn run(
    app: AppState,
    consumers: Vec<Arc<dyn Consumer>>,
    shutdown: impl Future<Output = ()>,
) {
    let mut lease = LeaseHolder::new(format!("node-{}", ulid::Ulid::new()));
    let interval = Duration::from_millis(app.config.events.dispatch_interval_ms.max(1));
    let work = async {
        loop {
            match dispatch_once(&app, &mut lease, &consumers, 100).await {
                // A full batch: more may be waiting.
                Ok(100) => continue,
                Ok(_) => {}
                Err(error) => tracing::warn!(error = format!("{error:#}"), "event dispatch"),
            }
            tokio::time::sleep(interval).await;
        }
    };
    tokio::select! {
        () = work => {}
        () = shutdown => {}
    }
    if let Err(error) = lease.release(&app.db).await {
        tracing::debug!(%error, "could not release the outbox lease");
    }
}
