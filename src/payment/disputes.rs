//! Disputes (chargebacks). The customer's bank takes a payment back and asks the merchant
//! why it should not; the gateway tells Marquee by signed webhook, each message carrying the
//! dispute as it stands. Marquee keeps one row per dispute whose status only moves
//! forward — open → evidence_submitted → won | lost — so late or repeated messages change
//! nothing. An administrator answers with evidence (a note, the booking's timeline, its
//! ticket scans) before the deadline; the bank decides; a lost dispute is settled like a
//! refund of the disputed amount (the partner gives back the tickets' part less the
//! platform's commission, the platform the fees), a won one changes nothing.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    PaymentError,
    gateway::{DisputeNotice, GatewayEvent},
    refunds::refunded_so_far,
};
use crate::{
    app::AppState,
    booking::store as bookings,
    db::{Db, Tx},
    db_row,
    ids::DisputeId,
    integration::{events::Event, outbox},
    money::{Currency, Money},
    params,
    time::Timestamp,
};

/// The order a dispute's statuses come in; a message never moves one back.
pub fn rank(status: &str) -> u8 {
    match status {
        "open" => 0,
        "evidence_submitted" => 1,
        _ => 2,
    }
}

/// The disputed `amount` split into (tickets, fees): the tickets first, of what the
/// booking (`total`, `fee_total`) has not given back yet. Pure.
pub fn split(amount: i64, total: i64, fee_total: i64, refunded_ticket: i64) -> (i64, i64) {
    let ticket_left = (total - fee_total - refunded_ticket).max(0);
    let ticket = amount.clamp(0, ticket_left);
    (ticket, amount.max(0) - ticket)
}

db_row! {
    #[derive(Debug, Clone)]
    pub struct DisputeRow {
        pub id: String,
        pub provider: String,
        pub gateway_dispute_id: String,
        pub payment_id: String,
        pub booking_id: String,
        pub currency: String,
        pub amount: i64,
        pub ticket_amount: i64,
        pub fee_amount: i64,
        pub reason: String,
        pub status: String,
        pub evidence_due_at: i64,
        pub evidence: Option<String>,
        pub evidence_submitted_at: Option<i64>,
        pub evidence_submitted_by: Option<String>,
        pub opened_at: i64,
        pub closed_at: Option<i64>,
        pub updated_at: i64,
    }
}

const COLUMNS: &str = "id, provider, gateway_dispute_id, payment_id, booking_id, currency, \
     amount, ticket_amount, fee_amount, reason, status, evidence_due_at, evidence, \
     evidence_submitted_at, evidence_submitted_by, opened_at, closed_at, updated_at";

/// A dispute as administrators see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DisputeView {
    pub id: String,
    /// The gateway's id of the dispute.
    pub gateway_dispute_id: String,
    pub payment_id: String,
    pub booking_id: String,
    pub amount: Money,
    /// The disputed tickets' part (what the partner gives back if it is lost).
    pub ticket_amount: i64,
    pub fee_amount: i64,
    pub reason: String,
    /// `open`, `evidence_submitted`, `won` or `lost`.
    pub status: String,
    /// Evidence must be submitted before this.
    #[schema(value_type = String)]
    pub evidence_due_by: Timestamp,
    /// What was sent to the gateway (present on a single dispute).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub evidence: Option<serde_json::Value>,
    #[schema(value_type = Option<String>)]
    pub evidence_submitted_at: Option<Timestamp>,
    pub evidence_submitted_by: Option<String>,
    #[schema(value_type = String)]
    pub opened_at: Timestamp,
    #[schema(value_type = Option<String>)]
    pub closed_at: Option<Timestamp>,
}

