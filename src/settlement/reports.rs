//! Financial reports for administrators, from settled lines (closed business days, so a
//! report never changes under its reader): sales, refunds, fees and commission by city,
//! theatre, movie or day, per currency.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{CsvOut, SettlementError};
use crate::{app::AppState, db_row, params, time::parse_date};

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// First business date, `YYYY-MM-DD`.
    pub from: String,
    /// Last business date (inclusive), `YYYY-MM-DD`; at most 366 days after `from`.
    pub to: String,
    /// `city`, `theatre`, `movie` or `day` (default).
    pub group_by: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// One group's sums in one currency (minor units).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportRow {
    /// The city, theatre or movie id, or the business date.
    pub key: String,
    /// Its name (the date again for days).
    pub name: String,
    pub currency: String,
    /// Bookings sold.
    pub sales: i64,
    /// Tickets sold (fees excluded).
    pub gross: i64,
    /// Refunds made.
    pub refunds_count: i64,
    /// Tickets refunded.
    pub refunds: i64,
    /// Convenience fees kept.
    pub fees: i64,
    /// Commission kept.
    pub commission: i64,
    /// Owed to partners.
    pub net_payable: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SalesReport {
    pub from: String,
    pub to: String,
    pub group_by: String,
    pub rows: Vec<ReportRow>,
}

db_row! {
    struct Row {
        key: String,
        name: String,
        currency: String,
        sales: i64,
        gross: i64,
        refunds_count: i64,
        refunds: i64,
        fees: i64,
        commission: i64,
        net_payable: i64,
    }
}

/// Builds the report the query asks for.
pub async fn sales(app: &AppState, query: &ReportQuery) -> Result<SalesReport, SettlementError> {
    let invalid = |why: String| SettlementError::InvalidInput(why);
    let from = parse_date(&query.from)
        .ok_or_else(|| invalid(format!("from {:?} is not a YYYY-MM-DD date", query.from)))?;
    let to = parse_date(&query.to)
        .ok_or_else(|| invalid(format!("to {:?} is not a YYYY-MM-DD date", query.to)))?;
    if to < from || (to - from).num_days() > 366 {
        return Err(invalid(
            "to must be on or after from, and at most 366 days later".into(),
        ));
    }
    let group_by = query.group_by.as_deref().unwrap_or("day");
    let (key, name, join) = match group_by {
        "day" => ("l.business_date", "l.business_date", ""),
        "theatre" => ("t.id", "t.name", "JOIN theatres t ON t.id = l.theatre_id"),
        "city" => (
            "c.id",
            "c.name",
            "JOIN theatres t ON t.id = l.theatre_id JOIN cities c ON c.id = t.city_id",
        ),
        "movie" => (
            "m.id",
            "m.title",
            "JOIN shows s ON s.id = l.show_id JOIN movies m ON m.id = s.movie_id",
        ),
        other => {
            return Err(invalid(format!(
                "group_by must be city, theatre, movie or day, not {other:?}"
            )));
        }
    };
    let sql = format!(
        "SELECT {key} AS key, {name} AS name, l.currency, \
           CAST(SUM(CASE WHEN l.kind = 'sale' THEN 1 ELSE 0 END) AS BIGINT) AS sales, \
           CAST(SUM(CASE WHEN l.kind = 'sale' THEN l.ticket_amount ELSE 0 END) AS BIGINT) \
             AS gross, \
           CAST(SUM(CASE WHEN l.kind = 'refund' THEN 1 ELSE 0 END) AS BIGINT) AS refunds_count, \
           CAST(SUM(CASE WHEN l.kind = 'refund' THEN -l.ticket_amount ELSE 0 END) AS BIGINT) \
             AS refunds, \
           CAST(SUM(l.fee_amount) AS BIGINT) AS fees, \
           CAST(SUM(l.commission) AS BIGINT) AS commission, \
           CAST(SUM(l.net) AS BIGINT) AS net_payable \
         FROM settlement_lines l {join} \
         WHERE l.business_date >= $1 AND l.business_date <= $2 \
         GROUP BY {key}, {name}, l.currency ORDER BY {key}, l.currency"
    );
    let rows: Vec<Row> = app
        .db
        .fetch_all(&sql, params![&from.to_string(), &to.to_string()])
        .await?;
    Ok(SalesReport {
        from: from.to_string(),
        to: to.to_string(),
        group_by: group_by.to_owned(),
        rows: rows
            .into_iter()
            .map(|r| ReportRow {
                key: r.key,
                name: r.name,
                currency: r.currency,
                sales: r.sales,
                gross: r.gross,
                refunds_count: r.refunds_count,
                refunds: r.refunds,
                fees: r.fees,
                commission: r.commission,
                net_payable: r.net_payable,
            })
            .collect(),
    })
}

pub fn to_csv(report: &SalesReport) -> Result<Vec<u8>, SettlementError> {
    let mut out = CsvOut::new();
    out.row([
        report.group_by.as_str(),
        "name",
        "currency",
        "sales",
        "gross",
        "refunds_count",
        "refunds",
        "fees",
        "commission",
        "net_payable",
    ])?;
    for r in &report.rows {
        out.row([
            r.key.as_str(),
            &r.name,
            &r.currency,
            &r.sales.to_string(),
            &r.gross.to_string(),
            &r.refunds_count.to_string(),
            &r.refunds.to_string(),
            &r.fees.to_string(),
            &r.commission.to_string(),
            &r.net_payable.to_string(),
        ])?;
    }
    out.finish()
}
