//! `marquee relay`: publishes the outbox to NATS JetStream. One relay at a time holds the
//! outbox lease (the same lease the in-process dispatcher takes), publishes unpublished
//! events in outbox order, waits for each JetStream ack before the next, and only then
//! marks them published. A crash between publishing and marking re-publishes on restart;
//! the `Nats-Msg-Id` header (the event id) lets the stream drop that copy within its
//! duplicate window, and consumers' processed-event records cover anything older.

use std::{future::Future, time::Duration};

use async_nats::{
    HeaderMap,
    header::NATS_MESSAGE_ID,
    jetstream::{self, context::PublishAckFuture, stream},
};

use super::{events::Envelope, outbox};
use crate::{
    clock::{Clock, SystemClock},
    config::{Config, EventsConfig},
    db::Db,
};

/// Events read from the outbox per round; a full batch means more may be waiting.
pub const BATCH: i64 = 100;

/// How long JetStream remembers message ids to drop re-published copies.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("`marquee relay` needs a NATS server: set nats_url (MARQUEE_NATS_URL)")]
    NoNatsUrl,
    #[error("cannot connect to NATS at {url}: {source}")]
    Connect {
        /// Without credentials.
        url: String,
        #[source]
        source: async_nats::ConnectError,
    },
    #[error("cannot find or create the JetStream stream {stream}: {source}")]
    Stream {
        stream: String,
        #[source]
        source: jetstream::context::CreateStreamError,
    },
    #[error("publishing event {event_id} ({event_type}) failed: {source}")]
    Publish {
        event_id: String,
        event_type: String,
        #[source]
        source: async_nats::Error,
    },
    #[error("outbox: {0}")]
    Db(#[from] sqlx::Error),
}

/// `url` without user name or password, for messages and logs.
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => "<unparsable url>".to_owned(),
    }
}

/// Connects to the configured NATS server and returns its JetStream context.
pub async fn connect(config: &Config) -> Result<jetstream::Context, RelayError> {
    let url = config.nats_url.as_deref().ok_or(RelayError::NoNatsUrl)?;
    let client = async_nats::connect(url)
        .await
        .map_err(|source| RelayError::Connect {
            url: redacted(url),
            source,
        })?;
    Ok(jetstream::new(client))
}

/// The event stream, created if missing: every subject under the prefix, with a
/// duplicate window so a re-published event id is stored once.
pub async fn ensure_stream(
    js: &jetstream::Context,
    events: &EventsConfig,
) -> Result<stream::Stream, RelayError> {
    js.get_or_create_stream(stream::Config {
        name: events.nats_stream.clone(),
        subjects: vec![format!("{}.>", events.nats_subject_prefix)],
        duplicate_window: DUPLICATE_WINDOW,
        ..Default::default()
    })
    .await
    .map_err(|source| RelayError::Stream {
        stream: events.nats_stream.clone(),
        source,
    })
}

/// `<prefix>.<aggregate type>.<event type>`, e.g. `marquee.events.booking.booking.confirmed`.
pub fn subject(prefix: &str, event: &Envelope) -> String {
    format!("{prefix}.{}.{}", event.aggregate_type, event.event_type)
}

/// Publishes one envelope and waits for the stream's ack (which says it is stored, or
/// that it was a duplicate of a stored id).
pub async fn publish(
    js: &jetstream::Context,
    prefix: &str,
    event: &Envelope,
) -> Result<jetstream::publish::PublishAck, RelayError> {
    let failed = |source: async_nats::Error| RelayError::Publish {
        event_id: event.event_id.clone(),
        event_type: event.event_type.clone(),
        source,
    };
    let body = serde_json::to_vec(event).map_err(|e| failed(e.into()))?;
    let mut headers = HeaderMap::new();
    headers.insert(NATS_MESSAGE_ID, event.event_id.as_str());
    let ack: PublishAckFuture = js
        .publish_with_headers(subject(prefix, event), headers, body.into())
        .await
        .map_err(|e| failed(e.into()))?;
    ack.await.map_err(|e| failed(e.into()))
}

/// A relay: a JetStream context and the name it holds the outbox lease under.
pub struct Relay {
    js: jetstream::Context,
    events: EventsConfig,
    lease: tokio::sync::Mutex<outbox::LeaseHolder>,
    holder: String,
}

impl Relay {
    pub fn new(js: jetstream::Context, events: EventsConfig) -> Self {
        let holder = format!("relay-{}", ulid::Ulid::new());
        Self {
            js,
            events,
            lease: tokio::sync::Mutex::new(outbox::LeaseHolder::new(holder.clone())),
            holder,
        }
    }

    /// The lease holder name, unique per relay instance.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// One round: if this relay holds (or takes) the outbox lease at `now`, publishes up to
    /// `limit` events in outbox order and marks them published. Stops at the first failure,
    /// so nothing overtakes an event that did not make it; what was acked before it is still
    /// marked. Returns how many were published (0 when another publisher holds the lease).
    pub async fn relay_once(&self, db: &Db, now: i64, limit: i64) -> Result<usize, RelayError> {
        let lease_ms = i64::try_from(self.events.lease_ms).unwrap_or(i64::MAX / 4);
        // Idle rounds cost one read, not a lease write.
        let events = outbox::unpublished(db, limit).await?;
        if events.is_empty() || !self.lease.lock().await.hold(db, now, lease_ms).await? {
            return Ok(0);
        }
        let mut published = Vec::with_capacity(events.len());
        let mut failure = None;
        for event in &events {
            match publish(&self.js, &self.events.nats_subject_prefix, event).await {
                Ok(_) => published.push(event.seq),
                Err(error) => {
                    failure = Some(error);
                    break;
                }
            }
        }
        outbox::mark_published(db, &published, now).await?;
        metrics::counter!("marquee_events_relayed_total").increment(published.len() as u64);
        match failure {
            Some(error) => Err(error),
            None => Ok(published.len()),
        }
    }

    /// Relays until `shutdown` resolves, then gives the lease back so another relay need
    /// not wait for it to expire.
    pub async fn run(self, db: &Db, shutdown: impl Future<Output = ()>) {
        let interval = Duration::from_millis(self.events.dispatch_interval_ms.max(1));
        let work = async {
            loop {
                match self
                    .relay_once(db, SystemClock.now().as_millis(), BATCH)
                    .await
                {
                    Ok(n) if n as i64 == BATCH => continue,
                    Ok(_) => {}
                    Err(error) => tracing::warn!(error = %error, "relay round failed"),
                }
                tokio::time::sleep(interval).await;
            }
        };
        tokio::select! {
            () = work => {}
            () = shutdown => {}
        }
        if let Err(error) = self.lease.lock().await.release(db).await {
            tracing::debug!(%error, "could not release the outbox lease");
        }
    }
}

/// `marquee relay`: connects, makes sure the stream exists and relays until `shutdown`.
pub async fn run(
    config: &Config,
    db: &Db,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RelayError> {
    let js = connect(config).await?;
    ensure_stream(&js, &config.events).await?;
    let relay = Relay::new(js, config.events.clone());
    tracing::info!(
        holder = relay.holder(),
        stream = %config.events.nats_stream,
        "relaying the outbox to JetStream"
    );
    relay.run(db, shutdown).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show_in_a_redacted_url() {
        assert_eq!(
            redacted("nats://relay:s3cret@nats.example:4222"),
            "nats://nats.example:4222"
        );
        assert_eq!(redacted("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
    }
}
