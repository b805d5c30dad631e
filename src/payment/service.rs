//! Taking a payment for a booking, applying the gateway's verdict, refunding.

use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    PaymentError,
    gateway::{EventKind, GatewayError, GatewayEvent, IntentRequest, IntentStatus, RefundRequest},
    store as payments_store,
};
use crate::{
    app::AppState,
    booking::{
        BookingError,
        model::{BookingStatus, PaymentRow},
        store::{self, KeyRecord, PaidOutcome, PaymentRecorded},
    },
    booking::{waitlist, watch::Change},
    db::Tx,
    http::idempotency::Idempotency,
    ids::{PaymentId, UserId},
    integration::{events::Event, outbox},
    money::Money,
    offers::service::ShowPricing,
    time::Timestamp,
};

/// A payment as its creation answers it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentCreated {
    pub id: String,
    pub booking_id: String,
    /// `pending`: the outcome arrives from the gateway; see the booking.
    pub status: String,
    pub amount: Money,
}

/// Starts paying `booking_id` with `card_token`. Returns the response body (JSON text).
pub async fn create_payment(
    app: &AppState,
    customer: &UserId,
    booking_id: &str,
    card_token: &str,
    idempotency: Option<Idempotency>,
) -> Result<String, PaymentError> {
    let now = app.clock.now();
    let booking = store::get_booking(&app.db, booking_id)
        .await?
        .filter(|b| b.customer_id == customer.as_str())
        .ok_or_else(|| BookingError::NotFound(booking_id.to_owned()))?;
    match booking.status() {
        BookingStatus::PendingPayment if now.as_millis() < booking.expires_at => {}
        BookingStatus::PendingPayment | BookingStatus::Expired => {
            return Err(BookingError::Expired.into());
        }
        other => return Err(BookingError::NotPending(other.as_str()).into()),
    }
    let payment_id = PaymentId::generate().to_string();
    let amount = Money::new(booking.total, booking.currency());
    // Checks the card; nothing is charged until `confirm`, after the payment is recorded.
    let intent = app
        .gateway
        .create_intent(IntentRequest {
            payment_id: payment_id.clone(),
            amount,
            card_token: card_token.to_owned(),
        })
        .await;
    // The attempt as recorded; a card refused outright is kept too, like any decline.
    let mut payment = PaymentRow {
        id: payment_id.clone(),
        booking_id: booking.id.clone(),
        provider: app.gateway.provider().to_owned(),
        intent_id: None,
        status: "pending".into(),
        amount: booking.total,
        currency: booking.currency.clone(),
        refund_amount: None,
        failure_reason: None,
        created_at: now.as_millis(),
    };
    let intent_id = match intent {
        Ok(intent_id) => intent_id,
        Err(GatewayError::InvalidCardToken) => {
            payment.status = "failed".into();
            payment.failure_reason = Some("invalid_card_token".into());
            app.db
                .write(move |tx| store::insert_payment(tx, &payment, now.as_millis()))
                .await?;
            return Err(PaymentError::InvalidCardToken);
        }
        Err(error) => return Err(error.into()),
    };
    payment.intent_id = Some(intent_id.clone());
    let body = serde_json::to_string(&PaymentCreated {
        id: payment_id.clone(),
        booking_id: booking.id.clone(),
        status: "pending".into(),
        amount,
    })
    .unwrap_or_default();
    let plan = (payment, body.clone(), idempotency);
    app.db
        .write_statement(move |tx| {
            let (payment, body, idempotency) = &plan;
            let key = idempotency.as_ref().map(|key| KeyRecord {
                key,
                status: StatusCode::CREATED,
                response: body,
            });
            let refusal = match store::record_payment(tx, payment, key, now.as_millis())? {
                PaymentRecorded::Recorded => return Ok(()),
                PaymentRecorded::KeyTaken => BookingError::IdempotencyRace,
                PaymentRecorded::AnotherLive => BookingError::PaymentInProgress,
                PaymentRecorded::NotPayable => {
                    match store::get_booking_in(tx, &payment.booking_id)?.map(|b| b.status()) {
                        Some(BookingStatus::Confirmed) => BookingError::NotPending("confirmed"),
                        Some(BookingStatus::Cancelled) => BookingError::NotPending("cancelled"),
                        _ => BookingError::Expired,
                    }
                }
            };
            Err::<(), PaymentError>(refusal.into())
        })
        .await?;
    if let Err(error) = app.gateway.confirm(intent_id).await {
        // The customer may pay again at once. Should the gateway have charged after all
        // (an answer lost on the way), its success webhook finds the payment failed and
        // refunds it (`apply_success`).
        tracing::warn!(%error, payment = %payment_id, "gateway refused to confirm");
        let id = payment_id.clone();
        let failed = app
            .db
            .write(move |tx| {
                store::set_payment_status(
                    tx,
                    &id,
                    "pending",
                    "failed",
                    now.as_millis(),
                    Some("gateway_unavailable"),
                )
            })
            .await;
        // Not even that could be written: the database is the problem (503); the payment
        // stays pending until reconciliation asks the gateway about it.
        failed?;
        return Err(error.into());
    }
    Ok(body)
}

