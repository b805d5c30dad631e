//! Authentication as extractors: a handler that takes `Customer`, `Partner` or `Admin` can
//! only run for a caller with a valid access token of that role whose account is active.

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, Method, header::AUTHORIZATION, request::Parts},
};

use super::{IdentityError, model::Principal, model::Role, tokens::TokenError};
use crate::{app::AppState, http::error::ApiError};

/// Any signed-in caller.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

/// A signed-in customer.
#[derive(Debug, Clone)]
pub struct Customer(pub Principal);

/// A signed-in member of a partner organisation.
#[derive(Debug, Clone)]
pub struct Partner(pub Principal);

/// A signed-in administrator.
#[derive(Debug, Clone)]
pub struct Admin(pub Principal);

/// The token of an `Authorization: Bearer …` header.
pub(crate) fn bearer(headers: &HeaderMap) -> Result<&str, IdentityError> {
    let header = headers
        .get(AUTHORIZATION)
        .ok_or(IdentityError::Unauthenticated(
            "sign in: send Authorization: Bearer <access token>",
        ))?;
    let value = header
        .to_str()
        .map_err(|_| IdentityError::Unauthenticated("the Authorization header is malformed"))?;
    let (scheme, token) = value.split_once(' ').ok_or(IdentityError::Unauthenticated(
        "the Authorization header is malformed",
    ))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(IdentityError::Unauthenticated(
            "the Authorization header must use the Bearer scheme",
        ));
    }
    Ok(token.trim())
}

/// Whether a bearer token is a partner API key (`mk_…`) rather than an access token.
pub(crate) fn is_api_key(token: &str) -> bool {
    token.starts_with(super::api_keys::PREFIX)
        && token[super::api_keys::PREFIX.len()..].starts_with('_')
}

/// The caller behind an access token, or behind an API key where `allow_api_key`.
async fn authenticate_with(
    parts: &Parts,
    app: &AppState,
    allow_api_key: bool,
) -> Result<Principal, IdentityError> {
    let principal = authenticate_token(parts, app, allow_api_key).await?;
    // An audited request's record names who made it (`audit::ActorSlot`).
    if let Some(slot) = parts.extensions.get::<crate::audit::ActorSlot>() {
        slot.fill(&principal);
    }
    Ok(principal)
}

async fn authenticate_token(
    parts: &Parts,
    app: &AppState,
    allow_api_key: bool,
) -> Result<Principal, IdentityError> {
    let token = bearer(&parts.headers)?;
    if is_api_key(token) {
        if !allow_api_key {
            return Err(IdentityError::Forbidden(
                "API keys can only call partner routes",
            ));
        }
        let principal = super::api_keys::authenticate(&app.db, token).await?;
        app.active_accounts.ensure(&app.db, &principal).await?;
        return Ok(principal);
    }
    let mut verified = app.tokens.verify(token, app.clock.now());
    if verified == Err(TokenError::UnknownKey) {
        // Signed with a key rotated in through another node: read the keys again (at most
        // once a second) and look once more.
        super::service::reload_token_keys(app, std::time::Duration::from_secs(1)).await?;
        verified = app.tokens.verify(token, app.clock.now());
    }
    let principal = verified.map_err(|error| match error {
        TokenError::Expired => IdentityError::TokenExpired,
        TokenError::Invalid | TokenError::UnknownKey => {
            IdentityError::Unauthenticated("the access token is not valid")
        }
    })?;
    // Tokens live minutes, but a disabled account is refused at once.
    app.active_accounts.ensure(&app.db, &principal).await?;
    Ok(principal)
}

async fn authenticate(parts: &Parts, app: &AppState) -> Result<Principal, IdentityError> {
    authenticate_with(parts, app, false).await
}

async fn with_role(parts: &Parts, app: &AppState, role: Role) -> Result<Principal, ApiError> {
    let principal = authenticate(parts, app).await?;
    if principal.role != role {
        return Err(IdentityError::Forbidden(match role {
            Role::Customer => "this needs a customer account",
            Role::Partner => "this needs a partner account",
            Role::Admin => "this needs an administrator",
        })
        .into());
    }
    Ok(principal)
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        Ok(Self(authenticate(parts, app).await?))
    }
}

impl FromRequestParts<AppState> for Customer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        Ok(Self(with_role(parts, app, Role::Customer).await?))
    }
}

impl FromRequestParts<AppState> for Partner {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let principal = authenticate_with(parts, app, true).await?;
        if principal.role != Role::Partner {
            return Err(IdentityError::Forbidden("this needs a partner account").into());
        }
        // Every write of an organisation (its people and its API keys) counts against one
        // limit: a runaway integration cannot flood the platform.
        if !matches!(parts.method, Method::GET | Method::HEAD)
            && let Some(org) = &principal.org_id
        {
            app.limits
                .check(crate::limits::Limit::PartnerWrite, org.as_str())
                .await?;
        }
        Ok(Self(principal))
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        Ok(Self(with_role(parts, app, Role::Admin).await?))
    }
}
