//! Price rules: what moves a seat's price before offers apply, where each rule applies,
//! and the bounds it keeps the price within.

use std::collections::BTreeMap;

use chrono::NaiveTime;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    ids::{CityId, TheatreId},
    inventory::model::SeatCategory,
    money::Money,
};

/// A day of the week, as the show's local date falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl From<chrono::Weekday> for Day {
    fn from(day: chrono::Weekday) -> Self {
        match day {
            chrono::Weekday::Mon => Day::Mon,
            chrono::Weekday::Tue => Day::Tue,
            chrono::Weekday::Wed => Day::Wed,
            chrono::Weekday::Thu => Day::Thu,
            chrono::Weekday::Fri => Day::Fri,
            chrono::Weekday::Sat => Day::Sat,
            chrono::Weekday::Sun => Day::Sun,
        }
    }
}

/// One step of a demand rule: from this occupancy of the show (basis points of its seats
/// sold or held, inclusive) upwards, until the next step's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DemandTier {
    /// 0 to 10,000 (basis points: 8,000 = 80% of the seats sold or held).
    pub from_occupancy_bp: u32,
    /// Signed basis points of the current price: 2,000 = +20%, -1,500 = -15%.
    pub percent_bp: i32,
}

/// What a rule looks at. Every kind moves the price by signed basis points of the price
/// it is applied to; new kinds are new variants with their rank in `stacking_rank`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleKind {
    /// Shows whose local date falls on one of `days` (weekend: `["sat", "sun"]`).
    DayOfWeek { days: Vec<Day>, percent_bp: i32 },
    /// Shows whose local date is a public holiday in the theatre's country (the
    /// platform's holiday calendars).
    Holiday { percent_bp: i32 },
    /// Shows whose local start time is in `[from, until)`; a band with `from` after
    /// `until` wraps past midnight (22:00-02:00).
    TimeBand {
        from: NaiveTime,
        until: NaiveTime,
        percent_bp: i32,
    },
    /// Shows in one of `formats` (`IMAX`, `3D`; compared without regard to case).
    Format {
        formats: Vec<String>,
        percent_bp: i32,
    },
    /// By the show's occupancy: the tier with the highest `from_occupancy_bp` at or below
    /// it applies (tiers ascending).
    Demand { tiers: Vec<DemandTier> },
}

impl RuleKind {
    /// Rules stack in this order: calendar (day of week, then holidays), time band,
    /// format, demand last — so a demand rule's floor and cap bound the final price.
    pub fn stacking_rank(&self) -> u8 {
        match self {
            RuleKind::DayOfWeek { .. } => 0,
            RuleKind::Holiday { .. } => 1,
            RuleKind::TimeBand { .. } => 2,
            RuleKind::Format { .. } => 3,
            RuleKind::Demand { .. } => 4,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            RuleKind::DayOfWeek { .. } => "day_of_week",
            RuleKind::Holiday { .. } => "holiday",
            RuleKind::TimeBand { .. } => "time_band",
            RuleKind::Format { .. } => "format",
            RuleKind::Demand { .. } => "demand",
        }
    }
}

/// The lowest and highest price (minor units of the show's currency) a rule leaves a seat
/// of one category at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    pub floor: Option<i64>,
    pub cap: Option<i64>,
}

impl Bounds {
    /// `amount` brought within the bounds (the cap wins should they cross, which
    /// validation refuses).
    pub fn clamp(self, amount: i64) -> i64 {
        let floored = self.floor.map_or(amount, |floor| amount.max(floor));
        self.cap.map_or(floored, |cap| floored.min(cap))
    }
}

/// Where a rule applies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleScope {
    /// The owning organisation: its shows only. `None`: a platform rule.
    pub org_id: Option<String>,
    /// Only shows at these theatres (empty: every theatre in scope).
    pub theatres: Vec<TheatreId>,
    /// Platform rules only: only shows in these cities (empty with `theatres` empty:
    /// everywhere; otherwise either match is enough).
    pub cities: Vec<CityId>,
}

/// Where a show is, as the rules' scopes see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShowPlace<'a> {
    pub org_id: &'a str,
    pub theatre_id: &'a str,
    pub city_id: &'a str,
}

impl RuleScope {
    pub fn covers(&self, place: &ShowPlace<'_>) -> bool {
        let at_theatre = self.theatres.iter().any(|t| t.as_str() == place.theatre_id);
        match &self.org_id {
            Some(org) => org == place.org_id && (self.theatres.is_empty() || at_theatre),
            None => {
                (self.theatres.is_empty() && self.cities.is_empty())
                    || at_theatre
                    || self.cities.iter().any(|c| c.as_str() == place.city_id)
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceRule {
    pub id: String,
    pub name: String,
    pub kind: RuleKind,
    /// Seat categories it moves (empty: every one).
    pub categories: Vec<SeatCategory>,
    pub bounds: BTreeMap<SeatCategory, Bounds>,
    pub scope: RuleScope,
    /// Rules are switched off rather than lost; inactive rules never apply.
    pub active: bool,
}

/// A rule's effect on one seat, as the quote lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AppliedRule {
    pub rule_id: String,
    pub rule_name: String,
    /// `day_of_week`, `holiday`, `time_band`, `format` or `demand`.
    pub kind: String,
    /// What it added (negative: took off), after its floor and cap.
    pub amount: Money,
}
