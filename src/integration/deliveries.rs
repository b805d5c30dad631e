//! Deliveries of events to partners' webhook endpoints.
//!
//! Two halves, joined by the `webhook_deliveries` table:
//! - the `webhooks` consumer (run by the dispatcher or the JetStream subscriber, like any
//!   consumer) turns each event a partner's endpoint subscribes to into one delivery row
//!   per endpoint, with the body frozen; a redelivered event inserts nothing new;
//! - the sender (a task on every node) claims due deliveries, posts them signed, and
//!   records each attempt. A delivery is claimed for longer than a request can take, so a
//!   node that dies mid-delivery leaves it to be sent again once the claim lapses: with the
//!   same `webhook-id`, so the receiver can tell the repeat.
//!
//! Of one endpoint's pending deliveries for one show, only the earliest (in outbox order)
//! is sent: a receiver sees a show's events in the order they happened, while other shows'
//! events flow past a stuck one. Delivery runs on its own task and connections; a slow or
//! dead endpoint costs bookings nothing (they never wait for it).

use std::{
    collections::HashMap, future::Future, net::SocketAddr, pin::Pin, sync::Arc, time::Duration,
};

use futures::FutureExt;
use rand::Rng;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    dispatcher::Consumer,
    events::{Envelope, Event},
    outbox,
    webhooks::{EVENT_TYPES, secrets_in_force, signature},
};
use crate::{
    app::AppState,
    catalog::manage::ManageError,
    config::WebhooksConfig,
    db::QueryBuilder,
    db_row,
    http::pagination::{Page, PageRequest},
    ids::{PartnerOrgId, WebhookDeliveryId},
    params,
    time::Timestamp,
};

/// The consumer's name, the key of what it has processed.
pub const CONSUMER: &str = "webhooks";

/// Waits before each retry, after the first attempt: about 31.6 hours in all, so that with
/// the jitter (each wait × 0.8 to 1.2) a delivery is tried for at least 24 hours before it
/// is given up. Then eight attempts in all.
pub const RETRY_DELAYS_MS: [i64; 7] = [
    5_000,
    5 * 60_000,
    30 * 60_000,
    2 * 3_600_000,
    5 * 3_600_000,
    10 * 3_600_000,
    14 * 3_600_000,
];

/// How much of a receiver's answer the delivery log keeps.
const EXCERPT_BYTES: usize = 512;

/// How long a claim outlives the request's own timeout (so it never lapses mid-request).
const CLAIM_MARGIN_MS: i64 = 30_000;

/// What one attempt's answer means for the delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A 2xx: delivered.
    Delivered,
    /// A 5xx, 408, 429, another non-2xx that is not a client error, a timeout or a
    /// connection failure: try again later.
    Retry,
    /// Any other 4xx: the receiver refuses this message; sending it again would not help.
    Rejected,
}

/// Classifies an answer; `None` is no answer (timeout, connection refused). Pure.
pub fn classify(status: Option<u16>) -> Verdict {
    match status {
        Some(200..=299) => Verdict::Delivered,
        Some(408 | 429) | None => Verdict::Retry,
        Some(400..=499) => Verdict::Rejected,
        Some(_) => Verdict::Retry,
    }
}

/// When to try again after `attempts` failed attempts (this one included), or `None` to
/// give up. `jitter` in 0.8..=1.2 spreads retries of many deliveries apart; a receiver's
/// `Retry-After` (ms) lengthens the wait, never shortens it. Pure.
pub fn next_attempt_at(
    now: i64,
    attempts: i64,
    jitter: f64,
    retry_after_ms: Option<i64>,
) -> Option<i64> {
    let index = usize::try_from(attempts.checked_sub(1)?).ok()?;
    let base = *RETRY_DELAYS_MS.get(index)?;
    let wait = (base as f64 * jitter.clamp(0.8, 1.2)) as i64;
    Some(now + wait.max(retry_after_ms.unwrap_or(0).min(24 * 3_600_000)))
}

// ---------------------------------------------------------------------------------------
// Fan-out: events into deliveries.

/// The `webhooks` consumer.
pub struct WebhookFanOut;

impl Consumer for WebhookFanOut {
    fn name(&self) -> &'static str {
        CONSUMER
    }

    fn handle<'a>(
        &'a self,
        app: &'a AppState,
        event: &'a Envelope,
    ) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>> {
        Box::pin(fan_out(app, event))
    }
}

/// The body of a delivery: the Standard Webhooks shape (`type`, `timestamp`, `data`), the
/// data being the event's payload plus the theatre system's own id for the show, when the
/// show was synced from it. Pure.
pub fn body(envelope: &Envelope, show_external_id: Option<&str>) -> String {
    let mut data: serde_json::Value =
        serde_json::from_str(&envelope.payload).unwrap_or_else(|_| serde_json::json!({}));
    if let (Some(external), Some(object)) = (show_external_id, data.as_object_mut()) {
        object.insert("show_external_id".into(), external.into());
    }
    serde_json::json!({
        "type": envelope.event_type,
        "timestamp": Timestamp::from_millis(envelope.created_at).to_rfc3339(),
        "data": data,
    })
    .to_string()
}

