//! A payment gateway that behaves like an external one, for development, tests and
//! benchmarks. It decides by test card token — `tok_visa` succeeds, `tok_chargeDeclined`
//! is declined, `tok_delayed` succeeds after `payment.mock_delay_ms` — and reports every
//! outcome as an HTTP webhook to `/api/v1/payments/webhooks/mock`, signed like Stripe's:
//! `Mock-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
//!
//! Like a real gateway it keeps its records: a confirmed intent is written (in its own
//! table) together with the webhook it owes. The webhook is delivered at once (or when a
//! delayed charge settles) and then retried with exponential backoff until it is
//! acknowledged, across restarts of the process: a background task re-delivers whatever is
//! owed. Intents created but never confirmed are kept in memory only: nothing was charged
//! for them, so forgetting one loses nothing (`intent_status` then says it is unknown).
//!
//! One difference from a real gateway, made on purpose: the mock runs on the server's own
//! cores and database, so it records confirmed intents in batches (within
//! `RECORD_WINDOW` of the confirmation, one write for all) instead of one commit before
//! acknowledging each. A crash inside that window loses intents the mock had confirmed:
//! as far as the mock is concerned they were never charged, and Marquee's reconciliation
//! finds them unknown and fails their payments — nothing is left pending, and nobody is
//! charged without a ticket. (A real gateway's confirmation costs a round trip to it and
//! nothing of our own.)
//!
//! Deliveries are scheduled by the wall clock (this is someone else's system); webhook
//! signatures carry the application's clock, which is what the receiver checks them
//! against.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::http::HeaderMap;
use bytes::Bytes;
use futures::future::BoxFuture;
use hmac::{Hmac, Mac};
use http_body_util::Full;
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::sync::Notify;

use super::gateway::{
    DisputeNotice, EventKind, GatewayError, GatewayEvent, IntentRequest, IntentStatus,
    PaymentGateway, RefundRequest,
};
use crate::{
    clock::SharedClock,
    db::{Db, Sql},
    db_row,
    money::{Currency, Money},
    params,
    time::Timestamp,
};

pub const SIGNATURE_HEADER: &str = "mock-signature";

/// Delivery attempts before the gateway gives a webhook up (with the backoff below, about
/// two days), like real gateways' retry windows.
const MAX_ATTEMPTS: i64 = 20;
/// The first retry after a failed delivery; each next one waits twice as long, capped.
const FIRST_RETRY_MS: i64 = 500;
const MAX_RETRY_MS: i64 = 3_600_000;
/// A webhook not known to be delivered this long after it became due is delivered again
/// (by whichever node's background task finds it): the node that owed it may have died.
const REDELIVER_AFTER_MS: i64 = 2_000;
/// How often the background task looks for owed webhooks and records deliveries.
const BACKGROUND_PERIOD: Duration = Duration::from_millis(250);
/// A node claiming an owed webhook holds it this long before another may take it.
const CLAIM_MS: i64 = 30_000;
/// How long confirmed intents wait to be recorded together.
const RECORD_WINDOW: Duration = Duration::from_millis(10);
/// Delivered webhooks' intents are kept this long (wall-clock ms), then forgotten.
const KEEP_DELIVERED_MS: i64 = 7 * 24 * 3_600_000;
/// How often the mock forgets old delivered intents.
const PURGE_PERIOD: Duration = Duration::from_secs(600);

/// One line of the gateway's ledger (its settlement file); written once per id.
const LEDGER: &str = "INSERT INTO mock_gateway_ledger \
     (id, kind, intent_id, payment_id, amount, currency, occurred_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING";

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Succeed,
    Decline,
    SucceedLate,
}

/// An intent created and not confirmed yet (memory only: nothing charged).
#[derive(Debug, Clone)]
struct Created {
    payment_id: String,
    amount: Money,
    outcome: Outcome,
}

/// A confirmed intent with the webhook it owes, as the mock records it.
#[derive(Debug, Clone)]
struct Confirmed {
    id: String,
    payment_id: String,
    amount: Money,
    status: &'static str,
    failure_reason: Option<String>,
    /// Wall-clock ms.
    settles_at: i64,
    event_id: String,
    event_body: String,
    created_at: i64,
    /// The application clock's ms when it was captured: the ledger's time.
    captured_at: i64,
}

