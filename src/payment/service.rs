//! Taking a payment for a booking, applying the gateway's verdict, refunding.

use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    PaymentError,
    gateway::{EventKind, GatewayError, IntentRequest, RefundRequest},
};
use crate::{
    app::AppState,
    booking::{
        BookingError,
        model::{BookingStatus, PaymentRow},
        store::{self, KeyRecord, PaidOutcome, PaymentRecorded},
    },
    booking::{waitlist, watch::Change},
    db::Conn,
    http::idempotency::Idempotency,
    ids::{PaymentId, UserId},
    integration::{events::Event, outbox},
    money::Money,
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
            let failed = std::sync::Arc::new(payment);
            app.db
                .write(move |mut conn: Conn<'_>| {
                    let failed = failed.clone();
                    Box::pin(async move {
                        store::insert_payment(&mut conn, &failed, now.as_millis()).await?;
                        Ok::<_, PaymentError>(())
                    })
                })
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
    let plan = std::sync::Arc::new((payment, body.clone(), idempotency));
    app.db
        .write_statement(move |mut conn: Conn<'_>| {
            let plan = plan.clone();
            Box::pin(async move {
                let (payment, body, idempotency) = &*plan;
                let key = idempotency.as_ref().map(|key| KeyRecord {
                    key,
                    status: StatusCode::CREATED,
                    response: body,
                });
                let refusal = match store::record_payment(&mut conn, payment, key, now.as_millis())
                    .await?
                {
                    PaymentRecorded::Recorded => return Ok(()),
                    PaymentRecorded::KeyTaken => BookingError::IdempotencyRace,
                    PaymentRecorded::AnotherLive => BookingError::PaymentInProgress,
                    PaymentRecorded::NotPayable => {
                        let booking = store::get_booking_in(&mut conn, &payment.booking_id).await?;
                        match booking.map(|b| b.status()) {
                            Some(BookingStatus::Confirmed) => BookingError::NotPending("confirmed"),
                            Some(BookingStatus::Cancelled) => BookingError::NotPending("cancelled"),
                            _ => BookingError::Expired,
                        }
                    }
                };
                Err::<(), PaymentError>(refusal.into())
            })
        })
        .await?;
    if let Err(error) = app.gateway.confirm(intent_id).await {
        tracing::warn!(%error, payment = %payment_id, "gateway refused to confirm");
        let id = payment_id.clone();
        let _ = app
            .db
            .write(move |mut conn: Conn<'_>| {
                let id = id.clone();
                Box::pin(async move {
                    store::set_payment_status(
                        &mut conn,
                        &id,
                        "pending",
                        "failed",
                        now.as_millis(),
                        None,
                        Some("gateway_unavailable"),
                    )
                    .await?;
                    Ok::<_, PaymentError>(())
                })
            })
            .await;
        return Err(error.into());
    }
    Ok(body)
}

/// What a verified success did.
enum Applied {
    Duplicate,
    /// Show and booking.
    Confirmed(String, String),
    /// The booking could not take the money (expired, cancelled, seats gone): refund the
    /// payment. Payment, show and booking.
    Refund(String, String, String),
}

