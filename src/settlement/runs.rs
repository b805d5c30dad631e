//! Settlement runs: one per partner organisation and business day, T+1.
//!
//! A run for day D takes every sale (a booking's confirmation) and refund (its
//! cancellation with money back) of the organisation's theatres that happened before D
//! ended in that theatre's timezone and is in no earlier statement. Each fact becomes one
//! line, and the primary key of `settlement_lines` (booking, kind) makes it land in exactly
//! one statement: a refund of a sale settled on an earlier day lands in the day it
//! happened, marked as an adjustment. A run is written in one unit with its lines and is
//! closed from then on: running the day again answers it unchanged.

use std::collections::HashMap;

use chrono::{Days, NaiveDate};
use chrono_tz::Tz;
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    CsvOut, SettlementError,
    commission::{self, RateBook},
    lines::{self, Amounts, Totals},
};
use crate::{
    app::AppState,
    db::{Tx, is_unique_violation},
    db_row,
    http::pagination::{Page, PageRequest},
    ids::{PartnerOrgId, SettlementRunId},
    params,
    time::{Timestamp, local_day_bounds, parse_tz},
};

/// A statement: the run's sums, and its lines when asked for one run.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Statement {
    /// `stl_…`.
    pub id: String,
    pub org_id: String,
    /// The business day settled (`YYYY-MM-DD`, in the theatres' own timezones).
    pub business_date: String,
    /// When the net payable is paid out: the next day (T+1).
    pub payout_date: String,
    /// One entry per currency.
    pub totals: Vec<Totals>,
    pub line_count: i64,
    /// `scheduler`, or the administrator who ran it.
    pub created_by: String,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    /// Present on a single statement; absent in lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<StatementLine>>,
}

/// One sale, refund or lost dispute.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatementLine {
    /// `sale`, `refund` (a cancellation's, or the staff's) or `chargeback` (a dispute the
    /// platform lost: given back like a refund).
    pub kind: String,
    /// The staff's refund (`rfd_…`) or the dispute (`dsp_…`) the line settles; absent for
    /// a sale and a cancellation's refund.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fact_id: String,
    pub booking_id: String,
    pub theatre_id: String,
    pub show_id: String,
    /// When it happened, in the theatre's timezone.
    pub occurred_at: String,
    /// Its own business date: earlier than the statement's for an adjustment.
    pub business_date: String,
    /// A refund of a sale settled in an earlier statement.
    pub adjustment: bool,
    pub currency: String,
    /// What the customer paid (+) or got back (-), fees included. Minor units, like all
    /// amounts here.
    pub customer_amount: i64,
    /// The tickets' part (the partner's gross).
    pub ticket_amount: i64,
    /// The convenience fees' part (the platform's).
    pub fee_amount: i64,
    pub commission_bp: i64,
    pub commission: i64,
    /// `ticket_amount - commission`.
    pub net: i64,
}

db_row! {
    struct RunRow {
        id: String,
        org_id: String,
        business_date: String,
        payout_date: String,
        totals: String,
        line_count: i64,
        created_by: String,
        created_at: i64,
    }
}

impl RunRow {
    fn view(self, lines: Option<Vec<StatementLine>>) -> Statement {
        Statement {
            id: self.id,
            org_id: self.org_id,
            business_date: self.business_date,
            payout_date: self.payout_date,
            totals: serde_json::from_str(&self.totals).unwrap_or_default(),
            line_count: self.line_count,
            created_by: self.created_by,
            created_at: Timestamp::from_millis(self.created_at),
            lines,
        }
    }
}

db_row! {
    struct LineRow {
        kind: String,
        fact_id: String,
        booking_id: String,
        theatre_id: String,
        show_id: String,
        occurred_at: i64,
        business_date: String,
        adjustment: bool,
        currency: String,
        customer_amount: i64,
        ticket_amount: i64,
        fee_amount: i64,
        commission_bp: i64,
        commission: i64,
        net: i64,
        timezone: String,
    }
}