async fn fan_out(app: &AppState, envelope: &Envelope) -> anyhow::Result<()> {
    if !EVENT_TYPES.contains(&envelope.event_type.as_str()) {
        return Ok(());
    }
    let Some(event) = envelope.event() else {
        return Ok(());
    };
    let show_id = match (&event, event.show_id()) {
        (_, Some(show_id)) => show_id.to_owned(),
        (
            Event::PaymentRefunded { booking_id, .. } | Event::PaymentDisputed { booking_id, .. },
            None,
        ) => {
            let show: Option<String> = app
                .db
                .fetch_optional(
                    "SELECT show_id FROM bookings WHERE id = $1",
                    params![booking_id],
                )
                .await?;
            match show {
                Some(show) => show,
                None => return Ok(()),
            }
        }
        _ => return Ok(()),
    };
    // The endpoints of the organisation whose theatre runs the show.
    let endpoints: Vec<(String, String, Option<String>)> = app
        .db
        .fetch_all(
            "SELECT e.id, e.event_types, s.external_id FROM shows s \
             JOIN theatres t ON t.id = s.theatre_id \
             JOIN webhook_endpoints e ON e.org_id = t.org_id \
             WHERE s.id = $1",
            params![&show_id],
        )
        .await?;
    let subscribed: Vec<String> = endpoints
        .iter()
        .filter(|(_, types, _)| {
            serde_json::from_str::<Vec<String>>(types)
                .is_ok_and(|types| types.contains(&envelope.event_type))
        })
        .map(|(id, _, _)| id.clone())
        .collect();
    let Some((_, _, external)) = endpoints.first() else {
        return Ok(());
    };
    if subscribed.is_empty() {
        return Ok(());
    }
    let body = body(envelope, external.as_deref());
    let now = app.clock.now().as_millis();
    let unit = (
        envelope.event_id.clone(),
        envelope.seq,
        envelope.event_type.clone(),
        show_id,
        body,
    );
    app.db
        .write(move |tx| {
            let (event_id, seq, event_type, show_id, body) = &unit;
            for endpoint_id in &subscribed {
                lock_endpoint(tx, endpoint_id)?;
                // The show's earliest pending delivery to the endpoint is its head. Events
                // of different aggregates are handed over concurrently, so an earlier
                // event can arrive after a later one: it then takes the head over (the
                // later one cannot have been sent: see `unpublished_by_show`).
                let head: Option<(String, i64)> = tx.fetch_optional(
                    "SELECT id, seq FROM webhook_deliveries WHERE endpoint_id = $1 \
                     AND show_id = $2 AND status = 'pending' AND head LIMIT 1",
                    params![endpoint_id, show_id],
                )?;
                let is_head = match &head {
                    None => true,
                    Some((_, head_seq)) => *head_seq > *seq,
                };
                if let (true, Some((head_id, _))) = (is_head, &head) {
                    tx.execute(
                        "UPDATE webhook_deliveries SET head = FALSE \
                         WHERE id = $1 AND claimed_until IS NULL",
                        params![head_id],
                    )?;
                }
                let id = WebhookDeliveryId::generate().to_string();
                tx.execute(
                    "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, seq, event_type, \
                     show_id, body, status, head, next_attempt_at, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, $9, $9) \
                     ON CONFLICT (endpoint_id, event_id) DO NOTHING",
                    params![
                        &id,
                        endpoint_id,
                        event_id,
                        *seq,
                        event_type,
                        show_id,
                        body,
                        is_head,
                        now
                    ],
                )?;
            }
            Ok::<_, sqlx::Error>(())
        })
        .await?;
    Ok(())
}

/// Takes the endpoint row's lock (PostgreSQL; SQLite's writer is alone anyway) for the
/// rest of the unit: the writers that make and finish an endpoint's deliveries take it
/// first, so `head` is decided on what the others committed.
fn lock_endpoint(tx: &mut crate::db::Tx<'_>, endpoint_id: &str) -> sqlx::Result<u64> {
    tx.execute(
        "UPDATE webhook_endpoints SET updated_at = updated_at WHERE id = $1",
        params![endpoint_id],
    )
}

/// Marks the earliest pending delivery of each of the endpoint's shows (or of one show) as
/// its head, and only that one: after a replay made older deliveries pending again.
fn recompute_heads(
    tx: &mut crate::db::Tx<'_>,
    endpoint_id: &str,
    show_id: Option<&str>,
) -> sqlx::Result<u64> {
    tx.execute(
        "UPDATE webhook_deliveries SET head = NOT EXISTS (SELECT 1 FROM webhook_deliveries p \
           WHERE p.endpoint_id = webhook_deliveries.endpoint_id \
             AND p.show_id = webhook_deliveries.show_id \
             AND p.status = 'pending' AND p.seq < webhook_deliveries.seq) \
         WHERE endpoint_id = $1 AND status = 'pending' AND ($2 IS NULL OR show_id = $2)",
        params![endpoint_id, show_id],
    )
}

