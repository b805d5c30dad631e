//! Administrators' account management.

use axum::{extract::State, http::StatusCode};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{IdentityError, extract::Admin, store};
use crate::{
    app::AppState,
    http::{
        error::{ApiError, Problem},
        extract::ApiPath,
    },
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(disable_user))
        .routes(routes!(enable_user))
        .routes(routes!(rotate_signing_key))
        .routes(routes!(rotate_ticket_key))
}

/// Rotate the ticket-code key (administrators): codes issued from now on are signed with
/// a new key (every node takes it within a minute); every code issued before stays valid
/// at the door.
#[utoipa::path(post, path = "/api/v1/admin/ticket-keys/rotate", tag = "admin",
    security(("bearer" = [])),
    responses((status = 200, body = RotatedKey),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
async fn rotate_ticket_key(
    State(app): State<AppState>,
    _admin: Admin,
) -> Result<axum::Json<RotatedKey>, ApiError> {
    let kid = super::service::rotate_ticket_key(&app).await?;
    Ok(axum::Json(RotatedKey { kid }))
}

/// The key that now signs.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RotatedKey {
    /// The new key's id (the `kid` of what is signed from now on).
    pub kid: String,
}

/// Rotate the access-token signing key (administrators): a new key signs from now on
/// (every node takes it within a minute); tokens signed with the older keys stay valid
/// until they expire, and refresh tokens are untouched, so nobody is signed out.
#[utoipa::path(post, path = "/api/v1/admin/signing-keys/rotate", tag = "admin",
    security(("bearer" = [])),
    responses((status = 200, body = RotatedKey),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
async fn rotate_signing_key(
    State(app): State<AppState>,
    _admin: Admin,
) -> Result<axum::Json<RotatedKey>, ApiError> {
    let kid = super::service::rotate_token_key(&app).await?;
    Ok(axum::Json(RotatedKey { kid }))
}

/// Disable an account: its refresh tokens are revoked and its access tokens refused at
/// once (administrators; an administrator cannot disable themself).
#[utoipa::path(post, path = "/api/v1/admin/users/{user_id}/disable", tag = "admin",
    security(("bearer" = [])),
    params(("user_id" = String, Path, description = "User id")),
    responses((status = 204, description = "Disabled"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn disable_user(
    State(app): State<AppState>,
    Admin(admin): Admin,
    ApiPath(user_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    if admin.user_id.as_str() == user_id {
        return Err(
            IdentityError::Forbidden("an administrator cannot disable their own account").into(),
        );
    }
    let now = app.clock.now();
    let id = user_id.clone();
    let disabled = app
        .db
        .write(move |tx| store::disable_user(tx, &id, now))
        .await
        .map_err(IdentityError::from)?;
    if !disabled {
        return Err(IdentityError::UnknownUser(user_id).into());
    }
    app.active_accounts.forget(&user_id);
    Ok(StatusCode::NO_CONTENT)
}

/// Enable a disabled account again (administrators): its holder signs in anew (the
/// sessions revoked at disabling stay revoked). An erased account stays erased.
#[utoipa::path(post, path = "/api/v1/admin/users/{user_id}/enable", tag = "admin",
    security(("bearer" = [])),
    params(("user_id" = String, Path, description = "User id")),
    responses((status = 204, description = "Enabled"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn enable_user(
    State(app): State<AppState>,
    _admin: Admin,
    ApiPath(user_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let id = user_id.clone();
    let enabled = app
        .db
        .write(move |tx| {
            tx.execute(
                "UPDATE users SET status = 'active' WHERE id = $1 AND erased_at IS NULL",
                crate::params![&id],
            )
        })
        .await
        .map_err(IdentityError::from)?;
    if enabled == 0 {
        return Err(IdentityError::UnknownUser(user_id).into());
    }
    app.active_accounts.forget(&user_id);
    Ok(StatusCode::NO_CONTENT)
}
