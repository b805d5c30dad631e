//! The customer web app: the files of `web/` (HTML, CSS, ES modules; no build step),
//! embedded in the binary and served on the API's port. `/` is the app's page; every
//! other file is served at `/<name>`. Pages route by the URL hash, so the server needs no
//! route per page.

use std::borrow::Cow;

use axum::{
    Router,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

use crate::{app::AppState, http::error::ApiError};

#[derive(RustEmbed)]
#[folder = "web/"]
struct Assets;

/// The app's pages may run only our own scripts and styles, talk only to this origin,
/// and show images from it or made in the page (the ticket's QR code is fetched with the
/// customer's token and shown from a `blob:` URL).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/",
            get(|state: State<AppState>, headers: HeaderMap| {
                serve(state, headers, "index.html".into())
            }),
        )
        .route(
            "/{file}",
            get(
                |state: State<AppState>, headers: HeaderMap, Path(file): Path<String>| {
                    serve(state, headers, file)
                },
            ),
        )
}

/// One file of the app, with a strong `ETag` (its SHA-256) so browsers revalidate instead
/// of downloading again; names are not fingerprinted, so nothing is cached unchecked.
async fn serve(
    State(app): State<AppState>,
    headers: HeaderMap,
    name: String,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::RouteNotFound(format!("/{name}"));
    let Some(content_type) = content_type(&name).filter(|_| is_flat_name(&name)) else {
        return Err(not_found());
    };
    let (body, digest): (Cow<'static, [u8]>, [u8; 32]) = match &app.config.web.assets_dir {
        Some(dir) => {
            let body = tokio::fs::read(dir.join(&name))
                .await
                .map_err(|_| not_found())?;
            let digest = Sha256::digest(&body).into();
            (Cow::Owned(body), digest)
        }
        // Embedded files carry their SHA-256, computed at build time.
        None => {
            let file = Assets::get(&name).ok_or_else(not_found)?;
            (file.data, file.metadata.sha256_hash())
        }
    };
    let etag = format!("\"{}\"", hex::encode(&digest[..16]));
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|tag| tag.as_bytes() == etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type)], body).into_response()
    };
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    Ok(response)
}

/// A flat name (no path, no dot file): letters, digits, `-`, `_` and `.` after a stem.
fn is_flat_name(name: &str) -> bool {
    !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The type of a file of the kinds the app is made of; `None` for any other kind.
fn content_type(name: &str) -> Option<&'static str> {
    Some(match name.rsplit_once('.')?.1 {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "webmanifest" => "application/manifest+json",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_flat_names_of_the_apps_kinds_are_assets() {
        let is_asset_name = |name: &str| content_type(name).is_some() && is_flat_name(name);
        for name in ["index.html", "app.js", "app.css", "seat-map.js", "logo.svg"] {
            assert!(is_asset_name(name), "{name}");
        }
        for name in [
            ".env",
            "..",
            "../Cargo.toml",
            "a/b.js",
            "app",
            "x.rs",
            ".js",
            "a%2fb.js",
        ] {
            assert!(!is_asset_name(name), "{name}");
        }
    }

    #[test]
    fn the_page_is_embedded() {
        assert!(Assets::get("index.html").is_some());
    }
}