const RUN: &str = "SELECT id, org_id, business_date, payout_date, totals, line_count, \
     created_by, created_at FROM settlement_runs";

// A booking fact not yet in any statement.
db_row! {
    struct Candidate {
        booking_id: String,
        show_id: String,
        theatre_id: String,
        currency: String,
        total: i64,
        fee_total: i64,
        refund: Option<i64>,
        confirmed_at: i64,
        cancelled_at: Option<i64>,
        sale_settled: bool,
        /// The tickets' part the staff refunded (before a cancellation's refund).
        staff_ticket: i64,
    }
}

// Money given back with its split already decided, not yet in any statement: the staff's
// refunds and lost disputes.
db_row! {
    struct GivenBack {
        kind: String,
        fact_id: String,
        booking_id: String,
        show_id: String,
        theatre_id: String,
        currency: String,
        ticket_amount: i64,
        fee_amount: i64,
        occurred_at: i64,
        confirmed_at: i64,
        sale_settled: bool,
    }
}

/// The facts of `GivenBack` for an organisation before an instant (`$1`, `$2`): the
/// staff's refunds when made, lost disputes when decided.
const GIVEN_BACK: &str = "SELECT 'refund' AS kind, r.id AS fact_id, r.booking_id, b.show_id, \
       s.theatre_id, r.currency, r.ticket_amount, r.fee_amount, r.created_at AS occurred_at, \
       b.confirmed_at, \
       EXISTS (SELECT 1 FROM settlement_lines l \
               WHERE l.booking_id = b.id AND l.kind = 'sale') AS sale_settled \
     FROM refunds r JOIN bookings b ON b.id = r.booking_id \
     JOIN shows s ON s.id = b.show_id JOIN theatres t ON t.id = s.theatre_id \
     WHERE t.org_id = $1 AND r.created_at < $2 AND b.confirmed_at IS NOT NULL \
       AND NOT EXISTS (SELECT 1 FROM settlement_lines l WHERE l.booking_id = r.booking_id \
                       AND l.kind = 'refund' AND l.fact_id = r.id) \
     UNION ALL \
     SELECT 'chargeback' AS kind, d.id AS fact_id, d.booking_id, b.show_id, s.theatre_id, \
       d.currency, d.ticket_amount, d.fee_amount, d.closed_at AS occurred_at, \
       b.confirmed_at, \
       EXISTS (SELECT 1 FROM settlement_lines l \
               WHERE l.booking_id = b.id AND l.kind = 'sale') AS sale_settled \
     FROM disputes d JOIN bookings b ON b.id = d.booking_id \
     JOIN shows s ON s.id = b.show_id JOIN theatres t ON t.id = s.theatre_id \
     WHERE t.org_id = $1 AND d.status = 'lost' AND d.closed_at < $2 \
       AND b.confirmed_at IS NOT NULL \
       AND NOT EXISTS (SELECT 1 FROM settlement_lines l WHERE l.booking_id = d.booking_id \
                       AND l.kind = 'chargeback' AND l.fact_id = d.id)";

/// The organisation's theatres and their timezones.
async fn theatre_zones(
    app: &AppState,
    org_id: &PartnerOrgId,
) -> Result<HashMap<String, Tz>, SettlementError> {
    let rows: Vec<(String, String)> = app
        .db
        .fetch_all(
            "SELECT t.id, c.timezone FROM theatres t JOIN cities c ON c.id = t.city_id \
             WHERE t.org_id = $1",
            params![org_id.as_str()],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, tz)| (id, parse_tz(&tz)))
        .collect())
}

/// The end of `date` in the latest of `zones` (when the day is over everywhere).
fn day_over_at(date: NaiveDate, zones: &HashMap<String, Tz>) -> Timestamp {
    zones
        .values()
        .map(|tz| local_day_bounds(date, *tz).1)
        .max()
        .unwrap_or_else(|| local_day_bounds(date, Tz::UTC).1)
}