/// Verifies and applies one webhook. Duplicates and events about payments we do not know
/// change nothing.
pub async fn handle_webhook(
    app: &AppState,
    provider: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), PaymentError> {
    if provider != app.gateway.provider() {
        return Err(PaymentError::UnknownProvider(provider.to_owned()));
    }
    let now = app.clock.now();
    let event = app.gateway.verify_webhook(headers, body, now)?;
    let event = std::sync::Arc::new(event);
    match &event.kind {
        EventKind::Failed { .. } => {
            let failed = app
                .db
                .write(move |mut conn: Conn<'_>| {
                    let event = event.clone();
                    Box::pin(async move {
                        let EventKind::Failed { reason } = &event.kind else {
                            return Ok(None);
                        };
                        let payment = store::set_payment_status(
                            &mut conn,
                            &event.payment_id,
                            "pending",
                            "failed",
                            now.as_millis(),
                            Some(&event.intent_id),
                            Some(reason),
                        )
                        .await?;
                        if let Some(p) = &payment {
                            let failed = Event::PaymentFailed {
                                payment_id: p.id.clone(),
                                booking_id: p.booking_id.clone(),
                                reason: reason.clone(),
                            };
                            outbox::append(&mut conn, &failed, now.as_millis()).await?;
                        }
                        Ok::<_, PaymentError>(payment.map(|p| p.booking_id))
                    })
                })
                .await?;
            if let Some(booking) = failed {
                app.booking_watch.changed(&booking);
            }
        }
        EventKind::Succeeded => {
            let fast = event.clone();
            let applied = app
                .db
                .write_statement(move |mut conn: Conn<'_>| {
                    let event = fast.clone();
                    Box::pin(async move {
                        match store::confirm_paid(
                            &mut conn,
                            &event.payment_id,
                            &event.intent_id,
                            now.as_millis(),
                        )
                        .await?
                        {
                            PaidOutcome::Confirmed(show, booking) => {
                                Ok(Applied::Confirmed(show, booking))
                            }
                            PaidOutcome::NotPending => Ok(Applied::Duplicate),
                            // Rolls the SQLite unit back; PostgreSQL wrote nothing.
                            PaidOutcome::Unconfirmable => Err(PaymentError::Unconfirmable),
                        }
                    })
                })
                .await;
            let applied = match applied {
                Err(PaymentError::Unconfirmable) => {
                    let event = event.clone();
                    let unit_app = app.clone();
                    app.db
                        .write(move |mut conn: Conn<'_>| {
                            let event = event.clone();
                            let app = unit_app.clone();
                            Box::pin(async move {
                                match succeed(&mut conn, &event, now.as_millis()).await? {
                                    Some(payment) => {
                                        late_success(&app, &mut conn, payment, now.as_millis())
                                            .await
                                    }
                                    None => Ok(Applied::Duplicate),
                                }
                            })
                        })
                        .await?
                }
                other => other?,
            };
            match applied {
                Applied::Duplicate => {}
                Applied::Confirmed(show, booking) => {
                    app.cache.invalidate_show(&show);
                    let change = Change::Confirmed {
                        payment_id: event.payment_id.clone(),
                        at: now,
                    };
                    app.booking_watch.changed_by(&booking, change);
                }
                Applied::Refund(payment, show, booking) => {
                    app.cache.invalidate_show(&show);
                    refund(app, &payment).await;
                    app.booking_watch.changed(&booking);
                }
            }
        }
    }
    Ok(())
}

async fn succeed(
    conn: &mut Conn<'_>,
    event: &super::gateway::GatewayEvent,
    now: i64,
) -> sqlx::Result<Option<PaymentRow>> {
    store::set_payment_status(
        conn,
        &event.payment_id,
        "pending",
        "succeeded",
        now,
        Some(&event.intent_id),
        None,
    )
    .await
}

/// Money arrived for a booking that cannot take it: a still-pending booking is expired
/// and its seats released; the payment is marked for refund.
async fn late_success(
    app: &AppState,
    conn: &mut Conn<'_>,
    payment: PaymentRow,
    now: i64,
) -> Result<Applied, PaymentError> {
    let Some(booking) = store::lock_booking(conn, &payment.booking_id).await? else {
        return Ok(Applied::Duplicate);
    };
    if booking.status() == BookingStatus::PendingPayment {
        store::move_seats(conn, &booking.show_id, &booking.id, "held", "available").await?;
        store::set_status(conn, &booking.id, "pending_payment", "expired", now, None).await?;
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
        outbox::append_all(conn, &events, now).await?;
        waitlist::booking_ended(conn, &booking.id, "lapsed", now).await?;
        waitlist::offer_freed(app, conn, &booking.show_id, Timestamp::from_millis(now)).await?;
    }
    store::set_payment_status(conn, &payment.id, "succeeded", "refunding", now, None, None).await?;
    Ok(Applied::Refund(payment.id, booking.show_id, booking.id))
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
        payment_id: payment.id.clone(),
        intent_id: payment.intent_id.clone(),
        amount: Money::new(payment.refund_amount.unwrap_or(payment.amount), currency),
    };
    if let Err(error) = app.gateway.refund(request).await {
        tracing::warn!(%error, payment = payment_id, "refund failed; will retry");
        return;
    }
    let now = app.clock.now().as_millis();
    let id = payment.id.clone();
    let recorded = app
        .db
        .write(move |mut conn: Conn<'_>| {
            let id = id.clone();
            Box::pin(async move {
                let refunded = store::set_payment_status(
                    &mut conn,
                    &id,
                    "refunding",
                    "refunded",
                    now,
                    None,
                    None,
                )
                .await?;
                if let Some(p) = refunded {
                    let event = Event::PaymentRefunded {
                        payment_id: p.id.clone(),
                        booking_id: p.booking_id.clone(),
                        amount: p.refund_amount.unwrap_or(p.amount),
                        currency: p.currency.clone(),
                    };
                    outbox::append(&mut conn, &event, now).await?;
                }
                Ok::<_, PaymentError>(())
            })
        })
        .await;
    if let Err(error) = recorded {
        tracing::warn!(%error, payment = payment_id, "refund made but not recorded; will retry");
    }
}
