//! Settlement routes: partners read their statements (JSON, or CSV with `.csv`);
//! administrators set commission, run days by hand, reconcile and report.

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    SettlementError,
    commission::{self, CommissionRate, NewRateRequest},
    reconcile::{self, Reconciliation},
    reports::{self, ReportQuery, SalesReport},
    runs::{self, Statement},
};
use crate::{
    app::AppState,
    catalog::partner_routes::org_of,
    http::{
        error::{ApiError, Problem},
        extract::{ApiJson, ApiPath, ApiQuery},
        pagination::{Page, PageParams},
    },
    identity::extract::{Admin, Partner},
    ids::PartnerOrgId,
    time::parse_date,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_statements))
        .routes(routes!(get_statement))
        .routes(routes!(run_settlement, admin_list_statements))
        .routes(routes!(admin_get_statement))
        .routes(routes!(set_commission_rate, list_commission_rates))
        .routes(routes!(reconciliation))
        .routes(routes!(sales_report))
}

/// A statement as JSON, or as CSV when its id is asked for with `.csv`.
fn statement_response(statement: Statement, csv: bool) -> Result<Response, ApiError> {
    if csv {
        let name = format!(
            "settlement-{}-{}.csv",
            statement.org_id, statement.business_date
        );
        Ok(crate::http::csv_attachment(
            runs::to_csv(&statement)?,
            &name,
        ))
    } else {
        Ok(Json(statement).into_response())
    }
}

/// The organisation's settlement statements (one per business day, paid out the next
/// day), newest first, without their lines.
#[utoipa::path(get, path = "/api/v1/partner/settlements", tag = "settlement",
    security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, body = Page<Statement>),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
