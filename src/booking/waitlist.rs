//! The first-come-first-served waitlist of a sold-out show (or category).
//!
//! Freed seats reach the waitlist before the public: every unit of work that frees seats
//! (expiry, cancellation, a late payment's release, a partner's release) calls
//! [`offer_freed`] before it commits. It walks the show's waiting entries in join order
//! and gives each one it can satisfy an automatic hold (adjacent seats preferred); an
//! entry that cannot be satisfied keeps its place and later, smaller entries may be
//! served (FCFS with skip). So after every commit no waiting entry can be satisfied by the
//! available seats, and a public hold can only take seats no entry could use. Public
//! claims also leave lapsed holds alone while anyone waits: those seats reach the
//! waitlist through the sweeper first. Offers are priced inside the unit of work from a
//! snapshot its caller took before it started (`ShowPricing`): a unit reaches nothing but
//! its own connection.

use serde::Serialize;
use utoipa::ToSchema;

use super::{BookingError, service};
use crate::{
    app::AppState,
    db::{Sql, Tx},
    db_row,
    ids::{UserId, WaitlistEntryId},
    integration::{events::Event, outbox},
    offers::service::ShowPricing,
    params,
    time::Timestamp,
};

/// A seat free for the waitlist, with its place in the grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeSeat {
    pub label: String,
    pub category: String,
    pub row: i64,
    pub col: i64,
}

/// Picks `wanted` of `seats` (in row, column order): the first run of adjacent seats
/// (same row, consecutive columns) long enough, else the first `wanted` seats.
pub fn choose_seats(seats: &[&FreeSeat], wanted: usize) -> Option<Vec<String>> {
    if wanted == 0 || seats.len() < wanted {
        return None;
    }
    let mut run: Vec<&FreeSeat> = Vec::new();
    for seat in seats {
        match run.last() {
            Some(last) if last.row == seat.row && last.col + 1 == seat.col => run.push(seat),
            _ => run = vec![seat],
        }
        if run.len() == wanted {
            return Some(run.iter().map(|s| s.label.clone()).collect());
        }
    }
    Some(seats[..wanted].iter().map(|s| s.label.clone()).collect())
}

db_row! {
    struct Waiting {
        id: String,
        customer_id: String,
        seats_wanted: i64,
        category: Option<String>,
    }
}

/// An automatic hold made for a waitlist entry.
#[derive(Debug, Clone)]
pub struct Offer {
    pub entry_id: String,
    pub booking_id: String,
    pub seats: Vec<String>,
}

const WAITING: &str = "SELECT id, customer_id, seats_wanted, category FROM waitlist_entries \
     WHERE show_id = $1 AND status = 'waiting' ORDER BY seq";

db_row! {
    struct FreeRow {
        seat_label: String,
        category: String,
        row_index: i64,
        col_index: i64,
    }
}

fn waiting(tx: &mut Tx<'_>, show_id: &str) -> sqlx::Result<Vec<Waiting>> {
    tx.fetch_all(WAITING, params![show_id])
}

fn free_seats(tx: &mut Tx<'_>, show_id: &str) -> sqlx::Result<Vec<FreeSeat>> {
    const FREE: &str = "SELECT ss.seat_label, ss.category, ls.row_index, ls.col_index \
         FROM show_seats ss JOIN shows s ON s.id = ss.show_id \
         JOIN layout_seats ls ON ls.layout_id = s.layout_id AND ls.label = ss.seat_label \
         WHERE ss.show_id = $1 AND ss.state = 'available' ORDER BY ls.row_index, ls.col_index";
    let rows: Vec<FreeRow> = tx.fetch_all(FREE, params![show_id])?;
    Ok(rows
        .into_iter()
        .map(|r| FreeSeat {
            label: r.seat_label,
            category: r.category,
            row: r.row_index,
            col: r.col_index,
        })
        .collect())
}