// ---------------------------------------------------------------------------------------
// Sending.

db_row! {
    struct DueRow {
        id: String,
        endpoint_id: String,
        show_id: String,
        seq: i64,
        event_id: String,
        body: String,
        attempts: i64,
        url: String,
        secret: String,
        previous_secret: Option<String>,
        previous_expires_at: Option<i64>,
    }
}

/// Due deliveries of enabled endpoints: heads (each the earliest pending delivery of its
/// endpoint's show) not claimed by a node now. The endpoints this node already has its
/// share of requests in flight to are left out (appended by `start_due`).
const DUE: &str = "SELECT d.id, d.endpoint_id, d.show_id, d.seq, d.event_id, d.body, d.attempts, \
     e.url, e.secret, e.previous_secret, e.previous_expires_at \
     FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
     WHERE d.status = 'pending' AND d.head AND d.next_attempt_at <= ";

/// What one attempt found.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub status_code: Option<u16>,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub excerpt: Option<String>,
    pub retry_after_ms: Option<i64>,
}

/// The HTTP client deliveries go out on: no redirects followed, a bounded time per
/// request, and (unless private targets are allowed) names resolved only to public
/// addresses, so a partner's DNS cannot point Marquee at its own network.
pub fn client(config: &WebhooksConfig) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_millis(config.timeout_ms.max(1)))
        .connect_timeout(Duration::from_millis(config.timeout_ms.clamp(1, 5_000)))
        .pool_idle_timeout(Duration::from_secs(30))
        .user_agent(concat!("Marquee-Webhooks/", env!("CARGO_PKG_VERSION")));
    if !config.allow_private_targets {
        builder = builder.dns_resolver(Arc::new(PublicOnly));
    }
    Ok(builder.build()?)
}

/// A resolver that answers only public addresses.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| !super::webhooks::is_private_ip(addr.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Posts one delivery, signed now with every secret that signs for the endpoint.
async fn post(
    client: &reqwest::Client,
    row: &DueRow,
    secrets: &[&str],
    wall_secs: i64,
) -> AttemptResult {
    let signed = signature(secrets, &row.event_id, wall_secs, row.body.as_bytes());
    let started = std::time::Instant::now();
    let sent = client
        .post(&row.url)
        .header("content-type", "application/json")
        .header("webhook-id", &row.event_id)
        .header("webhook-timestamp", wall_secs.to_string())
        .header("webhook-signature", signed)
        .body(row.body.clone())
        .send()
        .await;
    let mut result = AttemptResult {
        status_code: None,
        latency_ms: 0,
        error: None,
        excerpt: None,
        retry_after_ms: None,
    };
    match sent {
        Ok(mut response) => {
            result.status_code = Some(response.status().as_u16());
            result.retry_after_ms = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<i64>().ok())
                .map(|secs| secs.saturating_mul(1000));
            let mut excerpt = Vec::new();
            while excerpt.len() < EXCERPT_BYTES {
                match response.chunk().await {
                    Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
                    Ok(None) | Err(_) => break,
                }
            }
            excerpt.truncate(EXCERPT_BYTES);
            if !excerpt.is_empty() {
                result.excerpt = Some(String::from_utf8_lossy(&excerpt).into_owned());
            }
        }
        Err(error) => {
            result.error = Some(if error.is_timeout() {
                "timed out".to_owned()
            } else if error.is_connect() {
                format!("could not connect: {}", root_cause(&error))
            } else {
                root_cause(&error)
            });
        }
    }
    result.latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    result
}

/// The innermost error's message (reqwest's own says little: "error sending request").
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = error;
    while let Some(source) = inner.source() {
        inner = source;
    }
    inner.to_string()
}

fn wall_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The earliest outbox event of each show that the consumers have not all handled yet
/// (the dispatcher marks an event published once they have). Read from the few
/// unpublished events.
async fn unpublished_by_show(app: &AppState) -> sqlx::Result<HashMap<String, i64>> {
    let rows: Vec<(String, i64)> = app
        .db
        .fetch_all(
            "SELECT show_id, MIN(seq) FROM outbox \
             WHERE published_at IS NULL AND show_id IS NOT NULL GROUP BY show_id",
            params![],
        )
        .await?;
    Ok(rows.into_iter().collect())
}

/// Requests one endpoint may have in flight from one node: a quarter of the node's
/// concurrency, so a slow endpoint holds back only itself.
pub fn per_endpoint(concurrency: usize) -> usize {
    (concurrency / 4).max(1)
}

/// The sender of one node: deliveries in flight, at most `concurrency`, at most
/// `per_endpoint` of each endpoint.
struct Sender {
    client: reqwest::Client,
    in_flight: tokio::task::JoinSet<String>,
    per_endpoint: HashMap<String, usize>,
}

impl Sender {
    /// Reaps finished deliveries.
    fn reap(&mut self) {
        while let Some(done) = self.in_flight.try_join_next() {
            self.finished(done);
        }
    }