impl DisputeRow {
    pub fn view(self, with_evidence: bool) -> DisputeView {
        let currency = Currency::parse(&self.currency).unwrap_or(Currency::UNKNOWN);
        DisputeView {
            amount: Money::new(self.amount, currency),
            evidence_due_by: Timestamp::from_millis(self.evidence_due_at),
            evidence: self
                .evidence
                .filter(|_| with_evidence)
                .and_then(|e| serde_json::from_str(&e).ok()),
            evidence_submitted_at: self.evidence_submitted_at.map(Timestamp::from_millis),
            opened_at: Timestamp::from_millis(self.opened_at),
            closed_at: self.closed_at.map(Timestamp::from_millis),
            id: self.id,
            gateway_dispute_id: self.gateway_dispute_id,
            payment_id: self.payment_id,
            booking_id: self.booking_id,
            ticket_amount: self.ticket_amount,
            fee_amount: self.fee_amount,
            reason: self.reason,
            status: self.status,
            evidence_submitted_by: self.evidence_submitted_by,
        }
    }
}

fn by_gateway_id(
    tx: &mut Tx<'_>,
    provider: &str,
    gateway_id: &str,
) -> sqlx::Result<Option<DisputeRow>> {
    tx.fetch_optional(
        &format!("SELECT {COLUMNS} FROM disputes WHERE provider = $1 AND gateway_dispute_id = $2"),
        params![provider, gateway_id],
    )
}

/// Applies a verified dispute message: records a new dispute, or moves a known one
/// forward; anything older than what is recorded changes nothing. A message about a
/// payment Marquee does not know is ignored; one whose intent or currency does not match
/// the payment, or that disputes more than it captured, is refused.
pub async fn apply(
    app: &AppState,
    event: &GatewayEvent,
    notice: &DisputeNotice,
) -> Result<(), PaymentError> {
    let Some(payment) = bookings::get_payment(&app.db, &event.payment_id).await? else {
        tracing::warn!(payment = %event.payment_id, "dispute for an unknown payment");
        return Ok(());
    };
    let refuse = |kind: &'static str, expected: String, received: String| {
        Err(PaymentError::Mismatch {
            payment: payment.id.clone(),
            kind,
            expected,
            received,
        })
    };
    if payment.intent_id.as_deref() != Some(event.intent_id.as_str()) {
        return refuse(
            "intent_mismatch",
            payment.intent_id.clone().unwrap_or_default(),
            event.intent_id.clone(),
        );
    }
    if payment.currency != event.currency {
        return refuse(
            "currency_mismatch",
            payment.currency.clone(),
            event.currency.clone(),
        );
    }
    if event.amount <= 0 || event.amount > payment.amount {
        return refuse(
            "amount_mismatch",
            format!("at most {}", payment.amount),
            event.amount.to_string(),
        );
    }
    let now = app.clock.now().as_millis();
    let provider = app.gateway.provider();
    let (event, notice) = (event.clone(), notice.clone());
    let booking_id = payment.booking_id.clone();
    let changed = app
        .db
        .write(move |tx| {
            // The booking's row first, as every writer of its money takes it.
            let Some(booking) = bookings::lock_booking(tx, &booking_id)? else {
                return Ok(None);
            };
            let closed = (rank(&notice.status) == 2).then_some(now);
            let row = match by_gateway_id(tx, provider, &notice.dispute_id)? {
                Some(known) if rank(&notice.status) <= rank(&known.status) => return Ok(None),
                Some(known) => {
                    tx.execute(
                        "UPDATE disputes SET status = $2, closed_at = COALESCE($3, closed_at), \
                         updated_at = $4 WHERE id = $1",
                        params![&known.id, &notice.status, closed, now],
                    )?;
                    DisputeRow {
                        status: notice.status.clone(),
                        closed_at: closed,
                        ..known
                    }
                }
                None => {
                    let refunded = refunded_so_far(tx, &booking, &payment)?;
                    let (ticket, fee) = split(
                        event.amount,
                        booking.total,
                        booking.fee_total,
                        refunded.ticket,
                    );
                    let row = DisputeRow {
                        id: DisputeId::generate().to_string(),
                        provider: provider.to_owned(),
                        gateway_dispute_id: notice.dispute_id.clone(),
                        payment_id: payment.id.clone(),
                        booking_id: booking.id.clone(),
                        currency: event.currency.clone(),
                        amount: event.amount,
                        ticket_amount: ticket,
                        fee_amount: fee,
                        reason: notice.reason.clone(),
                        status: notice.status.clone(),
                        evidence_due_at: notice.evidence_due_at,
                        evidence: None,
                        evidence_submitted_at: None,
                        evidence_submitted_by: None,
                        opened_at: now,
                        closed_at: closed,
                        updated_at: now,
                    };
                    tx.execute(
                        &format!(
                            "INSERT INTO disputes ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, \
                             $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
                        ),
                        params![
                            &row.id,
                            &row.provider,
                            &row.gateway_dispute_id,
                            &row.payment_id,
                            &row.booking_id,
                            &row.currency,
                            row.amount,
                            row.ticket_amount,
                            row.fee_amount,
                            &row.reason,
                            &row.status,
                            row.evidence_due_at,
                            &row.evidence,
                            row.evidence_submitted_at,
                            &row.evidence_submitted_by,
                            row.opened_at,
                            row.closed_at,
                            row.updated_at
                        ],
                    )?;
                    row
                }
            };
            let disputed = Event::PaymentDisputed {
                dispute_id: row.id.clone(),
                payment_id: row.payment_id.clone(),
                booking_id: row.booking_id.clone(),
                status: row.status.clone(),
                amount: row.amount,
                currency: row.currency.clone(),
            };
            outbox::append(tx, &disputed, now)?;
            Ok::<_, PaymentError>(Some(row.status))
        })
        .await?;
    if let Some(status) = changed {
        metrics::counter!("marquee_disputes_total", "status" => status).increment(1);
    }
    Ok(())
}

