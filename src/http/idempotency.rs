//! `Idempotency-Key` for creating POSTs.
//!
//! The key row, with the response, is written inside the transaction of the effect it
//! guards, before the effect (so a concurrent duplicate collides with it, or on PostgreSQL
//! waits for it). A request that took no effect leaves no key behind, so
//! it can be retried with the same key. Keys are scoped to the account that sent them.

use axum::{
    body::Body,
    extract::{FromRequest, Request},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::{
    error::ApiError,
    extract::{ApiJson, read_body},
};
use crate::{
    db::{Db, Tx},
    params,
    time::Timestamp,
};

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// A JSON body together with what idempotency needs: the request's fingerprint (method,
/// path and the body with its keys sorted) and the `Idempotency-Key` header if sent.
pub struct IdempotentJson<T> {
    pub body: T,
    pub key: Option<String>,
    pub fingerprint: String,
}

impl<S, T> FromRequest<S> for IdempotentJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let key = match request.headers().get(HEADER) {
            None => None,
            Some(value) => Some(parse_key(value)?),
        };
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let ApiJson(value) = ApiJson::<serde_json::Value>::from_request(request, state).await?;
        // serde_json's map is ordered by key, so this text is canonical.
        let fingerprint = fingerprint(method.as_str(), &path, value.to_string().as_bytes());
        let body = serde_json::from_value(value)
            .map_err(|error| ApiError::InvalidBody(error.to_string()))?;
        Ok(Self {
            body,
            key,
            fingerprint,
        })
    }
}

/// What makes two requests "the same": method, path and canonical body.
fn fingerprint(method: &str, path: &str, canonical_body: &[u8]) -> String {
    hex::encode(
        Sha256::new()
            .chain_update(method)
            .chain_update(b" ")
            .chain_update(path.as_bytes())
            .chain_update(b"\n")
            .chain_update(canonical_body)
            .finalize(),
    )
}

fn parse_key(value: &HeaderValue) -> Result<String, ApiError> {
    let text = value.to_str().unwrap_or("");
    if text.is_empty() || text.len() > 255 || !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::InvalidIdempotencyKey);
    }
    Ok(text.to_owned())
}

/// The key of one request, bound to the account that sent it.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub principal: String,
    pub key: String,
    pub fingerprint: String,
}

impl Idempotency {
    pub fn new<T>(principal: &str, json: &IdempotentJson<T>) -> Option<Self> {
        json.key.as_ref().map(|key| Self {
            principal: principal.to_owned(),
            key: key.clone(),
            fingerprint: json.fingerprint.clone(),
        })
    }

    /// The stored outcome of an earlier request with this key: its response when the
    /// request was the same, `IdempotencyKeyReused` when it was not, `None` when the key
    /// is new.
    pub async fn replay(&self, db: &Db) -> Result<Option<Response>, ApiError> {
        const SQL: &str = "SELECT fingerprint, status, response FROM idempotency_keys \
             WHERE principal = $1 AND key = $2";
        let row: Option<(String, i64, String)> = db
            .fetch_optional(SQL, params![&self.principal, &self.key])
            .await
            .map_err(ApiError::Unavailable)?;
        match row {
            None => Ok(None),
            Some((fingerprint, _, _)) if fingerprint != self.fingerprint => {
                Err(ApiError::IdempotencyKeyReused)
            }
            // Inserted but not completed: only visible inside its own transaction, so
            // this cannot be read here; treat defensively as in progress.
            Some((_, 0, _)) => Err(ApiError::IdempotencyInProgress),
            Some((_, status, body)) => Ok(Some(stored_response(status, body, true))),
        }
    }

