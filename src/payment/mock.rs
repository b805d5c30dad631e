//! A payment gateway that behaves like an external one, for development, tests and
//! benchmarks. It keeps its own records (in memory: it stands for someone else's system),
//! decides by test card token — `tok_visa` succeeds, `tok_chargeDeclined` is declined,
//! `tok_delayed` succeeds after `payment.mock_delay_ms` — and reports every outcome as an
//! HTTP webhook to `/api/v1/payments/webhooks/mock`, signed like Stripe's:
//! `Mock-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. Deliveries
//! that fail are retried with exponential backoff.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::http::HeaderMap;
use bytes::Bytes;
use futures::future::BoxFuture;
use hmac::{Hmac, Mac};
use http_body_util::Full;
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::gateway::{
    EventKind, GatewayError, GatewayEvent, IntentRequest, PaymentGateway, RefundRequest,
};
use crate::{clock::SharedClock, money::Money, time::Timestamp};

pub const SIGNATURE_HEADER: &str = "mock-signature";
const DELIVERY_ATTEMPTS: u32 = 8;

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Succeed,
    Decline,
    SucceedLate,
}

#[derive(Debug, Clone)]
struct Intent {
    id: String,
    payment_id: String,
    amount: Money,
    outcome: Outcome,
    confirmed: bool,
    refunds: Vec<(String, i64)>,
}

/// The gateway's own records: intents by their id, and by our payment id (the idempotency
/// key of `create_intent`).
#[derive(Default)]
struct Records {
    intents: HashMap<String, Intent>,
    by_payment: HashMap<String, String>,
}

pub struct MockGateway {
    secret: Vec<u8>,
    webhook_url: String,
    delay: Duration,
    tolerance_secs: i64,
    clock: SharedClock,
    records: Mutex<Records>,
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
            records: Mutex::new(Records::default()),
            client,
        })
    }

    fn event_for(&self, intent: &Intent) -> MockEvent {
        let (kind, failure_reason) = match intent.outcome {
            Outcome::Succeed | Outcome::SucceedLate => ("payment.succeeded", None),
            Outcome::Decline => ("payment.failed", Some("card_declined".to_owned())),
        };
        MockEvent {
            id: format!("evt_{}", ulid::Ulid::new()),
            kind: kind.to_owned(),
            created: self.clock.now().as_millis() / 1000,
            data: MockEventData {
                intent_id: intent.id.clone(),
                payment_id: intent.payment_id.clone(),
                amount: intent.amount.amount,
                currency: intent.amount.currency.to_string(),
                failure_reason,
            },
        }
    }

    /// Delivers `event` like a gateway would: POST, retry with backoff until a 2xx.
    async fn deliver(self: Arc<Self>, event: MockEvent) {
        let Ok(body) = serde_json::to_vec(&event) else {
            return;
        };
        let body = Bytes::from(body);
        let mut backoff = Duration::from_millis(50);
        for attempt in 1..=DELIVERY_ATTEMPTS {
            // Signed at send time, so a retry carries a fresh timestamp.
            let timestamp = self.clock.now().as_millis() / 1000;
            let request = hyper::Request::post(&self.webhook_url)
                .header("content-type", "application/json")
                .header(
                    SIGNATURE_HEADER,
                    signature_header(&self.secret, timestamp, &body),
                )
                .body(Full::new(body.clone()));
            let Ok(request) = request else { return };
            match self.client.request(request).await {
                Ok(response) if response.status().is_success() => return,
                Ok(response) => {
                    tracing::warn!(status = %response.status(), attempt, event = %event.id, "mock gateway webhook refused");
                }
                Err(error) => {
                    tracing::warn!(%error, attempt, event = %event.id, "mock gateway webhook failed");
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
        tracing::error!(event = %event.id, "mock gateway gave up delivering a webhook");
    }
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
            let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(id) = records.by_payment.get(&request.payment_id) {
                return Ok(id.clone());
            }
            let id = format!("pi_{}", ulid::Ulid::new());
            records
                .by_payment
                .insert(request.payment_id.clone(), id.clone());
            records.intents.insert(
                id.clone(),
                Intent {
                    id: id.clone(),
                    payment_id: request.payment_id,
                    amount: request.amount,
                    outcome,
                    confirmed: false,
                    refunds: Vec::new(),
                },
            );
            Ok(id)
        })
    }

    fn confirm(&self, intent_id: String) -> BoxFuture<'_, Result<(), GatewayError>> {
        Box::pin(async move {
            let event = {
                let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
                let intent = records
                    .intents
                    .get_mut(&intent_id)
                    .ok_or_else(|| GatewayError::Unavailable("no such intent".into()))?;
                if intent.confirmed {
                    return Ok(());
                }
                intent.confirmed = true;
                let delay = if intent.outcome == Outcome::SucceedLate {
                    self.delay
                } else {
                    Duration::ZERO
                };
                (self.event_for(intent), delay)
            };
            let gateway = Arc::clone(self);
            tokio::spawn(async move {
                let (event, delay) = event;
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                gateway.deliver(event).await;
            });
            Ok(())
        })
    }

    fn refund(&self, request: RefundRequest) -> BoxFuture<'_, Result<String, GatewayError>> {
        Box::pin(async move {
            let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
            // Another node's gateway may have taken the payment: the real thing is one
            // shared service, so the mock accepts refunds it has no record of.
            let intent_id = records.by_payment.get(&request.payment_id).cloned();
            let Some(intent) = intent_id.and_then(|id| records.intents.get_mut(&id)) else {
                return Ok(format!("re_{}", ulid::Ulid::new()));
            };
            if let Some((id, _)) = intent.refunds.first() {
                return Ok(id.clone());
            }
            let id = format!("re_{}", ulid::Ulid::new());
            intent.refunds.push((id.clone(), request.amount.amount));
            Ok(id)
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
                    .unwrap_or_else(|| "declined".to_owned()),
            },
            _ => return Err(GatewayError::InvalidSignature("unknown event type")),
        };
        Ok(GatewayEvent {
            event_id: event.id,
            kind,
            payment_id: event.data.payment_id,
            intent_id: event.data.intent_id,
            amount: event.data.amount,
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