/// The last business day over in every one of `zones` at `now`. Pure.
pub fn last_closed_day(now: Timestamp, zones: &HashMap<String, Tz>) -> NaiveDate {
    let mut day = now
        .local_date(Tz::UTC)
        .checked_add_days(Days::new(1))
        .unwrap_or_default();
    while day_over_at(day, zones) > now {
        day = day.pred_opt().unwrap_or(day);
    }
    day
}

/// Settles the organisation's business day `date` (or answers the run already made).
/// Returns the statement and whether this call made it.
pub async fn run_day(
    app: &AppState,
    org_id: &PartnerOrgId,
    date: NaiveDate,
    by: &str,
) -> Result<(Statement, bool), SettlementError> {
    if let Some(existing) = get_by_date(app, org_id, date).await? {
        return Ok((existing, false));
    }
    let org: Option<String> = app
        .db
        .fetch_optional(
            "SELECT id FROM partner_orgs WHERE id = $1",
            params![org_id.as_str()],
        )
        .await?;
    if org.is_none() {
        return Err(SettlementError::UnknownPartner(org_id.to_string()));
    }
    let now = app.clock.now();
    let zones = theatre_zones(app, org_id).await?;
    if day_over_at(date, &zones) > now {
        return Err(SettlementError::DayNotOver(date.to_string()));
    }
    let rates = commission::rate_book(app, org_id).await?;
    let unit = (
        org_id.to_string(),
        date,
        zones,
        rates,
        by.to_owned(),
        app.config.settlement.default_commission_bp,
    );
    let written = app
        .db
        .write(move |tx| {
            let (org_id, date, zones, rates, by, default_bp) = &unit;
            write_run(tx, org_id, *date, zones, rates, *default_bp, by, now)
        })
        .await;
    match written {
        Ok(statement) => {
            metrics::counter!("marquee_settlement_runs_total").increment(1);
            Ok((statement, true))
        }
        // Another node settled it at the same moment (the run, or one of its facts).
        Err(SettlementError::Database(error)) if is_unique_violation(&error) => {
            match get_by_date(app, org_id, date).await? {
                Some(existing) => Ok((existing, false)),
                None => Err(SettlementError::Busy),
            }
        }
        Err(error) => Err(error),
    }
}