/// What a verified success did.
enum Applied {
    Duplicate,
    Confirmed,
    /// The booking could not take the money (expired, cancelled, seats gone): refund the
    /// payment.
    Refund,
}

/// Verifies and applies one webhook. Duplicates and events about payments we do not know
/// change nothing; a message that does not match its payment is refused.
pub async fn handle_webhook(
    app: &AppState,
    provider: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), PaymentError> {
    if provider != app.gateway.provider() {
        return Err(PaymentError::UnknownProvider(provider.to_owned()));
    }
    let event = app.gateway.verify_webhook(headers, body, app.clock.now())?;
    if let EventKind::Dispute(notice) = &event.kind {
        return super::disputes::apply(app, &event, notice).await;
    }
    apply_verdict(app, &event).await
}

/// Applies a verified verdict of the gateway (a webhook, or its answer when asked) to the
/// payment it names: only if it is for that payment's intent, amount and currency;
/// anything else is recorded as an anomaly and refused, and never confirms a booking.
async fn apply_verdict(app: &AppState, event: &GatewayEvent) -> Result<(), PaymentError> {
    let now = app.clock.now();
    let Some(store::PaymentOfShow {
        payment,
        show_id,
        seats,
    }) = store::payment_with_show(&app.db, &event.payment_id).await?
    else {
        tracing::warn!(payment = %event.payment_id, message = %event.event_id, "gateway verdict for an unknown payment");
        return Ok(());
    };
    if let Some(mismatch) = payments_store::mismatch(&payment, event) {
        tracing::warn!(payment = %payment.id, message = %event.event_id, kind = mismatch.kind, expected = %mismatch.expected, received = %mismatch.received, "gateway verdict refused: it does not match the payment");
        let (provider, recorded, refused) =
            (app.gateway.provider(), event.clone(), mismatch.clone());
        app.db
            .write(move |tx| {
                payments_store::record_anomaly(tx, provider, &recorded, &refused, now.as_millis())
            })
            .await?;
        return Err(PaymentError::Mismatch {
            payment: payment.id,
            kind: mismatch.kind,
            expected: mismatch.expected,
            received: mismatch.received,
        });
    }
    match &event.kind {
        // Disputes are applied by `disputes::apply`; no status answer carries one.
        EventKind::Dispute(_) => {}
        EventKind::Failed { reason } => {
            if fail_payment(app, &payment.id, reason, now).await? {
                app.booking_watch.changed(&payment.booking_id);
            }
        }
        EventKind::Succeeded => match apply_success(app, &payment, &show_id, seats, now).await? {
            Applied::Duplicate => {}
            Applied::Confirmed => {
                // Online bookings only (counter sales have their own counter), after commit.
                metrics::counter!("marquee_bookings_confirmed_total").increment(1);
                app.cache.invalidate_show(&show_id);
                let change = Change::Confirmed {
                    payment_id: payment.id.clone(),
                    at: now,
                };
                app.booking_watch.changed_by(&payment.booking_id, change);
            }
            Applied::Refund => {
                app.cache.invalidate_show(&show_id);
                refund(app, &payment.id).await;
                app.booking_watch.changed(&payment.booking_id);
            }
        },
    }
    Ok(())
}

/// A pending payment fails (declined, or never charged): `payment.failed`. False when it
/// was not pending (a duplicate).
async fn fail_payment(
    app: &AppState,
    payment_id: &str,
    reason: &str,
    now: Timestamp,
) -> Result<bool, PaymentError> {
    let (id, reason) = (payment_id.to_owned(), reason.to_owned());
    app.db
        .write(move |tx| {
            let failed = store::set_payment_status(
                tx,
                &id,
                "pending",
                "failed",
                now.as_millis(),
                Some(&reason),
            )?;
            if let Some(p) = &failed {
                let event = Event::PaymentFailed {
                    payment_id: p.id.clone(),
                    booking_id: p.booking_id.clone(),
                    reason: reason.clone(),
                };
                outbox::append(tx, &event, now.as_millis())?;
            }
            Ok::<_, PaymentError>(failed.is_some())
        })
        .await
}