    /// Records the key and the response the effect will answer with, inside the effect's
    /// transaction (the response is known before the effect runs; if the effect fails the
    /// record rolls back with it). False when the key already exists: a concurrent
    /// duplicate got there first, so the caller fails its unit of work and replays.
    pub fn record(
        &self,
        tx: &mut Tx<'_>,
        now: Timestamp,
        status: StatusCode,
        body: &str,
    ) -> sqlx::Result<bool> {
        const SQL: &str = "INSERT INTO idempotency_keys \
             (principal, key, fingerprint, status, response, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING";
        let inserted = tx.execute(
            SQL,
            params![
                &self.principal,
                &self.key,
                &self.fingerprint,
                i64::from(status.as_u16()),
                body,
                now.as_millis()
            ],
        )?;
        Ok(inserted == 1)
    }
}

/// A JSON response from its stored parts.
pub fn stored_response(status: i64, body: String, replayed: bool) -> Response {
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut response = (status, Body::from(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if replayed {
        headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    response
}

/// Deletes keys older than `before`; returns how many.
pub async fn purge(db: &Db, before: Timestamp) -> sqlx::Result<u64> {
    let before = before.as_millis();
    db.write(move |tx| {
        tx.execute(
            "DELETE FROM idempotency_keys WHERE created_at < $1",
            params![before],
        )
    })
    .await
}

/// `Idempotency-Key` for creating POSTs whose handlers do not record keys themselves
/// (partner and admin creation). The stored response is written right after the handler
/// succeeds, in its own transaction: a retry after a crash in between could run the
/// effect twice, and two concurrent requests with one key both run. Bookings and payments,
/// where that would matter, record the key inside their own transaction instead.
pub async fn guard(
    axum::extract::State(app): axum::extract::State<crate::app::AppState>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    if request.method() != axum::http::Method::POST {
        return next.run(request).await;
    }
    let key = match request.headers().get(HEADER).map(parse_key) {
        None => return next.run(request).await,
        Some(Err(error)) => return error.into_response(),
        Some(Ok(key)) => key,
    };
    let Some(principal) = principal_of(&app, request.headers()) else {
        // Not signed in: the handler refuses it, and there is no account to scope a key to.
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    let bytes = match read_body(body, app.config.http.body_limit_bytes).await {
        Ok(bytes) => bytes,
        Err(error) => return error.into_response(),
    };
    let canonical = serde_json::from_slice::<serde_json::Value>(&bytes)
        .map(|v| v.to_string().into_bytes())
        .unwrap_or_else(|_| bytes.to_vec());
    let fingerprint = fingerprint(parts.method.as_str(), parts.uri.path(), &canonical);
    let idempotency = Idempotency {
        principal,
        key,
        fingerprint,
    };
    match idempotency.replay(&app.db).await {
        Ok(Some(stored)) => return stored,
        Ok(None) => {}
        Err(error) => return error.into_response(),
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if !response.status().is_success() {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return ApiError::Internal("response body unreadable".into()).into_response();
    };
    let text = String::from_utf8_lossy(&body).into_owned();
    if let Err(error) =
        store_after(&app.db, &idempotency, parts.status, &text, app.clock.now()).await
    {
        tracing::warn!(%error, "idempotency key not stored");
    }
    Response::from_parts(parts, Body::from(body))
}

/// Who sent the request, for scoping keys: the account of a valid access token, or the
/// digest of a partner API key (checked by the handler itself).
fn principal_of(app: &crate::app::AppState, headers: &axum::http::HeaderMap) -> Option<String> {
    use crate::identity::extract::{bearer, is_api_key};
    let token = bearer(headers).ok()?;
    if is_api_key(token) {
        return Some(format!(
            "key:{}",
            hex::encode(Sha256::digest(token.as_bytes()))
        ));
    }
    app.tokens
        .verify(token, app.clock.now())
        .ok()
        .map(|principal| principal.user_id.to_string())
}

async fn store_after(
    db: &Db,
    idempotency: &Idempotency,
    status: StatusCode,
    body: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    let (idempotency, body) = (idempotency.clone(), body.to_owned());
    db.write(move |tx| idempotency.record(tx, now, status, &body))
        .await?;
    Ok(())
}