#[allow(clippy::too_many_arguments)]
fn write_run(
    tx: &mut Tx<'_>,
    org_id: &str,
    date: NaiveDate,
    zones: &HashMap<String, Tz>,
    rates: &RateBook,
    default_bp: i64,
    by: &str,
    now: Timestamp,
) -> Result<Statement, SettlementError> {
    let date_text = date.to_string();
    let later: Option<String> = tx.fetch_optional(
        "SELECT business_date FROM settlement_runs WHERE org_id = $1 AND business_date > $2 \
         ORDER BY business_date DESC LIMIT 1",
        params![org_id, &date_text],
    )?;
    if let Some(later) = later {
        return Err(SettlementError::DayClosed(date.to_string(), later));
    }
    let cutoff = day_over_at(date, zones).as_millis();
    let candidates: Vec<Candidate> = tx.fetch_all(
        "SELECT b.id AS booking_id, b.show_id, s.theatre_id, b.currency, b.total, \
           b.fee_total, b.refund, b.confirmed_at, b.cancelled_at, \
           EXISTS (SELECT 1 FROM settlement_lines l \
                   WHERE l.booking_id = b.id AND l.kind = 'sale') AS sale_settled, \
           (SELECT CAST(COALESCE(SUM(r.ticket_amount), 0) AS BIGINT) FROM refunds r \
            WHERE r.booking_id = b.id) AS staff_ticket \
         FROM bookings b JOIN shows s ON s.id = b.show_id \
         JOIN theatres t ON t.id = s.theatre_id \
         WHERE t.org_id = $1 AND b.confirmed_at IS NOT NULL AND b.confirmed_at < $2 \
           AND (NOT EXISTS (SELECT 1 FROM settlement_lines l \
                            WHERE l.booking_id = b.id AND l.kind = 'sale') \
                OR (b.status = 'cancelled' AND b.refund > 0 AND b.cancelled_at < $2 \
                    AND NOT EXISTS (SELECT 1 FROM settlement_lines l \
                                    WHERE l.booking_id = b.id AND l.kind = 'refund' \
                                      AND l.fact_id = '')))",
        params![org_id, cutoff],
    )?;
    let run_id = SettlementRunId::generate().to_string();
    // Each line with the instant it happened (ms).
    let mut lines: Vec<(StatementLine, i64)> = Vec::new();
    for c in &candidates {
        let tz = zones.get(&c.theatre_id).copied().unwrap_or(Tz::UTC);
        let (_, end_of_day) = local_day_bounds(date, tz);
        let sold_on = Timestamp::from_millis(c.confirmed_at).local_date(tz);
        let bp = rates.rate_on(sold_on).unwrap_or(default_bp);
        let line = |kind: &str, at: i64, adjustment: bool, amounts: Amounts| StatementLine {
            kind: kind.to_owned(),
            fact_id: String::new(),
            booking_id: c.booking_id.clone(),
            theatre_id: c.theatre_id.clone(),
            show_id: c.show_id.clone(),
            occurred_at: Timestamp::from_millis(at).to_local_rfc3339(tz),
            business_date: Timestamp::from_millis(at).local_date(tz).to_string(),
            adjustment,
            currency: c.currency.clone(),
            customer_amount: amounts.customer,
            ticket_amount: amounts.ticket,
            fee_amount: amounts.fee,
            commission_bp: bp,
            commission: amounts.commission,
            net: amounts.net,
        };
        let sale_now = !c.sale_settled && c.confirmed_at < end_of_day.as_millis();
        if sale_now {
            let amounts = lines::sale(c.total, c.fee_total, bp);
            lines.push((line("sale", c.confirmed_at, false, amounts), c.confirmed_at));
        }
        if let (Some(refund), Some(at)) = (c.refund, c.cancelled_at)
            && refund > 0
            && at < end_of_day.as_millis()
            && (c.sale_settled || sale_now)
        {
            let amounts = lines::refund_after(c.total, c.fee_total, c.staff_ticket, refund, bp);
            lines.push((line("refund", at, c.sale_settled, amounts), at));
        }
    }
    let given_back: Vec<GivenBack> = tx.fetch_all(GIVEN_BACK, params![org_id, cutoff])?;
    for g in &given_back {
        let tz = zones.get(&g.theatre_id).copied().unwrap_or(Tz::UTC);
        let (_, end_of_day) = local_day_bounds(date, tz);
        let sold_on = Timestamp::from_millis(g.confirmed_at).local_date(tz);
        let bp = rates.rate_on(sold_on).unwrap_or(default_bp);
        // Its sale is settled, or is in this statement.
        if g.occurred_at >= end_of_day.as_millis()
            || !(g.sale_settled || g.confirmed_at < end_of_day.as_millis())
        {
            continue;
        }
        let amounts = lines::given_back(g.ticket_amount, g.fee_amount, bp);
        let at = g.occurred_at;
        lines.push((
            StatementLine {
                kind: g.kind.clone(),
                fact_id: g.fact_id.clone(),
                booking_id: g.booking_id.clone(),
                theatre_id: g.theatre_id.clone(),
                show_id: g.show_id.clone(),
                occurred_at: Timestamp::from_millis(at).to_local_rfc3339(tz),
                business_date: Timestamp::from_millis(at).local_date(tz).to_string(),
                adjustment: g.sale_settled,
                currency: g.currency.clone(),
                customer_amount: amounts.customer,
                ticket_amount: amounts.ticket,
                fee_amount: amounts.fee,
                commission_bp: bp,
                commission: amounts.commission,
                net: amounts.net,
            },
            at,
        ));
    }
    // In time order; a booking's sale before its refund.
    lines.sort_by(|(a, a_at), (b, b_at)| {
        (a_at, &a.booking_id, a.kind != "sale").cmp(&(b_at, &b.booking_id, b.kind != "sale"))
    });
    let totals = lines::totals(lines.iter().map(|(l, _)| {
        (
            l.currency.as_str(),
            l.kind != "sale",
            Amounts {
                customer: l.customer_amount,
                ticket: l.ticket_amount,
                fee: l.fee_amount,
                commission: l.commission,
                net: l.net,
            },
        )
    }));
    let payout = date.checked_add_days(Days::new(1)).unwrap_or(date);
    let row = RunRow {
        id: run_id.clone(),
        org_id: org_id.to_owned(),
        business_date: date.to_string(),
        payout_date: payout.to_string(),
        totals: serde_json::to_string(&totals).unwrap_or_else(|_| "[]".into()),
        line_count: lines.len() as i64,
        created_by: by.to_owned(),
        created_at: now.as_millis(),
    };
    tx.execute(
        "INSERT INTO settlement_runs (id, org_id, business_date, payout_date, totals, \
         line_count, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        params![
            &row.id,
            &row.org_id,
            &row.business_date,
            &row.payout_date,
            &row.totals,
            row.line_count,
            &row.created_by,
            row.created_at
        ],
    )?;
    for (l, at) in &lines {
        tx.execute(
            "INSERT INTO settlement_lines (run_id, booking_id, kind, occurred_at, business_date, \
             adjustment, theatre_id, show_id, currency, customer_amount, ticket_amount, \
             fee_amount, commission, net, commission_bp, fact_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
            params![
                &run_id,
                &l.booking_id,
                &l.kind,
                *at,
                &l.business_date,
                l.adjustment,
                &l.theatre_id,
                &l.show_id,
                &l.currency,
                l.customer_amount,
                l.ticket_amount,
                l.fee_amount,
                l.commission,
                l.net,
                l.commission_bp,
                &l.fact_id
            ],
        )?;
    }
    Ok(row.view(Some(lines.into_iter().map(|(l, _)| l).collect())))
}

