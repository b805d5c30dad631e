//! What Marquee needs from a payment gateway. Payments are two-step, as with real
//! gateways: `create_intent` checks the card and returns the gateway's id without
//! charging; `confirm` starts the charge, whose outcome arrives later as a signed webhook.
//! So a payment we failed to record is never charged. Webhooks can be late, repeated or
//! lost: `intent_status` asks the gateway directly (reconciliation).

use std::sync::Arc;

use axum::http::HeaderMap;
use futures::future::BoxFuture;

use crate::{money::Money, time::Timestamp};

#[derive(Debug, Clone)]
pub struct IntentRequest {
    /// Our payment id; the gateway echoes it in its webhooks and uses it as its
    /// idempotency key.
    pub payment_id: String,
    pub amount: Money,
    pub card_token: String,
}

#[derive(Debug, Clone)]
pub struct RefundRequest {
    /// The gateway's idempotency key for this refund: the same key refunds once, however
    /// often it is sent. A payment may have several refunds (under different keys).
    pub key: String,
    pub payment_id: String,
    pub intent_id: Option<String>,
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    Succeeded,
    Failed {
        reason: String,
    },
    /// A dispute (chargeback) on the payment opened or moved on; the message carries the
    /// dispute as it stands now (`amount` is the disputed amount).
    Dispute(DisputeNotice),
}

/// A dispute as the gateway reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputeNotice {
    /// The gateway's id of the dispute.
    pub dispute_id: String,
    /// `open` (evidence wanted), `evidence_submitted`, `won` or `lost`.
    pub status: String,
    /// The card network's reason, e.g. `fraudulent`, `product_not_received`.
    pub reason: String,
    /// Evidence must reach the gateway before this instant (ms).
    pub evidence_due_at: i64,
}

/// A verified gateway verdict on one payment: a webhook, or the answer to a status
/// question. Its contents are the gateway's claims, checked against the payment before
/// anything is applied.
#[derive(Debug, Clone)]
pub struct GatewayEvent {
    /// Unique per message: the webhook's event id, or `status:<intent>` for an answer.
    pub event_id: String,
    pub kind: EventKind,
    pub payment_id: String,
    pub intent_id: String,
    pub amount: i64,
    pub currency: String,
}

/// Where an intent stands at the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntentStatus {
    /// Created, never confirmed: nothing will be charged unless it is confirmed.
    RequiresConfirmation,
    /// Confirmed; the outcome is not known yet.
    Processing,
    /// Settled: the verdict, as a webhook would have carried it.
    Settled(EventKind, Money),
    /// Cancelled before it was charged.
    Canceled,
    /// The gateway has no such intent.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    #[error("the card token is not valid")]
    InvalidCardToken,
    #[error("the payment gateway is unavailable: {0}")]
    Unavailable(String),
    #[error("webhook refused: {0}")]
    InvalidSignature(&'static str),
    /// The gateway refused the request outright (e.g. a refund beyond what was captured).
    #[error("the payment gateway refused: {0}")]
    Refused(String),
}

pub trait PaymentGateway: Send + Sync {
    /// Name in `/api/v1/payments/webhooks/{provider}` and in stored payments.
    fn provider(&self) -> &'static str;

    /// Checks the card and registers the amount; nothing is charged yet.
    fn create_intent(&self, request: IntentRequest) -> BoxFuture<'_, Result<String, GatewayError>>;

    /// Starts the charge; the outcome arrives as a webhook.
    fn confirm(&self, intent_id: String) -> BoxFuture<'_, Result<(), GatewayError>>;

    /// Cancels an intent that was never confirmed, so it can never be charged.
    fn cancel(&self, intent_id: String) -> BoxFuture<'_, Result<(), GatewayError>>;

    /// Where the intent stands (for payments whose webhook has not come).
    fn intent_status(&self, intent_id: String)
    -> BoxFuture<'_, Result<IntentStatus, GatewayError>>;

    /// Returns money; idempotent per `key`; the refunds of one charge never exceed it.
    /// Returns the gateway's refund id.
    fn refund(&self, request: RefundRequest) -> BoxFuture<'_, Result<String, GatewayError>>;

    /// Answers a dispute with evidence (JSON); the outcome arrives later as a webhook.
    fn submit_dispute_evidence(
        &self,
        dispute_id: String,
        evidence: String,
    ) -> BoxFuture<'_, Result<(), GatewayError>>;

    /// Checks a webhook's signature and age and parses it.
    fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: Timestamp,
    ) -> Result<GatewayEvent, GatewayError>;

    /// Work the gateway does in the background for as long as the node runs (the mock
    /// delivers and re-delivers its webhooks); a real gateway's adapter has none.
    fn run_background(self: Arc<Self>) -> BoxFuture<'static, ()> {
        Box::pin(std::future::pending())
    }

    /// Writes down whatever the adapter keeps in memory, at a clean shutdown.
    fn flush(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}