/// `GET /api/v1/admin/disputes` filters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DisputeQuery {
    /// `open`, `evidence_submitted`, `won` or `lost`.
    pub status: Option<String>,
    pub booking_id: Option<String>,
}

/// Disputes, newest first (at most 200).
pub async fn list(app: &AppState, query: &DisputeQuery) -> Result<Vec<DisputeView>, PaymentError> {
    if let Some(status) = &query.status
        && !["open", "evidence_submitted", "won", "lost"].contains(&status.as_str())
    {
        return Err(PaymentError::InvalidDispute(format!(
            "status must be open, evidence_submitted, won or lost, not {status:?}"
        )));
    }
    let rows: Vec<DisputeRow> = app
        .db
        .fetch_all(
            &format!(
                "SELECT {COLUMNS} FROM disputes WHERE ($1 IS NULL OR status = $1) \
                 AND ($2 IS NULL OR booking_id = $2) ORDER BY opened_at DESC, id DESC LIMIT 200"
            ),
            params![&query.status, &query.booking_id],
        )
        .await?;
    Ok(rows.into_iter().map(|r| r.view(false)).collect())
}

/// A booking's disputes, oldest first.
pub async fn of_booking(db: &Db, booking_id: &str) -> sqlx::Result<Vec<DisputeRow>> {
    db.fetch_all(
        &format!("SELECT {COLUMNS} FROM disputes WHERE booking_id = $1 ORDER BY opened_at, id"),
        params![booking_id],
    )
    .await
}

pub async fn get(app: &AppState, id: &str) -> Result<DisputeRow, PaymentError> {
    app.db
        .fetch_optional(
            &format!("SELECT {COLUMNS} FROM disputes WHERE id = $1"),
            params![id],
        )
        .await?
        .ok_or_else(|| PaymentError::DisputeNotFound(id.to_owned()))
}