async fn get_by_date(
    app: &AppState,
    org_id: &PartnerOrgId,
    date: NaiveDate,
) -> Result<Option<Statement>, SettlementError> {
    let row: Option<RunRow> = app
        .db
        .fetch_optional(
            &format!("{RUN} WHERE org_id = $1 AND business_date = $2"),
            params![org_id.as_str(), &date.to_string()],
        )
        .await?;
    match row {
        Some(row) => {
            let lines = lines_of(app, &row.id).await?;
            Ok(Some(row.view(Some(lines))))
        }
        None => Ok(None),
    }
}

async fn lines_of(app: &AppState, run_id: &str) -> Result<Vec<StatementLine>, SettlementError> {
    let rows: Vec<LineRow> = app
        .db
        .fetch_all(
            "SELECT l.kind, l.fact_id, l.booking_id, l.theatre_id, l.show_id, l.occurred_at, \
             l.business_date, l.adjustment, l.currency, l.customer_amount, l.ticket_amount, \
             l.fee_amount, l.commission_bp, l.commission, l.net, c.timezone \
             FROM settlement_lines l JOIN theatres t ON t.id = l.theatre_id \
             JOIN cities c ON c.id = t.city_id \
             WHERE l.run_id = $1 \
             ORDER BY l.occurred_at, l.booking_id, l.kind DESC",
            params![run_id],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| StatementLine {
            occurred_at: Timestamp::from_millis(r.occurred_at)
                .to_local_rfc3339(parse_tz(&r.timezone)),
            kind: r.kind,
            fact_id: r.fact_id,
            booking_id: r.booking_id,
            theatre_id: r.theatre_id,
            show_id: r.show_id,
            business_date: r.business_date,
            adjustment: r.adjustment,
            currency: r.currency,
            customer_amount: r.customer_amount,
            ticket_amount: r.ticket_amount,
            fee_amount: r.fee_amount,
            commission_bp: r.commission_bp,
            commission: r.commission,
            net: r.net,
        })
        .collect())
}

