//! Price rules: partners manage their own (`/api/v1/partner/price-rules`), administrators
//! the platform's (`/api/v1/admin/price-rules`) and the holiday calendars
//! (`/api/v1/admin/holidays/{country}`).

use axum::{Json, extract::State, http::StatusCode};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::service::{self, HolidayCalendar, HolidayYear, PriceRuleRequest, PriceRuleView};
use crate::{
    app::AppState,
    catalog::{manage::ensure_approved, partner_routes::org_of},
    http::{
        error::{ApiError, Problem},
        extract::{ApiJson, ApiPath},
    },
    identity::extract::{Admin, Partner},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_partner_rule, list_partner_rules))
        .routes(routes!(
            get_partner_rule,
            replace_partner_rule,
            delete_partner_rule
        ))
        .routes(routes!(create_platform_rule, list_platform_rules))
        .routes(routes!(
            get_platform_rule,
            replace_platform_rule,
            delete_platform_rule
        ))
        .routes(routes!(holiday_calendar, replace_holiday_year))
}

/// The partner's organisation, approved.
async fn approved_org(app: &AppState, partner: &Partner) -> Result<String, ApiError> {
    let org = org_of(partner)?;
    ensure_approved(&app.db, org).await?;
    Ok(org.to_string())
}

/// Create a price rule for the organisation's shows (or those at the listed theatres).
/// It applies to quotes and holds from now on; holds already made keep their price.
#[utoipa::path(post, path = "/api/v1/partner/price-rules", tag = "pricing",
    security(("bearer" = [])),
    request_body = PriceRuleRequest,
    responses((status = 201, body = PriceRuleView),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_partner_rule(
    State(app): State<AppState>,
    partner: Partner,
    ApiJson(body): ApiJson<PriceRuleRequest>,
) -> Result<(StatusCode, Json<PriceRuleView>), ApiError> {
    let org = approved_org(&app, &partner).await?;
    let rule = service::save(&app, None, Some(&org), &body).await?;
    Ok((StatusCode::CREATED, Json(rule)))
}

/// The organisation's price rules, oldest first.
#[utoipa::path(get, path = "/api/v1/partner/price-rules", tag = "pricing",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<PriceRuleView>),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
async fn list_partner_rules(
    State(app): State<AppState>,
    partner: Partner,
) -> Result<Json<Vec<PriceRuleView>>, ApiError> {
    let org = org_of(&partner)?;
    Ok(Json(service::list(&app.db, Some(org.as_str())).await?))
}

/// One of the organisation's price rules (404 for another's).
#[utoipa::path(get, path = "/api/v1/partner/price-rules/{rule_id}", tag = "pricing",
    security(("bearer" = [])),
    params(("rule_id" = String, Path, description = "Price rule id")),
    responses((status = 200, body = PriceRuleView),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_partner_rule(
    State(app): State<AppState>,
    partner: Partner,
    ApiPath(rule_id): ApiPath<String>,
) -> Result<Json<PriceRuleView>, ApiError> {
    let org = org_of(&partner)?;
    Ok(Json(
        service::get(&app.db, &rule_id, Some(org.as_str())).await?,
    ))
}

/// Replace one of the organisation's price rules (404 for another's).
#[utoipa::path(put, path = "/api/v1/partner/price-rules/{rule_id}", tag = "pricing",
    security(("bearer" = [])),
    params(("rule_id" = String, Path, description = "Price rule id")),
    request_body = PriceRuleRequest,
    responses((status = 200, body = PriceRuleView),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn replace_partner_rule(
    State(app): State<AppState>,
    partner: Partner,
    ApiPath(rule_id): ApiPath<String>,
    ApiJson(body): ApiJson<PriceRuleRequest>,
) -> Result<Json<PriceRuleView>, ApiError> {
    let org = approved_org(&app, &partner).await?;
    Ok(Json(
        service::save(&app, Some(rule_id), Some(&org), &body).await?,
    ))
}

/// Delete one of the organisation's price rules (404 for another's).
#[utoipa::path(delete, path = "/api/v1/partner/price-rules/{rule_id}", tag = "pricing",
    security(("bearer" = [])),
    params(("rule_id" = String, Path, description = "Price rule id")),
    responses((status = 204, description = "Deleted"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn delete_partner_rule(
    State(app): State<AppState>,
    partner: Partner,
    ApiPath(rule_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let org = org_of(&partner)?;
    service::delete(&app, &rule_id, Some(org.as_str())).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create a platform price rule (administrators): every show, or those in the listed
/// cities or at the listed theatres. Platform rules stack before partners' of a kind.
#[utoipa::path(post, path = "/api/v1/admin/price-rules", tag = "pricing",
    security(("bearer" = [])),
    request_body = PriceRuleRequest,
    responses((status = 201, body = PriceRuleView),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_platform_rule(
    State(app): State<AppState>,
    _admin: Admin,
    ApiJson(body): ApiJson<PriceRuleRequest>,
) -> Result<(StatusCode, Json<PriceRuleView>), ApiError> {
    let rule = service::save(&app, None, None, &body).await?;
    Ok((StatusCode::CREATED, Json(rule)))
}

/// The platform's price rules, oldest first (administrators).
#[utoipa::path(get, path = "/api/v1/admin/price-rules", tag = "pricing",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<PriceRuleView>)))]
async fn list_platform_rules(
    State(app): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<PriceRuleView>>, ApiError> {
    Ok(Json(service::list(&app.db, None).await?))
}

/// One platform price rule (administrators).
#[utoipa::path(get, path = "/api/v1/admin/price-rules/{rule_id}", tag = "pricing",
    security(("bearer" = [])),
    params(("rule_id" = String, Path, description = "Price rule id")),
    responses((status = 200, body = PriceRuleView),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_platform_rule(
    State(app): State<AppState>,
    _admin: Admin,
    ApiPath(rule_id): ApiPath<String>,
) -> Result<Json<PriceRuleView>, ApiError> {
    Ok(Json(service::get(&app.db, &rule_id, None).await?))
}

/// Replace a platform price rule (administrators).
#[utoipa::path(put, path = "/api/v1/admin/price-rules/{rule_id}", tag = "pricing",
    security(("bearer" = [])),
    params(("rule_id" = String, Path, description = "Price rule id")),
    request_body = PriceRuleRequest,
    responses((status = 200, body = PriceRuleView),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn replace_platform_rule(
    State(app): State<AppState>,
    _admin: Admin,
    ApiPath(rule_id): ApiPath<String>,
    ApiJson(body): ApiJson<PriceRuleRequest>,
) -> Result<Json<PriceRuleView>, ApiError> {
    Ok(Json(service::save(&app, Some(rule_id), None, &body).await?))
}

/// Delete a platform price rule (administrators).
#[utoipa::path(delete, path = "/api/v1/admin/price-rules/{rule_id}", tag = "pricing",
    security(("bearer" = [])),
    params(("rule_id" = String, Path, description = "Price rule id")),
    responses((status = 204, description = "Deleted"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn delete_platform_rule(
    State(app): State<AppState>,
    _admin: Admin,
    ApiPath(rule_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    service::delete(&app, &rule_id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A country's public holidays, which `holiday` price rules read on a show's local date
/// (administrators).
#[utoipa::path(get, path = "/api/v1/admin/holidays/{country}", tag = "pricing",
    security(("bearer" = [])),
    params(("country" = String, Path, description = "ISO 3166-1 alpha-2 country code")),
    responses((status = 200, body = HolidayCalendar),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn holiday_calendar(
    State(app): State<AppState>,
    _admin: Admin,
    ApiPath(country): ApiPath<String>,
) -> Result<Json<HolidayCalendar>, ApiError> {
    Ok(Json(service::calendar(&app.db, &country).await?))
}

/// Replace a country's public holidays of one year (administrators).
#[utoipa::path(put, path = "/api/v1/admin/holidays/{country}", tag = "pricing",
    security(("bearer" = [])),
    params(("country" = String, Path, description = "ISO 3166-1 alpha-2 country code")),
    request_body = HolidayYear,
    responses((status = 200, body = HolidayCalendar),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn replace_holiday_year(
    State(app): State<AppState>,
    _admin: Admin,
    ApiPath(country): ApiPath<String>,
    ApiJson(body): ApiJson<HolidayYear>,
) -> Result<Json<HolidayCalendar>, ApiError> {
    Ok(Json(service::replace_year(&app, &country, &body).await?))
}