/// On PostgreSQL, serializes the waitlist work of one show (joining, offering) across
/// nodes: a lock on the show row, taken before the entries are read. SQLite has one
/// writer.
fn lock_show_waitlist(tx: &mut Tx<'_>, show_id: &str) -> sqlx::Result<()> {
    const LOCK: Sql = Sql {
        sqlite: "SELECT id FROM shows WHERE id = $1",
        postgres: "SELECT id FROM shows WHERE id = $1 FOR UPDATE",
    };
    tx.fetch_all::<String>(LOCK, params![show_id])?;
    Ok(())
}

/// Gives the show's available seats to its waiting entries, earliest first, inside the
/// caller's unit of work, priced from `pricing` (the show's snapshot, taken before the
/// unit started). Returns the holds made (the caller wakes nothing: the customers hear of
/// them through `waitlist.offered`).
pub fn offer_freed(
    tx: &mut Tx<'_>,
    pricing: &ShowPricing,
    hold_ms: i64,
    now: Timestamp,
) -> Result<Vec<Offer>, BookingError> {
    const CLAIM_ONE: &str = "UPDATE show_seats SET state = 'held', booking_id = $1, \
         held_until = $2 WHERE show_id = $3 AND seat_label = $4 AND state = 'available'";
    const UNDO_CLAIM: &str = "UPDATE show_seats SET state = 'available', booking_id = NULL, \
         held_until = NULL WHERE show_id = $1 AND booking_id = $2 AND state = 'held'";
    const MARK_OFFERED: &str = "UPDATE waitlist_entries SET status = 'offered', \
         booking_id = $1, updated_at = $2 WHERE id = $3 AND status = 'waiting'";
    let show_id = pricing.facts.show.id.as_str();
    lock_show_waitlist(tx, show_id)?;
    let entries = waiting(tx, show_id)?;
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let mut free = free_seats(tx, show_id)?;
    let mut offers = Vec::new();
    for entry in entries {
        let candidates: Vec<&FreeSeat> = free
            .iter()
            .filter(|s| entry.category.as_deref().is_none_or(|c| c == s.category))
            .collect();
        let Some(seats) = choose_seats(&candidates, entry.seats_wanted.max(0) as usize) else {
            continue;
        };
        let Some(customer) = UserId::parse(&entry.customer_id) else {
            continue;
        };
        let plan = match service::planned_hold(pricing, &customer, &seats, None, now, hold_ms) {
            Ok(plan) => plan,
            // Not on sale any more: nobody can be offered anything.
            Err(BookingError::ShowNotOnSale) => return Ok(offers),
            // Cannot be priced (a broken price list): this entry waits on, and the release
            // that called us still commits.
            Err(error) => {
                tracing::warn!(%error, entry = %entry.id, "cannot price a waitlist offer");
                continue;
            }
        };
        let row = &plan.row;
        let mut claimed = 0;
        for seat in &plan.seats {
            claimed += tx.execute(CLAIM_ONE, params![&row.id, row.expires_at, show_id, seat])?;
        }
        if claimed as usize != plan.seats.len() {
            // Taken meanwhile (PostgreSQL, a concurrent public claim): the entry waits on.
            tx.execute(UNDO_CLAIM, params![show_id, &row.id])?;
            continue;
        }
        super::store::insert_booking(tx, row)?;
        tx.execute(MARK_OFFERED, params![&row.id, now.as_millis(), &entry.id])?;
        let events = [
            Event::BookingHeld {
                booking_id: row.id.clone(),
                customer_id: row.customer_id.clone(),
                show_id: show_id.to_owned(),
                seats: plan.seats.clone(),
                total: row.total,
                currency: row.currency.clone(),
                expires_at: row.expires_at,
                waitlist_entry_id: Some(entry.id.clone()),
            },
            Event::WaitlistOffered {
                entry_id: entry.id.clone(),
                show_id: show_id.to_owned(),
                customer_id: row.customer_id.clone(),
                booking_id: row.id.clone(),
                seats: plan.seats.clone(),
                expires_at: row.expires_at,
            },
        ];
        outbox::append_all(tx, &events, now.as_millis())?;
        free.retain(|s| !plan.seats.contains(&s.label));
        offers.push(Offer {
            entry_id: entry.id,
            booking_id: row.id.clone(),
            seats: plan.seats,
        });
    }
    Ok(offers)
}

