//! Partner API keys for machine calls from a theatre's own system. A key is shown once,
//! stored as a SHA-256 digest, acts for its organisation on partner routes only, and stops
//! working when revoked or when the member who created it is disabled.

use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    IdentityError,
    extract::Partner,
    model::{Principal, Role},
    tokens,
};
use crate::{
    app::AppState,
    db::{Db, Tx},
    db_row,
    http::{
        error::{ApiError, Problem},
        extract::{ApiJson, ApiPath},
    },
    ids::{PartnerOrgId, UserId},
    params,
    time::Timestamp,
};

/// Prefix of every API key: `Authorization: Bearer mk_…` is recognised as a key.
pub const PREFIX: &str = "mk";
const MAX_KEYS_PER_ORG: i64 = 50;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_key, list_keys))
        .routes(routes!(revoke_key))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// What the key is for, e.g. `box office sync`.
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    pub id: String,
    pub name: String,
    /// The key itself. Shown only in this response: store it now.
    pub key: String,
    /// The first characters, as listings show them.
    pub prefix: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeySummary {
    pub id: String,
    pub name: String,
    /// The first characters of the key.
    pub prefix: String,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    /// When it was revoked; absent while it works.
    #[schema(value_type = Option<String>)]
    pub revoked_at: Option<Timestamp>,
}

db_row! {
    struct ApiKeyRow {
        id: String,
        name: String,
        key_prefix: String,
        created_at: i64,
        revoked_at: Option<i64>,
    }
}

/// The principal a presented key acts as, if it is a live key.
pub async fn authenticate(db: &Db, key: &str) -> Result<Principal, IdentityError> {
    const SQL: &str = "SELECT k.org_id, k.created_by FROM api_keys k \
        WHERE k.key_hash = $1 AND k.revoked_at IS NULL";
    let digest = tokens::digest(key);
    let row: Option<(String, String)> = db.fetch_optional(SQL, params![&digest]).await?;
    let (org_id, user_id) =
        row.ok_or(IdentityError::Unauthenticated("the API key is not valid"))?;
    Ok(Principal {
        user_id: UserId::from_trusted(user_id),
        role: Role::Partner,
        org_id: Some(PartnerOrgId::from_trusted(org_id)),
    })
}

fn org_of(principal: &Principal) -> Result<&PartnerOrgId, IdentityError> {
    principal.org_id.as_ref().ok_or(IdentityError::Forbidden(
        "this account belongs to no partner organisation",
    ))
}

fn insert_key(
    tx: &mut Tx<'_>,
    id: &str,
    org_id: &str,
    name: &str,
    key: &str,
    created_by: &str,
    now: Timestamp,
) -> sqlx::Result<bool> {
    const COUNT: &str = "SELECT COUNT(*) FROM api_keys WHERE org_id = $1 AND revoked_at IS NULL";
    const INSERT: &str = "INSERT INTO api_keys (id, org_id, name, key_prefix, key_hash, created_by, created_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7)";
    let prefix: String = key.chars().take(10).collect();
    let live: i64 = tx.fetch_one(COUNT, params![org_id])?;
    if live >= MAX_KEYS_PER_ORG {
        return Ok(false);
    }
    let digest = tokens::digest(key);
    tx.execute(
        INSERT,
        params![
            id,
            org_id,
            name,
            &prefix,
            &digest,
            created_by,
            now.as_millis()
        ],
    )?;
    Ok(true)
}

/// Create an API key for the organisation. The key is in this response only.
#[utoipa::path(post, path = "/api/v1/partner/api-keys", tag = "partner",
    security(("bearer" = [])),
    request_body = NewApiKey,
    responses((status = 201, body = CreatedApiKey),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
async fn create_key(
    State(app): State<AppState>,
    Partner(partner): Partner,
    ApiJson(body): ApiJson<NewApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKey>), ApiError> {
    let org = org_of(&partner)?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(ApiError::InvalidBody(
            "name must be 1 to 80 characters".into(),
        ));
    }
    let id = format!("key_{}", ulid::Ulid::new());
    let key = tokens::new_secret(PREFIX);
    let now = app.clock.now();
    let unit = (
        id.clone(),
        org.to_string(),
        name.to_owned(),
        key.clone(),
        partner.user_id.to_string(),
    );
    let created = app
        .db
        .write(move |tx| {
            let (id, org, name, key, creator) = &unit;
            insert_key(tx, id, org, name, key, creator, now)
        })
        .await
        .map_err(IdentityError::from)?;
    if !created {
        return Err(IdentityError::Forbidden(
            "an organisation has at most 50 live API keys; revoke one first",
        )
        .into());
    }
    let prefix = key.chars().take(10).collect();
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKey {
            id,
            name: name.to_owned(),
            key,
            prefix,
        }),
    ))
}

/// The organisation's API keys (never the keys themselves).
#[utoipa::path(get, path = "/api/v1/partner/api-keys", tag = "partner",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<ApiKeySummary>),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
async fn list_keys(
    State(app): State<AppState>,
    Partner(partner): Partner,
) -> Result<Json<Vec<ApiKeySummary>>, ApiError> {
    const SQL: &str = "SELECT id, name, key_prefix, created_at, revoked_at FROM api_keys \
        WHERE org_id = $1 ORDER BY created_at, id";
    let org = org_of(&partner)?;
    let rows: Vec<ApiKeyRow> = app
        .db
        .fetch_all(SQL, params![org.as_str()])
        .await
        .map_err(IdentityError::from)?;
    Ok(Json(
        rows.into_iter()
            .map(|row| ApiKeySummary {
                id: row.id,
                name: row.name,
                prefix: row.key_prefix,
                created_at: Timestamp::from_millis(row.created_at),
                revoked_at: row.revoked_at.map(Timestamp::from_millis),
            })
            .collect(),
    ))
}

/// Revoke one of the organisation's API keys; it stops working at once.
#[utoipa::path(delete, path = "/api/v1/partner/api-keys/{key_id}", tag = "partner",
    security(("bearer" = [])),
    params(("key_id" = String, Path, description = "API key id")),
    responses((status = 204, description = "Revoked"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn revoke_key(
    State(app): State<AppState>,
    Partner(partner): Partner,
    ApiPath(key_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    const SQL: &str =
        "UPDATE api_keys SET revoked_at = $3 WHERE id = $1 AND org_id = $2 AND revoked_at IS NULL";
    let org = org_of(&partner)?;
    let now = app.clock.now();
    let (id, org) = (key_id.clone(), org.to_string());
    let revoked = app
        .db
        .write(move |tx| tx.execute(SQL, params![&id, &org, now.as_millis()]))
        .await
        .map_err(IdentityError::from)?;
    if revoked == 0 {
        return Err(IdentityError::UnknownApiKey(key_id).into());
    }
    Ok(StatusCode::NO_CONTENT)
}