    /// Frees the slot of a finished delivery.
    fn finished(&mut self, done: Result<String, tokio::task::JoinError>) {
        // A task returns its endpoint even if the attempt panicked (see `start_due`); only
        // an aborted task, at shutdown, returns nothing.
        let Ok(endpoint) = done else { return };
        if let Some(count) = self.per_endpoint.get_mut(&endpoint) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.per_endpoint.remove(&endpoint);
            }
        }
    }

    /// Claims due deliveries for the free slots and starts them. Returns how many.
    async fn start_due(&mut self, app: &AppState) -> anyhow::Result<usize> {
        self.reap();
        let config = &app.config.webhooks;
        let concurrency = config.concurrency.max(1);
        let free = concurrency.saturating_sub(self.in_flight.len());
        if free == 0 {
            return Ok(0);
        }
        let cap = per_endpoint(concurrency);
        let now = app.clock.now().as_millis();
        let saturated: Vec<String> = self
            .per_endpoint
            .iter()
            .filter(|(_, n)| **n >= cap)
            .map(|(endpoint, _)| endpoint.clone())
            .collect();
        let mut due = QueryBuilder::new(app.db.engine(), DUE);
        due.push_bind(now)
            .push(" AND e.status = 'enabled' AND (d.claimed_until IS NULL OR d.claimed_until <= ")
            .push_bind(now)
            .push(")");
        if !saturated.is_empty() {
            due.push(" AND NOT d.endpoint_id").push_in(&saturated);
        }
        due.push(" ORDER BY d.next_attempt_at, d.seq LIMIT ")
            .push_bind(i64::try_from(free * 2).unwrap_or(64));
        let due: Vec<DueRow> = app.db.fetch_all(due.sql(), due.params()).await?;
        let unpublished = unpublished_by_show(app).await?;
        // A show's delivery waits while an earlier event of the show is still being
        // handed to the consumers: that event's delivery (if any) goes first.
        let due: Vec<DueRow> = due
            .into_iter()
            .filter(|row| {
                unpublished
                    .get(&row.show_id)
                    .is_none_or(|first| *first > row.seq)
            })
            .collect();
        // Within the slots left for each endpoint on this node.
        let mut wanted: Vec<DueRow> = Vec::new();
        let mut taking: HashMap<String, usize> = HashMap::new();
        for row in due {
            let busy = self
                .per_endpoint
                .get(&row.endpoint_id)
                .copied()
                .unwrap_or(0);
            let taken = taking.entry(row.endpoint_id.clone()).or_default();
            if wanted.len() < free && busy + *taken < cap {
                *taken += 1;
                wanted.push(row);
            }
        }
        if wanted.is_empty() {
            return Ok(0);
        }
        let claim_until = now
            + i64::try_from(config.timeout_ms)
                .unwrap_or(i64::MAX / 4)
                .saturating_add(CLAIM_MARGIN_MS);
        let ids: Vec<String> = wanted.iter().map(|row| row.id.clone()).collect();
        let claimed: Vec<String> = app
            .db
            .write(move |tx| {
                let mut claimed = Vec::with_capacity(ids.len());
                for id in &ids {
                    let won = tx.execute(
                        "UPDATE webhook_deliveries SET claimed_until = $2 \
                         WHERE id = $1 AND status = 'pending' \
                           AND (claimed_until IS NULL OR claimed_until <= $3)",
                        params![id, claim_until, now],
                    )?;
                    if won == 1 {
                        claimed.push(id.clone());
                    }
                }
                Ok::<_, sqlx::Error>(claimed)
            })
            .await?;
        let mut started = 0;
        for row in wanted.into_iter().filter(|row| claimed.contains(&row.id)) {
            *self
                .per_endpoint
                .entry(row.endpoint_id.clone())
                .or_default() += 1;
            let (app, client) = (app.clone(), self.client.clone());
            self.in_flight.spawn(async move {
                let endpoint = row.endpoint_id.clone();
                let attempted = std::panic::AssertUnwindSafe(attempt(&app, &client, row))
                    .catch_unwind()
                    .await;
                match attempted {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => {
                        tracing::warn!(
                            error = format!("{error:#}"),
                            "webhook delivery not recorded"
                        );
                    }
                    // Its claim lapses and it is sent again.
                    Err(_) => tracing::error!(endpoint, "webhook delivery panicked"),
                }
                endpoint
            });
            started += 1;
        }
        Ok(started)
    }
}

