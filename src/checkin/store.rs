//! SQL of check-in: the booking as the door sees it, recorded scans, a show's list and
//! counts. Scans are written with `ON CONFLICT DO NOTHING`, so the unique index (one
//! admission per booking) and the retry key (booking, scanner, scanned_at) decide inside
//! the statement, on either engine, without aborting the unit of work.

use super::{Admitting, Scan, ScanOutcome};
use crate::{
    db::{Db, QueryBuilder, Sql, Tx},
    db_row, params,
    time::Timestamp,
};

db_row! {
    /// A booking as the door needs it, with whose show it is.
    #[derive(Debug, Clone)]
    pub struct BookingAtDoor {
        pub id: String,
        pub show_id: String,
        pub status: String,
        /// JSON array of labels, in quote order.
        pub seats: String,
        pub starts_at: i64,
        pub org_id: String,
    }
}

db_row! {
    #[derive(Debug, Clone)]
    pub struct ScanRow {
        pub id: String,
        pub booking_id: String,
        pub show_id: String,
        pub scanner_id: String,
        pub scanned_at: i64,
        pub recorded_at: i64,
        pub source: String,
        pub outcome: String,
        pub reported: String,
        pub seats: String,
    }
}

impl ScanRow {
    pub fn outcome(&self) -> ScanOutcome {
        ScanOutcome::parse(&self.outcome).unwrap_or(ScanOutcome::Refused)
    }

    pub fn reported(&self) -> ScanOutcome {
        ScanOutcome::parse(&self.reported).unwrap_or(ScanOutcome::Refused)
    }

    pub fn seat_labels(&self) -> Vec<String> {
        serde_json::from_str(&self.seats).unwrap_or_default()
    }

    pub fn view(&self) -> Scan {
        Scan {
            id: self.id.clone(),
            booking_id: self.booking_id.clone(),
            show_id: self.show_id.clone(),
            scanner_id: self.scanner_id.clone(),
            scanned_at: Timestamp::from_millis(self.scanned_at),
            recorded_at: Timestamp::from_millis(self.recorded_at),
            source: self.source.clone(),
            outcome: self.outcome(),
            seats: self.seat_labels(),
        }
    }
}

const SCAN_COLUMNS: &str = "id, booking_id, show_id, scanner_id, scanned_at, recorded_at, \
     source, outcome, reported, seats";

macro_rules! door_select {
    () => {
        "SELECT b.id, b.show_id, b.status, b.seats, s.starts_at, t.org_id FROM bookings b \
         JOIN shows s ON s.id = b.show_id JOIN theatres t ON t.id = s.theatre_id"
    };
}

/// The booking behind a ticket. On PostgreSQL its row is share-locked: scanners of one
/// ticket do not wait for each other (the unique index decides between them), but a
/// cancellation or refund of the booking waits for the check-in, and the other way round.
pub fn booking_at_door(tx: &mut Tx<'_>, booking_id: &str) -> sqlx::Result<Option<BookingAtDoor>> {
    const SQL: Sql = Sql {
        sqlite: concat!(door_select!(), " WHERE b.id = $1"),
        postgres: concat!(door_select!(), " WHERE b.id = $1 FOR SHARE OF b"),
    };
    tx.fetch_optional(SQL, params![booking_id])
}

/// The bookings behind a batch's tickets, locked on PostgreSQL in id order: two batches
/// naming the same bookings place their scans one after the other, and never deadlock.
pub fn lock_bookings_at_door(
    tx: &mut Tx<'_>,
    booking_ids: &[String],
) -> sqlx::Result<Vec<BookingAtDoor>> {
    const SQL: Sql = Sql {
        sqlite: concat!(
            door_select!(),
            " WHERE b.id IN (SELECT value FROM json_each($1)) ORDER BY b.id"
        ),
        postgres: concat!(
            door_select!(),
            " WHERE b.id = ANY($1) ORDER BY b.id FOR UPDATE OF b"
        ),
    };
    tx.fetch_all(SQL, params![booking_ids])
}

