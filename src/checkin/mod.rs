//! Check-in at the theatre's door: scanners read ticket codes, and Marquee admits each
//! confirmed booking once. It owns every recorded scan (`ticket_scans`), the rules that
//! place a scan (plain functions, here), their storage (`store`), the use cases (`service`)
//! and the partner routes (`routes`).
//!
//! **Online** scans decide at once: the first recorded scan of a booking admits, and a
//! unique index (one `admitted` scan per booking) decides between scanners racing for the
//! same ticket. Later online scans are refused with when and by which scanner the ticket
//! was admitted (and are kept, as evidence).
//!
//! **Offline** scans (a batch from a scanner that lost its connection) report what already
//! happened at the door, so they are never refused: the rule of record is that **the
//! earliest admitting scan of a booking (by `scanned_at`) is its admission**. A scan from
//! another scanner is a `conflict` (both kept, flagged): when it is earlier than the
//! admission of record, it becomes the admission and the former admission the conflict. A
//! scanner's own later read of a ticket it admitted is a `duplicate`. A batch sent again
//! (same booking, scanner and `scanned_at`) records nothing and answers as before.

pub mod routes;
pub mod service;
pub mod store;

use serde::Serialize;
use utoipa::ToSchema;

use crate::time::Timestamp;

pub use store::scans_of_booking;

/// Most scans one offline batch may carry.
pub const MAX_BATCH_SCANS: usize = 500;
/// How far ahead of Marquee's clock a scanner's clock may run (a scan "from the future"
/// beyond this is a scanner with a wrong clock, and its times would decide admissions).
pub const MAX_CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;
/// How old a reported scan may be: a scanner offline longer than a week is reporting
/// shows long over, or has a wrong clock.
pub const MAX_SCAN_AGE_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// Longest scanner name.
pub const MAX_SCANNER_ID_CHARS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum CheckInError {
    /// The request breaks a rule of its own (scanner name, batch size, scan times).
    #[error("{0}")]
    Invalid(String),
    #[error("the code is not a ticket Marquee issued")]
    InvalidTicket,
    /// No such booking, or another organisation's: the same answer for both.
    #[error("no ticket {0} for your shows")]
    UnknownBooking(String),
    #[error("no show {0} at your theatres")]
    UnknownShow(String),
    #[error("booking {booking_id} is {status}: its ticket admits nobody")]
    NotAdmissible { booking_id: String, status: String },
    #[error(
        "booking {booking_id} was already checked in at {first_scanned_at} by scanner \
         {first_scanner_id}"
    )]
    AlreadyCheckedIn {
        booking_id: String,
        first_scanner_id: String,
        first_scanned_at: Timestamp,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl crate::db::WriteError for CheckInError {
    fn retryable(&self) -> bool {
        matches!(self, CheckInError::Database(e) if crate::db::is_retryable(e))
    }
}

/// A scanner's name as the theatre gives it: 1 to 64 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannerId(String);

impl ScannerId {
    pub fn parse(text: &str) -> Result<Self, CheckInError> {
        let trimmed = text.trim();
        if trimmed.is_empty()
            || trimmed.chars().count() > MAX_SCANNER_ID_CHARS
            || trimmed.chars().any(char::is_control)
        {
            return Err(CheckInError::Invalid(format!(
                "scanner_id must be 1 to {MAX_SCANNER_ID_CHARS} characters without control \
                 characters"
            )));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a recorded scan is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScanOutcome {
    /// The booking's admission of record.
    Admitted,
    /// Another scanner admitted the same ticket too (flagged; both kept).
    Conflict,
    /// The same scanner read the ticket again.
    Duplicate,
    /// An online scan turned away: the ticket was already in.
    Refused,
}

impl ScanOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admitted => "admitted",
            Self::Conflict => "conflict",
            Self::Duplicate => "duplicate",
            Self::Refused => "refused",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "admitted" => Self::Admitted,
            "conflict" => Self::Conflict,
            "duplicate" => Self::Duplicate,
            "refused" => Self::Refused,
            _ => return None,
        })
    }
}