/// Sends one claimed delivery and records the attempt.
async fn attempt(app: &AppState, client: &reqwest::Client, row: DueRow) -> anyhow::Result<()> {
    let now = app.clock.now().as_millis();
    let secrets = secrets_in_force(
        &row.secret,
        row.previous_secret.as_deref(),
        row.previous_expires_at,
        now,
    );
    let result = post(client, &row, &secrets, wall_secs()).await;
    let verdict = classify(result.status_code);
    metrics::counter!("marquee_webhook_attempts_total", "verdict" => match verdict {
        Verdict::Delivered => "delivered",
        Verdict::Retry => "retry",
        Verdict::Rejected => "rejected",
    })
    .increment(1);
    let now = app.clock.now().as_millis();
    let attempts = row.attempts + 1;
    let jitter = rand::rng().random_range(0.8..=1.2);
    let (status, next, outcome) = match verdict {
        Verdict::Delivered => ("delivered", now, "delivered"),
        Verdict::Rejected => ("failed", now, "rejected"),
        Verdict::Retry => match next_attempt_at(now, attempts, jitter, result.retry_after_ms) {
            Some(at) => ("pending", at, "retry"),
            None => ("failed", now, "gave_up"),
        },
    };
    let disable_after_ms = i64::try_from(app.config.webhooks.disable_after_failing_hours)
        .unwrap_or(i64::MAX / 4_000_000)
        .saturating_mul(3_600_000);
    let delivered = verdict == Verdict::Delivered;
    let code = result.status_code.map(i64::from);
    let finished = status != "pending";
    let unit = (row.id, row.endpoint_id, row.show_id, result);
    app.db
        .write(move |tx| {
            let (id, endpoint_id, show_id, result) = &unit;
            lock_endpoint(tx, endpoint_id)?;
            tx.execute(
                "INSERT INTO webhook_attempts (delivery_id, attempt, attempted_at, outcome, \
                 status_code, latency_ms, error, response_excerpt) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                params![
                    id,
                    attempts,
                    now,
                    outcome,
                    code,
                    result.latency_ms,
                    &result.error,
                    &result.excerpt
                ],
            )?;
            tx.execute(
                "UPDATE webhook_deliveries SET status = $2, attempts = $3, next_attempt_at = $4, \
                 claimed_until = NULL, first_attempt_at = COALESCE(first_attempt_at, $5), \
                 last_status_code = $6, delivered_at = $7, updated_at = $5, \
                 head = (head AND $8) WHERE id = $1",
                params![
                    id,
                    status,
                    attempts,
                    next,
                    now,
                    code,
                    delivered.then_some(now),
                    !finished
                ],
            )?;
            if finished {
                // The show's next delivery to the endpoint may go now.
                tx.execute(
                    "UPDATE webhook_deliveries SET head = TRUE WHERE id = \
                     (SELECT id FROM webhook_deliveries WHERE endpoint_id = $1 AND show_id = $2 \
                      AND status = 'pending' ORDER BY seq LIMIT 1)",
                    params![endpoint_id, show_id],
                )?;
            }
            if delivered {
                tx.execute(
                    "UPDATE webhook_endpoints SET failing_since = NULL \
                     WHERE id = $1 AND failing_since IS NOT NULL",
                    params![endpoint_id],
                )?;
                return Ok(());
            }
            tx.execute(
                "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $2) \
                 WHERE id = $1",
                params![endpoint_id, now],
            )?;
            disable_if_failing_too_long(tx, endpoint_id, now, disable_after_ms)
        })
        .await?;
    Ok(())
}

/// Disables the endpoint if all its deliveries have failed for `after_ms`, and records
/// `webhook_endpoint.disabled` (the organisation is mailed about it).
fn disable_if_failing_too_long(
    tx: &mut crate::db::Tx<'_>,
    endpoint_id: &str,
    now: i64,
    after_ms: i64,
) -> sqlx::Result<()> {
    let failing: Option<(String, String, i64)> = tx.fetch_optional(
        "UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = 'failing', \
         updated_at = $2 \
         WHERE id = $1 AND status = 'enabled' AND failing_since <= $3 \
         RETURNING org_id, url, failing_since",
        params![endpoint_id, now, now - after_ms],
    )?;
    if let Some((org_id, url, failing_since)) = failing {
        tracing::warn!(
            endpoint_id,
            org_id,
            "webhook endpoint disabled after failing"
        );
        let event = Event::WebhookEndpointDisabled {
            endpoint_id: endpoint_id.to_owned(),
            org_id,
            url,
            failing_since,
        };
        outbox::append(tx, &event, now)?;
    }
    Ok(())
}

/// Sends due deliveries (polling every `webhooks.poll_interval_ms`) until `shutdown`
/// resolves. Requests still in flight then are dropped unanswered and unrecorded: their
/// claims lapse and they are sent again, with the same `webhook-id`.
pub async fn run(app: AppState, shutdown: impl Future<Output = ()>) {
    let client = match client(&app.config.webhooks) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "webhook deliveries cannot be sent");
            return;
        }
    };
    let mut sender = Sender {
        client,
        in_flight: tokio::task::JoinSet::new(),
        per_endpoint: HashMap::new(),
    };
    let interval = Duration::from_millis(app.config.webhooks.poll_interval_ms.max(10));
    let work = async {
        loop {
            match sender.start_due(&app).await {
                // More may be due: look again once one of these finishes, or soon.
                Ok(n) if n > 0 => {
                    if let Ok(Some(done)) =
                        tokio::time::timeout(interval, sender.in_flight.join_next()).await
                    {
                        sender.finished(done);
                    }
                    continue;
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(error = format!("{error:#}"), "webhook delivery"),
            }
            tokio::time::sleep(interval).await;
        }
    };
    tokio::select! {
        () = work => {}
        () = shutdown => {}
    }
}

