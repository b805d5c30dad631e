//! The HTTP edge: input no store can take (U+0000) is refused before it reaches one,
//! bodies over the limit are 413 however they are sent.

use reqwest::Method;
use serde_json::json;

use crate::{
    booking::{customer, owning_partner},
    db_test, fixtures,
    helpers::{assert_problem, send},
};

db_test!(
    nul_in_path_query_or_body_is_a_400_problem_everywhere,
    |app| {
        let f = fixtures::load(app).await;
        let customer = customer(app, "nul-customer@example.test").await;
        let partner = owning_partner(app, "nul-partner@example.test").await;
        let booking = "bkg_00000000000000000000000000%00";

        // Ids in paths, signed in as the caller the route wants.
        let paths = [
            (
                Method::GET,
                format!("/api/v1/bookings/{booking}"),
                &customer,
                None,
            ),
            (
                Method::GET,
                format!("/api/v1/bookings/{booking}/ticket"),
                &customer,
                None,
            ),
            (
                Method::POST,
                format!("/api/v1/bookings/{booking}/cancel"),
                &customer,
                None,
            ),
            (
                Method::POST,
                format!("/api/v1/bookings/{booking}/payments"),
                &customer,
                Some(json!({"card_token": "tok_visa"})),
            ),
            (
                Method::GET,
                "/api/v1/waitlist/wl_00000000000000000000000000%00".to_owned(),
                &customer,
                None,
            ),
            (
                Method::GET,
                format!("/api/v1/partner/shows/{}%00/bookings", f.noon),
                &partner,
                None,
            ),
        ];
        for (method, path, token, body) in paths {
            let response = send(app, method.clone(), &path, Some(token), body).await;
            let problem = assert_problem(response, 400, "invalid-request").await;
            assert!(
                problem["detail"].as_str().unwrap().contains("U+0000"),
                "{method} {path}: {problem}"
            );
        }

        // Query parameters, anonymous.
        for path in [
            "/api/v1/cities?country=IN%00".to_owned(),
            format!("/api/v1/cities/{}/movies?language=hi%00", f.testpur),
        ] {
            assert_problem(app.get(&path).await, 400, "invalid-request").await;
        }

        // Strings in JSON bodies, values and keys.
        let bodies = [
            (
                "/api/v1/auth/login",
                None,
                json!({"email": "a\u{0}@example.test", "password": "correct horse battery"}),
            ),
            (
                "/api/v1/partner/api-keys",
                Some(&partner),
                json!({"name": "box office\u{0}"}),
            ),
            (
                "/api/v1/partner/api-keys",
                Some(&partner),
                json!({"na\u{0}me": "box office"}),
            ),
            (
                &*format!("/api/v1/partner/shows/{}/inventory", f.noon),
                Some(&partner),
                json!({"withhold": ["A\u{0}1"]}),
            ),
            (
                "/api/v1/partner/signup",
                None,
                json!({"organisation_name": "Nul\u{0} Screens", "email": "nul-org@example.test",
                   "password": "correct horse battery", "display_name": "Nul"}),
            ),
        ];
        for (path, token, body) in bodies {
            let response = send(
                app,
                Method::POST,
                path,
                token.map(String::as_str),
                Some(body),
            )
            .await;
            let problem = assert_problem(response, 400, "invalid-body").await;
            assert!(
                problem["detail"].as_str().unwrap().contains("U+0000"),
                "{path}: {problem}"
            );
        }
    }
);

/// A body of `size` bytes sent in chunks, so no `Content-Length` announces its size.
fn chunked(size: usize) -> reqwest::Body {
    let chunks = (0..size.div_ceil(256))
        .map(move |i| Ok::<_, std::io::Error>(vec![b' '; 256.min(size - i * 256)]));
    reqwest::Body::wrap_stream(futures::stream::iter(chunks))
}

crate::db_test_with!(
    bodies_over_the_limit_are_413_chunked_or_sized,
    |config| {
        config.http.body_limit_bytes = 1024;
    },
    |app| {
        fixtures::load(app).await;
        let customer = customer(app, "big-body@example.test").await;
        let partner = owning_partner(app, "big-body-partner@example.test").await;
        // JSON bodies (ApiJson), an idempotent JSON body, the idempotency guard, and the
        // webhook's raw bytes.
        let targets = [
            ("/api/v1/auth/login", None, None),
            ("/api/v1/bookings", Some(&customer), None),
            (
                "/api/v1/partner/api-keys",
                Some(&partner),
                Some("big-key-1"),
            ),
            ("/api/v1/payments/webhooks/mock", None, None),
        ];
        for (path, token, key) in targets {
            for sized in [false, true] {
                let mut request = app
                    .client
                    .post(app.url(path))
                    .header("content-type", "application/json");
                if let Some(token) = token {
                    request = request.bearer_auth(token);
                }
                if let Some(key) = key {
                    request = request.header("idempotency-key", key);
                }
                request = if sized {
                    request.body(vec![b' '; 1025])
                } else {
                    request.body(chunked(4096))
                };
                let response = request.send().await.expect("request");
                let problem = assert_problem(response, 413, "payload-too-large").await;
                assert!(problem["detail"].is_string(), "{path} sized={sized}");
            }
        }
        // Within the limit, a chunked body is read as usual.
        let response = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(futures::stream::iter([
                Ok::<_, std::io::Error>(b"{\"email\": \"big-body@example.test\", ".to_vec()),
                Ok(b"\"password\": \"correct horse battery\"}".to_vec()),
            ])))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200);
    }
);
