//! Check-in use cases: a scan at the door (online), a batch from a scanner that was
//! offline, a show's admissions. Codes are verified before the unit of work starts (their
//! keys may need reading); each unit receives the verified claims and plain inputs.

use serde::Serialize;
use utoipa::ToSchema;

use super::{
    CheckInError, ScanOutcome, ScannerId, admissible, check_scanned_at, place_offline,
    store::{self, BookingAtDoor, NewScan, ScanRow},
};
use crate::{
    app::AppState,
    booking::tickets::{TicketClaims, TicketRefusal},
    db::Tx,
    time::Timestamp,
};

/// A new scan's id.
fn scan_id() -> String {
    format!("scn_{}", ulid::Ulid::new())
}

/// An admission, as the door is told it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckIn {
    pub scan_id: String,
    pub booking_id: String,
    pub show_id: String,
    #[schema(value_type = String)]
    pub show_starts_at: Timestamp,
    /// The seats the ticket admits now (refunded seats are not among them).
    pub seats: Vec<String>,
    pub scanner_id: String,
    #[schema(value_type = String)]
    pub scanned_at: Timestamp,
}

impl CheckIn {
    fn of(row: &ScanRow, starts_at: i64) -> Self {
        CheckIn {
            scan_id: row.id.clone(),
            booking_id: row.booking_id.clone(),
            show_id: row.show_id.clone(),
            show_starts_at: Timestamp::from_millis(starts_at),
            seats: row.seat_labels(),
            scanner_id: row.scanner_id.clone(),
            scanned_at: Timestamp::from_millis(row.scanned_at),
        }
    }
}

/// The verified claims of each code (`None`: not a code Marquee issued). A code signed
/// with a key rotated in through another node makes this node read its keys again, once.
async fn verify_codes(
    app: &AppState,
    codes: &[&str],
) -> Result<Vec<Option<TicketClaims>>, CheckInError> {
    let mut verified: Vec<_> = codes.iter().map(|code| app.tickets.verify(code)).collect();
    if verified.contains(&Err(TicketRefusal::UnknownKey)) {
        crate::identity::service::reload_ticket_keys(app, std::time::Duration::from_secs(1))
            .await
            .map_err(|error| match error {
                crate::identity::IdentityError::Database(source) => CheckInError::Database(source),
                other => CheckInError::Database(sqlx::Error::Protocol(other.to_string())),
            })?;
        for (slot, code) in verified.iter_mut().zip(codes) {
            if *slot == Err(TicketRefusal::UnknownKey) {
                *slot = app.tickets.verify(code);
            }
        }
    }
    Ok(verified.into_iter().map(Result::ok).collect())
}

/// What an online scan did.
#[derive(Debug)]
pub enum Online {
    /// The first scan: the ticket admits.
    Admitted(CheckIn),
    /// The same scan again (same scanner and `scanned_at`): the admission it made.
    Repeated(CheckIn),
}

/// Scans a ticket at the door: the first scan of a confirmed booking admits; any later
/// one is refused (and recorded) with when and by which scanner it was admitted.
pub async fn check_in(
    app: &AppState,
    org_id: &str,
    code: &str,
    scanner: ScannerId,
    scanned_at: Option<Timestamp>,
) -> Result<Online, CheckInError> {
    let now = app.clock.now();
    let scanned_at = scanned_at.unwrap_or(now);
    check_scanned_at(now, scanned_at).map_err(CheckInError::Invalid)?;
    let claims = verify_codes(app, &[code])
        .await?
        .pop()
        .flatten()
        .ok_or(CheckInError::InvalidTicket)?;
    let unit = (org_id.to_owned(), claims.b, scanner, scan_id());
    let decided = app
        .db
        .write(move |tx| {
            let (org_id, booking_id, scanner, id) = &unit;
            online_in(
                tx,
                org_id,
                booking_id,
                scanner.as_str(),
                id,
                scanned_at,
                now,
            )
        })
        .await?;
    match decided {
        Decided::Admitted(check_in) => Ok(Online::Admitted(check_in)),
        Decided::Repeated(check_in) => Ok(Online::Repeated(check_in)),
        Decided::Refused(first) => Err(CheckInError::AlreadyCheckedIn {
            booking_id: first.booking_id,
            first_scanner_id: first.scanner_id,
            first_scanned_at: first.scanned_at,
        }),
    }
}

/// The online unit's answer; a refusal is an answer (its scan is recorded and committed).
enum Decided {
    Admitted(CheckIn),
    Repeated(CheckIn),
    Refused(CheckIn),
}

/// The booking behind a ticket when it is one of the organisation's, with its seats now.
fn booking_of(
    tx: &mut Tx<'_>,
    booking: Option<BookingAtDoor>,
    org_id: &str,
) -> sqlx::Result<Option<(BookingAtDoor, Vec<String>)>> {
    let Some(booking) = booking.filter(|b| b.org_id == org_id) else {
        return Ok(None);
    };
    let seats = store::current_seats(tx, &booking)?;
    Ok(Some((booking, seats)))
}

