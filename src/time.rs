//! Instants and local dates. Instants are stored as UTC milliseconds since the Unix epoch on
//! both engines (one comparison semantics for `held_until < now`); they are shown in UTC and
//! in the theatre's own timezone. A "date" in the API is always a city's local calendar date.

use std::fmt;

use chrono::{DateTime, Days, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Serialize, Serializer};

/// A UTC instant with millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    pub fn from_datetime(at: DateTime<Utc>) -> Self {
        Self(at.timestamp_millis())
    }

    pub const fn as_millis(self) -> i64 {
        self.0
    }

    pub fn to_utc(self) -> DateTime<Utc> {
        // Out-of-range values cannot come from our own writes; clamp rather than panic.
        DateTime::from_timestamp_millis(self.0).unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    pub fn plus_minutes(self, minutes: i64) -> Self {
        Self(self.0.saturating_add(minutes.saturating_mul(60_000)))
    }

    /// RFC 3339 in UTC, `2026-11-22T08:30:00Z`.
    pub fn to_rfc3339(self) -> String {
        self.to_utc()
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    }

    /// RFC 3339 with the zone's offset, `2026-11-22T14:00:00+05:30`.
    pub fn to_local_rfc3339(self, tz: Tz) -> String {
        self.to_utc()
            .with_timezone(&tz)
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
    }

    pub fn local_date(self, tz: Tz) -> NaiveDate {
        self.to_utc().with_timezone(&tz).date_naive()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

/// The half-open UTC interval `[start, end)` of one local calendar day in `tz`.
///
/// Days are 23, 24 or 25 hours long around DST changes; a day whose midnight does not exist
/// (some zones move clocks at 00:00) starts at the first local instant that does.
pub fn local_day_bounds(date: NaiveDate, tz: Tz) -> (Timestamp, Timestamp) {
    let next = date.checked_add_days(Days::new(1)).unwrap_or(date);
    (start_of_local_day(date, tz), start_of_local_day(next, tz))
}

fn start_of_local_day(date: NaiveDate, tz: Tz) -> Timestamp {
    // Walk forward in 15-minute steps over a DST gap; gaps are at most a few hours.
    for quarter in 0..(4 * 6) {
        let time = NaiveTime::MIN + chrono::Duration::minutes(15 * quarter);
        match tz.from_local_datetime(&date.and_time(time)) {
            LocalResult::Single(at) => return Timestamp::from_datetime(at.with_timezone(&Utc)),
            LocalResult::Ambiguous(earliest, _) => {
                return Timestamp::from_datetime(earliest.with_timezone(&Utc));
            }
            LocalResult::None => continue,
        }
    }
    // Unreachable for real zones; fall back to the UTC midnight of the date.
    Timestamp::from_datetime(date.and_time(NaiveTime::MIN).and_utc())
}

/// Parses a timezone name as stored for a city. Stored names are validated on write, so a
/// failure here means a damaged row; UTC keeps the read path answering.
pub fn parse_tz(name: &str) -> Tz {
    name.parse().unwrap_or(Tz::UTC)
}

/// Parses an API date, `YYYY-MM-DD` exactly.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    if text.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(rfc3339: &str) -> Timestamp {
        Timestamp::from_datetime(DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc())
    }

    #[test]
    fn kolkata_day_starts_at_previous_utc_evening() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let (start, end) = local_day_bounds(date, chrono_tz::Asia::Kolkata);
        assert_eq!(start, ts("2026-11-21T18:30:00Z"));
        assert_eq!(end, ts("2026-11-22T18:30:00Z"));
    }

    #[test]
    fn london_days_around_dst_are_23_and_25_hours() {
        let spring = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        let (start, end) = local_day_bounds(spring, chrono_tz::Europe::London);
        assert_eq!(start, ts("2026-03-29T00:00:00Z"));
        assert_eq!(end.as_millis() - start.as_millis(), 23 * 3_600_000);

        let autumn = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap();
        let (start, end) = local_day_bounds(autumn, chrono_tz::Europe::London);
        assert_eq!(start, ts("2026-10-24T23:00:00Z"));
        assert_eq!(end.as_millis() - start.as_millis(), 25 * 3_600_000);
    }

    #[test]
    fn day_whose_midnight_is_skipped_starts_at_first_real_instant() {
        // Santiago moved clocks from 00:00 to 01:00 on 2026-09-06.
        let date = NaiveDate::from_ymd_opt(2026, 9, 6).unwrap();
        let (start, _) = local_day_bounds(date, chrono_tz::America::Santiago);
        assert_eq!(start, ts("2026-09-06T04:00:00Z"));
        assert_eq!(start.local_date(chrono_tz::America::Santiago), date);
    }

    #[test]
    fn renders_utc_and_local() {
        let at = ts("2026-11-22T08:30:00Z");
        assert_eq!(at.to_rfc3339(), "2026-11-22T08:30:00Z");
        assert_eq!(
            at.to_local_rfc3339(chrono_tz::Asia::Kolkata),
            "2026-11-22T14:00:00+05:30"
        );
    }

    #[test]
    fn dates_parse_strictly() {
        assert!(parse_date("2026-11-22").is_some());
        for bad in [
            "2026-2-3",
            "2026-13-01",
            "2026-02-30",
            "22-11-2026",
            "",
            "2026-11-22x",
        ] {
            assert!(parse_date(bad).is_none(), "{bad} should be refused");
        }
    }
}
