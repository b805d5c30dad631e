//! Payment storage beyond the booking's own rows (those are in `booking::store`): what
//! gateways said that did not fit, and the payments reconciliation asks about.

use super::gateway::GatewayEvent;
use crate::{
    booking::model::PaymentRow,
    db::{Db, Tx},
    ids::AnomalyId,
    params,
};

/// Why a verified gateway message was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// `intent_mismatch`, `amount_mismatch` or `currency_mismatch`.
    pub kind: &'static str,
    pub expected: String,
    pub received: String,
}

/// How `event` differs from the payment it names, if it does: it must be for the
/// payment's own intent, amount and currency. (A message for a payment we do not know is
/// not a mismatch: nothing names it.)
pub fn mismatch(payment: &PaymentRow, event: &GatewayEvent) -> Option<Mismatch> {
    let intent = payment.intent_id.as_deref().unwrap_or("");
    if intent != event.intent_id {
        return Some(Mismatch {
            kind: "intent_mismatch",
            expected: intent.to_owned(),
            received: event.intent_id.clone(),
        });
    }
    if payment.amount != event.amount {
        return Some(Mismatch {
            kind: "amount_mismatch",
            expected: payment.amount.to_string(),
            received: event.amount.to_string(),
        });
    }
    if payment.currency != event.currency {
        return Some(Mismatch {
            kind: "currency_mismatch",
            expected: payment.currency.clone(),
            received: event.currency.clone(),
        });
    }
    None
}

/// Records a refused message once (a redelivery of it records nothing new).
pub fn record_anomaly(
    tx: &mut Tx<'_>,
    provider: &str,
    event: &GatewayEvent,
    mismatch: &Mismatch,
    now: i64,
) -> sqlx::Result<()> {
    let id = AnomalyId::generate().to_string();
    tx.execute(
        "INSERT INTO payment_anomalies (id, provider, message_id, payment_id, kind, expected, \
         received, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (provider, message_id) DO NOTHING",
        params![
            &id,
            provider,
            &event.event_id,
            &event.payment_id,
            mismatch.kind,
            &mismatch.expected,
            &mismatch.received,
            now
        ],
    )?;
    Ok(())
}

crate::db_row! {
    /// A refused gateway message, for reconciliation.
    #[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
    pub struct Anomaly {
        pub id: String,
        pub provider: String,
        pub message_id: String,
        pub payment_id: String,
        pub kind: String,
        pub expected: String,
        pub received: String,
        pub created_at: i64,
    }
}

/// The anomalies recorded for a payment, oldest first.
pub async fn anomalies_of(db: &Db, payment_id: &str) -> sqlx::Result<Vec<Anomaly>> {
    db.fetch_all(
        "SELECT id, provider, message_id, payment_id, kind, expected, received, created_at \
         FROM payment_anomalies WHERE payment_id = $1 ORDER BY created_at, id",
        params![payment_id],
    )
    .await
}

/// Payments still `pending` that were created before `before` (their webhook is late or
/// lost, or the process died before confirming them), oldest first.
pub async fn pending_since(db: &Db, before: i64, limit: i64) -> sqlx::Result<Vec<String>> {
    db.fetch_all(
        "SELECT id FROM payments WHERE status = 'pending' AND created_at < $1 \
         ORDER BY created_at LIMIT $2",
        params![before, limit],
    )
    .await
}
