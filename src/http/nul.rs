//! U+0000 (NUL) is refused at the edge. No id, filter or name of ours contains it, and
//! PostgreSQL text cannot store it (a query carrying one fails, which would be a 500), so
//! a request carrying one is a 400 before any handler or store sees it: the route tier
//! checks paths and query strings for every route, `extract::ApiJson` checks JSON bodies.

use axum::http::Uri;

/// The part of the URI whose percent-decoded text contains U+0000, if any.
///
/// A URI cannot hold a raw NUL byte (the HTTP parser refuses it), and percent-decoding
/// yields one only from `%00`, so the encoded text is all there is to look at.
pub fn in_uri(uri: &Uri) -> Option<&'static str> {
    if uri.path().contains("%00") {
        Some("path")
    } else if uri.query().is_some_and(|query| query.contains("%00")) {
        Some("query string")
    } else {
        None
    }
}

/// Whether a JSON text has a string, key or value, that contains U+0000.
///
/// JSON can carry NUL only as the escape `\u0000` (a raw control byte inside a string is
/// invalid JSON, and the parser refuses it). An escaped backslash followed by `u0000` is
/// the text `\u0000`, not NUL, so each escape is skipped whole.
pub fn in_json(body: &[u8]) -> bool {
    let mut rest = body;
    while let Some(at) = rest.iter().position(|&b| b == b'\\') {
        let escape = &rest[at + 1..];
        if escape.starts_with(b"u0000") {
            return true;
        }
        rest = escape.get(1..).unwrap_or_default();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_nul_in_path_or_query_is_found() {
        let uri = |s: &str| s.parse::<Uri>().unwrap();
        assert_eq!(in_uri(&uri("/api/v1/bookings/bkg_1%00")), Some("path"));
        assert_eq!(
            in_uri(&uri("/api/v1/cities?country=IN%00")),
            Some("query string")
        );
        assert_eq!(in_uri(&uri("/api/v1/cities?country=IN%2500")), None);
        assert_eq!(in_uri(&uri("/api/v1/cities?country=IN%20")), None);
        assert_eq!(in_uri(&uri("/api/v1/cities")), None);
    }

    #[test]
    fn nul_escape_in_any_json_string_is_found() {
        assert!(in_json(br#"{"name": "box\u0000office"}"#));
        assert!(in_json(br#"{"na\u0000me": "box office"}"#));
        assert!(in_json(br#"{"seats": ["A1", "\u0000"]}"#));
        assert!(in_json(br#"{"a": "\\\u0000"}"#));
    }

    #[test]
    fn escaped_backslash_before_u0000_is_text_not_nul() {
        assert!(!in_json(br#"{"a": "\\u0000"}"#));
        assert!(!in_json(br#"{"a": "\\\\u0000"}"#));
        assert!(!in_json(br#"{"a": "\u0001\"u0000\""}"#));
        assert!(!in_json(br#"{"a": "trailing \\"}"#));
        assert!(!in_json(b"{\"a\": \"\\"));
        assert!(!in_json(b""));
    }
}