// ---------------------------------------------------------------------------------------
// The delivery log and replays.

/// One delivery of one event to one endpoint.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Delivery {
    /// `whd_…`.
    pub id: String,
    pub endpoint_id: String,
    /// The outbox event id: the `webhook-id` header of every attempt.
    pub event_id: String,
    pub event_type: String,
    pub show_id: String,
    /// `pending` (to be sent, or retried at `next_attempt_at`), `delivered`, or `failed`
    /// (refused with a 4xx, or given up after the retries).
    pub status: String,
    pub attempts: i64,
    #[schema(value_type = Option<String>)]
    pub next_attempt_at: Option<Timestamp>,
    pub last_status_code: Option<i64>,
    #[schema(value_type = Option<String>)]
    pub delivered_at: Option<Timestamp>,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
}

/// One attempt at a delivery.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Attempt {
    pub attempt: i64,
    #[schema(value_type = String)]
    pub attempted_at: Timestamp,
    /// `delivered`, `retry` (failed; tried again later), `rejected` (a 4xx: not retried)
    /// or `gave_up` (failed, and the last retry).
    pub outcome: String,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    /// Why there was no answer (timeout, connection refused).
    pub error: Option<String>,
    /// The first 512 bytes of the answer.
    pub response_excerpt: Option<String>,
}

/// A delivery with its attempts and the body it sends.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: Delivery,
    /// The exact bytes every attempt sends (as JSON text).
    pub body: String,
    pub attempts_log: Vec<Attempt>,
}

db_row! {
    struct DeliveryRow {
        id: String,
        endpoint_id: String,
        event_id: String,
        event_type: String,
        show_id: String,
        status: String,
        attempts: i64,
        next_attempt_at: i64,
        last_status_code: Option<i64>,
        delivered_at: Option<i64>,
        created_at: i64,
        body: String,
    }
}

impl DeliveryRow {
    fn view(self) -> (Delivery, String) {
        let pending = self.status == "pending";
        (
            Delivery {
                id: self.id,
                endpoint_id: self.endpoint_id,
                event_id: self.event_id,
                event_type: self.event_type,
                show_id: self.show_id,
                status: self.status,
                attempts: self.attempts,
                next_attempt_at: pending.then(|| Timestamp::from_millis(self.next_attempt_at)),
                last_status_code: self.last_status_code,
                delivered_at: self.delivered_at.map(Timestamp::from_millis),
                created_at: Timestamp::from_millis(self.created_at),
            },
            self.body,
        )
    }
}

db_row! {
    struct AttemptRow {
        attempt: i64,
        attempted_at: i64,
        outcome: String,
        status_code: Option<i64>,
        latency_ms: i64,
        error: Option<String>,
        response_excerpt: Option<String>,
    }
}

const DELIVERY: &str = "SELECT d.id, d.endpoint_id, d.event_id, d.event_type, d.show_id, \
     d.status, d.attempts, d.next_attempt_at, d.last_status_code, d.delivered_at, \
     d.created_at, d.body \
     FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id";

/// Filters of the delivery log.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryFilter {
    /// Only deliveries in this state: `pending`, `delivered` or `failed`.
    pub status: Option<String>,
}

/// Checks a status filter. Pure.
fn check_status(status: Option<&str>) -> Result<(), ManageError> {
    match status {
        None | Some("pending" | "delivered" | "failed") => Ok(()),
        Some(other) => Err(ManageError::InvalidInput(format!(
            "status must be pending, delivered or failed, not {other:?}"
        ))),
    }
}

async fn ensure_endpoint(
    app: &AppState,
    org_id: &PartnerOrgId,
    endpoint_id: &str,
) -> Result<(), ManageError> {
    let found: Option<String> = app
        .db
        .fetch_optional(
            "SELECT id FROM webhook_endpoints WHERE id = $1 AND org_id = $2",
            params![endpoint_id, org_id.as_str()],
        )
        .await?;
    found
        .map(|_| ())
        .ok_or_else(|| ManageError::UnknownWebhookEndpoint(endpoint_id.to_owned()))
}

/// An endpoint's deliveries, newest first.
pub async fn list(
    app: &AppState,
    org_id: &PartnerOrgId,
    endpoint_id: &str,
    filter: &DeliveryFilter,
    page: PageRequest<(i64, String)>,
) -> Result<Page<Delivery>, ManageError> {
    check_status(filter.status.as_deref())?;
    ensure_endpoint(app, org_id, endpoint_id).await?;
    let (before_at, before_id) = page.after.unwrap_or((i64::MAX, String::new()));
    let rows: Vec<DeliveryRow> = app
        .db
        .fetch_all(
            &format!(
                "{DELIVERY} WHERE d.endpoint_id = $1 AND e.org_id = $2 \
                 AND ($3 IS NULL OR d.status = $3) \
                 AND (d.created_at < $4 OR (d.created_at = $4 AND ($5 = '' OR d.id < $5))) \
                 ORDER BY d.created_at DESC, d.id DESC LIMIT $6"
            ),
            params![
                endpoint_id,
                org_id.as_str(),
                &filter.status,
                before_at,
                &before_id,
                i64::from(page.limit) + 1
            ],
        )
        .await?;
    let views: Vec<Delivery> = rows.into_iter().map(|row| row.view().0).collect();
    Ok(Page::from_rows(views, page.limit, |d| {
        (d.created_at.as_millis(), d.id.clone())
    }))
}