fn online_in(
    tx: &mut Tx<'_>,
    org_id: &str,
    booking_id: &str,
    scanner: &str,
    id: &str,
    scanned_at: Timestamp,
    now: Timestamp,
) -> Result<Decided, CheckInError> {
    let found = store::booking_at_door(tx, booking_id)?;
    let (booking, seats) = booking_of(tx, found, org_id)?
        .ok_or_else(|| CheckInError::UnknownBooking(booking_id.to_owned()))?;
    admissible(&booking.status, &seats).map_err(|status| CheckInError::NotAdmissible {
        booking_id: booking.id.clone(),
        status,
    })?;
    let mut scan = NewScan {
        id,
        booking: &booking,
        scanner_id: scanner,
        scanned_at: scanned_at.as_millis(),
        recorded_at: now.as_millis(),
        source: "online",
        outcome: ScanOutcome::Admitted,
        reported: ScanOutcome::Admitted,
        seats: &seats,
    };
    // The insert is the decision: of scanners racing, the unique index admits one. A
    // refusal reads the admission that won (committed by then on PostgreSQL: the insert
    // waited for it).
    for _ in 0..3 {
        if store::insert_scan(tx, &scan)? {
            return Ok(Decided::Admitted(CheckIn::of(
                &scan.row(),
                booking.starts_at,
            )));
        }
        let Some(first) = store::admission(tx, &booking.id)? else {
            continue;
        };
        let first = CheckIn::of(&first, booking.starts_at);
        if first.scanner_id == scanner && first.scanned_at == scanned_at {
            return Ok(Decided::Repeated(first));
        }
        scan.outcome = ScanOutcome::Refused;
        scan.reported = ScanOutcome::Refused;
        // Kept as evidence; the same refused scan sent again records nothing.
        store::insert_scan(tx, &scan)?;
        return Ok(Decided::Refused(first));
    }
    Err(CheckInError::Database(sqlx::Error::Protocol(format!(
        "booking {} has a scan by {scanner} at {scanned_at} but no admission",
        booking.id
    ))))
}

/// One scan of an offline batch, as the scanner reports it.
#[derive(Debug, Clone)]
pub struct ReportedScan {
    pub code: String,
    pub scanned_at: Timestamp,
}

/// What became of a batch's scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckInBatchResult {
    /// The scan admitted the booking.
    Admitted,
    /// This scanner had already reported the ticket.
    Duplicate,
    /// Another scanner admitted the ticket too: both scans are kept, flagged.
    Conflict,
    /// Not a ticket for one of your shows (forged, altered, or another's).
    Invalid,
    /// The booking is not confirmed (or has no seats left): `status` says what it is.
    NotAdmissible,
}

impl From<ScanOutcome> for CheckInBatchResult {
    fn from(outcome: ScanOutcome) -> Self {
        match outcome {
            ScanOutcome::Admitted => CheckInBatchResult::Admitted,
            ScanOutcome::Conflict => CheckInBatchResult::Conflict,
            // A scan refused online and reported again offline: the ticket was in before.
            ScanOutcome::Duplicate | ScanOutcome::Refused => CheckInBatchResult::Duplicate,
        }
    }
}

/// The admission of record.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdmissionRef {
    pub scan_id: String,
    pub scanner_id: String,
    #[schema(value_type = String)]
    pub scanned_at: Timestamp,
}

impl From<&ScanRow> for AdmissionRef {
    fn from(row: &ScanRow) -> Self {
        AdmissionRef {
            scan_id: row.id.clone(),
            scanner_id: row.scanner_id.clone(),
            scanned_at: Timestamp::from_millis(row.scanned_at),
        }
    }
}

/// One result per scan of a batch, in the batch's order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckInBatchItem {
    /// The scan's position in the batch (from 0).
    pub index: usize,
    pub result: CheckInBatchResult,
    /// The recorded scan (`admitted`, `duplicate`, `conflict`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub booking_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seats: Option<Vec<String>>,
    /// The booking's status (`not_admissible`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The booking's admission of record after this scan (`admitted`, `duplicate`,
    /// `conflict`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admission: Option<AdmissionRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl CheckInBatchItem {
    fn refused(index: usize, result: CheckInBatchResult, detail: String) -> Self {
        CheckInBatchItem {
            index,
            result,
            scan_id: None,
            booking_id: None,
            seats: None,
            status: None,
            admission: None,
            detail: Some(detail),
        }
    }
}

