//! Commission rates: what the platform keeps of an organisation's ticket sales, in basis
//! points, over a range of business dates. Set by administrators. A rate can only start
//! after the organisation's last statement, so a closed statement never changes; a new
//! rate ends the open-ended one before it.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::SettlementError;
use crate::{
    app::AppState,
    db_row,
    ids::{CommissionRateId, PartnerOrgId},
    params,
    time::{Timestamp, parse_date},
};

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRateRequest {
    /// 0 to 10000 (1250 = 12.5 %).
    pub basis_points: i64,
    /// First business date it applies to, `YYYY-MM-DD`.
    pub valid_from: String,
    /// First business date it no longer applies to; absent: until another rate starts.
    pub valid_until: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CommissionRate {
    /// `cmr_…`.
    pub id: String,
    pub org_id: String,
    pub basis_points: i64,
    pub valid_from: String,
    pub valid_until: Option<String>,
    /// The administrator who set it.
    pub created_by: String,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
}

db_row! {
    struct RateRow {
        id: String,
        org_id: String,
        basis_points: i64,
        valid_from: String,
        valid_until: Option<String>,
        created_by: String,
        created_at: i64,
    }
}

impl RateRow {
    fn view(self) -> CommissionRate {
        CommissionRate {
            id: self.id,
            org_id: self.org_id,
            basis_points: self.basis_points,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            created_by: self.created_by,
            created_at: Timestamp::from_millis(self.created_at),
        }
    }
}

/// An organisation's rates, for looking one up by date.
#[derive(Debug, Clone, Default)]
pub struct RateBook {
    /// (from, until, basis points).
    ranges: Vec<(NaiveDate, Option<NaiveDate>, i64)>,
}

impl RateBook {
    pub fn new(ranges: Vec<(NaiveDate, Option<NaiveDate>, i64)>) -> Self {
        Self { ranges }
    }

    /// The rate on `date`, if one covers it. Pure.
    pub fn rate_on(&self, date: NaiveDate) -> Option<i64> {
        self.ranges
            .iter()
            .find(|(from, until, _)| *from <= date && until.is_none_or(|until| date < until))
            .map(|(_, _, bp)| *bp)
    }
}

const RATE: &str = "SELECT id, org_id, basis_points, valid_from, valid_until, created_by, \
     created_at FROM commission_rates";

async fn rows(app: &AppState, org_id: &PartnerOrgId) -> Result<Vec<RateRow>, SettlementError> {
    Ok(app
        .db
        .fetch_all(
            &format!("{RATE} WHERE org_id = $1 ORDER BY valid_from, id"),
            params![org_id.as_str()],
        )
        .await?)
}

pub async fn rate_book(app: &AppState, org_id: &PartnerOrgId) -> Result<RateBook, SettlementError> {
    let ranges = rows(app, org_id)
        .await?
        .into_iter()
        .filter_map(|r| {
            Some((
                parse_date(&r.valid_from)?,
                r.valid_until.as_deref().and_then(parse_date),
                r.basis_points,
            ))
        })
        .collect();
    Ok(RateBook::new(ranges))
}

pub async fn list(
    app: &AppState,
    org_id: &PartnerOrgId,
) -> Result<Vec<CommissionRate>, SettlementError> {
    Ok(rows(app, org_id)
        .await?
        .into_iter()
        .map(RateRow::view)
        .collect())
}

/// Checks a request; returns (from, until). Pure.
pub fn check(request: &NewRateRequest) -> Result<(NaiveDate, Option<NaiveDate>), SettlementError> {
    if !(0..=10_000).contains(&request.basis_points) {
        return Err(SettlementError::InvalidInput(
            "basis_points must be between 0 and 10000".into(),
        ));
    }
    let date = |text: &str| {
        parse_date(text).ok_or_else(|| {
            SettlementError::InvalidInput(format!("{text:?} is not a YYYY-MM-DD date"))
        })
    };
    let from = date(&request.valid_from)?;
    let until = request.valid_until.as_deref().map(date).transpose()?;
    if until.is_some_and(|until| until <= from) {
        return Err(SettlementError::InvalidInput(
            "valid_until must be after valid_from".into(),
        ));
    }
    Ok((from, until))
}

/// Sets a rate for the organisation from `valid_from`.
pub async fn set(
    app: &AppState,
    org_id: &PartnerOrgId,
    request: &NewRateRequest,
    by: &str,
) -> Result<CommissionRate, SettlementError> {
    let (from, until) = check(request)?;
    let now = app.clock.now().as_millis();
    let unit = (
        org_id.to_string(),
        from,
        until,
        request.basis_points,
        by.to_owned(),
        CommissionRateId::generate().to_string(),
    );
    let row = app
        .db
        .write(move |tx| -> Result<RateRow, SettlementError> {
            let (org_id, from, until, bp, by, id) = &unit;
            let org: Option<String> =
                tx.fetch_optional("SELECT id FROM partner_orgs WHERE id = $1", params![org_id])?;
            if org.is_none() {
                return Err(SettlementError::UnknownPartner(org_id.clone()));
            }
            let settled: Option<String> = tx.fetch_optional(
                "SELECT business_date FROM settlement_runs WHERE org_id = $1 \
                 ORDER BY business_date DESC LIMIT 1",
                params![org_id],
            )?;
            if let Some(settled) = settled.as_deref().and_then(parse_date)
                && *from <= settled
            {
                return Err(SettlementError::RateConflict(format!(
                    "business days up to {settled} are settled; a rate can start on {} at the \
                     earliest",
                    settled.succ_opt().unwrap_or(settled)
                )));
            }
            let existing: Vec<RateRow> = tx.fetch_all(
                &format!("{RATE} WHERE org_id = $1 ORDER BY valid_from"),
                params![org_id],
            )?;
            for rate in &existing {
                let Some(start) = parse_date(&rate.valid_from) else {
                    continue;
                };
                let end = rate.valid_until.as_deref().and_then(parse_date);
                // An open-ended rate that began earlier ends where this one begins.
                if end.is_none() && start < *from {
                    tx.execute(
                        "UPDATE commission_rates SET valid_until = $2 WHERE id = $1",
                        params![&rate.id, &from.to_string()],
                    )?;
                    continue;
                }
                let overlaps = start < until.unwrap_or(NaiveDate::MAX)
                    && *from < end.unwrap_or(NaiveDate::MAX);
                if overlaps {
                    return Err(SettlementError::RateConflict(format!(
                        "it overlaps rate {} ({} to {})",
                        rate.id,
                        rate.valid_from,
                        rate.valid_until.as_deref().unwrap_or("open")
                    )));
                }
            }
            tx.execute(
                "INSERT INTO commission_rates (id, org_id, basis_points, valid_from, \
                 valid_until, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                params![
                    id,
                    org_id,
                    *bp,
                    &from.to_string(),
                    &until.map(|u| u.to_string()),
                    by,
                    now
                ],
            )?;
            Ok(tx.fetch_one(&format!("{RATE} WHERE id = $1"), params![id])?)
        })
        .await?;
    Ok(row.view())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> NaiveDate {
        parse_date(text).unwrap()
    }

    #[test]
    fn a_rate_applies_from_its_first_day_up_to_its_end() {
        let book = RateBook::new(vec![
            (d("2026-11-01"), Some(d("2026-12-01")), 1_000),
            (d("2026-12-01"), None, 1_250),
        ]);
        assert_eq!(book.rate_on(d("2026-10-31")), None);
        assert_eq!(book.rate_on(d("2026-11-01")), Some(1_000));
        assert_eq!(book.rate_on(d("2026-11-30")), Some(1_000));
        assert_eq!(book.rate_on(d("2026-12-01")), Some(1_250));
        assert_eq!(book.rate_on(d("2030-01-01")), Some(1_250));
    }

    #[test]
    fn requests_are_checked() {
        let request = |bp, from: &str, until: Option<&str>| NewRateRequest {
            basis_points: bp,
            valid_from: from.into(),
            valid_until: until.map(Into::into),
        };
        assert!(check(&request(1_250, "2026-12-01", None)).is_ok());
        assert!(check(&request(10_001, "2026-12-01", None)).is_err());
        assert!(check(&request(-1, "2026-12-01", None)).is_err());
        assert!(check(&request(100, "2026-13-01", None)).is_err());
        assert!(check(&request(100, "2026-12-01", Some("2026-12-01"))).is_err());
    }
}