/// One delivery with its attempts.
pub async fn get(
    app: &AppState,
    org_id: &PartnerOrgId,
    delivery_id: &str,
) -> Result<DeliveryDetail, ManageError> {
    let row: Option<DeliveryRow> = app
        .db
        .fetch_optional(
            &format!("{DELIVERY} WHERE d.id = $1 AND e.org_id = $2"),
            params![delivery_id, org_id.as_str()],
        )
        .await?;
    let row = row.ok_or_else(|| ManageError::UnknownWebhookDelivery(delivery_id.to_owned()))?;
    let attempts: Vec<AttemptRow> = app
        .db
        .fetch_all(
            "SELECT attempt, attempted_at, outcome, status_code, latency_ms, error, \
             response_excerpt FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt",
            params![delivery_id],
        )
        .await?;
    let (delivery, body) = row.view();
    Ok(DeliveryDetail {
        delivery,
        body,
        attempts_log: attempts
            .into_iter()
            .map(|a| Attempt {
                attempt: a.attempt,
                attempted_at: Timestamp::from_millis(a.attempted_at),
                outcome: a.outcome,
                status_code: a.status_code,
                latency_ms: a.latency_ms,
                error: a.error,
                response_excerpt: a.response_excerpt,
            })
            .collect(),
    })
}

/// Sends a delivery again, now (whatever its state): the same body and `webhook-id`.
pub async fn replay(
    app: &AppState,
    org_id: &PartnerOrgId,
    delivery_id: &str,
) -> Result<DeliveryDetail, ManageError> {
    let now = app.clock.now().as_millis();
    let unit = (delivery_id.to_owned(), org_id.to_string());
    let replayed = app
        .db
        .write(move |tx| {
            let (id, org_id) = &unit;
            let found: Option<(String, String)> = tx.fetch_optional(
                "SELECT d.endpoint_id, d.show_id FROM webhook_deliveries d \
                 JOIN webhook_endpoints e ON e.id = d.endpoint_id \
                 WHERE d.id = $1 AND e.org_id = $2",
                params![id, org_id],
            )?;
            let Some((endpoint_id, show_id)) = found else {
                return Ok::<_, sqlx::Error>(0);
            };
            lock_endpoint(tx, &endpoint_id)?;
            tx.execute(
                "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $2, \
                 claimed_until = NULL, delivered_at = NULL, updated_at = $2 WHERE id = $1",
                params![id, now],
            )?;
            recompute_heads(tx, &endpoint_id, Some(&show_id))?;
            Ok(1)
        })
        .await?;
    if replayed == 0 {
        return Err(ManageError::UnknownWebhookDelivery(delivery_id.to_owned()));
    }
    get(app, org_id, delivery_id).await
}

/// Replays an endpoint's deliveries made in a time range.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRangeRequest {
    /// From this instant (inclusive), RFC 3339.
    pub since: chrono::DateTime<chrono::Utc>,
    /// To this instant (exclusive); default now.
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    /// `failed` (default): only deliveries that failed; `all`: delivered ones too.
    pub status: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReplayedRange {
    /// Deliveries queued to be sent again.
    pub replayed: u64,
}

/// Queues the endpoint's deliveries made in the range (failed ones, or all) to be sent
/// again, in their original order per show.
pub async fn replay_range(
    app: &AppState,
    org_id: &PartnerOrgId,
    endpoint_id: &str,
    request: &ReplayRangeRequest,
) -> Result<ReplayedRange, ManageError> {
    let now = app.clock.now().as_millis();
    let until = request.until.map_or(now + 1, |t| t.timestamp_millis());
    let since = request.since.timestamp_millis();
    if since >= until {
        return Err(ManageError::InvalidInput(
            "since must be before until".into(),
        ));
    }
    let all = match request.status.as_deref() {
        None | Some("failed") => false,
        Some("all") => true,
        Some(other) => {
            return Err(ManageError::InvalidInput(format!(
                "status must be failed or all, not {other:?}"
            )));
        }
    };
    ensure_endpoint(app, org_id, endpoint_id).await?;
    let endpoint = endpoint_id.to_owned();
    let replayed = app
        .db
        .write(move |tx| {
            lock_endpoint(tx, &endpoint)?;
            let replayed = tx.execute(
                "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $4, \
                 claimed_until = NULL, delivered_at = NULL, updated_at = $4 \
                 WHERE endpoint_id = $1 AND created_at >= $2 AND created_at < $3 \
                   AND (status = 'failed' OR ($5 AND status = 'delivered'))",
                params![&endpoint, since, until, now, all],
            )?;
            if replayed > 0 {
                recompute_heads(tx, &endpoint, None)?;
            }
            Ok::<_, sqlx::Error>(replayed)
        })
        .await?;
    Ok(ReplayedRange { replayed })
}

