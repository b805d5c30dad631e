//! Reports over the bookings as they are now: a partner's bookings across its organisation,
//! its occupancy and revenue per show, screen, theatre or day, and the platform's figures
//! for administrators. (`settlement::reports` sums settled days instead.)
//!
//! `store` reads one row of figures per show; choosing the shows of a range of local dates
//! (each in its own city's timezone), grouping them and adding them up are the plain
//! functions here.

pub mod routes;
pub mod store;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use crate::time::{Timestamp, parse_date, parse_tz};

/// What can go wrong in a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A filter or parameter the client got wrong (422).
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Internal(String),
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

/// The longest range of dates one report covers.
pub const MAX_DAYS: i64 = 366;

/// Milliseconds of a quarter hour: every timezone's offset is a whole number of them, so
/// every instant of a quarter falls on the same local date.
pub const QUARTER_MS: i64 = 15 * 60 * 1_000;

/// What a report's rows are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dimension {
    Show,
    Screen,
    Theatre,
    City,
    Movie,
    /// The show's local date (for holds: the local date they were made).
    Day,
}

/// What a partner's sales report may be grouped by.
pub const PARTNER_DIMENSIONS: [Dimension; 4] = [
    Dimension::Show,
    Dimension::Screen,
    Dimension::Theatre,
    Dimension::Day,
];

/// What the platform report may be grouped by.
pub const PLATFORM_DIMENSIONS: [Dimension; 4] = [
    Dimension::City,
    Dimension::Theatre,
    Dimension::Movie,
    Dimension::Day,
];

impl Dimension {
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Show => "show",
            Dimension::Screen => "screen",
            Dimension::Theatre => "theatre",
            Dimension::City => "city",
            Dimension::Movie => "movie",
            Dimension::Day => "day",
        }
    }

    /// `text` if it names one of `allowed`; `day` when absent. Pure.
    pub fn parse(text: Option<&str>, allowed: &[Dimension]) -> Result<Self, ReportError> {
        let Some(text) = text else {
            return Ok(Dimension::Day);
        };
        allowed
            .iter()
            .copied()
            .find(|d| d.as_str() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = allowed.iter().map(|d| d.as_str()).collect();
                ReportError::Invalid(format!(
                    "group_by must be one of {}, not {text:?}",
                    names.join(", ")
                ))
            })
    }
}

/// JSON or CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

impl Format {
    /// `json` (also when absent) or `csv`. Pure.
    pub fn parse(text: Option<&str>) -> Result<Self, ReportError> {
        match text {
            None | Some("json") => Ok(Format::Json),
            Some("csv") => Ok(Format::Csv),
            Some(other) => Err(ReportError::Invalid(format!(
                "format must be json or csv, not {other:?}"
            ))),
        }
    }
}

/// An inclusive range of local calendar dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DateRange {
    /// `from` and `to` as `YYYY-MM-DD`, `to` not before `from` and at most `MAX_DAYS`
    /// after it. Pure.
    pub fn parse(from: &str, to: &str) -> Result<Self, ReportError> {
        let invalid = |why: String| ReportError::Invalid(why);
        let from_date = parse_date(from)
            .ok_or_else(|| invalid(format!("from {from:?} is not a YYYY-MM-DD date")))?;
        let to_date =
            parse_date(to).ok_or_else(|| invalid(format!("to {to:?} is not a YYYY-MM-DD date")))?;
        if to_date < from_date || (to_date - from_date).num_days() > MAX_DAYS {
            return Err(invalid(format!(
                "to must be on or after from, and at most {MAX_DAYS} days later"
            )));
        }
        Ok(Self {
            from: from_date,
            to: to_date,
        })
    }

    pub fn contains(&self, date: NaiveDate) -> bool {
        self.from <= date && date <= self.to
    }

    /// A UTC interval `[start, end)` in milliseconds holding every instant that falls on
    /// one of the dates in some timezone (offsets run from −12 to +14 hours; a day of
    /// margin on each side). The store reads this window; `contains` then decides. Pure.
    pub fn utc_window(&self) -> (i64, i64) {
        let day = 86_400_000;
        let midnight = |d: NaiveDate| d.and_time(chrono::NaiveTime::MIN).and_utc();
        (
            midnight(self.from).timestamp_millis() - day,
            midnight(self.to).timestamp_millis() + 2 * day,
        )
    }
}

