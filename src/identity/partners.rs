//! Partner onboarding: an organisation signs up with its first member, an administrator
//! approves it, and only then can it create theatres.

use axum::{
    Json,
    extract::{ConnectInfo, State},
    http::StatusCode,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    IdentityError,
    extract::Admin,
    service::{self, Account},
    store,
};
use crate::{
    app::AppState,
    http::{
        error::{ApiError, Problem},
        extract::{ApiJson, ApiPath, ApiQuery},
    },
    ids::PartnerOrgId,
    time::Timestamp,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(list_partners))
        .routes(routes!(approve_partner))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartnerSignup {
    pub organisation_name: String,
    pub email: String,
    pub password: String,
    pub display_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerOrganisation {
    #[schema(value_type = String)]
    pub id: PartnerOrgId,
    pub name: String,
    /// `pending`, `approved` or `suspended`.
    pub status: String,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PartnerFilter {
    /// `pending`, `approved` or `suspended`.
    status: Option<String>,
}

/// Sign up a partner organisation with its first member. The account can sign in at once;
/// the organisation can create theatres once an administrator approves it. Limited per
/// client address, like customer registration.
#[utoipa::path(post, path = "/api/v1/partner/signup", tag = "partner",
    request_body = PartnerSignup,
    responses((status = 201, body = Account),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 429, body = Problem, content_type = "application/problem+json")))]
async fn signup(
    State(app): State<AppState>,
    ConnectInfo(client): ConnectInfo<std::net::SocketAddr>,
    ApiJson(body): ApiJson<PartnerSignup>,
) -> Result<(StatusCode, Json<Account>), ApiError> {
    app.limits
        .check(crate::limits::Limit::Registration, &client.ip().to_string())
        .await?;
    let account = service::signup_partner(
        &app.db,
        &body.organisation_name,
        &body.email,
        &body.password,
        &body.display_name,
        app.clock.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(account)))
}

/// Partner organisations, oldest first (administrators).
#[utoipa::path(get, path = "/api/v1/admin/partners", tag = "admin",
    security(("bearer" = [])),
    params(PartnerFilter),
    responses((status = 200, body = Vec<PartnerOrganisation>),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
async fn list_partners(
    State(app): State<AppState>,
    _admin: Admin,
    ApiQuery(filter): ApiQuery<PartnerFilter>,
) -> Result<Json<Vec<PartnerOrganisation>>, ApiError> {
    if let Some(status) = filter.status.as_deref()
        && !["pending", "approved", "suspended"].contains(&status)
    {
        return Err(ApiError::InvalidQuery(
            "status must be pending, approved or suspended".into(),
        ));
    }
    let rows = store::list_orgs(&app.db, filter.status.as_deref())
        .await
        .map_err(IdentityError::from)?;
    Ok(Json(
        rows.into_iter()
            .map(|row| PartnerOrganisation {
                id: PartnerOrgId::from_trusted(row.id),
                name: row.name,
                status: row.status,
                created_at: Timestamp::from_millis(row.created_at),
            })
            .collect(),
    ))
}

/// Approve a pending partner organisation (administrators).
#[utoipa::path(post, path = "/api/v1/admin/partners/{org_id}/approve", tag = "admin",
    security(("bearer" = [])),
    params(("org_id" = String, Path, description = "Partner organisation id")),
    responses((status = 204, description = "Approved"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn approve_partner(
    State(app): State<AppState>,
    _admin: Admin,
    ApiPath(org_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let now = app.clock.now();
    let id = org_id.clone();
    let approved = app
        .db
        .write(move |tx| store::approve_org(tx, &id, now))
        .await
        .map_err(IdentityError::from)?;
    if !approved {
        return Err(IdentityError::UnknownPendingOrganisation(org_id).into());
    }
    Ok(StatusCode::NO_CONTENT)
}