/// The seats the booking holds sold now, in its own order: a refunded seat is no longer
/// the booking's and admits nobody, whatever the ticket code lists.
pub fn current_seats(tx: &mut Tx<'_>, booking: &BookingAtDoor) -> sqlx::Result<Vec<String>> {
    const SQL: &str = "SELECT seat_label FROM show_seats \
         WHERE show_id = $1 AND booking_id = $2 AND state = 'booked'";
    let booked: std::collections::BTreeSet<String> = tx
        .fetch_all::<String>(SQL, params![&booking.show_id, &booking.id])?
        .into_iter()
        .collect();
    let listed: Vec<String> = serde_json::from_str(&booking.seats).unwrap_or_default();
    let mut seats: Vec<String> = listed
        .iter()
        .filter(|label| booked.contains(*label))
        .cloned()
        .collect();
    seats.extend(booked.into_iter().filter(|label| !listed.contains(label)));
    Ok(seats)
}

/// A scan to record.
#[derive(Debug, Clone)]
pub struct NewScan<'a> {
    pub id: &'a str,
    pub booking: &'a BookingAtDoor,
    pub scanner_id: &'a str,
    pub scanned_at: i64,
    pub recorded_at: i64,
    /// `online` or `offline`.
    pub source: &'static str,
    pub outcome: ScanOutcome,
    pub reported: ScanOutcome,
    pub seats: &'a [String],
}

impl NewScan<'_> {
    pub fn row(&self) -> ScanRow {
        ScanRow {
            id: self.id.to_owned(),
            booking_id: self.booking.id.clone(),
            show_id: self.booking.show_id.clone(),
            scanner_id: self.scanner_id.to_owned(),
            scanned_at: self.scanned_at,
            recorded_at: self.recorded_at,
            source: self.source.to_owned(),
            outcome: self.outcome.as_str().to_owned(),
            reported: self.reported.as_str().to_owned(),
            seats: serde_json::to_string(self.seats).unwrap_or_else(|_| "[]".into()),
        }
    }
}

/// Records `scan` unless a unique key refuses it (the booking already has an admission,
/// or this scanner's scan at this instant is recorded): `false` then, and nothing written.
pub fn insert_scan(tx: &mut Tx<'_>, scan: &NewScan<'_>) -> sqlx::Result<bool> {
    const SQL: &str = "INSERT INTO ticket_scans (id, booking_id, show_id, scanner_id, \
         scanned_at, recorded_at, source, outcome, reported, seats, seat_count) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT DO NOTHING RETURNING id";
    let row = scan.row();
    let inserted: Option<String> = tx.fetch_optional(
        SQL,
        params![
            &row.id,
            &row.booking_id,
            &row.show_id,
            &row.scanner_id,
            row.scanned_at,
            row.recorded_at,
            &row.source,
            &row.outcome,
            &row.reported,
            &row.seats,
            scan.seats.len() as i64
        ],
    )?;
    Ok(inserted.is_some())
}

/// The booking's admission of record, if it was admitted.
pub fn admission(tx: &mut Tx<'_>, booking_id: &str) -> sqlx::Result<Option<ScanRow>> {
    let sql = format!(
        "SELECT {SCAN_COLUMNS} FROM ticket_scans WHERE booking_id = $1 AND outcome = 'admitted'"
    );
    tx.fetch_optional(&sql, params![booking_id])
}

/// This scanner's recorded scan of the booking at this instant (a scan sent again).
pub fn same_scan(
    tx: &mut Tx<'_>,
    booking_id: &str,
    scanner_id: &str,
    scanned_at: i64,
) -> sqlx::Result<Option<ScanRow>> {
    let sql = format!(
        "SELECT {SCAN_COLUMNS} FROM ticket_scans \
         WHERE booking_id = $1 AND scanner_id = $2 AND scanned_at = $3"
    );
    tx.fetch_optional(&sql, params![booking_id, scanner_id, scanned_at])
}