/// What an administrator sends with a dispute's evidence.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceRequest {
    /// The platform's case in words (1 to 5,000 characters).
    pub note: String,
    /// Attach the booking's timeline (its events, payments, refunds, messages).
    #[serde(default = "yes")]
    pub include_timeline: bool,
    /// Attach the ticket's scans at the door (proof it was used).
    #[serde(default = "yes")]
    pub include_ticket_scans: bool,
}

fn yes() -> bool {
    true
}

/// Answers an open dispute with evidence before its deadline: the package is sent to the
/// gateway and kept with the dispute, which becomes `evidence_submitted`.
pub async fn submit_evidence(
    app: &AppState,
    admin: &str,
    id: &str,
    request: &EvidenceRequest,
) -> Result<DisputeView, PaymentError> {
    let note = request.note.trim();
    if note.is_empty() || note.chars().count() > 5_000 {
        return Err(PaymentError::InvalidDispute(
            "note must be 1 to 5,000 characters".into(),
        ));
    }
    let dispute = get(app, id).await?;
    if dispute.status != "open" {
        return Err(PaymentError::DisputeNotOpen(dispute.status));
    }
    let now = app.clock.now();
    if now.as_millis() >= dispute.evidence_due_at {
        return Err(PaymentError::EvidenceDeadlinePassed(
            Timestamp::from_millis(dispute.evidence_due_at).to_rfc3339(),
        ));
    }
    let booking = bookings::get_booking(&app.db, &dispute.booking_id).await?;
    let timeline = if request.include_timeline {
        let entries = crate::support::timeline::of_booking(app, &dispute.booking_id)
            .await
            .map_err(|e| PaymentError::InvalidDispute(e.to_string()))?;
        serde_json::to_value(entries).unwrap_or_default()
    } else {
        serde_json::Value::Null
    };
    let scans = if request.include_ticket_scans {
        let scans = crate::checkin::scans_of_booking(&app.db, &dispute.booking_id).await?;
        serde_json::to_value(scans).unwrap_or_default()
    } else {
        serde_json::Value::Null
    };
    let evidence = serde_json::json!({
        "note": note,
        "booking": booking.as_ref().map(|b| serde_json::json!({
            "id": b.id, "show_id": b.show_id, "status": b.status, "seats": b.seat_labels(),
            "total": b.total, "currency": b.currency,
            "show_starts_at": Timestamp::from_millis(b.starts_at).to_rfc3339(),
        })),
        "timeline": timeline,
        "ticket_scans": scans,
    })
    .to_string();
    app.gateway
        .submit_dispute_evidence(dispute.gateway_dispute_id.clone(), evidence.clone())
        .await?;
    let (dispute_id, admin) = (dispute.id.clone(), admin.to_owned());
    let at = now.as_millis();
    app.db
        .write(move |tx| {
            // The gateway's own `evidence_submitted` message may have come first.
            tx.execute(
                "UPDATE disputes SET status = CASE WHEN status = 'open' \
                   THEN 'evidence_submitted' ELSE status END, \
                 evidence = $2, evidence_submitted_at = $3, evidence_submitted_by = $4, \
                 updated_at = $3 WHERE id = $1",
                params![&dispute_id, &evidence, at, &admin],
            )
        })
        .await?;
    Ok(get(app, id).await?.view(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dispute_takes_the_tickets_not_refunded_first() {
        // 47,250 paid, 2,250 of it fees; one ticket of 15,000 refunded by the staff.
        assert_eq!(split(32_250, 47_250, 2_250, 15_000), (30_000, 2_250));
        assert_eq!(split(10_000, 47_250, 2_250, 15_000), (10_000, 0));
        // Every ticket refunded: only fees are left to dispute.
        assert_eq!(split(2_250, 47_250, 2_250, 45_000), (0, 2_250));
    }

    #[test]
    fn a_disputes_status_only_moves_forward() {
        assert!(rank("open") < rank("evidence_submitted"));
        assert!(rank("evidence_submitted") < rank("won"));
        assert_eq!(rank("won"), rank("lost"));
    }
}