/// Records a batch of scans from a scanner that was offline, in one unit of work; one
/// result per scan, in order. Every scan time is checked first: one the scanner could not
/// have made refuses the whole batch (its clock is wrong), before anything is recorded.
pub async fn check_in_batch(
    app: &AppState,
    org_id: &str,
    scanner: ScannerId,
    scans: Vec<ReportedScan>,
) -> Result<Vec<CheckInBatchItem>, CheckInError> {
    if scans.is_empty() || scans.len() > super::MAX_BATCH_SCANS {
        return Err(CheckInError::Invalid(format!(
            "a batch carries 1 to {} scans, not {}",
            super::MAX_BATCH_SCANS,
            scans.len()
        )));
    }
    let now = app.clock.now();
    for (index, scan) in scans.iter().enumerate() {
        check_scanned_at(now, scan.scanned_at)
            .map_err(|why| CheckInError::Invalid(format!("scans[{index}]: {why}")))?;
    }
    let codes: Vec<&str> = scans.iter().map(|s| s.code.as_str()).collect();
    let claims = verify_codes(app, &codes).await?;
    let verified: Vec<(Option<String>, i64, String)> = claims
        .into_iter()
        .zip(&scans)
        .map(|(claims, scan)| (claims.map(|c| c.b), scan.scanned_at.as_millis(), scan_id()))
        .collect();
    let unit = (org_id.to_owned(), scanner, verified);
    app.db
        .write(move |tx| {
            let (org_id, scanner, verified) = &unit;
            batch_in(tx, org_id, scanner.as_str(), verified, now)
        })
        .await
}

fn batch_in(
    tx: &mut Tx<'_>,
    org_id: &str,
    scanner: &str,
    scans: &[(Option<String>, i64, String)],
    now: Timestamp,
) -> Result<Vec<CheckInBatchItem>, CheckInError> {
    let mut ids: Vec<String> = scans.iter().filter_map(|s| s.0.clone()).collect();
    ids.sort();
    ids.dedup();
    let bookings: std::collections::HashMap<String, BookingAtDoor> = if ids.is_empty() {
        Default::default()
    } else {
        store::lock_bookings_at_door(tx, &ids)?
            .into_iter()
            .filter(|b| b.org_id == org_id)
            .map(|b| (b.id.clone(), b))
            .collect()
    };
    let mut results = Vec::with_capacity(scans.len());
    for (index, (booking_id, scanned_at, id)) in scans.iter().enumerate() {
        let Some(booking_id) = booking_id else {
            results.push(CheckInBatchItem::refused(
                index,
                CheckInBatchResult::Invalid,
                CheckInError::InvalidTicket.to_string(),
            ));
            continue;
        };
        let Some(booking) = bookings.get(booking_id) else {
            let unknown = CheckInError::UnknownBooking(booking_id.clone());
            results.push(CheckInBatchItem::refused(
                index,
                CheckInBatchResult::Invalid,
                unknown.to_string(),
            ));
            continue;
        };
        results.push(place_one(
            tx,
            booking,
            scanner,
            *scanned_at,
            id,
            index,
            now,
        )?);
    }
    Ok(results)
}

/// Places one offline scan of a (locked) booking.
fn place_one(
    tx: &mut Tx<'_>,
    booking: &BookingAtDoor,
    scanner: &str,
    scanned_at: i64,
    id: &str,
    index: usize,
    now: Timestamp,
) -> Result<CheckInBatchItem, CheckInError> {
    let seats = store::current_seats(tx, booking)?;
    if let Err(status) = admissible(&booking.status, &seats) {
        let refusal = CheckInError::NotAdmissible {
            booking_id: booking.id.clone(),
            status: status.clone(),
        };
        let mut item = CheckInBatchItem::refused(
            index,
            CheckInBatchResult::NotAdmissible,
            refusal.to_string(),
        );
        item.booking_id = Some(booking.id.clone());
        item.status = Some(status);
        return Ok(item);
    }
    let item =
        |scan: &ScanRow, result: CheckInBatchResult, admission: Option<ScanRow>| CheckInBatchItem {
            index,
            result,
            scan_id: Some(scan.id.clone()),
            booking_id: Some(booking.id.clone()),
            seats: Some(scan.seat_labels()),
            status: None,
            admission: admission.as_ref().map(AdmissionRef::from),
            detail: None,
        };
    // Sent before: the answer it got then, nothing recorded again.
    if let Some(same) = store::same_scan(tx, &booking.id, scanner, scanned_at)? {
        let admission = store::admission(tx, &booking.id)?;
        return Ok(item(&same, same.reported().into(), admission));
    }
    let placement = place_offline(&store::admitting(tx, &booking.id)?, scanner, scanned_at);
    // Demotions first: the former admission leaves the unique index before the new one
    // enters it.
    for (changed, outcome) in &placement.changes {
        store::set_outcome(tx, changed, *outcome)?;
    }
    let scan = NewScan {
        id,
        booking,
        scanner_id: scanner,
        scanned_at,
        recorded_at: now.as_millis(),
        source: "offline",
        outcome: placement.outcome,
        reported: placement.reported,
        seats: &seats,
    };
    if !store::insert_scan(tx, &scan)? {
        // The booking is locked and this scan was not recorded: only a broken invariant
        // gets here. Fail the unit (nothing of the batch is kept).
        return Err(CheckInError::Database(sqlx::Error::Protocol(format!(
            "scan of {} by {scanner} at {scanned_at} could not be recorded",
            booking.id
        ))));
    }
    let admission = store::admission(tx, &booking.id)?;
    Ok(item(&scan.row(), placement.reported.into(), admission))
}

/// A show's admissions and conflicts, a page at a time, with its counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShowCheckIns {
    pub show_id: String,
    pub counts: store::CheckInCounts,
    /// In scan order.
    pub items: Vec<super::Scan>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}