/// The booking's scans that admitted someone (its admission and its conflicts), in the
/// order they were recorded.
pub fn admitting(tx: &mut Tx<'_>, booking_id: &str) -> sqlx::Result<Vec<Admitting>> {
    const SQL: &str = "SELECT id, scanner_id, scanned_at, outcome FROM ticket_scans \
         WHERE booking_id = $1 AND outcome IN ('admitted', 'conflict') ORDER BY recorded_at, id";
    let rows: Vec<(String, String, i64, String)> = tx.fetch_all(SQL, params![booking_id])?;
    Ok(rows
        .into_iter()
        .map(|(id, scanner_id, scanned_at, outcome)| Admitting {
            id,
            scanner_id,
            scanned_at,
            outcome: ScanOutcome::parse(&outcome).unwrap_or(ScanOutcome::Refused),
        })
        .collect())
}

pub fn set_outcome(tx: &mut Tx<'_>, scan_id: &str, outcome: ScanOutcome) -> sqlx::Result<u64> {
    tx.execute(
        "UPDATE ticket_scans SET outcome = $2 WHERE id = $1",
        params![scan_id, outcome.as_str()],
    )
}

/// Every recorded scan of a booking (admission, conflicts, duplicates, refused scans),
/// oldest first: the evidence that a ticket was used.
pub async fn scans_of_booking(db: &Db, booking_id: &str) -> sqlx::Result<Vec<Scan>> {
    let sql = format!(
        "SELECT {SCAN_COLUMNS} FROM ticket_scans WHERE booking_id = $1 \
         ORDER BY scanned_at, recorded_at, id"
    );
    let rows: Vec<ScanRow> = db.fetch_all(&sql, params![booking_id]).await?;
    Ok(rows.iter().map(ScanRow::view).collect())
}

/// A page of the show's admissions and conflicts (or conflicts only), in scan order,
/// after the key `(scanned_at, id)`; up to `limit + 1` rows.
pub async fn show_scans(
    db: &Db,
    show_id: &str,
    conflicts_only: bool,
    after: Option<&(i64, String)>,
    limit: u32,
) -> sqlx::Result<Vec<ScanRow>> {
    let mut sql = QueryBuilder::new(
        db.engine(),
        format!("SELECT {SCAN_COLUMNS} FROM ticket_scans WHERE show_id = "),
    );
    sql.push_bind(show_id);
    if conflicts_only {
        sql.push(" AND outcome = 'conflict'");
    } else {
        sql.push(" AND outcome IN ('admitted', 'conflict')");
    }
    if let Some((at, id)) = after {
        sql.push(" AND (scanned_at > ")
            .push_bind(*at)
            .push(" OR (scanned_at = ")
            .push_bind(*at)
            .push(" AND id > ")
            .push_bind(id.as_str())
            .push("))");
    }
    sql.push(" ORDER BY scanned_at, id LIMIT ")
        .push_bind(i64::from(limit) + 1);
    db.fetch_all(sql.sql().as_str(), sql.params()).await
}

db_row! {
    /// What the door did for a show so far.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
    pub struct CheckInCounts {
        /// Bookings admitted.
        pub admitted: i64,
        /// Seats of the admitted bookings.
        pub seats_admitted: i64,
        /// Scans flagged: a ticket admitted by a second scanner.
        pub conflicts: i64,
        /// Online scans turned away (the ticket was already in).
        pub refused: i64,
    }
}

pub async fn show_counts(db: &Db, show_id: &str) -> sqlx::Result<CheckInCounts> {
    const SQL: &str = "SELECT \
         CAST(COALESCE(SUM(CASE WHEN outcome = 'admitted' THEN 1 ELSE 0 END), 0) AS BIGINT) \
           AS admitted, \
         CAST(COALESCE(SUM(CASE WHEN outcome = 'admitted' THEN seat_count ELSE 0 END), 0) \
           AS BIGINT) AS seats_admitted, \
         CAST(COALESCE(SUM(CASE WHEN outcome = 'conflict' THEN 1 ELSE 0 END), 0) AS BIGINT) \
           AS conflicts, \
         CAST(COALESCE(SUM(CASE WHEN outcome = 'refused' THEN 1 ELSE 0 END), 0) AS BIGINT) \
           AS refused \
         FROM ticket_scans WHERE show_id = $1";
    db.fetch_one(SQL, params![show_id]).await
}