/// One recorded scan of a ticket: what the dispute evidence and the show's list show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Scan {
    /// `scn_…`.
    pub id: String,
    pub booking_id: String,
    pub show_id: String,
    pub scanner_id: String,
    /// When the scanner read the code (its own clock for offline scans).
    #[schema(value_type = String)]
    pub scanned_at: Timestamp,
    /// When Marquee received the scan.
    #[schema(value_type = String)]
    pub recorded_at: Timestamp,
    /// `online` or `offline` (reported in a batch).
    pub source: String,
    pub outcome: ScanOutcome,
    /// The booking's seats when it was scanned.
    pub seats: Vec<String>,
}

/// Whether a booking's ticket admits anyone now: only a confirmed booking that still has
/// seats (refunded seats admit nobody). `Err` carries the status to report. Pure.
pub fn admissible(status: &str, current_seats: &[String]) -> Result<(), String> {
    if status != "confirmed" {
        return Err(status.to_owned());
    }
    if current_seats.is_empty() {
        return Err("without seats".to_owned());
    }
    Ok(())
}

/// Whether a scanner's own time for a scan is believable against Marquee's clock `now`:
/// not ahead by more than [`MAX_CLOCK_SKEW_MS`], not older than [`MAX_SCAN_AGE_MS`].
/// `Err` says why. Pure.
pub fn check_scanned_at(now: Timestamp, scanned_at: Timestamp) -> Result<(), String> {
    let ahead = scanned_at.as_millis().saturating_sub(now.as_millis());
    if ahead > MAX_CLOCK_SKEW_MS {
        return Err(format!(
            "scanned_at {scanned_at} is {} s ahead of the server's clock ({now}); more than \
             {} s means the scanner's clock is wrong",
            ahead / 1000,
            MAX_CLOCK_SKEW_MS / 1000
        ));
    }
    let age = now.as_millis().saturating_sub(scanned_at.as_millis());
    if age > MAX_SCAN_AGE_MS {
        return Err(format!(
            "scanned_at {scanned_at} is more than {} days before the server's clock ({now}); \
             scans that old are not accepted",
            MAX_SCAN_AGE_MS / (24 * 60 * 60 * 1000)
        ));
    }
    Ok(())
}

/// A stored scan that admitted someone (`admitted` or `conflict`), as the placing rule
/// sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitting {
    pub id: String,
    pub scanner_id: String,
    pub scanned_at: i64,
    pub outcome: ScanOutcome,
}

/// Where an offline scan goes among a booking's admitting scans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The new scan's stored outcome.
    pub outcome: ScanOutcome,
    /// What the scanner is told: `admitted`, `conflict` or `duplicate`.
    pub reported: ScanOutcome,
    /// Stored scans whose outcome changes, to apply before the new scan is stored.
    pub changes: Vec<(String, ScanOutcome)>,
}

