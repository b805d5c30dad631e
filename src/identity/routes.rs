//! Registration, login, token refresh, logout and the caller's own account.

use std::net::SocketAddr;

use axum::{
    Json,
    extract::{ConnectInfo, State},
    http::StatusCode,
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    extract::Authenticated,
    model::{Locale, Role},
    service::{self, Account, TokenPair},
};
use crate::{
    app::AppState,
    http::{
        error::{ApiError, Problem},
        extract::ApiJson,
    },
    limits::Limit,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me, update_me))
        .routes(routes!(export))
        .routes(routes!(erase))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    pub email: String,
    /// 10 to 128 characters, not the e-mail address.
    pub password: String,
    pub display_name: String,
    /// The language of the account's messages: `en` (default) or `fr`.
    #[schema(example = "fr")]
    pub locale: Option<String>,
}

/// Changes to the caller's own account; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountChanges {
    /// The language of the account's messages: `en` or `fr` (422 `unsupported-locale`
    /// otherwise).
    #[schema(example = "fr")]
    pub locale: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Create a customer account.
///
/// Limited per client address (429 with `Retry-After`).
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "identity",
    request_body = Registration,
    responses((status = 201, body = Account),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json"),
              (status = 429, body = Problem, content_type = "application/problem+json")))]
async fn register(
    State(app): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    ApiJson(body): ApiJson<Registration>,
) -> Result<(StatusCode, Json<Account>), ApiError> {
    app.limits
        .check(Limit::Registration, &client.ip().to_string())
        .await?;
    let locale = match &body.locale {
        Some(text) => service::parse_locale(text)?,
        None => Locale::default(),
    };
    let account = service::register(
        &app.db,
        &body.email,
        &body.password,
        &body.display_name,
        Role::Customer,
        locale,
        app.clock.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(account)))
}

/// Sign in; returns an access token and a single-use refresh token.
///
/// Limited per account and per client address (429 with `Retry-After`).
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "identity",
    request_body = Credentials,
    responses((status = 200, body = TokenPair),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 429, body = Problem, content_type = "application/problem+json")))]
async fn login(
    State(app): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Json<TokenPair>, ApiError> {
    Ok(Json(
        service::login(&app, &body.email, &body.password, client.ip()).await?,
    ))
}

/// Exchange a refresh token for a new pair. Reusing a refresh token signs out every
/// session of that login.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "identity",
    request_body = RefreshRequest,
    responses((status = 200, body = TokenPair),
              (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn refresh(
    State(app): State<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    Ok(Json(service::refresh(&app, &body.refresh_token).await?))
}

/// End a login: its refresh tokens stop working. Access tokens expire on their own.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "identity",
    request_body = RefreshRequest,
    responses((status = 204, description = "Signed out")))]
async fn logout(
    State(app): State<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<StatusCode, ApiError> {
    service::logout(&app, &body.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Everything Marquee holds about the signed-in customer, as one JSON document (GDPR
/// access and portability): account, bookings, payments, waitlist and waiting-room
/// entries, messages sent and sign-ins. Times are milliseconds since the epoch (UTC).
#[utoipa::path(get, path = "/api/v1/me/export", tag = "identity",
    security(("bearer" = [])),
    responses((status = 200, body = super::privacy::Export),
              (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn export(
    State(app): State<AppState>,
    Authenticated(principal): Authenticated,
) -> Result<Json<super::privacy::Export>, ApiError> {
    Ok(Json(super::privacy::export(&app, &principal).await?))
}

/// Erase the signed-in customer's account (GDPR erasure), confirmed with the password.
/// The e-mail address, name, password, sessions and the addresses of messages sent are
/// removed for good; bookings and payments keep their amounts for accounting, tied to an
/// account that no longer says who it was. The account cannot sign in again.
#[utoipa::path(post, path = "/api/v1/me/erase", tag = "identity",
    security(("bearer" = [])),
    request_body = super::privacy::EraseRequest,
    responses((status = 200, body = super::privacy::Erased),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn erase(
    State(app): State<AppState>,
    Authenticated(principal): Authenticated,
    ApiJson(body): ApiJson<super::privacy::EraseRequest>,
) -> Result<Json<super::privacy::Erased>, ApiError> {
    Ok(Json(
        super::privacy::erase(&app, &principal, &body.password).await?,
    ))
}

/// The signed-in caller's account.
#[utoipa::path(get, path = "/api/v1/me", tag = "identity",
    security(("bearer" = [])),
    responses((status = 200, body = Account),
              (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn me(
    State(app): State<AppState>,
    Authenticated(principal): Authenticated,
) -> Result<Json<Account>, ApiError> {
    Ok(Json(service::me(&app.db, &principal).await?))
}

/// Change the signed-in caller's account: the language of its messages (`en`, `fr`).
#[utoipa::path(patch, path = "/api/v1/me", tag = "identity",
    security(("bearer" = [])),
    request_body = AccountChanges,
    responses((status = 200, body = Account),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn update_me(
    State(app): State<AppState>,
    Authenticated(principal): Authenticated,
    ApiJson(body): ApiJson<AccountChanges>,
) -> Result<Json<Account>, ApiError> {
    let locale = body
        .locale
        .as_deref()
        .map(service::parse_locale)
        .transpose()?;
    Ok(Json(service::update_me(&app.db, &principal, locale).await?))
}