#[derive(Default)]
struct Pending {
    /// Unconfirmed intents by id, and their ids by our payment id (the idempotency key
    /// of `create_intent`).
    created: HashMap<String, Created>,
    by_payment: HashMap<String, String>,
    /// Confirmed intents not yet recorded, by id.
    unrecorded: HashMap<String, Confirmed>,
    /// Webhooks this node is delivering now, so the background task leaves them alone.
    in_flight: HashSet<String>,
    /// Intents whose webhook was delivered and is not yet recorded as such.
    delivered: Vec<String>,
}

pub struct MockGateway {
    secret: Vec<u8>,
    webhook_url: String,
    delay: Duration,
    tolerance_secs: i64,
    clock: SharedClock,
    db: Db,
    pending: Mutex<Pending>,
    wake: Notify,
    client: HttpClient,
}

/// The webhook body.
#[derive(Debug, Serialize, Deserialize)]
pub struct MockEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created: i64,
    pub data: MockEventData,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct MockEventData {
    pub intent_id: String,
    pub payment_id: String,
    pub amount: i64,
    pub currency: String,
    pub failure_reason: Option<String>,
    /// For `charge.dispute.*` events: the dispute as it stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispute: Option<MockDispute>,
}

/// A dispute in the mock's webhooks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MockDispute {
    pub id: String,
    /// `needs_response`, `under_review`, `won` or `lost` (Stripe's words).
    pub status: String,
    pub reason: String,
    /// The application clock's ms.
    pub evidence_due_at: i64,
}

/// How long the customer's bank gives the merchant to answer a dispute.
pub const DISPUTE_RESPONSE_MS: i64 = 7 * 24 * 3_600_000;

db_row! {
    /// A dispute as the mock keeps it.
    struct MockDisputeRow {
        id: String,
        intent_id: String,
        payment_id: String,
        amount: i64,
        currency: String,
        reason: String,
        status: String,
        evidence_due_at: i64,
    }
}

/// Why the mock refused to raise or decide a dispute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MockDisputeError {
    #[error("the gateway has no captured charge for payment {0}")]
    NoCharge(String),
    #[error("the charge of payment {0} is refunded in full: there is nothing to dispute")]
    NothingLeft(String),
    #[error("the gateway has no dispute {0}")]
    UnknownDispute(String),
    #[error("dispute {0} is already decided")]
    Decided(String),
    #[error("the gateway is unavailable: {0}")]
    Unavailable(String),
}

db_row! {
    /// An intent as the mock gateway keeps it once confirmed.
    struct IntentRow {
        amount: i64,
        currency: String,
        status: String,
        failure_reason: Option<String>,
        settles_at: i64,
    }
}

db_row! {
    /// A webhook still owed.
    struct OwedRow {
        id: String,
        event_body: String,
        attempts: i64,
    }
}

const INTENT_COLUMNS: &str = "SELECT amount, currency, status, failure_reason, settles_at \
     FROM mock_gateway_intents";

/// The webhook telling a dispute's state: (event id, body).
fn dispute_event(row: &MockDisputeRow, event_type: &str, now: i64) -> (String, String) {
    let event_id = format!("evt_{}", ulid::Ulid::new());
    let event = MockEvent {
        id: event_id.clone(),
        kind: event_type.to_owned(),
        created: now / 1000,
        data: MockEventData {
            intent_id: row.intent_id.clone(),
            payment_id: row.payment_id.clone(),
            amount: row.amount,
            currency: row.currency.clone(),
            failure_reason: None,
            dispute: Some(MockDispute {
                id: row.id.clone(),
                status: row.status.clone(),
                reason: row.reason.clone(),
                evidence_due_at: row.evidence_due_at,
            }),
        },
    };
    let body = serde_json::to_string(&event).unwrap_or_default();
    (event_id, body)
}

/// Milliseconds of the wall clock.
fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// When the attempt after `attempts` failed ones is due.
fn retry_at(now: i64, attempts: i64) -> i64 {
    let wait = FIRST_RETRY_MS.saturating_mul(1 << attempts.clamp(0, 30));
    now + wait.min(MAX_RETRY_MS)
}

/// The `Mock-Signature` header value for a body sent at `timestamp_secs`.
pub fn signature_header(secret: &[u8], timestamp_secs: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp_secs},v1={}",
        hex::encode(sign(secret, timestamp_secs, body))
    )
}

