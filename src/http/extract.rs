//! Request extractors whose failures are problem+json, never axum's plain-text rejections.

use axum::{
    extract::{FromRequestParts, OptionalFromRequestParts},
    http::{header::ACCEPT_LANGUAGE, request::Parts},
};

use super::error::ApiError;
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

/// A JSON request body; malformed JSON, a wrong content type or unknown fields are a 400
/// `invalid-body` problem.
#[derive(Debug, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);
