//! Managing price rules (partners their own, administrators the platform's) and the
//! holiday calendars; previews of a show's prices under its rules.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    model::{Bounds, PriceRule, RuleKind, RuleScope},
    store,
};
use crate::{
    app::AppState,
    catalog::{schedule::FORMATS, store as catalog_store},
    db::Db,
    ids::{CityId, TheatreId},
    inventory::model::SeatCategory,
    params,
};

/// Largest surcharge a rule may add in one step (+100%), and the largest discount
/// (-99.99%: a rule never makes a seat free by itself).
const MAX_PERCENT_BP: i32 = 10_000;
const MIN_PERCENT_BP: i32 = -9_999;
const MAX_TIERS: usize = 10;
const MAX_LIST: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum PricingError {
    #[error("{0}")]
    Invalid(String),
    #[error("price rule {0} not found")]
    NotFound(String),
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

fn yes() -> bool {
    true
}

/// A price rule as partners and administrators write it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceRuleRequest {
    /// 1 to 120 characters; shown in quotes.
    pub name: String,
    /// One of
    /// `{"kind": "day_of_week", "days": ["sat", "sun"], "percent_bp": 1000}`,
    /// `{"kind": "holiday", "percent_bp": 1500}`,
    /// `{"kind": "time_band", "from": "18:00:00", "until": "23:00:00", "percent_bp": 500}`,
    /// `{"kind": "format", "formats": ["IMAX", "3D"], "percent_bp": 2500}`,
    /// `{"kind": "demand", "tiers": [{"from_occupancy_bp": 0, "percent_bp": -1000},
    /// {"from_occupancy_bp": 8000, "percent_bp": 2000}]}`.
    /// Percentages are signed basis points of the current price (-9,999 to 10,000).
    #[schema(value_type = Object)]
    pub rule: RuleKind,
    /// Seat categories it moves; empty or absent: every one.
    #[serde(default)]
    pub categories: Vec<SeatCategory>,
    /// Only shows at these theatres (a partner's own); empty: every theatre in scope.
    #[serde(default)]
    pub theatre_ids: Vec<String>,
    /// Platform rules only: only shows in these cities.
    #[serde(default)]
    pub city_ids: Vec<String>,
    /// Per category, the lowest and highest price (minor units of the show's currency)
    /// this rule leaves a seat at, e.g. `{"regular": {"floor": 12000, "cap": 20000}}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub bounds: BTreeMap<SeatCategory, Bounds>,
    #[serde(default = "yes")]
    pub active: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PriceRuleView {
    pub id: String,
    /// The owning organisation; absent for a platform rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    pub name: String,
    #[schema(value_type = Object)]
    pub rule: RuleKind,
    pub categories: Vec<SeatCategory>,
    pub theatre_ids: Vec<String>,
    pub city_ids: Vec<String>,
    #[schema(value_type = Object)]
    pub bounds: BTreeMap<SeatCategory, Bounds>,
    pub active: bool,
}

pub fn view(rule: PriceRule) -> PriceRuleView {
    PriceRuleView {
        id: rule.id,
        org_id: rule.scope.org_id,
        name: rule.name,
        rule: rule.kind,
        categories: rule.categories,
        theatre_ids: rule
            .scope
            .theatres
            .into_iter()
            .map(|t| t.to_string())
            .collect(),
        city_ids: rule
            .scope
            .cities
            .into_iter()
            .map(|c| c.to_string())
            .collect(),
        bounds: rule.bounds,
        active: rule.active,
    }
}

fn invalid(message: impl Into<String>) -> PricingError {
    PricingError::Invalid(message.into())
}

fn check_percent(percent: i32) -> Result<(), PricingError> {
    if (MIN_PERCENT_BP..=MAX_PERCENT_BP).contains(&percent) {
        Ok(())
    } else {
        Err(invalid(format!(
            "percent_bp must be {MIN_PERCENT_BP} to {MAX_PERCENT_BP} (signed basis points: \
             -1000 = -10%, 2000 = +20%)"
        )))
    }
}

/// Checks the rule itself (not its scope). Pure.
pub fn check_kind(kind: &RuleKind) -> Result<RuleKind, PricingError> {
    match kind {
        RuleKind::DayOfWeek { days, percent_bp } => {
            check_percent(*percent_bp)?;
            let distinct: BTreeSet<_> = days.iter().copied().collect();
            if distinct.is_empty() || distinct.len() != days.len() {
                return Err(invalid("days must list one to seven distinct days"));
            }
            Ok(RuleKind::DayOfWeek {
                days: distinct.into_iter().collect(),
                percent_bp: *percent_bp,
            })
        }
        RuleKind::Holiday { percent_bp } => {
            check_percent(*percent_bp)?;
            Ok(kind.clone())
        }
        RuleKind::TimeBand {
            from,
            until,
            percent_bp,
        } => {
            check_percent(*percent_bp)?;
            if from == until {
                return Err(invalid(
                    "a time band's from and until must differ (from after until wraps past midnight)",
                ));
            }
            Ok(kind.clone())
        }
        RuleKind::Format {
            formats,
            percent_bp,
        } => {
            check_percent(*percent_bp)?;
            let mut named = Vec::new();
            for format in formats {
                let Some(known) = FORMATS
                    .iter()
                    .find(|f| f.eq_ignore_ascii_case(format.trim()))
                else {
                    return Err(invalid(format!(
                        "unknown format {format:?}: use {}",
                        FORMATS.join(", ")
                    )));
                };
                if !named.contains(&known.to_string()) {
                    named.push(known.to_string());
                }
            }
            if named.is_empty() {
                return Err(invalid("formats must name at least one format"));
            }
            Ok(RuleKind::Format {
                formats: named,
                percent_bp: *percent_bp,
            })
        }
        RuleKind::Demand { tiers } => {
            if tiers.is_empty() || tiers.len() > MAX_TIERS {
                return Err(invalid(format!("a demand rule has 1 to {MAX_TIERS} tiers")));
            }
            if tiers[0].from_occupancy_bp != 0 {
                return Err(invalid(
                    "the first tier starts at from_occupancy_bp 0 (every occupancy has a tier)",
                ));
            }
            for pair in tiers.windows(2) {
                if pair[1].from_occupancy_bp <= pair[0].from_occupancy_bp {
                    return Err(invalid(
                        "tiers are in ascending from_occupancy_bp, each once",
                    ));
                }
            }
            for tier in tiers {
                if tier.from_occupancy_bp > 10_000 {
                    return Err(invalid("from_occupancy_bp is 0 to 10000 (basis points)"));
                }
                check_percent(tier.percent_bp)?;
            }
            Ok(kind.clone())
        }
    }
}

/// Checks bounds: non-negative, at least one end, floor at most cap. Pure.
pub fn check_bounds(bounds: &BTreeMap<SeatCategory, Bounds>) -> Result<(), PricingError> {
    for (category, b) in bounds {
        let name = category.as_str();
        if b.floor.is_none() && b.cap.is_none() {
            return Err(invalid(format!(
                "bounds for {name} need a floor, a cap or both"
            )));
        }
        if b.floor.is_some_and(|f| f < 0) || b.cap.is_some_and(|c| c < 0) {
            return Err(invalid(format!(
                "bounds for {name} are minor units, at least 0"
            )));
        }
        if let (Some(floor), Some(cap)) = (b.floor, b.cap)
            && floor > cap
        {
            return Err(invalid(format!("the floor for {name} is above its cap")));
        }
    }
    Ok(())
}

/// Checks a request and turns it into the rule `id` of `org_id` (`None`: the platform).
pub async fn validate(
    db: &Db,
    id: String,
    org_id: Option<&str>,
    request: &PriceRuleRequest,
) -> Result<PriceRule, PricingError> {
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 120 || name.chars().any(char::is_control) {
        return Err(invalid("name must be 1 to 120 characters"));
    }
    let kind = check_kind(&request.rule)?;
    check_bounds(&request.bounds)?;
    if request.theatre_ids.len() > MAX_LIST || request.city_ids.len() > MAX_LIST {
        return Err(invalid(format!(
            "at most {MAX_LIST} theatres and {MAX_LIST} cities"
        )));
    }
    let categories: BTreeSet<SeatCategory> = request.categories.iter().copied().collect();
    let mut theatres = Vec::new();
    for text in request.theatre_ids.iter().collect::<BTreeSet<_>>() {
        let unknown = || invalid(format!("unknown theatre {text}"));
        let id = TheatreId::parse(text).ok_or_else(unknown)?;
        let owner: Option<String> = db
            .fetch_optional(
                "SELECT org_id FROM theatres WHERE id = $1",
                params![id.as_str()],
            )
            .await?;
        let owner = owner.ok_or_else(unknown)?;
        // A partner's rule names only its own theatres; another's reads as unknown.
        if org_id.is_some_and(|org| org != owner) {
            return Err(unknown());
        }
        theatres.push(id);
    }
    let mut cities = Vec::new();
    if org_id.is_some() && !request.city_ids.is_empty() {
        return Err(invalid(
            "a partner's rule applies to its own theatres: use theatre_ids, not city_ids",
        ));
    }
    for text in request.city_ids.iter().collect::<BTreeSet<_>>() {
        let unknown = || invalid(format!("unknown city {text}"));
        let id = CityId::parse(text).ok_or_else(unknown)?;
        if catalog_store::get_city(db, id.as_str()).await?.is_none() {
            return Err(unknown());
        }
        cities.push(id);
    }
    Ok(PriceRule {
        id,
        name: name.to_owned(),
        kind,
        categories: categories.into_iter().collect(),
        bounds: request.bounds.clone(),
        scope: RuleScope {
            org_id: org_id.map(str::to_owned),
            theatres,
            cities,
        },
        active: request.active,
    })
}

/// The owner's rules (`org_id` `None`: the platform's), oldest first.
pub async fn list(db: &Db, org_id: Option<&str>) -> Result<Vec<PriceRuleView>, PricingError> {
    Ok(store::rules_of(db, org_id)
        .await?
        .into_iter()
        .map(view)
        .collect())
}

/// One of the owner's rules; another owner's reads as not found.
pub async fn get(db: &Db, id: &str, org_id: Option<&str>) -> Result<PriceRuleView, PricingError> {
    store::rule(db, id, org_id)
        .await?
        .map(view)
        .ok_or_else(|| PricingError::NotFound(id.to_owned()))
}

/// Creates (`id` `None`) or replaces the owner's rule; quotes on this node see it at once
/// (the catalog epoch), other nodes within two seconds. Holds already made keep their
/// quote.
pub async fn save(
    app: &AppState,
    id: Option<String>,
    org_id: Option<&str>,
    request: &PriceRuleRequest,
) -> Result<PriceRuleView, PricingError> {
    let replace = id.is_some();
    let id = id.unwrap_or_else(|| format!("prr_{}", ulid::Ulid::new()));
    if replace && store::rule(&app.db, &id, org_id).await?.is_none() {
        return Err(PricingError::NotFound(id));
    }
    let rule = validate(&app.db, id.clone(), org_id, request).await?;
    let now = app.clock.now();
    let saved = rule.clone();
    let written = app
        .db
        .write(move |tx| store::save_rule(tx, &saved, replace, now))
        .await?;
    if !written {
        return Err(PricingError::NotFound(id));
    }
    app.cache.invalidate_catalog();
    Ok(view(rule))
}

pub async fn delete(app: &AppState, id: &str, org_id: Option<&str>) -> Result<(), PricingError> {
    let (rule, owner) = (id.to_owned(), org_id.map(str::to_owned));
    let deleted = app
        .db
        .write(move |tx| store::delete_rule(tx, &rule, owner.as_deref()))
        .await?;
    if !deleted {
        return Err(PricingError::NotFound(id.to_owned()));
    }
    app.cache.invalidate_catalog();
    Ok(())
}

/// One public holiday.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    #[schema(value_type = String, example = "2026-12-25")]
    pub date: NaiveDate,
    /// 1 to 120 characters.
    pub name: String,
}