/// Where a show is and when it starts: what a report groups it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShowFacts {
    pub show_id: String,
    pub screen_id: String,
    pub screen_name: String,
    pub theatre_id: String,
    pub theatre_name: String,
    pub city_id: String,
    pub city_name: String,
    /// The city's IANA timezone.
    pub timezone: String,
    pub movie_id: String,
    pub movie_title: String,
    /// UTC milliseconds.
    pub starts_at: i64,
    pub currency: String,
    pub cancelled: bool,
}

impl ShowFacts {
    /// The local date of `instant` (UTC ms) in the show's city.
    pub fn local_date_of(&self, instant: i64) -> NaiveDate {
        Timestamp::from_millis(instant).local_date(parse_tz(&self.timezone))
    }

    /// The group's key and name for `dimension`; `day` is the date the row counts on.
    fn group(&self, dimension: Dimension, day: NaiveDate) -> (String, String) {
        match dimension {
            Dimension::Show => (
                self.show_id.clone(),
                format!(
                    "{}, {}, {}",
                    self.movie_title,
                    self.theatre_name,
                    Timestamp::from_millis(self.starts_at)
                        .to_local_rfc3339(parse_tz(&self.timezone))
                ),
            ),
            Dimension::Screen => (
                self.screen_id.clone(),
                format!("{}, {}", self.theatre_name, self.screen_name),
            ),
            Dimension::Theatre => (self.theatre_id.clone(), self.theatre_name.clone()),
            Dimension::City => (self.city_id.clone(), self.city_name.clone()),
            Dimension::Movie => (self.movie_id.clone(), self.movie_title.clone()),
            Dimension::Day => (day.to_string(), day.to_string()),
        }
    }
}

/// One show's figures, in minor units of its currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShowFigures {
    /// Seats of the show (its `show_seats` rows).
    pub capacity: i64,
    /// Seats sold now: confirmed bookings' seats and box-office sales.
    pub seats_sold: i64,
    /// Of which sold at the theatre's counter.
    pub counter_seats: i64,
    /// Bookings that were confirmed (paid), whatever happened to them later.
    pub bookings_confirmed: i64,
    /// Of which cancelled since.
    pub bookings_cancelled: i64,
    /// What customers paid for the confirmed bookings, fees included.
    pub revenue: i64,
    /// Of which convenience fees.
    pub fees: i64,
    /// Refunds made: cancellations that gave money back and the staff's refunds.
    pub refunds_count: i64,
    /// What those refunds gave back, fees included.
    pub refunds_amount: i64,
    /// The tickets' part of it.
    pub refunds_ticket: i64,
    /// Disputes lost (chargebacks).
    pub chargebacks_count: i64,
    pub chargebacks_amount: i64,
    /// The tickets' part of the lost disputes.
    pub chargebacks_ticket: i64,
}

impl ShowFigures {
    fn add(&mut self, other: &ShowFigures) {
        self.capacity += other.capacity;
        self.seats_sold += other.seats_sold;
        self.counter_seats += other.counter_seats;
        self.bookings_confirmed += other.bookings_confirmed;
        self.bookings_cancelled += other.bookings_cancelled;
        self.revenue += other.revenue;
        self.fees += other.fees;
        self.refunds_count += other.refunds_count;
        self.refunds_amount += other.refunds_amount;
        self.refunds_ticket += other.refunds_ticket;
        self.chargebacks_count += other.chargebacks_count;
        self.chargebacks_amount += other.chargebacks_amount;
        self.chargebacks_ticket += other.chargebacks_ticket;
    }

    /// The tickets' part of the revenue: the partner's gross.
    pub fn gross(&self) -> i64 {
        self.revenue - self.fees
    }
}

/// A show with its figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShowRow {
    pub facts: ShowFacts,
    pub figures: ShowFigures,
}

/// Bookings made in one quarter hour for one show (how many holds, how many of them were
/// confirmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldCount {
    pub facts: ShowFacts,
    /// The quarter's first instant, UTC ms (a multiple of `QUARTER_MS`).
    pub quarter_start: i64,
    pub holds: i64,
    pub confirmed: i64,
}

/// `part / whole` in basis points (10 000 = all), rounded half up; 0 when `whole` is 0.
/// Pure.
pub fn basis_points(part: i64, whole: i64) -> i64 {
    if whole <= 0 {
        return 0;
    }
    let scaled = i128::from(part.max(0)) * 10_000 * 2 + i128::from(whole);
    i64::try_from(scaled / (2 * i128::from(whole))).unwrap_or(i64::MAX)
}