/// How long finished deliveries (delivered or failed) stay in the log, replayable.
pub const LOG_RETENTION_MS: i64 = 30 * 24 * 3_600_000;

/// Forgets finished deliveries last changed before `before` (ms), with their attempts.
pub async fn purge(db: &crate::db::Db, before: i64) -> sqlx::Result<u64> {
    db.write(move |tx| {
        tx.execute(
            "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries \
             WHERE status IN ('delivered', 'failed') AND updated_at < $1)",
            params![before],
        )?;
        tx.execute(
            "DELETE FROM webhook_deliveries \
             WHERE status IN ('delivered', 'failed') AND updated_at < $1",
            params![before],
        )
    })
    .await
}

/// Enables a disabled endpoint again; its deliveries waiting meanwhile are sent, in order.
pub async fn enable(
    app: &AppState,
    org_id: &PartnerOrgId,
    endpoint_id: &str,
) -> Result<(), ManageError> {
    let now = app.clock.now().as_millis();
    let unit = (endpoint_id.to_owned(), org_id.to_string());
    let enabled = app
        .db
        .write(move |tx| {
            let (id, org_id) = &unit;
            tx.execute(
                "UPDATE webhook_endpoints SET status = 'enabled', failing_since = NULL, \
                 disabled_reason = NULL, updated_at = $3 WHERE id = $1 AND org_id = $2",
                params![id, org_id, now],
            )
        })
        .await?;
    if enabled == 0 {
        return Err(ManageError::UnknownWebhookEndpoint(endpoint_id.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_delivered_retried_or_refused_by_their_status() {
        assert_eq!(classify(Some(200)), Verdict::Delivered);
        assert_eq!(classify(Some(204)), Verdict::Delivered);
        for retried in [None, Some(408), Some(429), Some(500), Some(503), Some(302)] {
            assert_eq!(classify(retried), Verdict::Retry, "{retried:?}");
        }
        for refused in [400, 401, 403, 404, 410, 422] {
            assert_eq!(classify(Some(refused)), Verdict::Rejected, "{refused}");
        }
    }

    #[test]
    fn retries_span_at_least_a_day_whatever_the_jitter_then_stop() {
        for jitter in [0.8, 1.0, 1.2] {
            let mut at = 0;
            let mut attempts = 1;
            while let Some(next) = next_attempt_at(at, attempts, jitter, None) {
                assert!(next > at);
                at = next;
                attempts += 1;
            }
            assert_eq!(attempts, 8, "eight attempts in all");
            assert!(at >= 24 * 3_600_000, "jitter {jitter}: last try at {at} ms");
            assert!(at <= 40 * 3_600_000, "jitter {jitter}: last try at {at} ms");
        }
        assert_eq!(next_attempt_at(1_000, 1, 1.0, None), Some(6_000));
        // Jitter is bounded, and Retry-After only lengthens the wait.
        assert_eq!(next_attempt_at(0, 1, 7.0, None), Some(6_000));
        assert_eq!(next_attempt_at(0, 1, 1.0, Some(60_000)), Some(60_000));
        assert_eq!(next_attempt_at(0, 1, 1.0, Some(1)), Some(5_000));
        assert_eq!(next_attempt_at(0, 0, 1.0, None), None);
    }

    #[tokio::test]
    async fn a_name_resolving_to_a_private_address_is_never_called() {
        // `check_endpoint` refuses private addresses written in the URL; a public-looking
        // name can still resolve to one, so the sender's resolver drops those.
        let client = client(&WebhooksConfig::default()).unwrap();
        let error = client
            .post("http://localhost:9/hook")
            .send()
            .await
            .unwrap_err();
        assert!(
            root_cause(&error).contains("resolves to no public address"),
            "{error:?}"
        );
    }

    #[test]
    fn a_body_is_the_standard_webhooks_shape_with_the_theatres_own_show_id() {
        let envelope = Envelope {
            event_id: "evt_1".into(),
            seq: 7,
            aggregate_type: "booking".into(),
            aggregate_id: "bkg_1".into(),
            event_type: "booking.confirmed".into(),
            version: 1,
            payload: r#"{"booking_id":"bkg_1","show_id":"shw_1"}"#.into(),
            created_at: 1_764_000_000_000,
        };
        assert_eq!(
            body(&envelope, Some("SHOW-9")),
            r#"{"data":{"booking_id":"bkg_1","show_external_id":"SHOW-9","show_id":"shw_1"},"timestamp":"2025-11-24T16:00:00Z","type":"booking.confirmed"}"#
        );
        assert!(!body(&envelope, None).contains("show_external_id"));
    }
}