/// Ends the waitlist entry an offered booking came from: `fulfilled` when paid, `lapsed`
/// when the hold expired, `cancelled` when the customer let it go.
pub fn booking_ended(
    tx: &mut Tx<'_>,
    booking_id: &str,
    outcome: &str,
    now: i64,
) -> sqlx::Result<()> {
    tx.execute(
        "UPDATE waitlist_entries SET status = $1, updated_at = $2 \
         WHERE booking_id = $3 AND status = 'offered'",
        params![outcome, now, booking_id],
    )?;
    Ok(())
}

/// Ends every live entry of a cancelled show (their offered holds are cancelled with it).
pub fn show_cancelled(tx: &mut Tx<'_>, show_id: &str, now: i64) -> sqlx::Result<()> {
    tx.execute(
        "UPDATE waitlist_entries SET status = 'cancelled', updated_at = $1 \
         WHERE show_id = $2 AND status IN ('waiting', 'offered')",
        params![now, show_id],
    )?;
    Ok(())
}

// ---- joining, reading, leaving ----------------------------------------------------------

/// A waitlist entry as its customer sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EntryView {
    pub id: String,
    pub show_id: String,
    pub seats_wanted: i64,
    /// Only seats of this category, if set.
    pub category: Option<String>,
    /// `waiting`, `offered` (a hold was made: see `booking_id`), `fulfilled`, `lapsed`
    /// (the offered hold expired unpaid) or `cancelled`.
    pub status: String,
    /// 1 = next in line; only while waiting.
    pub position: Option<i64>,
    /// The automatic hold, once offered.
    pub booking_id: Option<String>,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
}

db_row! {
    struct EntryRow {
        seq: i64,
        id: String,
        show_id: String,
        customer_id: String,
        seats_wanted: i64,
        category: Option<String>,
        status: String,
        booking_id: Option<String>,
        created_at: i64,
    }
}

const ENTRY: &str = "SELECT seq, id, show_id, customer_id, seats_wanted, category, status, \
     booking_id, created_at FROM waitlist_entries WHERE id = $1";

async fn entry_view(app: &AppState, row: EntryRow) -> Result<EntryView, BookingError> {
    let position = if row.status == "waiting" {
        let ahead: i64 = app
            .db
            .fetch_one(
                "SELECT count(*) FROM waitlist_entries \
                 WHERE show_id = $1 AND status = 'waiting' AND seq < $2",
                params![&row.show_id, row.seq],
            )
            .await?;
        Some(ahead + 1)
    } else {
        None
    };
    Ok(EntryView {
        id: row.id,
        show_id: row.show_id,
        seats_wanted: row.seats_wanted,
        category: row.category,
        status: row.status,
        position,
        booking_id: row.booking_id,
        created_at: Timestamp::from_millis(row.created_at),
    })
}

async fn own_entry(app: &AppState, customer: &UserId, id: &str) -> Result<EntryRow, BookingError> {
    let row: Option<EntryRow> = app.db.fetch_optional(ENTRY, params![id]).await?;
    row.filter(|r| r.customer_id == customer.as_str())
        .ok_or_else(|| BookingError::EntryNotFound(id.to_owned()))
}

/// The customer's entry with its live position.
pub async fn get(app: &AppState, customer: &UserId, id: &str) -> Result<EntryView, BookingError> {
    let row = own_entry(app, customer, id).await?;
    entry_view(app, row).await
}

