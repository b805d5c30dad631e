//! The hold-expiry reminder: shortly before an unpaid hold lapses
//! (`booking.hold_reminder_lead_secs`), its customer is told to pay or lose the seats. A
//! timer beside the expiry sweeper marks the due holds (`bookings.reminded_at`) and appends
//! `booking.hold_expiring` in the same unit of work, so each hold is reminded at most once
//! whichever node gets there (PostgreSQL hands each booking to one of them, `SKIP LOCKED`).
//! The `notifications` consumer writes the message, and skips it if the booking was paid,
//! cancelled or lapsed by the time it reads it.

use std::time::Duration;

use super::BookingError;
use crate::{
    app::AppState,
    db::{Sql, Tx},
    integration::{events::Event, outbox},
    params,
};

/// Holds marked in one unit of work at most.
const BATCH: i64 = 500;

/// A hold the timer marked as reminded.
struct Due {
    booking_id: String,
    show_id: String,
    expires_at: i64,
}

crate::from_row!(Due {
    booking_id = "id",
    show_id,
    expires_at
});

/// Reminds every hold that is due now; returns how many were reminded. Does nothing when
/// reminders are off (`hold_reminder_lead_secs = 0`).
pub async fn remind_once(app: &AppState) -> Result<usize, BookingError> {
    let lead_ms = app.config.booking.hold_reminder_lead_secs * 1000;
    if lead_ms <= 0 {
        return Ok(0);
    }
    let now = app.clock.now().as_millis();
    let mut total = 0;
    loop {
        let reminded = app
            .db
            .write(move |tx| {
                let due = mark_due(tx, now, now + lead_ms, BATCH)?;
                let events: Vec<Event> = due
                    .iter()
                    .map(|d| Event::BookingHoldExpiring {
                        booking_id: d.booking_id.clone(),
                        show_id: d.show_id.clone(),
                        expires_at: d.expires_at,
                    })
                    .collect();
                outbox::append_all(tx, &events, now)?;
                Ok::<_, BookingError>(due.len())
            })
            .await?;
        total += reminded;
        // A short batch was the last (on PostgreSQL, other nodes may have the rest).
        if (reminded as i64) < BATCH {
            break;
        }
    }
    if total > 0 {
        metrics::counter!("marquee_hold_reminders_total").increment(total as u64);
        tracing::info!(reminded = total, "reminded holds about to lapse");
    }
    Ok(total)
}

/// Marks the unpaid holds lapsing in `(now, until]` that were not reminded yet (at most
/// `limit`, soonest first) and returns them. On PostgreSQL a hold another node is marking,
/// or a payment is confirming, is skipped (`SKIP LOCKED`): that node reminds it, or the next
/// round finds it still due (or paid).
fn mark_due(tx: &mut Tx<'_>, now: i64, until: i64, limit: i64) -> sqlx::Result<Vec<Due>> {
    const MARK: Sql = Sql {
        sqlite: "UPDATE bookings SET reminded_at = $1 WHERE id IN ( \
                   SELECT id FROM bookings WHERE status = 'pending_payment' \
                   AND reminded_at IS NULL AND expires_at > $1 AND expires_at <= $2 \
                   ORDER BY expires_at, id LIMIT $3) \
                 RETURNING id, show_id, expires_at",
        postgres: "WITH due AS ( \
                     SELECT id FROM bookings WHERE status = 'pending_payment' \
                     AND reminded_at IS NULL AND expires_at > $1 AND expires_at <= $2 \
                     ORDER BY expires_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
                   UPDATE bookings b SET reminded_at = $1 FROM due WHERE b.id = due.id \
                   RETURNING b.id, b.show_id, b.expires_at",
    };
    let mut due: Vec<Due> = tx.fetch_all(MARK, params![now, until, limit])?;
    // The same order on both engines, whatever order the rows came back in.
    due.sort_by(|a, b| (a.expires_at, &a.booking_id).cmp(&(b.expires_at, &b.booking_id)));
    Ok(due)
}

/// Runs the reminder timer every `interval` until the task is aborted.
pub async fn run(app: AppState, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(error) = remind_once(&app).await {
            tracing::warn!(%error, "hold reminders failed");
        }
    }
}
