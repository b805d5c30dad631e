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
    if !is_asset_name(&name) {
        return Err(not_found());
    }
    let body: Cow<'static, [u8]> = match &app.config.web.assets_dir {
        Some(dir) => Cow::Owned(
            tokio::fs::read(dir.join(&name))
                .await
                .map_err(|_| not_found())?,
        ),
        None => Assets::get(&name).ok_or_else(not_found)?.data,
    };
    let etag = format!("\"{}\"", hex::encode(&Sha256::digest(&body)[..16]));
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|tag| tag.as_bytes() == etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type(&name))], body).into_response()
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

/// Flat names of the kinds the app is made of; anything else (a path, a dot file) is not
/// one of its files.
fn is_asset_name(name: &str) -> bool {
    let Some((stem, _)) = name.rsplit_once('.') else {
        return false;
    };
    !stem.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && ["html", "css", "js", "svg", "png", "ico", "webmanifest"]
            .iter()
            .any(|ext| name.ends_with(&format!(".{ext}")))
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("webmanifest") => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_flat_names_of_the_apps_kinds_are_assets() {
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