/// Settles payments still `pending` long after they were made (`payment.reconcile_after_ms`)
/// by asking the gateway where their intent stands: a verdict it has is applied as its
/// webhook would have been (the webhook was lost, or is owed by a process that died); an
/// intent it never charged — never confirmed (the process died between recording the
/// payment and confirming it), cancelled or unknown to it — fails the payment, so the
/// customer can pay again while the hold lasts. Returns how many payments it settled.
pub async fn reconcile(app: &AppState) -> Result<usize, PaymentError> {
    let now = app.clock.now().as_millis();
    let before = now.saturating_sub(app.config.payment.reconcile_after_ms as i64);
    let mut settled = 0;
    for id in payments_store::pending_since(&app.db, before, 100).await? {
        let Some(payment) = store::get_payment(&app.db, &id).await? else {
            continue;
        };
        let Some(intent) = payment.intent_id.clone() else {
            continue;
        };
        let status = match app.gateway.intent_status(intent.clone()).await {
            Ok(status) => status,
            Err(error) => {
                tracing::warn!(%error, payment = %id, "cannot ask the gateway about a pending payment");
                continue;
            }
        };
        let never_charged = |reason: &str| {
            tracing::warn!(payment = %id, intent = %intent, reason, "pending payment was never charged; failing it");
        };
        match status {
            IntentStatus::Processing => continue,
            IntentStatus::Settled(kind, amount) => {
                let verdict = GatewayEvent {
                    event_id: format!("status:{intent}"),
                    kind,
                    payment_id: payment.id.clone(),
                    intent_id: intent.clone(),
                    amount: amount.amount,
                    currency: amount.currency.to_string(),
                };
                match apply_verdict(app, &verdict).await {
                    Ok(()) | Err(PaymentError::Mismatch { .. }) => {}
                    Err(error) => return Err(error),
                }
            }
            IntentStatus::RequiresConfirmation => {
                // Cancelled first, so a confirmation still on its way cannot charge it.
                app.gateway.cancel(intent.clone()).await?;
                never_charged("never confirmed");
                fail_payment(app, &id, "not_confirmed", app.clock.now()).await?;
            }
            IntentStatus::Canceled | IntentStatus::Unknown => {
                never_charged("unknown to the gateway or cancelled");
                fail_payment(app, &id, "not_confirmed", app.clock.now()).await?;
            }
        }
        app.booking_watch.changed(&payment.booking_id);
        settled += 1;
    }
    if settled > 0 {
        metrics::counter!("marquee_payments_reconciled_total").increment(settled as u64);
    }
    Ok(settled)
}

/// Money arrived for `payment`: confirm its booking (one statement on PostgreSQL), or, if
/// the booking cannot take it, release what the booking still holds and mark the payment
/// for refund.
async fn apply_success(
    app: &AppState,
    payment: &PaymentRow,
    show_id: &str,
    seats: Vec<String>,
    now: Timestamp,
) -> Result<Applied, PaymentError> {
    let confirmed = Event::BookingConfirmed {
        booking_id: payment.booking_id.clone(),
        show_id: show_id.to_owned(),
        payment_id: payment.id.clone(),
        seats,
    };
    let paid = payment.clone();
    let outcome = app
        .db
        .write_statement(move |tx| {
            match store::confirm_paid(tx, &paid, &confirmed, now.as_millis())? {
                PaidOutcome::Confirmed => Ok(Applied::Confirmed),
                PaidOutcome::NotPending => Ok(Applied::Duplicate),
                // Fails the unit, so SQLite rolls its steps back; PostgreSQL wrote nothing.
                PaidOutcome::Unconfirmable => Err(PaymentError::Unconfirmable),
            }
        })
        .await;
    match outcome {
        Err(PaymentError::Unconfirmable) => {}
        Ok(Applied::Duplicate) if payment.status == "failed" => {
            // We had given this payment up (the gateway did not answer when it was
            // confirmed), yet it was charged: the money goes back.
            let id = payment.id.clone();
            let refunding = app
                .db
                .write(move |tx| {
                    store::set_payment_status(tx, &id, "failed", "refunding", now.as_millis(), None)
                })
                .await?;
            return Ok(if refunding.is_some() {
                tracing::warn!(payment = %payment.id, "a payment given up as failed was charged; refunding it");
                Applied::Refund
            } else {
                Applied::Duplicate
            });
        }
        other => return other,
    }
    // Released seats go to the show's waitlist first, priced from this snapshot.
    let pricing = ShowPricing::load(app, show_id)
        .await
        .map_err(BookingError::from)?;
    let hold_ms = app.config.booking.hold_secs * 1000;
    let id = payment.id.clone();
    app.db
        .write(move |tx| {
            match store::set_payment_status(tx, &id, "pending", "succeeded", now.as_millis(), None)?
            {
                Some(payment) => late_success(tx, payment, &pricing, hold_ms, now.as_millis()),
                None => Ok(Applied::Duplicate),
            }
        })
        .await
}