/// One group of a partner's sales report, in one currency (minor units).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SalesRow {
    /// The show, screen or theatre id, or the local date (`YYYY-MM-DD`).
    pub key: String,
    /// Its name: movie, theatre and local start for a show; theatre and screen for a
    /// screen; the date again for a day.
    pub name: String,
    pub currency: String,
    /// Shows that start in the range and are not cancelled.
    pub shows: i64,
    /// Cancelled shows in the range (their seats are not in `capacity`).
    pub shows_cancelled: i64,
    /// Seats of the shows that are not cancelled.
    pub capacity: i64,
    /// Seats sold: confirmed bookings' seats and box-office sales.
    pub seats_sold: i64,
    /// Of which sold at the theatre's counter.
    pub counter_seats: i64,
    /// `seats_sold / capacity` in basis points (10 000 = full), rounded half up.
    pub occupancy_bp: i64,
    /// Bookings confirmed (paid), including those cancelled since.
    pub bookings_confirmed: i64,
    /// Confirmed bookings cancelled since.
    pub bookings_cancelled: i64,
    /// The tickets' part (fees excluded) of the confirmed bookings.
    pub gross: i64,
    /// Refunds made: cancellations with a refund, and the staff's refunds.
    pub refunds_count: i64,
    /// The tickets' part of those refunds.
    pub refunds: i64,
    /// Disputes lost.
    pub chargebacks_count: i64,
    /// The tickets' part of the lost disputes.
    pub chargebacks: i64,
    /// `gross - refunds - chargebacks`.
    pub net: i64,
}

/// A partner's sales report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SalesReport {
    pub from: String,
    pub to: String,
    pub group_by: String,
    /// Ordered by key, then currency.
    pub rows: Vec<SalesRow>,
}

/// One group of the platform report, in one currency (minor units).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PlatformRow {
    /// The city, theatre or movie id, or the local date (`YYYY-MM-DD`).
    pub key: String,
    pub name: String,
    pub currency: String,
    /// Shows that start in the range and are not cancelled.
    pub shows: i64,
    pub capacity: i64,
    pub seats_sold: i64,
    /// `seats_sold / capacity` in basis points, rounded half up.
    pub occupancy_bp: i64,
    /// Bookings of those shows confirmed (paid), including those cancelled since.
    pub bookings_confirmed: i64,
    /// What customers paid for them, fees included.
    pub revenue: i64,
    /// Of which convenience fees.
    pub fees: i64,
    /// Refunds made: cancellations with a refund and the staff's refunds.
    pub refunds_count: i64,
    /// What they gave back, fees included.
    pub refunds: i64,
    pub chargebacks_count: i64,
    /// Lost disputes, fees included.
    pub chargebacks: i64,
    /// Bookings (holds) made in the range, whatever their show's date.
    pub holds: i64,
    /// Of which confirmed.
    pub holds_confirmed: i64,
    /// `holds_confirmed / holds` in basis points, rounded half up.
    pub conversion_bp: i64,
}

/// The platform report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlatformReport {
    pub from: String,
    pub to: String,
    pub group_by: String,
    /// Ordered by key, then currency.
    pub rows: Vec<PlatformRow>,
}

/// What one group adds up.
#[derive(Debug, Clone, Default)]
struct Sums {
    name: String,
    shows: i64,
    shows_cancelled: i64,
    figures: ShowFigures,
    holds: i64,
    holds_confirmed: i64,
}

type Groups = BTreeMap<(String, String), Sums>;

/// Adds the shows starting on a date of `range` (local to each) to their groups.
fn add_shows(groups: &mut Groups, shows: &[ShowRow], range: &DateRange, dimension: Dimension) {
    for show in shows {
        let day = show.facts.local_date_of(show.facts.starts_at);
        if !range.contains(day) {
            continue;
        }
        let (key, name) = show.facts.group(dimension, day);
        let sums = groups
            .entry((key, show.facts.currency.clone()))
            .or_default();
        sums.name = name;
        let mut figures = show.figures;
        if show.facts.cancelled {
            sums.shows_cancelled += 1;
            figures.capacity = 0;
            figures.seats_sold = 0;
            figures.counter_seats = 0;
        } else {
            sums.shows += 1;
        }
        sums.figures.add(&figures);
    }
}