/// One statement with its lines; `org_id` limits it to that organisation's.
pub async fn get(
    app: &AppState,
    org_id: Option<&PartnerOrgId>,
    run_id: &str,
) -> Result<Statement, SettlementError> {
    let row: Option<RunRow> = app
        .db
        .fetch_optional(&format!("{RUN} WHERE id = $1"), params![run_id])
        .await?;
    let row = row
        .filter(|row| org_id.is_none_or(|org| org.as_str() == row.org_id))
        .ok_or_else(|| SettlementError::UnknownSettlement(run_id.to_owned()))?;
    let lines = lines_of(app, &row.id).await?;
    Ok(row.view(Some(lines)))
}

/// Statements, newest business day first; `org_id` limits them to one organisation.
pub async fn list(
    app: &AppState,
    org_id: Option<&str>,
    page: PageRequest<(String, String)>,
) -> Result<Page<Statement>, SettlementError> {
    let (before_date, before_id) = page.after.unwrap_or(("9999-12-31".into(), String::new()));
    let rows: Vec<RunRow> = app
        .db
        .fetch_all(
            &format!(
                "{RUN} WHERE ($1 IS NULL OR org_id = $1) \
                 AND (business_date < $2 OR (business_date = $2 AND ($3 = '' OR id < $3))) \
                 ORDER BY business_date DESC, id DESC LIMIT $4"
            ),
            params![org_id, &before_date, &before_id, i64::from(page.limit) + 1],
        )
        .await?;
    let views: Vec<Statement> = rows.into_iter().map(|row| row.view(None)).collect();
    Ok(Page::from_rows(views, page.limit, |s| {
        (s.business_date.clone(), s.id.clone())
    }))
}

/// The statement as CSV: one row per line, then one `total` row per currency. Amounts in
/// minor units.
pub fn to_csv(statement: &Statement) -> Result<Vec<u8>, SettlementError> {
    let mut out = CsvOut::new();
    out.row([
        "settlement_id",
        "business_date",
        "kind",
        "booking_id",
        "theatre_id",
        "show_id",
        "occurred_at",
        "line_business_date",
        "adjustment",
        "currency",
        "customer_amount",
        "ticket_amount",
        "fee_amount",
        "commission_bp",
        "commission",
        "net",
    ])?;
    for l in statement.lines.iter().flatten() {
        out.row([
            statement.id.as_str(),
            &statement.business_date,
            &l.kind,
            &l.booking_id,
            &l.theatre_id,
            &l.show_id,
            &l.occurred_at,
            &l.business_date,
            if l.adjustment { "true" } else { "false" },
            &l.currency,
            &l.customer_amount.to_string(),
            &l.ticket_amount.to_string(),
            &l.fee_amount.to_string(),
            &l.commission_bp.to_string(),
            &l.commission.to_string(),
            &l.net.to_string(),
        ])?;
    }
    for t in &statement.totals {
        out.row([
            statement.id.as_str(),
            &statement.business_date,
            "total",
            "",
            "",
            "",
            "",
            "",
            "",
            &t.currency,
            &(t.customer_paid - t.customer_refunded).to_string(),
            &(t.gross - t.refunds).to_string(),
            &t.fees.to_string(),
            "",
            &t.commission.to_string(),
            &t.net_payable.to_string(),
        ])?;
    }
    out.finish()
}