async fn list_statements(
    State(app): State<AppState>,
    partner: Partner,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<Statement>>, ApiError> {
    let org = org_of(&partner)?;
    Ok(Json(
        runs::list(&app, Some(org.as_str()), page.request()?).await?,
    ))
}

/// One statement with every line (a sale or refund each; amounts in minor units). Ask for
/// `{settlement_id}.csv` to download it as CSV: the lines, then one `total` row per
/// currency.
#[utoipa::path(get, path = "/api/v1/partner/settlements/{settlement_id}", tag = "settlement",
    security(("bearer" = [])),
    params(("settlement_id" = String, Path, description = "`stl_…`, or `stl_….csv` for CSV")),
    responses((status = 200, body = Statement,
               content((Statement = "application/json"), (String = "text/csv"))),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_statement(
    State(app): State<AppState>,
    partner: Partner,
    ApiPath(settlement_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let org = org_of(&partner)?;
    let (id, csv) = split_csv(&settlement_id);
    statement_response(runs::get(&app, Some(org), id).await?, csv)
}

fn split_csv(id: &str) -> (&str, bool) {
    match id.strip_suffix(".csv") {
        Some(id) => (id, true),
        None => (id, false),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    pub org_id: String,
    /// The business day, `YYYY-MM-DD`; it must be over in all the organisation's
    /// theatres' timezones.
    pub business_date: String,
}

/// Settle an organisation's business day by hand (administrators). The scheduled job does
/// the same each day; running a settled day again answers its statement unchanged (200).
#[utoipa::path(post, path = "/api/v1/admin/settlements", tag = "settlement",
    security(("bearer" = [])),
    request_body = RunRequest,
    responses((status = 201, body = Statement, description = "Settled now"),
              (status = 200, body = Statement, description = "Settled before"),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn run_settlement(
    State(app): State<AppState>,
    Admin(admin): Admin,
    ApiJson(request): ApiJson<RunRequest>,
) -> Result<(StatusCode, Json<Statement>), ApiError> {
    let org = PartnerOrgId::parse(&request.org_id)
        .ok_or_else(|| SettlementError::UnknownPartner(request.org_id.clone()))?;
    let date = parse_date(&request.business_date).ok_or_else(|| {
        SettlementError::InvalidInput(format!(
            "business_date {:?} is not a YYYY-MM-DD date",
            request.business_date
        ))
    })?;
    let (statement, made) = runs::run_day(&app, &org, date, admin.user_id.as_str()).await?;
    let status = if made {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(statement)))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatementFilter {
    /// Only this organisation's statements.
    pub org_id: Option<String>,
}

/// Every organisation's statements, newest first (administrators).
#[utoipa::path(get, path = "/api/v1/admin/settlements", tag = "settlement",
    security(("bearer" = [])),
    params(StatementFilter, PageParams),
    responses((status = 200, body = Page<Statement>),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
async fn admin_list_statements(
    State(app): State<AppState>,
    _admin: Admin,
    ApiQuery(filter): ApiQuery<StatementFilter>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<Statement>>, ApiError> {
    Ok(Json(
        runs::list(&app, filter.org_id.as_deref(), page.request()?).await?,
    ))
}

/// Any statement with its lines (administrators); `.csv` for CSV.
#[utoipa::path(get, path = "/api/v1/admin/settlements/{settlement_id}", tag = "settlement",
    security(("bearer" = [])),
    params(("settlement_id" = String, Path, description = "`stl_…`, or `stl_….csv` for CSV")),
    responses((status = 200, body = Statement,
               content((Statement = "application/json"), (String = "text/csv"))),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn admin_get_statement(
    State(app): State<AppState>,
    _admin: Admin,
    ApiPath(settlement_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let (id, csv) = split_csv(&settlement_id);
    statement_response(runs::get(&app, None, id).await?, csv)
}

/// Set an organisation's commission from a business date (administrators). It may not
/// start on a day already settled; an open-ended earlier rate ends where it starts; other
/// overlaps are refused (409 `commission-conflict`).
#[utoipa::path(post, path = "/api/v1/admin/partners/{org_id}/commission-rates", tag = "settlement",
    security(("bearer" = [])),
    params(("org_id" = String, Path)),
    request_body = NewRateRequest,
    responses((status = 201, body = CommissionRate),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn set_commission_rate(
    State(app): State<AppState>,
    Admin(admin): Admin,
    ApiPath(org_id): ApiPath<String>,
    ApiJson(request): ApiJson<NewRateRequest>,
) -> Result<(StatusCode, Json<CommissionRate>), ApiError> {
    let org = PartnerOrgId::parse(&org_id).ok_or(SettlementError::UnknownPartner(org_id))?;
    let rate = commission::set(&app, &org, &request, admin.user_id.as_str()).await?;
    Ok((StatusCode::CREATED, Json(rate)))
}

/// An organisation's commission rates, earliest first (administrators). Days no rate
/// covers use the platform's default (`settlement.default_commission_bp`).
#[utoipa::path(get, path = "/api/v1/admin/partners/{org_id}/commission-rates", tag = "settlement",
    security(("bearer" = [])),
    params(("org_id" = String, Path)),
    responses((status = 200, body = Vec<CommissionRate>),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn list_commission_rates(
    State(app): State<AppState>,
    _admin: Admin,
    ApiPath(org_id): ApiPath<String>,
) -> Result<Json<Vec<CommissionRate>>, ApiError> {
    let org = PartnerOrgId::parse(&org_id).ok_or(SettlementError::UnknownPartner(org_id))?;
    Ok(Json(commission::list(&app, &org).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReconciliationQuery {
    /// The day (UTC), `YYYY-MM-DD`.
    pub date: String,
    /// `json` (default) or `csv` (the mismatches).
    pub format: Option<String>,
}

/// Reconcile a day's payments with the gateway's ledger (administrators): every capture
/// and refund matched to a payment, and every mismatch listed with its reason.
#[utoipa::path(get, path = "/api/v1/admin/reconciliation", tag = "settlement",
    security(("bearer" = [])),
    params(ReconciliationQuery),
    responses((status = 200, body = Reconciliation,
               content((Reconciliation = "application/json"), (String = "text/csv"))),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
async fn reconciliation(
    State(app): State<AppState>,
    _admin: Admin,
    ApiQuery(query): ApiQuery<ReconciliationQuery>,
) -> Result<Response, ApiError> {
    let date = parse_date(&query.date).ok_or_else(|| {
        SettlementError::InvalidInput(format!("date {:?} is not a YYYY-MM-DD date", query.date))
    })?;
    let csv = wants_csv(query.format.as_deref())?;
    let report = reconcile::reconcile_day(&app, date).await?;
    if csv {
        let name = format!("reconciliation-{date}.csv");
        Ok(crate::http::csv_attachment(
            reconcile::to_csv(&report)?,
            &name,
        ))
    } else {
        Ok(Json(report).into_response())
    }
}

fn wants_csv(format: Option<&str>) -> Result<bool, SettlementError> {
    match format {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(other) => Err(SettlementError::InvalidInput(format!(
            "format must be json or csv, not {other:?}"
        ))),
    }
}

/// Sales, refunds, fees and commission of settled days, by city, theatre, movie or day
/// (administrators); JSON or CSV.
#[utoipa::path(get, path = "/api/v1/admin/reports/sales", tag = "settlement",
    security(("bearer" = [])),
    params(ReportQuery),
    responses((status = 200, body = SalesReport,
               content((SalesReport = "application/json"), (String = "text/csv"))),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
async fn sales_report(
    State(app): State<AppState>,
    _admin: Admin,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    let csv = wants_csv(query.format.as_deref())?;
    let report = reports::sales(&app, &query).await?;
    if csv {
        let name = format!(
            "sales-by-{}-{}-{}.csv",
            report.group_by, report.from, report.to
        );
        Ok(crate::http::csv_attachment(
            reports::to_csv(&report)?,
            &name,
        ))
    } else {
        Ok(Json(report).into_response())
    }
}
