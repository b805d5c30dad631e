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
    OpenApiRouter::new().routes(routes!(disable_user))
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