/// A country's holidays of one year, replacing what was there for that year.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HolidayYear {
    pub year: i32,
    /// At most 100, each in `year`, each date once.
    pub holidays: Vec<Holiday>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HolidayCalendar {
    /// ISO 3166-1 alpha-2, upper case.
    pub country_code: String,
    pub holidays: Vec<Holiday>,
}

/// `IN`, `de` → `IN`, `DE`; anything else is refused. Pure.
pub fn country_code(text: &str) -> Result<String, PricingError> {
    if text.len() == 2 && text.chars().all(|c| c.is_ascii_alphabetic()) {
        Ok(text.to_ascii_uppercase())
    } else {
        Err(invalid(format!(
            "{text:?} is not a country code (ISO 3166-1 alpha-2, e.g. IN)"
        )))
    }
}

pub async fn calendar(db: &Db, country: &str) -> Result<HolidayCalendar, PricingError> {
    let country = country_code(country)?;
    let holidays = store::holidays_of(db, &country)
        .await?
        .into_iter()
        .map(|h| Holiday {
            date: h.day,
            name: h.name,
        })
        .collect();
    Ok(HolidayCalendar {
        country_code: country,
        holidays,
    })
}

/// Replaces a country's holidays of one year.
pub async fn replace_year(
    app: &AppState,
    country: &str,
    year: &HolidayYear,
) -> Result<HolidayCalendar, PricingError> {
    let country = country_code(country)?;
    let (Some(from), Some(until)) = (
        NaiveDate::from_ymd_opt(year.year, 1, 1),
        NaiveDate::from_ymd_opt(year.year, 12, 31),
    ) else {
        return Err(invalid("year must be a calendar year"));
    };
    if !(2000..=2100).contains(&year.year) {
        return Err(invalid("year must be 2000 to 2100"));
    }
    if year.holidays.len() > MAX_LIST {
        return Err(invalid(format!("at most {MAX_LIST} holidays a year")));
    }
    let mut days = Vec::new();
    let mut seen = BTreeSet::new();
    for holiday in &year.holidays {
        let name = holiday.name.trim();
        if name.is_empty() || name.chars().count() > 120 || name.chars().any(char::is_control) {
            return Err(invalid("a holiday's name must be 1 to 120 characters"));
        }
        if holiday.date.year() != year.year {
            return Err(invalid(format!("{} is not in {}", holiday.date, year.year)));
        }
        if !seen.insert(holiday.date) {
            return Err(invalid(format!("{} is listed twice", holiday.date)));
        }
        days.push((holiday.date, name.to_owned()));
    }
    let owner = country.clone();
    app.db
        .write(move |tx| store::replace_holidays(tx, &owner, from, until, &days))
        .await?;
    app.cache.invalidate_catalog();
    calendar(&app.db, &country).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::model::{Day, DemandTier};

    fn tiers(list: &[(u32, i32)]) -> RuleKind {
        RuleKind::Demand {
            tiers: list
                .iter()
                .map(|&(from_occupancy_bp, percent_bp)| DemandTier {
                    from_occupancy_bp,
                    percent_bp,
                })
                .collect(),
        }
    }

    #[test]
    fn rules_are_checked() {
        assert!(check_kind(&tiers(&[(0, -1_000), (8_000, 2_000)])).is_ok());
        // The first tier must start at 0, tiers ascend, thresholds and percentages stay in range.
        assert!(check_kind(&tiers(&[(1, 0)])).is_err());
        assert!(check_kind(&tiers(&[(0, 0), (5_000, 1), (5_000, 2)])).is_err());
        assert!(check_kind(&tiers(&[(0, 0), (10_001, 1)])).is_err());
        assert!(check_kind(&tiers(&[(0, -10_000)])).is_err());
        assert!(check_kind(&tiers(&[(0, 10_001)])).is_err());
        assert!(check_kind(&tiers(&[])).is_err());
        let days = |days: Vec<Day>| RuleKind::DayOfWeek {
            days,
            percent_bp: 1_000,
        };
        assert!(check_kind(&days(vec![])).is_err());
        assert!(check_kind(&days(vec![Day::Sat, Day::Sat])).is_err());
        assert!(check_kind(&days(vec![Day::Sun, Day::Sat])).is_ok());
        let formats = |formats: &[&str]| RuleKind::Format {
            formats: formats.iter().map(|f| f.to_string()).collect(),
            percent_bp: 1_000,
        };
        assert_eq!(
            check_kind(&formats(&["imax", "IMAX", "3d"])).unwrap(),
            formats(&["IMAX", "3D"])
        );
        assert!(check_kind(&formats(&["70mm"])).is_err());
        assert!(check_kind(&formats(&[])).is_err());
        let noon = chrono::NaiveTime::from_hms_opt(12, 0, 0).unwrap();
        assert!(
            check_kind(&RuleKind::TimeBand {
                from: noon,
                until: noon,
                percent_bp: 1
            })
            .is_err()
        );
    }

    #[test]
    fn bounds_are_checked() {
        let one = |floor, cap| BTreeMap::from([(SeatCategory::Regular, Bounds { floor, cap })]);
        assert!(check_bounds(&one(Some(100), Some(200))).is_ok());
        assert!(check_bounds(&one(Some(100), None)).is_ok());
        assert!(check_bounds(&one(None, None)).is_err());
        assert!(check_bounds(&one(Some(300), Some(200))).is_err());
        assert!(check_bounds(&one(Some(-1), None)).is_err());
    }

    #[test]
    fn country_codes_are_two_letters() {
        assert_eq!(country_code("in").unwrap(), "IN");
        assert!(country_code("IND").is_err());
        assert!(country_code("1N").is_err());
    }
}
