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