/// A partner's sales report from its shows' rows: the shows starting on a date of
/// `range` in their own city's timezone, grouped by `dimension` and currency. Pure.
pub fn sales_report(shows: &[ShowRow], range: &DateRange, dimension: Dimension) -> SalesReport {
    let mut groups = Groups::new();
    add_shows(&mut groups, shows, range, dimension);
    let rows = groups
        .into_iter()
        .map(|((key, currency), s)| {
            let f = s.figures;
            SalesRow {
                key,
                name: s.name,
                currency,
                shows: s.shows,
                shows_cancelled: s.shows_cancelled,
                capacity: f.capacity,
                seats_sold: f.seats_sold,
                counter_seats: f.counter_seats,
                occupancy_bp: basis_points(f.seats_sold, f.capacity),
                bookings_confirmed: f.bookings_confirmed,
                bookings_cancelled: f.bookings_cancelled,
                gross: f.gross(),
                refunds_count: f.refunds_count,
                refunds: f.refunds_ticket,
                chargebacks_count: f.chargebacks_count,
                chargebacks: f.chargebacks_ticket,
                net: f.gross() - f.refunds_ticket - f.chargebacks_ticket,
            }
        })
        .collect();
    SalesReport {
        from: range.from.to_string(),
        to: range.to.to_string(),
        group_by: dimension.as_str().to_owned(),
        rows,
    }
}

/// The platform report: the shows' figures as in `sales_report`, and the holds made on a
/// date of `range` (local to the show's city) with how many became bookings. Pure.
pub fn platform_report(
    shows: &[ShowRow],
    holds: &[HoldCount],
    range: &DateRange,
    dimension: Dimension,
) -> PlatformReport {
    let mut groups = Groups::new();
    add_shows(&mut groups, shows, range, dimension);
    for count in holds {
        let day = count.facts.local_date_of(count.quarter_start);
        if !range.contains(day) {
            continue;
        }
        let (key, name) = count.facts.group(dimension, day);
        let sums = groups
            .entry((key, count.facts.currency.clone()))
            .or_default();
        sums.name = name;
        sums.holds += count.holds;
        sums.holds_confirmed += count.confirmed;
    }
    let rows = groups
        .into_iter()
        .map(|((key, currency), s)| {
            let f = s.figures;
            PlatformRow {
                key,
                name: s.name,
                currency,
                shows: s.shows,
                capacity: f.capacity,
                seats_sold: f.seats_sold,
                occupancy_bp: basis_points(f.seats_sold, f.capacity),
                bookings_confirmed: f.bookings_confirmed,
                revenue: f.revenue,
                fees: f.fees,
                refunds_count: f.refunds_count,
                refunds: f.refunds_amount,
                chargebacks_count: f.chargebacks_count,
                chargebacks: f.chargebacks_amount,
                holds: s.holds,
                holds_confirmed: s.holds_confirmed,
                conversion_bp: basis_points(s.holds_confirmed, s.holds),
            }
        })
        .collect();
    PlatformReport {
        from: range.from.to_string(),
        to: range.to.to_string(),
        group_by: dimension.as_str().to_owned(),
        rows,
    }
}

/// A CSV document: a header row, then the rows.
fn csv_of(
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<Vec<u8>, ReportError> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let failed = |e: csv::Error| ReportError::Internal(e.to_string());
    out.write_record(header).map_err(failed)?;
    for row in rows {
        out.write_record(&row).map_err(failed)?;
    }
    out.into_inner()
        .map_err(|e| ReportError::Internal(e.to_string()))
}

/// The sales report as CSV; the first column is named after the grouping. Pure.
pub fn sales_csv(report: &SalesReport) -> Result<Vec<u8>, ReportError> {
    csv_of(
        &[
            &report.group_by,
            "name",
            "currency",
            "shows",
            "shows_cancelled",
            "capacity",
            "seats_sold",
            "counter_seats",
            "occupancy_bp",
            "bookings_confirmed",
            "bookings_cancelled",
            "gross",
            "refunds_count",
            "refunds",
            "chargebacks_count",
            "chargebacks",
            "net",
        ],
        report.rows.iter().map(|r| {
            let numbers = [
                r.shows,
                r.shows_cancelled,
                r.capacity,
                r.seats_sold,
                r.counter_seats,
                r.occupancy_bp,
                r.bookings_confirmed,
                r.bookings_cancelled,
                r.gross,
                r.refunds_count,
                r.refunds,
                r.chargebacks_count,
                r.chargebacks,
                r.net,
            ];
            [r.key.clone(), r.name.clone(), r.currency.clone()]
                .into_iter()
                .chain(numbers.iter().map(i64::to_string))
                .collect()
        }),
    )
}

