//! Request extractors whose failures are problem+json, never axum's plain-text rejections.
//! Every JSON request body is read through `ApiJson` (`IdempotentJson` builds on it), so
//! what a body may not contain is decided here, once.

use axum::{
    body::Body,
    extract::{FromRequest, FromRequestParts, OptionalFromRequestParts, Request},
    http::{
        HeaderMap,
        header::{ACCEPT_LANGUAGE, CONTENT_TYPE},
        request::Parts,
    },
};
use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::{error::ApiError, nul};
use crate::catalog::locale::LocalePreferences;

/// Query-string parameters; a malformed query is a 400 `invalid-query`.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// Path parameters; a malformed path is a 400 `invalid-path`.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// The client's locale preferences from `Accept-Language`.
#[derive(Debug, Clone)]
pub struct Locale(pub LocalePreferences);

impl<S: Send + Sync> FromRequestParts<S> for Locale {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        Ok(Locale(LocalePreferences::parse(header)))
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Locale {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(Some(
            <Locale as FromRequestParts<S>>::from_request_parts(parts, state).await?,
        ))
    }
}

/// A JSON request body. Malformed JSON, a wrong content type, unknown fields or a string
/// (key or value) containing U+0000 are a 400 `invalid-body` problem; a body over
/// `http.body_limit_bytes`, sized or chunked, is a 413 `payload-too-large`.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(request.headers()) {
            return Err(ApiError::InvalidBody(
                "Expected request with `Content-Type: application/json`".into(),
            ));
        }
        let bytes = Bytes::from_request(request, state).await?;
        if nul::in_json(&bytes) {
            return Err(ApiError::InvalidBody(
                "a string in the body contains U+0000 (NUL), which no field accepts".into(),
            ));
        }
        let axum::Json(value) = axum::Json::<T>::from_bytes(&bytes)?;
        Ok(ApiJson(value))
    }
}

/// `application/json` or `application/<anything>+json`, parameters ignored (as axum's
/// `Json` judges it).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    let subtype = subtype.to_ascii_lowercase();
    kind.eq_ignore_ascii_case("application") && (subtype == "json" || subtype.ends_with("+json"))
}

/// A whole raw body, for handlers that need the exact bytes (signed webhooks) or must see
/// the body before the handler does (idempotency). Over `limit`, or over the service-wide
/// limit while it streams in, is `payload-too-large` like everywhere else.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|error| {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        while let Some(current) = cause {
            if current.is::<http_body_util::LengthLimitError>() {
                return ApiError::PayloadTooLarge;
            }
            cause = current.source();
        }
        ApiError::InvalidBody(error.to_string())
    })
}