/// Settles, for every organisation with theatres, each business day after its last
/// statement that is over everywhere it has theatres (at most `MAX_DAYS_PER_ROUND` per
/// organisation and round). An organisation's first statement is for the day of its first
/// sale. Returns the runs made.
pub async fn settle_due(app: &AppState) -> Result<usize, SettlementError> {
    const MAX_DAYS_PER_ROUND: usize = 31;
    let orgs: Vec<String> = app
        .db
        .fetch_all(
            "SELECT DISTINCT org_id FROM theatres ORDER BY org_id",
            params![],
        )
        .await?;
    let now = app.clock.now();
    let mut made = 0;
    for org in orgs {
        let Some(org_id) = PartnerOrgId::parse(&org) else {
            continue;
        };
        let zones = theatre_zones(app, &org_id).await?;
        let last_closed = last_closed_day(now, &zones);
        let latest: Option<String> = app
            .db
            .fetch_optional(
                "SELECT business_date FROM settlement_runs WHERE org_id = $1 \
                 ORDER BY business_date DESC LIMIT 1",
                params![org.as_str()],
            )
            .await?;
        let first = match latest.as_deref().and_then(crate::time::parse_date) {
            Some(latest) => latest.succ_opt(),
            None => first_sale_day(app, &org_id, &zones).await?,
        };
        let Some(mut day) = first else { continue };
        let mut rounds = 0;
        while day <= last_closed && rounds < MAX_DAYS_PER_ROUND {
            if run_day(app, &org_id, day, "scheduler").await?.1 {
                made += 1;
            }
            rounds += 1;
            day = match day.succ_opt() {
                Some(next) => next,
                None => break,
            };
        }
    }
    Ok(made)
}

/// The business day of the organisation's first confirmed sale, if any.
async fn first_sale_day(
    app: &AppState,
    org_id: &PartnerOrgId,
    zones: &HashMap<String, Tz>,
) -> Result<Option<NaiveDate>, SettlementError> {
    let first: Option<(Option<i64>, Option<String>)> = app
        .db
        .fetch_optional(
            "SELECT b.confirmed_at, s.theatre_id FROM bookings b \
             JOIN shows s ON s.id = b.show_id JOIN theatres t ON t.id = s.theatre_id \
             WHERE t.org_id = $1 AND b.confirmed_at IS NOT NULL \
             ORDER BY b.confirmed_at LIMIT 1",
            params![org_id.as_str()],
        )
        .await?;
    Ok(first.and_then(|(at, theatre)| {
        let tz = theatre
            .and_then(|t| zones.get(&t).copied())
            .unwrap_or(Tz::UTC);
        at.map(|at| Timestamp::from_millis(at).local_date(tz))
    }))
}

/// Settles due days every `settlement.run_interval_ms` until `shutdown` resolves.
pub async fn run_scheduler(app: AppState, shutdown: impl std::future::Future<Output = ()>) {
    let interval = std::time::Duration::from_millis(app.config.settlement.run_interval_ms.max(100));
    let work = async {
        loop {
            if let Err(error) = settle_due(&app).await {
                tracing::warn!(%error, "settlement run");
            }
            tokio::time::sleep(interval).await;
        }
    };
    tokio::select! {
        () = work => {}
        () = shutdown => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_closed_once_it_is_over_in_every_timezone() {
        let zones: HashMap<String, Tz> = [
            ("thr_a".to_owned(), chrono_tz::Asia::Kolkata),
            ("thr_b".to_owned(), chrono_tz::Europe::London),
        ]
        .into();
        let at = |rfc: &str| Timestamp::from_datetime(rfc.parse().unwrap());
        // 23:00 UTC on the 22nd: over in Kolkata (04:30 on the 23rd), not in London.
        assert_eq!(
            last_closed_day(at("2026-11-22T23:00:00Z"), &zones).to_string(),
            "2026-11-21"
        );
        assert_eq!(
            last_closed_day(at("2026-11-23T00:00:00Z"), &zones).to_string(),
            "2026-11-22"
        );
        let kolkata: HashMap<String, Tz> = [("t".to_owned(), chrono_tz::Asia::Kolkata)].into();
        assert_eq!(
            last_closed_day(at("2026-11-22T18:30:00Z"), &kolkata).to_string(),
            "2026-11-22"
        );
        assert_eq!(
            last_closed_day(at("2026-11-22T18:29:59Z"), &kolkata).to_string(),
            "2026-11-21"
        );
    }
}