fn mac(secret: &[u8], timestamp_secs: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(timestamp_secs.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn sign(secret: &[u8], timestamp_secs: i64, body: &[u8]) -> Vec<u8> {
    mac(secret, timestamp_secs, body)
        .finalize()
        .into_bytes()
        .to_vec()
}

/// Checks a `Mock-Signature` header against the body, in constant time, and that its
/// timestamp is within `tolerance_secs` of `now`.
pub fn verify_signature(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: Timestamp,
    tolerance_secs: i64,
) -> Result<(), GatewayError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.extend(hex::decode(value).ok()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(GatewayError::InvalidSignature("no timestamp"))?;
    if (now.as_millis() / 1000 - timestamp).abs() > tolerance_secs {
        return Err(GatewayError::InvalidSignature(
            "timestamp outside the tolerance",
        ));
    }
    let valid = signatures
        .iter()
        .any(|candidate| mac(secret, timestamp, body).verify_slice(candidate).is_ok());
    if valid {
        Ok(())
    } else {
        Err(GatewayError::InvalidSignature("signature does not match"))
    }
}

impl MockGateway {
    pub fn new(
        secret: Vec<u8>,
        webhook_url: String,
        delay: Duration,
        tolerance_secs: i64,
        clock: SharedClock,
        db: Db,
    ) -> Arc<Self> {
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build_http();
        Arc::new(Self {
            secret,
            webhook_url,
            delay,
            tolerance_secs,
            clock,
            db,
            pending: Mutex::new(Pending::default()),
            wake: Notify::new(),
            client,
        })
    }

    /// Simulates the customer's bank disputing payment `payment_id` (what is left of its
    /// charge after refunds): records the dispute and owes its `charge.dispute.created`
    /// webhook. Returns the dispute's id.
    pub async fn raise_dispute(
        &self,
        payment_id: &str,
        reason: &str,
    ) -> Result<String, MockDisputeError> {
        let id = format!("dp_{}", ulid::Ulid::new());
        let due = self.clock.now().as_millis() + DISPUTE_RESPONSE_MS;
        let (payment, reason) = (payment_id.to_owned(), reason.to_owned());
        let dispute = id.clone();
        let raised = self
            .db
            .write(move |tx| {
                let charge: Option<(String, i64, Option<i64>, String)> = tx.fetch_optional(
                    "SELECT id, amount, refunded_amount, currency FROM mock_gateway_intents \
                     WHERE payment_id = $1 AND status = 'succeeded'",
                    params![&payment],
                )?;
                let Some((intent, amount, refunded, currency)) = charge else {
                    return Ok(Err(MockDisputeError::NoCharge(payment.clone())));
                };
                let left = amount - refunded.unwrap_or(0);
                if left <= 0 {
                    return Ok(Err(MockDisputeError::NothingLeft(payment.clone())));
                }
                let row = MockDisputeRow {
                    id: dispute.clone(),
                    intent_id: intent,
                    payment_id: payment.clone(),
                    amount: left,
                    currency,
                    reason: reason.clone(),
                    status: "needs_response".into(),
                    evidence_due_at: due,
                };
                let (event_id, body) = dispute_event(&row, "charge.dispute.created", due);
                tx.execute(
                    "INSERT INTO mock_gateway_disputes (id, intent_id, payment_id, amount, \
                     currency, reason, status, evidence_due_at, event_id, event_body, \
                     next_attempt_at, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
                    params![
                        &row.id,
                        &row.intent_id,
                        &row.payment_id,
                        row.amount,
                        &row.currency,
                        &row.reason,
                        &row.status,
                        row.evidence_due_at,
                        &event_id,
                        &body,
                        wall_ms()
                    ],
                )?;
                Ok::<_, sqlx::Error>(Ok(()))
            })
            .await
            .map_err(|e| MockDisputeError::Unavailable(e.to_string()))?;
        raised?;
        self.wake.notify_one();
        Ok(id)
    }

    /// Simulates the bank deciding dispute `id`: `won` or `lost` for the merchant; owes
    /// the `charge.dispute.closed` webhook.
    pub async fn decide_dispute(&self, id: &str, won: bool) -> Result<(), MockDisputeError> {
        let status = if won { "won" } else { "lost" };
        self.change_dispute(id, status, None, "charge.dispute.closed")
            .await
    }

    /// Moves a dispute not decided yet to `status` (with `evidence`, if any) and owes the
    /// webhook telling it.
    async fn change_dispute(
        &self,
        id: &str,
        status: &'static str,
        evidence: Option<String>,
        event_type: &'static str,
    ) -> Result<(), MockDisputeError> {
        let now = self.clock.now().as_millis();
        let dispute = id.to_owned();
        let changed = self
            .db
            .write(move |tx| {
                let row: Option<MockDisputeRow> = tx.fetch_optional(
                    "SELECT id, intent_id, payment_id, amount, currency, reason, status, \
                     evidence_due_at FROM mock_gateway_disputes WHERE id = $1",
                    params![&dispute],
                )?;
                let Some(mut row) = row else {
                    return Ok(Err(MockDisputeError::UnknownDispute(dispute.clone())));
                };
                if matches!(row.status.as_str(), "won" | "lost") {
                    return Ok(Err(MockDisputeError::Decided(dispute.clone())));
                }
                row.status = status.to_owned();
                let (event_id, body) = dispute_event(&row, event_type, now);
                tx.execute(
                    "UPDATE mock_gateway_disputes SET status = $2, \
                     evidence = COALESCE($3, evidence), event_id = $4, event_body = $5, \
                     attempts = 0, next_attempt_at = $6, delivered_at = NULL WHERE id = $1",
                    params![&dispute, status, &evidence, &event_id, &body, wall_ms()],
                )?;
                Ok::<_, sqlx::Error>(Ok(()))
            })
            .await
            .map_err(|e| MockDisputeError::Unavailable(e.to_string()))?;
        changed?;
        self.wake.notify_one();
        Ok(())
    }

    /// Delivers the dispute webhooks that are owed, each once; a failure waits its
    /// backoff. (Disputes are rare: no claims between nodes, a repeat is harmless.)
    async fn deliver_dispute_events(&self) -> sqlx::Result<()> {
        let now = wall_ms();
        let owed: Vec<(String, String, String, i64)> = self
            .db
            .fetch_all(
                "SELECT id, event_id, event_body, attempts FROM mock_gateway_disputes \
                 WHERE delivered_at IS NULL AND next_attempt_at <= $1 \
                 ORDER BY next_attempt_at LIMIT 20",
                params![now],
            )
            .await?;
        for (id, event_id, body, attempts) in owed {
            let (delivered, next) = match self.post(&body).await {
                Ok(()) => (Some(wall_ms()), now),
                Err(reason) => {
                    tracing::warn!(dispute = %id, attempts, reason = %reason, "mock gateway dispute webhook not delivered");
                    (None, retry_at(wall_ms(), attempts + 1))
                }
            };
            self.db
                .write_statement(move |tx| {
                    tx.execute(
                        "UPDATE mock_gateway_disputes SET delivered_at = $3, \
                         attempts = attempts + 1, next_attempt_at = $4 \
                         WHERE id = $1 AND event_id = $2",
                        params![&id, &event_id, delivered, next],
                    )
                })
                .await?;
        }
        Ok(())
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn intent(&self, id: &str) -> Result<Option<IntentRow>, GatewayError> {
        let sql = format!("{INTENT_COLUMNS} WHERE id = $1");
        self.db
            .fetch_optional(&sql, params![id])
            .await
            .map_err(unavailable)
    }

    /// Delivers one webhook (the intent's) once; on failure schedules the next attempt.
    async fn deliver(self: Arc<Self>, intent_id: String, body: String, attempts: i64) {
        let delivered = self.post(&body).await;
        let failed = match delivered {
            Ok(()) => {
                let mut pending = self.pending();
                pending.in_flight.remove(&intent_id);
                pending.delivered.push(intent_id);
                drop(pending);
                self.wake.notify_one();
                return;
            }
            Err(reason) => reason,
        };
        self.pending().in_flight.remove(&intent_id);
        let attempts = attempts + 1;
        let now = wall_ms();
        let give_up = attempts >= MAX_ATTEMPTS;
        tracing::warn!(intent = %intent_id, attempts, give_up, reason = %failed, "mock gateway webhook not delivered");
        let (next, given_up) = if give_up {
            (now, Some(now))
        } else {
            (retry_at(now, attempts), None)
        };
        let recorded = self
            .db
            .write_statement(move |tx| {
                tx.execute(
                    "UPDATE mock_gateway_intents SET attempts = $2, next_attempt_at = $3, \
                     given_up_at = $4 WHERE id = $1 AND delivered_at IS NULL",
                    params![&intent_id, attempts, next, given_up],
                )
            })
            .await;
        if let Err(error) = recorded {
            tracing::warn!(%error, "mock gateway could not record a failed delivery");
        }
    }

    /// One POST of a webhook body, signed now; `Ok` on a 2xx.
    async fn post(&self, body: &str) -> Result<(), String> {
        let body = Bytes::from(body.to_owned());
        // Signed at send time, so a retry carries a fresh timestamp.
        let timestamp = self.clock.now().as_millis() / 1000;
        let request = hyper::Request::post(&self.webhook_url)
            .header("content-type", "application/json")
            .header(
                SIGNATURE_HEADER,
                signature_header(&self.secret, timestamp, &body),
            )
            .body(Full::new(body))
            .map_err(|e| e.to_string())?;
        match tokio::time::timeout(Duration::from_secs(10), self.client.request(request)).await {
            Ok(Ok(response)) if response.status().is_success() => Ok(()),
            Ok(Ok(response)) => Err(format!("answered {}", response.status())),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("timed out".into()),
        }
    }

    /// Records, in one unit of work, the intents confirmed and the webhooks delivered since
    /// the last time.
    async fn record(&self) -> sqlx::Result<()> {
        const INSERT: &str = "INSERT INTO mock_gateway_intents (id, payment_id, amount, \
             currency, status, failure_reason, settles_at, event_id, event_body, \
             next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (id) DO NOTHING";
        const DELIVERED: Sql = Sql {
            sqlite: "UPDATE mock_gateway_intents SET delivered_at = $1 \
                     WHERE id IN (SELECT value FROM json_each($2)) AND delivered_at IS NULL",
            postgres: "UPDATE mock_gateway_intents SET delivered_at = $1 \
                       WHERE id = ANY($2) AND delivered_at IS NULL",
        };
        let (confirmed, delivered) = {
            let mut pending = self.pending();
            let confirmed: Vec<Confirmed> = pending.unrecorded.values().cloned().collect();
            (confirmed, std::mem::take(&mut pending.delivered))
        };
        if confirmed.is_empty() && delivered.is_empty() {
            return Ok(());
        }
        let now = wall_ms();
        let (inserted, marked) = (confirmed.clone(), delivered.clone());
        let recorded = self
            .db
            .write(move |tx| {
                for c in &inserted {
                    if c.status == "succeeded" {
                        let capture_id = format!("cap_{}", c.id);
                        tx.execute(
                            LEDGER,
                            params![
                                &capture_id,
                                "capture",
                                &c.id,
                                &c.payment_id,
                                c.amount.amount,
                                c.amount.currency.as_str(),
                                c.captured_at
                            ],
                        )?;
                    }
                    tx.execute(
                        INSERT,
                        params![
                            &c.id,
                            &c.payment_id,
                            c.amount.amount,
                            c.amount.currency.as_str(),
                            c.status,
                            &c.failure_reason,
                            c.settles_at,
                            &c.event_id,
                            &c.event_body,
                            c.settles_at + REDELIVER_AFTER_MS,
                            c.created_at
                        ],
                    )?;
                }
                if !marked.is_empty() {
                    tx.execute(DELIVERED, params![now, &marked])?;
                }
                Ok::<_, sqlx::Error>(())
            })
            .await;
        let mut pending = self.pending();
        match recorded {
            Ok(()) => {
                for c in &confirmed {
                    pending.unrecorded.remove(&c.id);
                }
                Ok(())
            }
            Err(error) => {
                // Kept for the next round; delivered marks that could not be written only
                // mean those webhooks are delivered again later.
                pending.delivered.extend(delivered);
                Err(error)
            }
        }
    }

    /// Claims and re-delivers the webhooks that are owed (due and not known to be
    /// delivered).
    async fn redeliver_owed(self: &Arc<Self>) -> sqlx::Result<()> {
        let now = wall_ms();
        let owed: Vec<OwedRow> = self
            .db
            .fetch_all(
                "SELECT id, event_body, attempts FROM mock_gateway_intents \
                 WHERE delivered_at IS NULL AND given_up_at IS NULL AND next_attempt_at <= $1 \
                 ORDER BY next_attempt_at LIMIT 50",
                params![now],
            )
            .await?;
        for row in owed {
            if self.pending().in_flight.contains(&row.id) {
                continue;
            }
            // Claimed by one node at a time (several may share the records).
            let id = row.id.clone();
            let claimed = self
                .db
                .write_statement(move |tx| {
                    tx.execute(
                        "UPDATE mock_gateway_intents SET next_attempt_at = $2 \
                         WHERE id = $1 AND next_attempt_at <= $3 AND delivered_at IS NULL",
                        params![&id, now + CLAIM_MS, now],
                    )
                })
                .await?;
            if claimed == 1 {
                self.pending().in_flight.insert(row.id.clone());
                tokio::spawn(Arc::clone(self).deliver(row.id, row.event_body, row.attempts));
            }
        }
        Ok(())
    }
}

fn unavailable(error: sqlx::Error) -> GatewayError {
    GatewayError::Unavailable(format!("the gateway's records: {error}"))
}

impl PaymentGateway for Arc<MockGateway> {
    fn provider(&self) -> &'static str {
        "mock"
    }

    fn create_intent(&self, request: IntentRequest) -> BoxFuture<'_, Result<String, GatewayError>> {
        Box::pin(async move {
            let outcome = match request.card_token.as_str() {
                "tok_visa" => Outcome::Succeed,
                "tok_chargeDeclined" => Outcome::Decline,
                "tok_delayed" => Outcome::SucceedLate,
                _ => return Err(GatewayError::InvalidCardToken),
            };
            // Our payment ids are new for every attempt, so an intent is only ever asked
            // for again while it is still unconfirmed (a retried call).
            if let Some(id) = self.pending().by_payment.get(&request.payment_id) {
                return Ok(id.clone());
            }
            let id = format!("pi_{}", ulid::Ulid::new());
            let mut pending = self.pending();
            pending
                .by_payment
                .insert(request.payment_id.clone(), id.clone());
            pending.created.insert(
                id.clone(),
                Created {
                    payment_id: request.payment_id,
                    amount: request.amount,
                    outcome,
                },
            );
            Ok(id)
        })
    }

    fn confirm(&self, intent_id: String) -> BoxFuture<'_, Result<(), GatewayError>> {
        Box::pin(async move {
            let Some(created) = self.pending().created.get(&intent_id).cloned() else {
                if self.pending().unrecorded.contains_key(&intent_id) {
                    return Ok(());
                }
                return match self.intent(&intent_id).await? {
                    // Confirmed before: confirming again changes nothing.
                    Some(_) => Ok(()),
                    None => Err(GatewayError::Unavailable("no such intent".into())),
                };
            };
            let (status, kind, failure_reason) = match created.outcome {
                Outcome::Succeed | Outcome::SucceedLate => ("succeeded", "payment.succeeded", None),
                Outcome::Decline => ("failed", "payment.failed", Some("card_declined".to_owned())),
            };
            let delay = if created.outcome == Outcome::SucceedLate {
                self.delay
            } else {
                Duration::ZERO
            };
            let event = MockEvent {
                id: format!("evt_{}", ulid::Ulid::new()),
                kind: kind.to_owned(),
                created: self.clock.now().as_millis() / 1000,
                data: MockEventData {
                    intent_id: intent_id.clone(),
                    payment_id: created.payment_id.clone(),
                    amount: created.amount.amount,
                    currency: created.amount.currency.to_string(),
                    failure_reason: failure_reason.clone(),
                    dispute: None,
                },
            };
            let body = serde_json::to_string(&event)
                .map_err(|e| GatewayError::Unavailable(e.to_string()))?;
            let now = wall_ms();
            let confirmed = Confirmed {
                id: intent_id.clone(),
                payment_id: created.payment_id.clone(),
                amount: created.amount,
                status,
                failure_reason,
                settles_at: now + delay.as_millis() as i64,
                event_id: event.id,
                event_body: body.clone(),
                created_at: now,
                captured_at: self.clock.now().as_millis(),
            };
            {
                let mut pending = self.pending();
                pending.created.remove(&intent_id);
                pending.by_payment.remove(&created.payment_id);
                pending.unrecorded.insert(intent_id.clone(), confirmed);
                pending.in_flight.insert(intent_id.clone());
            }
            self.wake.notify_one();
            let gateway = Arc::clone(self);
            tokio::spawn(async move {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                gateway.deliver(intent_id, body, 0).await;
            });
            Ok(())
        })
    }

    fn cancel(&self, intent_id: String) -> BoxFuture<'_, Result<(), GatewayError>> {
        Box::pin(async move {
            let mut pending = self.pending();
            if let Some(created) = pending.created.remove(&intent_id) {
                pending.by_payment.remove(&created.payment_id);
            }
            Ok(())
        })
    }

    fn intent_status(
        &self,
        intent_id: String,
    ) -> BoxFuture<'_, Result<IntentStatus, GatewayError>> {
        Box::pin(async move {
            let (created, unrecorded) = {
                let pending = self.pending();
                (
                    pending.created.contains_key(&intent_id),
                    pending.unrecorded.get(&intent_id).map(|c| IntentRow {
                        amount: c.amount.amount,
                        currency: c.amount.currency.to_string(),
                        status: c.status.to_owned(),
                        failure_reason: c.failure_reason.clone(),
                        settles_at: c.settles_at,
                    }),
                )
            };
            if created {
                return Ok(IntentStatus::RequiresConfirmation);
            }
            let row = match unrecorded {
                Some(row) => row,
                None => match self.intent(&intent_id).await? {
                    Some(row) => row,
                    None => return Ok(IntentStatus::Unknown),
                },
            };
            if wall_ms() < row.settles_at {
                return Ok(IntentStatus::Processing);
            }
            let amount = Money::new(
                row.amount,
                Currency::parse(&row.currency).unwrap_or(Currency::UNKNOWN),
            );
            Ok(match row.status.as_str() {
                "succeeded" => IntentStatus::Settled(EventKind::Succeeded, amount),
                "failed" => IntentStatus::Settled(
                    EventKind::Failed {
                        reason: row.failure_reason.unwrap_or_else(|| "declined".into()),
                    },
                    amount,
                ),
                "canceled" => IntentStatus::Canceled,
                _ => IntentStatus::Processing,
            })
        })
    }

    fn refund(&self, request: RefundRequest) -> BoxFuture<'_, Result<String, GatewayError>> {
        Box::pin(async move {
            let candidate = format!("re_{}", ulid::Ulid::new());
            let Some(intent) = request.intent_id.clone() else {
                // Never confirmed, so never charged: nothing to return.
                return Ok(candidate);
            };
            let amount = request.amount.amount;
            let (key, offered) = (request.key.clone(), candidate.clone());
            let now = self.clock.now().as_millis();
            let refund: Result<Option<String>, String> = self
                .db
                .write(move |tx| {
                    // The same key again: the refund it already made.
                    let made: Option<String> = tx.fetch_optional(
                        "SELECT refund_id FROM mock_gateway_refunds WHERE key = $1",
                        params![&key],
                    )?;
                    if let Some(made) = made {
                        return Ok(Ok(Some(made)));
                    }
                    // Taken from what the charge has left in one statement, so two refunds
                    // at once cannot both fit in the last of it. A concurrent request with
                    // the same key fails on the key's primary key and rolls this back.
                    let refunded: Option<(String, String)> = tx.fetch_optional(
                        "UPDATE mock_gateway_intents \
                         SET refund_id = $2, refunded_amount = COALESCE(refunded_amount, 0) + $3 \
                         WHERE id = $1 AND status = 'succeeded' \
                           AND COALESCE(refunded_amount, 0) + $3 <= amount \
                         RETURNING payment_id, currency",
                        params![&intent, &offered, amount],
                    )?;
                    let Some((payment_id, currency)) = refunded else {
                        let status: Option<String> = tx.fetch_optional(
                            "SELECT status FROM mock_gateway_intents WHERE id = $1",
                            params![&intent],
                        )?;
                        return Ok(match status.as_deref() {
                            Some("succeeded") => Err(format!(
                                "refunding {amount} would return more than the charge captured"
                            )),
                            // Never charged: there is nothing to return.
                            _ => Ok(None),
                        });
                    };
                    tx.execute(
                        "INSERT INTO mock_gateway_refunds (key, refund_id, intent_id, amount, \
                         created_at) VALUES ($1, $2, $3, $4, $5)",
                        params![&key, &offered, &intent, amount, now],
                    )?;
                    tx.execute(
                        LEDGER,
                        params![
                            &offered,
                            "refund",
                            &intent,
                            &payment_id,
                            amount,
                            &currency,
                            now
                        ],
                    )?;
                    Ok::<_, sqlx::Error>(Ok(Some(offered.clone())))
                })
                .await
                .map_err(unavailable)?;
            // A payment the gateway has no record of (it was never charged): accepted, as
            // refunding nothing.
            Ok(refund.map_err(GatewayError::Refused)?.unwrap_or(candidate))
        })
    }

    fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: Timestamp,
    ) -> Result<GatewayEvent, GatewayError> {
        let header = headers
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or(GatewayError::InvalidSignature("no Mock-Signature header"))?;
        verify_signature(&self.secret, header, body, now, self.tolerance_secs)?;
        let event: MockEvent = serde_json::from_slice(body)
            .map_err(|_| GatewayError::InvalidSignature("the body is not a gateway event"))?;
        let kind = match event.kind.as_str() {
            "payment.succeeded" => EventKind::Succeeded,
            "payment.failed" => EventKind::Failed {
                reason: event
                    .data
                    .failure_reason
                    .clone()
                    .unwrap_or_else(|| "declined".to_owned()),
            },
            "charge.dispute.created" | "charge.dispute.updated" | "charge.dispute.closed" => {
                let dispute = event
                    .data
                    .dispute
                    .clone()
                    .ok_or(GatewayError::InvalidSignature(
                        "a dispute event without its dispute",
                    ))?;
                EventKind::Dispute(DisputeNotice {
                    dispute_id: dispute.id,
                    status: match dispute.status.as_str() {
                        "needs_response" => "open",
                        "under_review" => "evidence_submitted",
                        "won" => "won",
                        "lost" => "lost",
                        _ => return Err(GatewayError::InvalidSignature("unknown dispute status")),
                    }
                    .to_owned(),
                    reason: dispute.reason,
                    evidence_due_at: dispute.evidence_due_at,
                })
            }
            _ => return Err(GatewayError::InvalidSignature("unknown event type")),
        };
        Ok(GatewayEvent {
            event_id: event.id,
            kind,
            payment_id: event.data.payment_id,
            intent_id: event.data.intent_id,
            amount: event.data.amount,
            currency: event.data.currency,
        })
    }

    fn submit_dispute_evidence(
        &self,
        dispute_id: String,
        evidence: String,
    ) -> BoxFuture<'_, Result<(), GatewayError>> {
        Box::pin(async move {
            self.change_dispute(
                &dispute_id,
                "under_review",
                Some(evidence),
                "charge.dispute.updated",
            )
            .await
            .map_err(|error| match error {
                MockDisputeError::Unavailable(m) => GatewayError::Unavailable(m),
                other => GatewayError::Refused(other.to_string()),
            })
        })
    }

    fn flush(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Err(error) = self.record().await {
                tracing::warn!(%error, "mock gateway could not record its intents at shutdown");
            }
        })
    }

    fn run_background(self: Arc<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let gateway: &Arc<MockGateway> = &self;
            let mut last_scan = std::time::Instant::now() - BACKGROUND_PERIOD;
            let mut last_purge = std::time::Instant::now();
            loop {
                let woken = tokio::time::timeout(BACKGROUND_PERIOD, gateway.wake.notified())
                    .await
                    .is_ok();
                if woken {
                    // Let the confirmations of the next few milliseconds join this write.
                    tokio::time::sleep(RECORD_WINDOW).await;
                }
                if let Err(error) = gateway.record().await {
                    tracing::warn!(%error, "mock gateway could not record its intents");
                }
                if last_scan.elapsed() >= BACKGROUND_PERIOD {
                    last_scan = std::time::Instant::now();
                    if let Err(error) = gateway.redeliver_owed().await {
                        tracing::warn!(%error, "mock gateway could not look for owed webhooks");
                    }
                    if let Err(error) = gateway.deliver_dispute_events().await {
                        tracing::warn!(%error, "mock gateway could not deliver dispute webhooks");
                    }
                }
                if last_purge.elapsed() >= PURGE_PERIOD {
                    last_purge = std::time::Instant::now();
                    let before = wall_ms() - KEEP_DELIVERED_MS;
                    let purged = gateway
                        .db
                        .write(move |tx| {
                            tx.execute(
                                "DELETE FROM mock_gateway_intents WHERE delivered_at < $1",
                                params![before],
                            )
                        })
                        .await;
                    if let Err(error) = purged {
                        tracing::warn!(%error, "mock gateway could not forget old intents");
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_refuse_tampering_and_age() {
        let secret = b"secret";
        let now = Timestamp::from_millis(1_800_000_000_000);
        let t = 1_800_000_000;
        let header = signature_header(secret, t, b"{}");
        assert!(verify_signature(secret, &header, b"{}", now, 300).is_ok());
        assert!(verify_signature(secret, &header, b"{ }", now, 300).is_err());
        assert!(verify_signature(b"other", &header, b"{}", now, 300).is_err());
        let old = signature_header(secret, t - 301, b"{}");
        assert!(verify_signature(secret, &old, b"{}", now, 300).is_err());
        let edge = signature_header(secret, t - 300, b"{}");
        assert!(verify_signature(secret, &edge, b"{}", now, 300).is_ok());
        assert!(verify_signature(secret, "t=1800000000", b"{}", now, 300).is_err());
        assert!(verify_signature(secret, "garbage", b"{}", now, 300).is_err());
    }
}