/// The platform report as CSV; the first column is named after the grouping. Pure.
pub fn platform_csv(report: &PlatformReport) -> Result<Vec<u8>, ReportError> {
    csv_of(
        &[
            &report.group_by,
            "name",
            "currency",
            "shows",
            "capacity",
            "seats_sold",
            "occupancy_bp",
            "bookings_confirmed",
            "revenue",
            "fees",
            "refunds_count",
            "refunds",
            "chargebacks_count",
            "chargebacks",
            "holds",
            "holds_confirmed",
            "conversion_bp",
        ],
        report.rows.iter().map(|r| {
            let numbers = [
                r.shows,
                r.capacity,
                r.seats_sold,
                r.occupancy_bp,
                r.bookings_confirmed,
                r.revenue,
                r.fees,
                r.refunds_count,
                r.refunds,
                r.chargebacks_count,
                r.chargebacks,
                r.holds,
                r.holds_confirmed,
                r.conversion_bp,
            ];
            [r.key.clone(), r.name.clone(), r.currency.clone()]
                .into_iter()
                .chain(numbers.iter().map(i64::to_string))
                .collect()
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        parse_date(text).unwrap()
    }

    fn ms(rfc3339: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .timestamp_millis()
    }

    fn facts(show: &str, theatre: &str, city_tz: &str, starts: &str, currency: &str) -> ShowFacts {
        ShowFacts {
            show_id: show.into(),
            screen_id: format!("scr_{theatre}"),
            screen_name: "Screen 1".into(),
            theatre_id: format!("thr_{theatre}"),
            theatre_name: theatre.into(),
            city_id: format!("cty_{city_tz}"),
            city_name: city_tz.into(),
            timezone: city_tz.into(),
            movie_id: "mov_alpha".into(),
            movie_title: "Alpha".into(),
            starts_at: ms(starts),
            currency: currency.into(),
            cancelled: false,
        }
    }

    /// A show of ten seats with `bookings` bookings of one ₹150 seat each (₹7.50 fee),
    /// `cancelled` of them cancelled by their customer (the ticket refunded).
    fn show(facts: ShowFacts, bookings: i64, cancelled: i64) -> ShowRow {
        ShowRow {
            facts,
            figures: ShowFigures {
                capacity: 10,
                seats_sold: bookings - cancelled,
                bookings_confirmed: bookings,
                bookings_cancelled: cancelled,
                revenue: 15_750 * bookings,
                fees: 750 * bookings,
                refunds_count: cancelled,
                refunds_amount: 15_000 * cancelled,
                refunds_ticket: 15_000 * cancelled,
                ..ShowFigures::default()
            },
        }
    }

    fn range(from: &str, to: &str) -> DateRange {
        DateRange::parse(from, to).unwrap()
    }

    #[test]
    fn basis_points_round_half_up_and_never_divide_by_zero() {
        assert_eq!(basis_points(3, 4), 7_500);
        assert_eq!(basis_points(2, 10), 2_000);
        assert_eq!(basis_points(1, 3), 3_333);
        assert_eq!(basis_points(2, 3), 6_667);
        assert_eq!(basis_points(1, 20_000), 1); // 0.5 bp rounds up
        assert_eq!(basis_points(5, 0), 0);
        assert_eq!(basis_points(10, 10), 10_000);
    }

    #[test]
    fn ranges_are_checked() {
        assert_eq!(range("2026-11-01", "2026-11-30").to, date("2026-11-30"));
        assert!(DateRange::parse("2026-11-30", "2026-11-01").is_err());
        assert!(DateRange::parse("2026-11-1", "2026-11-30").is_err());
        assert!(DateRange::parse("2025-01-01", "2026-11-30").is_err());
        assert!(DateRange::parse("2026-01-01", "2027-01-01").is_ok()); // 365 days
    }

    #[test]
    fn the_window_holds_every_timezone_of_the_dates() {
        let r = range("2026-11-22", "2026-11-22");
        let (start, end) = r.utc_window();
        // 00:00 on the 22nd in Kiritimati (+14) and 23:59 in Baker Island (−12).
        assert!(start <= ms("2026-11-21T10:00:00Z"));
        assert!(end > ms("2026-11-23T11:59:59Z"));
    }

    #[test]
    fn dimensions_are_limited_to_those_allowed() {
        assert_eq!(
            Dimension::parse(None, &PARTNER_DIMENSIONS).unwrap(),
            Dimension::Day
        );
        assert_eq!(
            Dimension::parse(Some("screen"), &PARTNER_DIMENSIONS).unwrap(),
            Dimension::Screen
        );
        assert!(Dimension::parse(Some("city"), &PARTNER_DIMENSIONS).is_err());
        assert!(Dimension::parse(Some("show"), &PLATFORM_DIMENSIONS).is_err());
        assert!(Format::parse(Some("xml")).is_err());
        assert_eq!(Format::parse(None).unwrap(), Format::Json);
    }

    #[test]
    fn a_show_counts_on_its_local_date() {
        // 22 Nov 00:15 in Kolkata is still 21 Nov in UTC.
        let midnight = facts(
            "shw_m",
            "Aurora",
            "Asia/Kolkata",
            "2026-11-21T18:45:00Z",
            "INR",
        );
        let report = sales_report(
            &[show(midnight.clone(), 1, 0)],
            &range("2026-11-22", "2026-11-22"),
            Dimension::Day,
        );
        assert_eq!(report.rows.len(), 1);
        assert_eq!(report.rows[0].key, "2026-11-22");
        let earlier = sales_report(
            &[show(midnight, 1, 0)],
            &range("2026-11-21", "2026-11-21"),
            Dimension::Day,
        );
        assert!(earlier.rows.is_empty());
    }

    #[test]
    fn sales_add_up_per_group_and_currency() {
        let shows = [
            show(
                facts(
                    "shw_1",
                    "Aurora",
                    "Asia/Kolkata",
                    "2026-11-22T06:30:00Z",
                    "INR",
                ),
                3,
                1,
            ),
            show(
                facts(
                    "shw_2",
                    "Aurora",
                    "Asia/Kolkata",
                    "2026-11-22T12:30:00Z",
                    "INR",
                ),
                1,
                0,
            ),
            show(
                facts(
                    "shw_3",
                    "Rialto",
                    "America/Los_Angeles",
                    "2026-11-22T05:00:00Z",
                    "USD",
                ),
                2,
                0,
            ),
        ];
        let by_theatre = sales_report(
            &shows,
            &range("2026-11-21", "2026-11-22"),
            Dimension::Theatre,
        );
        let aurora = &by_theatre.rows[0];
        assert_eq!(aurora.key, "thr_Aurora");
        assert_eq!(aurora.shows, 2);
        assert_eq!(aurora.capacity, 20);
        assert_eq!(aurora.seats_sold, 3);
        assert_eq!(aurora.occupancy_bp, 1_500);
        assert_eq!(aurora.bookings_confirmed, 4);
        assert_eq!(aurora.gross, 60_000);
        assert_eq!(aurora.refunds, 15_000);
        assert_eq!(aurora.net, 45_000);
        let rialto = &by_theatre.rows[1];
        assert_eq!(
            (rialto.key.as_str(), rialto.currency.as_str()),
            ("thr_Rialto", "USD")
        );

        // By day: the Rialto show is on the 21st in Los Angeles.
        let by_day = sales_report(&shows, &range("2026-11-21", "2026-11-22"), Dimension::Day);
        let keys: Vec<(&str, &str)> = by_day
            .rows
            .iter()
            .map(|r| (r.key.as_str(), r.currency.as_str()))
            .collect();
        assert_eq!(keys, [("2026-11-21", "USD"), ("2026-11-22", "INR")]);
    }

    #[test]
    fn staff_refunds_and_lost_disputes_come_off_the_net() {
        let mut row = show(
            facts(
                "shw_1",
                "Aurora",
                "Asia/Kolkata",
                "2026-11-22T06:30:00Z",
                "INR",
            ),
            2,
            0,
        );
        // A staff refund of one seat with its fee, and a lost dispute of the other booking.
        row.figures.refunds_count += 1;
        row.figures.refunds_amount += 15_750;
        row.figures.refunds_ticket += 15_000;
        row.figures.chargebacks_count = 1;
        row.figures.chargebacks_amount = 15_750;
        row.figures.chargebacks_ticket = 15_000;
        let report = sales_report(
            std::slice::from_ref(&row),
            &range("2026-11-22", "2026-11-22"),
            Dimension::Show,
        );
        let r = &report.rows[0];
        assert_eq!(r.gross, 30_000);
        assert_eq!((r.refunds_count, r.refunds), (1, 15_000));
        assert_eq!((r.chargebacks_count, r.chargebacks), (1, 15_000));
        assert_eq!(r.net, 0);
        assert_eq!(r.name, "Alpha, Aurora, 2026-11-22T12:00:00+05:30");
        let platform = platform_report(
            &[row],
            &[],
            &range("2026-11-22", "2026-11-22"),
            Dimension::City,
        );
        let p = &platform.rows[0];
        assert_eq!((p.revenue, p.fees), (31_500, 1_500));
        assert_eq!((p.refunds_count, p.refunds), (1, 15_750));
        assert_eq!(p.chargebacks, 15_750);
    }

    #[test]
    fn a_cancelled_show_keeps_its_money_but_not_its_seats() {
        let mut cancelled = show(
            facts(
                "shw_x",
                "Aurora",
                "Asia/Kolkata",
                "2026-11-22T06:30:00Z",
                "INR",
            ),
            1,
            1,
        );
        cancelled.facts.cancelled = true;
        cancelled.figures.refunds_amount = 15_750;
        let report = sales_report(
            &[cancelled],
            &range("2026-11-22", "2026-11-22"),
            Dimension::Day,
        );
        let r = &report.rows[0];
        assert_eq!((r.shows, r.shows_cancelled, r.capacity), (0, 1, 0));
        assert_eq!(r.occupancy_bp, 0);
        assert_eq!((r.gross, r.refunds, r.net), (15_000, 15_000, 0));
    }

    #[test]
    fn conversion_counts_holds_on_the_local_date_they_were_made() {
        let f = facts(
            "shw_1",
            "Aurora",
            "Asia/Kolkata",
            "2026-11-25T06:30:00Z",
            "INR",
        );
        let holds = [
            // 22 Nov 05:15 in Kolkata.
            HoldCount {
                facts: f.clone(),
                quarter_start: ms("2026-11-21T23:45:00Z"),
                holds: 3,
                confirmed: 2,
            },
            HoldCount {
                facts: f.clone(),
                quarter_start: ms("2026-11-22T06:00:00Z"),
                holds: 1,
                confirmed: 1,
            },
            // 23 Nov in Kolkata: outside.
            HoldCount {
                facts: f,
                quarter_start: ms("2026-11-22T18:30:00Z"),
                holds: 5,
                confirmed: 0,
            },
        ];
        let report = platform_report(
            &[],
            &holds,
            &range("2026-11-22", "2026-11-22"),
            Dimension::Day,
        );
        assert_eq!(report.rows.len(), 1);
        let r = &report.rows[0];
        assert_eq!(
            (r.key.as_str(), r.holds, r.holds_confirmed),
            ("2026-11-22", 4, 3)
        );
        assert_eq!(r.conversion_bp, 7_500);
        // The show itself is on the 25th: no show figures on the 22nd.
        assert_eq!((r.shows, r.capacity), (0, 0));
    }

    #[test]
    fn csv_has_a_header_named_after_the_grouping() {
        let report = sales_report(
            &[show(
                facts(
                    "shw_1",
                    "Aurora, Main",
                    "Asia/Kolkata",
                    "2026-11-22T06:30:00Z",
                    "INR",
                ),
                3,
                1,
            )],
            &range("2026-11-22", "2026-11-22"),
            Dimension::Theatre,
        );
        let text = String::from_utf8(sales_csv(&report).unwrap()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "theatre,name,currency,shows,shows_cancelled,capacity,seats_sold,counter_seats,\
             occupancy_bp,bookings_confirmed,bookings_cancelled,gross,refunds_count,refunds,\
             chargebacks_count,chargebacks,net"
        );
        assert_eq!(
            lines[1],
            "\"thr_Aurora, Main\",\"Aurora, Main\",INR,1,0,10,2,0,2000,3,1,45000,1,15000,0,0,30000"
        );
        let platform = platform_report(
            &[],
            &[],
            &range("2026-11-22", "2026-11-22"),
            Dimension::Movie,
        );
        let text = String::from_utf8(platform_csv(&platform).unwrap()).unwrap();
        assert!(text.starts_with("movie,name,currency,shows,"));
        assert_eq!(text.lines().count(), 1);
    }
}