/// Places an offline scan by `scanner` at `scanned_at` among the booking's admitting
/// scans (see the module's rule). Keeps the invariants: at most one `admitted` scan, the
/// earliest admitting one (ties: the one recorded first); at most one admitting scan per
/// scanner, its earliest. Pure.
pub fn place_offline(existing: &[Admitting], scanner: &str, scanned_at: i64) -> Placement {
    let Some(admission) = existing.iter().find(|s| s.outcome == ScanOutcome::Admitted) else {
        return Placement {
            outcome: ScanOutcome::Admitted,
            reported: ScanOutcome::Admitted,
            changes: Vec::new(),
        };
    };
    let mine = existing.iter().find(|s| s.scanner_id == scanner);
    let mut changes = Vec::new();
    if let Some(mine) = mine {
        if scanned_at >= mine.scanned_at {
            return Placement {
                outcome: ScanOutcome::Duplicate,
                reported: ScanOutcome::Duplicate,
                changes,
            };
        }
        // This scanner read the ticket earlier than the scan it reported before: the
        // earlier read takes that scan's place, the later one is its duplicate.
        changes.push((mine.id.clone(), ScanOutcome::Duplicate));
        if mine.outcome == ScanOutcome::Admitted {
            return Placement {
                outcome: ScanOutcome::Admitted,
                reported: ScanOutcome::Duplicate,
                changes,
            };
        }
    }
    let reported = if mine.is_some() {
        ScanOutcome::Duplicate
    } else {
        ScanOutcome::Conflict
    };
    // Another scanner holds the admission: the earlier of the two is the admission.
    if scanned_at < admission.scanned_at {
        changes.push((admission.id.clone(), ScanOutcome::Conflict));
        Placement {
            outcome: ScanOutcome::Admitted,
            reported,
            changes,
        }
    } else {
        Placement {
            outcome: ScanOutcome::Conflict,
            reported,
            changes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(id: &str, scanner: &str, at: i64, outcome: ScanOutcome) -> Admitting {
        Admitting {
            id: id.into(),
            scanner_id: scanner.into(),
            scanned_at: at,
            outcome,
        }
    }

    #[test]
    fn the_first_scan_of_a_booking_admits() {
        assert_eq!(
            place_offline(&[], "door-1", 100),
            Placement {
                outcome: ScanOutcome::Admitted,
                reported: ScanOutcome::Admitted,
                changes: vec![]
            }
        );
    }

    #[test]
    fn a_later_scan_by_another_scanner_is_a_conflict_and_the_admission_stays() {
        let existing = [scan("s1", "door-1", 100, ScanOutcome::Admitted)];
        for at in [100, 101, 5_000] {
            assert_eq!(
                place_offline(&existing, "door-2", at),
                Placement {
                    outcome: ScanOutcome::Conflict,
                    reported: ScanOutcome::Conflict,
                    changes: vec![]
                },
                "at {at}"
            );
        }
    }

    #[test]
    fn an_earlier_offline_scan_by_another_scanner_becomes_the_admission() {
        let existing = [scan("s1", "door-1", 100, ScanOutcome::Admitted)];
        assert_eq!(
            place_offline(&existing, "door-2", 99),
            Placement {
                outcome: ScanOutcome::Admitted,
                reported: ScanOutcome::Conflict,
                changes: vec![("s1".into(), ScanOutcome::Conflict)]
            }
        );
    }

    #[test]
    fn the_same_scanner_reading_again_is_a_duplicate() {
        let existing = [
            scan("s1", "door-1", 100, ScanOutcome::Admitted),
            scan("s2", "door-2", 200, ScanOutcome::Conflict),
        ];
        for (scanner, at) in [("door-1", 100), ("door-1", 300), ("door-2", 250)] {
            assert_eq!(
                place_offline(&existing, scanner, at),
                Placement {
                    outcome: ScanOutcome::Duplicate,
                    reported: ScanOutcome::Duplicate,
                    changes: vec![]
                },
                "{scanner} at {at}"
            );
        }
    }

    #[test]
    fn a_scanners_earlier_read_takes_the_place_of_its_later_one() {
        let existing = [
            scan("s1", "door-1", 100, ScanOutcome::Admitted),
            scan("s2", "door-2", 200, ScanOutcome::Conflict),
        ];
        // door-1 read it at 50 too: its admission moves to 50.
        assert_eq!(
            place_offline(&existing, "door-1", 50),
            Placement {
                outcome: ScanOutcome::Admitted,
                reported: ScanOutcome::Duplicate,
                changes: vec![("s1".into(), ScanOutcome::Duplicate)]
            }
        );
        // door-2 read it at 150: still after the admission, still the conflict.
        assert_eq!(
            place_offline(&existing, "door-2", 150),
            Placement {
                outcome: ScanOutcome::Conflict,
                reported: ScanOutcome::Duplicate,
                changes: vec![("s2".into(), ScanOutcome::Duplicate)]
            }
        );
        // door-2 read it at 10: before the admission, so door-2 admitted it.
        assert_eq!(
            place_offline(&existing, "door-2", 10),
            Placement {
                outcome: ScanOutcome::Admitted,
                reported: ScanOutcome::Duplicate,
                changes: vec![
                    ("s2".into(), ScanOutcome::Duplicate),
                    ("s1".into(), ScanOutcome::Conflict)
                ]
            }
        );
    }

    /// Applies a placement to a list of stored admitting scans, as the store does.
    fn apply(stored: &mut Vec<Admitting>, id: &str, scanner: &str, at: i64) {
        let placement = place_offline(stored, scanner, at);
        for (changed, outcome) in &placement.changes {
            stored.retain(|s| s.id != *changed || *outcome != ScanOutcome::Duplicate);
            for s in stored.iter_mut().filter(|s| s.id == *changed) {
                s.outcome = *outcome;
            }
        }
        if placement.outcome != ScanOutcome::Duplicate {
            stored.push(scan(id, scanner, at, placement.outcome));
        }
    }

    fn permutations(items: &[(&'static str, i64)]) -> Vec<Vec<(&'static str, i64)>> {
        if items.len() <= 1 {
            return vec![items.to_vec()];
        }
        let mut all = Vec::new();
        for i in 0..items.len() {
            let mut rest = items.to_vec();
            let first = rest.remove(i);
            for mut tail in permutations(&rest) {
                tail.insert(0, first);
                all.push(tail);
            }
        }
        all
    }

    #[test]
    fn in_whatever_order_scans_arrive_the_earliest_admits_and_each_other_scanner_conflicts_once() {
        let scans = [
            ("door-1", 300),
            ("door-2", 200),
            ("door-1", 150),
            ("door-3", 400),
            ("door-2", 500),
        ];
        for order in permutations(&scans) {
            let mut stored = Vec::new();
            for (n, (scanner, at)) in order.iter().enumerate() {
                apply(&mut stored, &format!("s{n}"), scanner, *at);
            }
            let admitted: Vec<_> = stored
                .iter()
                .filter(|s| s.outcome == ScanOutcome::Admitted)
                .collect();
            assert_eq!(admitted.len(), 1, "{order:?}: {stored:?}");
            assert_eq!(
                (admitted[0].scanner_id.as_str(), admitted[0].scanned_at),
                ("door-1", 150),
                "{order:?}"
            );
            let mut conflicts: Vec<(&str, i64)> = stored
                .iter()
                .filter(|s| s.outcome == ScanOutcome::Conflict)
                .map(|s| (s.scanner_id.as_str(), s.scanned_at))
                .collect();
            conflicts.sort();
            assert_eq!(conflicts, [("door-2", 200), ("door-3", 400)], "{order:?}");
        }
    }

    #[test]
    fn only_a_confirmed_booking_with_seats_admits() {
        let seats = vec!["A1".to_owned()];
        assert_eq!(admissible("confirmed", &seats), Ok(()));
        for status in ["pending_payment", "expired", "cancelled", "refunded"] {
            assert_eq!(admissible(status, &seats), Err(status.to_owned()));
        }
        assert!(admissible("confirmed", &[]).is_err());
    }

    #[test]
    fn scan_times_may_run_a_little_ahead_and_be_up_to_a_week_old() {
        let now = Timestamp::from_millis(1_000_000_000_000);
        let at = |delta: i64| Timestamp::from_millis(now.as_millis() + delta);
        assert!(check_scanned_at(now, now).is_ok());
        assert!(check_scanned_at(now, at(MAX_CLOCK_SKEW_MS)).is_ok());
        let ahead = check_scanned_at(now, at(MAX_CLOCK_SKEW_MS + 1)).unwrap_err();
        assert!(ahead.contains("ahead of the server's clock"), "{ahead}");
        assert!(check_scanned_at(now, at(-MAX_SCAN_AGE_MS)).is_ok());
        let old = check_scanned_at(now, at(-MAX_SCAN_AGE_MS - 1)).unwrap_err();
        assert!(old.contains("more than 7 days before"), "{old}");
    }

    #[test]
    fn scanner_names_are_printable_and_short() {
        assert_eq!(ScannerId::parse(" door-1 ").unwrap().as_str(), "door-1");
        for bad in ["", "   ", "door\n1", &"x".repeat(65)] {
            assert!(ScannerId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
