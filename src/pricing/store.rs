//! Price rule and holiday calendar storage. A rule's definition, categories, scope lists
//! and bounds are JSON text (the same on both engines); scopes are checked when written.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::model::{Bounds, PriceRule, RuleKind, RuleScope};
use crate::{
    db::{Db, Tx},
    db_row,
    ids::{CityId, TheatreId},
    inventory::model::SeatCategory,
    params,
    time::Timestamp,
};

db_row! {
    #[derive(Debug)]
    struct RuleRow {
        id: String,
        org_id: Option<String>,
        name: String,
        definition: String,
        categories: String,
        theatre_ids: String,
        city_ids: String,
        bounds: String,
        active: bool,
    }
}

const COLUMNS: &str =
    "id, org_id, name, definition, categories, theatre_ids, city_ids, bounds, active";

fn decode(row: RuleRow) -> Option<PriceRule> {
    let parsed = (|| -> serde_json::Result<PriceRule> {
        let kind: RuleKind = serde_json::from_str(&row.definition)?;
        let categories: Vec<SeatCategory> = serde_json::from_str(&row.categories)?;
        let theatres: Vec<String> = serde_json::from_str(&row.theatre_ids)?;
        let cities: Vec<String> = serde_json::from_str(&row.city_ids)?;
        let bounds: BTreeMap<SeatCategory, Bounds> = serde_json::from_str(&row.bounds)?;
        Ok(PriceRule {
            id: row.id.clone(),
            name: row.name.clone(),
            kind,
            categories,
            bounds,
            scope: RuleScope {
                org_id: row.org_id.clone(),
                theatres: theatres.into_iter().map(TheatreId::from_trusted).collect(),
                cities: cities.into_iter().map(CityId::from_trusted).collect(),
            },
            active: row.active,
        })
    })();
    match parsed {
        Ok(rule) => Some(rule),
        Err(error) => {
            // One unreadable rule must not stop every quote.
            tracing::error!(rule = %row.id, %error, "stored price rule unreadable; skipped");
            None
        }
    }
}

/// Every active rule, for the rule book.
pub async fn active_rules(db: &Db) -> sqlx::Result<Vec<PriceRule>> {
    let sql = format!("SELECT {COLUMNS} FROM price_rules WHERE active ORDER BY id");
    let rows: Vec<RuleRow> = db.fetch_all(sql.as_str(), &[]).await?;
    Ok(rows.into_iter().filter_map(decode).collect())
}

/// The rules of an organisation (`Some`) or the platform's (`None`), oldest first.
pub async fn rules_of(db: &Db, org_id: Option<&str>) -> sqlx::Result<Vec<PriceRule>> {
    let rows: Vec<RuleRow> = match org_id {
        Some(org) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM price_rules WHERE org_id = $1 ORDER BY created_at, id"
            );
            db.fetch_all(sql.as_str(), params![org]).await?
        }
        None => {
            let sql = format!(
                "SELECT {COLUMNS} FROM price_rules WHERE org_id IS NULL ORDER BY created_at, id"
            );
            db.fetch_all(sql.as_str(), &[]).await?
        }
    };
    Ok(rows.into_iter().filter_map(decode).collect())
}

/// One rule, if it belongs to `org_id` (`None`: the platform).
pub async fn rule(db: &Db, id: &str, org_id: Option<&str>) -> sqlx::Result<Option<PriceRule>> {
    let sql = format!("SELECT {COLUMNS} FROM price_rules WHERE id = $1");
    let row: Option<RuleRow> = db.fetch_optional(sql.as_str(), params![id]).await?;
    Ok(row
        .filter(|row| row.org_id.as_deref() == org_id)
        .and_then(decode))
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned())
}

/// Inserts `rule`, or (`replace`) replaces the owner's rule of that id; false when
/// replacing a rule that is not the owner's.
pub fn save_rule(
    tx: &mut Tx<'_>,
    rule: &PriceRule,
    replace: bool,
    now: Timestamp,
) -> sqlx::Result<bool> {
    const INSERT: &str = "INSERT INTO price_rules \
        (id, org_id, name, definition, categories, theatre_ids, city_ids, bounds, active, created_at, updated_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)";
    // `org_id IS NOT DISTINCT FROM` reads the same on both engines as this pair of tests.
    const UPDATE: &str = "UPDATE price_rules SET name = $3, definition = $4, categories = $5, \
        theatre_ids = $6, city_ids = $7, bounds = $8, active = $9, updated_at = $10 \
        WHERE id = $1 AND ((org_id IS NULL AND $2 IS NULL) OR org_id = $2)";
    let theatres: Vec<&str> = rule.scope.theatres.iter().map(|t| t.as_str()).collect();
    let cities: Vec<&str> = rule.scope.cities.iter().map(|c| c.as_str()).collect();
    let (definition, categories) = (json(&rule.kind), json(&rule.categories));
    let (theatres, cities, bounds) = (json(&theatres), json(&cities), json(&rule.bounds));
    let written = tx.execute(
        if replace { UPDATE } else { INSERT },
        params![
            &rule.id,
            rule.scope.org_id.as_deref(),
            &rule.name,
            &definition,
            &categories,
            &theatres,
            &cities,
            &bounds,
            rule.active,
            now.as_millis()
        ],
    )?;
    Ok(written == 1)
}

/// Deletes the owner's rule; false if it has none of that id.
pub fn delete_rule(tx: &mut Tx<'_>, id: &str, org_id: Option<&str>) -> sqlx::Result<bool> {
    const SQL: &str = "DELETE FROM price_rules \
        WHERE id = $1 AND ((org_id IS NULL AND $2 IS NULL) OR org_id = $2)";
    Ok(tx.execute(SQL, params![id, org_id])? == 1)
}

db_row! {
    #[derive(Debug, Clone)]
    pub struct HolidayRow {
        pub country_code: String,
        pub day: NaiveDate,
        pub name: String,
    }
}

/// Every holiday of every country, for the rule book (a few dozen rows a year each).
pub async fn all_holidays(db: &Db) -> sqlx::Result<Vec<HolidayRow>> {
    db.fetch_all(
        "SELECT country_code, day, name FROM holidays ORDER BY country_code, day",
        &[],
    )
    .await
}

/// A country's holidays in date order.
pub async fn holidays_of(db: &Db, country: &str) -> sqlx::Result<Vec<HolidayRow>> {
    db.fetch_all(
        "SELECT country_code, day, name FROM holidays WHERE country_code = $1 ORDER BY day",
        params![country],
    )
    .await
}

/// Replaces a country's holidays in `[from, until]` with `days`.
pub fn replace_holidays(
    tx: &mut Tx<'_>,
    country: &str,
    from: NaiveDate,
    until: NaiveDate,
    days: &[(NaiveDate, String)],
) -> sqlx::Result<()> {
    tx.execute(
        "DELETE FROM holidays WHERE country_code = $1 AND day >= $2 AND day <= $3",
        params![country, from, until],
    )?;
    for (day, name) in days {
        tx.execute(
            "INSERT INTO holidays (country_code, day, name) VALUES ($1, $2, $3)",
            params![country, *day, name.as_str()],
        )?;
    }
    Ok(())
}