/// Money arrived for a booking that cannot take it: a still-pending booking is expired
/// and its seats released; the payment is marked for refund.
fn late_success(
    tx: &mut Tx<'_>,
    payment: PaymentRow,
    pricing: &ShowPricing,
    hold_ms: i64,
    now: i64,
) -> Result<Applied, PaymentError> {
    let Some(booking) = store::lock_booking(tx, &payment.booking_id)? else {
        return Ok(Applied::Duplicate);
    };
    if booking.status() == BookingStatus::PendingPayment {
        store::move_seats(tx, &booking.show_id, &booking.id, "held", "available")?;
        store::set_status(tx, &booking.id, "pending_payment", "expired", now, None)?;
        let events = [
            Event::BookingExpired {
                booking_id: booking.id.clone(),
                show_id: booking.show_id.clone(),
            },
            Event::SeatsReleased {
                show_id: booking.show_id.clone(),
                seats: booking.seat_labels(),
                reason: "expired".into(),
            },
        ];
        outbox::append_all(tx, &events, now)?;
        waitlist::booking_ended(tx, &booking.id, "lapsed", now)?;
        waitlist::offer_freed(tx, pricing, hold_ms, Timestamp::from_millis(now))?;
    }
    store::set_payment_status(tx, &payment.id, "succeeded", "refunding", now, None)?;
    Ok(Applied::Refund)
}

/// Refunds a payment in `refunding` through the gateway and records it. A failure is
/// logged and left for the sweeper to retry.
pub async fn refund(app: &AppState, payment_id: &str) {
    let payment = match store::get_payment(&app.db, payment_id).await {
        Ok(Some(p)) if p.status == "refunding" => p,
        Ok(_) => return,
        Err(error) => {
            tracing::warn!(%error, payment = payment_id, "cannot read payment to refund");
            return;
        }
    };
    let currency =
        crate::money::Currency::parse(&payment.currency).unwrap_or(crate::money::Currency::UNKNOWN);
    let request = RefundRequest {
        // One refund of the whole payment (a cancellation, a late charge): keyed by it.
        key: payment.id.clone(),
        payment_id: payment.id.clone(),
        intent_id: payment.intent_id.clone(),
        amount: Money::new(payment.refund_amount.unwrap_or(payment.amount), currency),
    };
    // Nothing left to give back (the staff refunded it all before): nothing to ask for.
    if request.amount.amount > 0
        && let Err(error) = app.gateway.refund(request).await
    {
        tracing::warn!(%error, payment = payment_id, "refund failed; will retry");
        return;
    }
    let now = app.clock.now().as_millis();
    let id = payment.id.clone();
    let recorded = app
        .db
        .write(move |tx| {
            let refunded = store::set_payment_status(tx, &id, "refunding", "refunded", now, None)?;
            if let Some(p) = &refunded {
                let event = Event::PaymentRefunded {
                    payment_id: p.id.clone(),
                    booking_id: p.booking_id.clone(),
                    amount: p.refund_amount.unwrap_or(p.amount),
                    currency: p.currency.clone(),
                };
                outbox::append(tx, &event, now)?;
            }
            Ok::<_, PaymentError>(refunded)
        })
        .await;
    match recorded {
        // Counted by the one unit that moved the payment to refunded, once it committed.
        Ok(Some(p)) => {
            let amount = p.refund_amount.unwrap_or(p.amount);
            metrics::counter!("marquee_refunds_total").increment(1);
            metrics::counter!("marquee_refunded_amount_minor_total", "currency" => p.currency)
                .increment(u64::try_from(amount).unwrap_or(0));
        }
        Ok(None) => {}
        Err(error) => {
            tracing::warn!(%error, payment = payment_id, "refund made but not recorded; will retry");
        }
    }
}