/// Joins the show's waitlist for `seats_wanted` seats (of `category`, if given). Refused
/// while that many such seats are available (book them instead) and when the customer
/// already waits for this show.
pub async fn join(
    app: &AppState,
    customer: &UserId,
    show_id: &str,
    seats_wanted: i64,
    category: Option<String>,
) -> Result<EntryView, BookingError> {
    let max = app.config.booking.max_seats as i64;
    if !(1..=max).contains(&seats_wanted) {
        return Err(BookingError::Invalid(format!(
            "seats_wanted must be 1 to {max}"
        )));
    }
    if let Some(c) = &category
        && !["regular", "premium", "recliner"].contains(&c.as_str())
    {
        return Err(BookingError::Invalid(
            "category must be regular, premium or recliner".into(),
        ));
    }
    let show_id = crate::ids::ShowId::parse(show_id)
        .ok_or_else(|| BookingError::ShowNotFound(show_id.to_owned()))?
        .to_string();
    let facts = app.show_facts.get(app, &show_id).await?;
    let now = app.clock.now();
    if !crate::inventory::service::on_sale(&facts.show, now) {
        return Err(BookingError::ShowNotOnSale);
    }
    let id = WaitlistEntryId::generate().to_string();
    let unit = (id.clone(), customer.to_string(), show_id, category);
    app.db
        .write(move |tx| {
            let (id, customer_id, show_id, category) = &unit;
            lock_show_waitlist(tx, show_id)?;
            let free = free_seats(tx, show_id)?;
            let matching = free
                .iter()
                .filter(|s| category.as_deref().is_none_or(|c| c == s.category))
                .count() as i64;
            if matching >= seats_wanted {
                return Err(BookingError::SeatsAvailable(matching));
            }
            let mine = waiting(tx, show_id)?;
            if let Some(existing) = mine.iter().find(|e| &e.customer_id == customer_id) {
                return Err(BookingError::AlreadyWaiting(existing.id.clone()));
            }
            tx.execute(
                "INSERT INTO waitlist_entries (id, show_id, customer_id, seats_wanted, \
                 category, status, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 'waiting', $6, $6)",
                params![
                    id,
                    show_id,
                    customer_id,
                    seats_wanted,
                    category,
                    now.as_millis()
                ],
            )?;
            Ok(())
        })
        .await?;
    get(app, customer, &id).await
}

/// Leaves the waitlist (only while waiting).
pub async fn leave(app: &AppState, customer: &UserId, id: &str) -> Result<EntryView, BookingError> {
    own_entry(app, customer, id).await?;
    let now = app.clock.now().as_millis();
    let entry = id.to_owned();
    let changed = app
        .db
        .write(move |tx| {
            tx.execute(
                "UPDATE waitlist_entries SET status = 'cancelled', updated_at = $1 \
                 WHERE id = $2 AND status = 'waiting'",
                params![now, &entry],
            )
        })
        .await
        .map_err(BookingError::from)?;
    let view = get(app, customer, id).await?;
    if changed == 0 {
        return Err(BookingError::EntryNotWaiting(view.status));
    }
    Ok(view)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seat(label: &str, row: i64, col: i64) -> FreeSeat {
        FreeSeat {
            label: label.into(),
            category: "regular".into(),
            row,
            col,
        }
    }

    #[test]
    fn adjacent_seats_are_preferred_over_the_first_ones() {
        let seats = [
            seat("A1", 0, 0),
            seat("A3", 0, 2),
            seat("B1", 1, 0),
            seat("B2", 1, 1),
            seat("B3", 1, 2),
        ];
        let refs: Vec<&FreeSeat> = seats.iter().collect();
        assert_eq!(choose_seats(&refs, 2), Some(vec!["B1".into(), "B2".into()]));
        assert_eq!(choose_seats(&refs, 1), Some(vec!["A1".into()]));
        assert_eq!(
            choose_seats(&refs, 3),
            Some(vec!["B1".into(), "B2".into(), "B3".into()])
        );
    }

    #[test]
    fn scattered_seats_serve_when_no_run_is_long_enough() {
        let seats = [seat("A1", 0, 0), seat("A3", 0, 2), seat("C5", 2, 4)];
        let refs: Vec<&FreeSeat> = seats.iter().collect();
        assert_eq!(choose_seats(&refs, 2), Some(vec!["A1".into(), "A3".into()]));
        assert_eq!(choose_seats(&refs, 4), None);
        assert_eq!(choose_seats(&refs, 0), None);
    }
}
