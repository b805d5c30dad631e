//! The expiry sweeper: marks lapsed holds `expired` and frees their seats, retries refunds
//! left half-done by a crash, and forgets old idempotency keys. It only tidies: the claim
//! already treats lapsed holds as free, so correctness never waits for it. Every node runs
//! it; PostgreSQL hands each booking to one of them (`SKIP LOCKED`).

use std::{collections::HashMap, time::Duration};

use super::{BookingError, store, waitlist};
use crate::{
    app::AppState,
    db::Tx,
    http::idempotency,
    integration::{events::Event, outbox},
    offers::service::ShowPricing,
    payment::service as payments,
    time::Timestamp,
};

const BATCH: i64 = 500;
/// A refund still `refunding` after this long was interrupted; retry it.
const STALLED_REFUND_MS: i64 = 30_000;
/// Idempotency keys are kept this long.
const KEY_RETENTION_MS: i64 = 24 * 3_600_000;
/// Pending payments are reconciled every this many rounds.
const RECONCILE_EVERY: u64 = 5;
/// Published events (and what consumers handled) are kept this long, for diagnosis.
const EVENT_RETENTION_MS: i64 = 7 * 24 * 3_600_000;

/// Expires every lapsed hold now; returns how many bookings expired.
///
/// Each round reads the due holds, takes a pricing snapshot of each of their shows (for
/// the waitlist offers their seats may make), then expires exactly those holds in one unit
/// of work — those still pending and lapsed: another node, a payment or a cancellation
/// may have got there first.
pub async fn sweep_once(app: &AppState) -> Result<usize, BookingError> {
    let now = app.clock.now().as_millis();
    let hold_ms = app.config.booking.hold_secs * 1000;
    let mut total = 0;
    loop {
        let due = store::due_holds(&app.db, now, BATCH).await?;
        if due.is_empty() {
            break;
        }
        let mut pricing: HashMap<String, Option<ShowPricing>> = HashMap::new();
        for (_, show) in &due {
            if !pricing.contains_key(show) {
                // A show that cannot be priced must not stop its holds from expiring: its
                // freed seats then go straight back on sale (logged).
                let snapshot = ShowPricing::load(app, show)
                    .await
                    .inspect_err(|error| {
                        tracing::warn!(%error, show, "cannot price waitlist offers for the show")
                    })
                    .ok();
                pricing.insert(show.clone(), snapshot);
            }
        }
        let ids: Vec<String> = due.into_iter().map(|(id, _)| id).collect();
        let batch = ids.len() as i64;
        let expired = app
            .db
            .write(move |tx| {
                let expired = store::expire(tx, &ids, now)?;
                released(tx, &expired, &pricing, hold_ms, now)?;
                Ok::<_, BookingError>(expired)
            })
            .await?;
        for e in &expired {
            app.booking_watch.changed(&e.booking_id);
        }
        for show in shows_of(&expired) {
            app.cache.invalidate_show(show);
        }
        total += expired.len();
        // A short batch was the last; an empty one means other nodes have the rest.
        if batch < BATCH || expired.is_empty() {
            break;
        }
    }
    if total > 0 {
        metrics::counter!("marquee_bookings_expired_total").increment(total as u64);
        tracing::info!(expired = total, "expired lapsed holds");
    }
    Ok(total)
}

/// Inside the sweep's unit of work: the events of the expired holds, the end of any
/// waitlist offer among them, and the freed seats offered to each show's waitlist.
fn released(
    tx: &mut Tx<'_>,
    expired: &[store::Expired],
    pricing: &HashMap<String, Option<ShowPricing>>,
    hold_ms: i64,
    now: i64,
) -> Result<(), BookingError> {
    for e in expired {
        let events = [
            Event::BookingExpired {
                booking_id: e.booking_id.clone(),
                show_id: e.show_id.clone(),
            },
            Event::SeatsReleased {
                show_id: e.show_id.clone(),
                seats: serde_json::from_str(&e.seats).unwrap_or_default(),
                reason: "expired".into(),
            },
        ];
        outbox::append_all(tx, &events, now)?;
        waitlist::booking_ended(tx, &e.booking_id, "lapsed", now)?;
    }
    for show in shows_of(expired) {
        // Every hold expired here was read, with its show, before the unit began.
        if let Some(Some(pricing)) = pricing.get(show) {
            waitlist::offer_freed(tx, pricing, hold_ms, Timestamp::from_millis(now))?;
        }
    }
    Ok(())
}

/// The shows of the expired holds, each once.
fn shows_of(expired: &[store::Expired]) -> Vec<&str> {
    let mut shows: Vec<&str> = expired.iter().map(|e| e.show_id.as_str()).collect();
    shows.sort_unstable();
    shows.dedup();
    shows
}

/// Retries refunds interrupted between commit and the gateway call.
pub async fn retry_refunds(app: &AppState) -> Result<(), BookingError> {
    let before = app.clock.now().as_millis() - STALLED_REFUND_MS;
    for payment in store::stalled_refunds(&app.db, before, 100).await? {
        payments::refund(app, &payment).await;
    }
    // And the staff's refunds the gateway has not confirmed.
    if let Err(error) = crate::payment::refunds::retry_pending(app).await {
        tracing::warn!(%error, "retrying the staff's refunds failed");
    }
    Ok(())
}

/// Runs the sweeper every `interval` until the task is aborted.
pub async fn run(app: AppState, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut round: u64 = 0;
    loop {
        ticker.tick().await;
        round += 1;
        if let Err(error) = sweep_once(&app).await {
            tracing::warn!(%error, "expiry sweep failed");
        }
        // Payments whose verdict is late, every few rounds.
        if round % RECONCILE_EVERY == 1
            && let Err(error) = payments::reconcile(&app).await
        {
            tracing::warn!(%error, "payment reconciliation failed");
        }
        // The rarer chores, about once a minute at the default period.
        if round % 60 == 1 {
            if let Err(error) = retry_refunds(&app).await {
                tracing::warn!(%error, "refund retry failed");
            }
            let before =
                crate::time::Timestamp::from_millis(app.clock.now().as_millis() - KEY_RETENTION_MS);
            if let Err(error) = idempotency::purge(&app.db, before).await {
                tracing::warn!(%error, "idempotency key purge failed");
            }
            let before = app.clock.now().as_millis() - EVENT_RETENTION_MS;
            if let Err(error) = outbox::purge(&app.db, before).await {
                tracing::warn!(%error, "outbox purge failed");
            }
            let before =
                app.clock.now().as_millis() - crate::integration::deliveries::LOG_RETENTION_MS;
            if let Err(error) = crate::integration::deliveries::purge(&app.db, before).await {
                tracing::warn!(%error, "webhook delivery log purge failed");
            }
            let every = Duration::from_secs(crate::identity::tokens::RELOAD_SECS as u64 / 2);
            if let Err(error) = crate::identity::service::reload_token_keys(&app, every).await {
                tracing::warn!(%error, "reading the token signing keys failed");
            }
            if let Err(error) = crate::identity::service::reload_ticket_keys(&app, every).await {
                tracing::warn!(%error, "reading the ticket keys failed");
            }
            if let Err(error) = crate::identity::privacy::purge_expired(&app).await {
                tracing::warn!(%error, "personal data retention purge failed");
            }
        }
    }
}
