//! Administrators: cities, movies with localizations, disabling users.

use marquee::{identity::model::Role, identity::service, time::Timestamp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    db_test, fixtures,
    helpers::{self, TestApp, assert_problem, test_epoch},
};

const PASSWORD: &str = "correct horse battery";

async fn account_token(app: &TestApp, email: &str, role: Role) -> (String, String) {
    let now = Timestamp::from_datetime(test_epoch());
    let account = service::create_account(&app.db, email, PASSWORD, "Someone", role, now)
        .await
        .unwrap();
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    (
        body["access_token"].as_str().unwrap().to_owned(),
        account.id.to_string(),
    )
}

/// An authenticated request (see `helpers::send`).
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    helpers::send(app, method, path, Some(token), body).await
}

fn movie() -> Value {
    json!({
        "title": "Delta Dawn",
        "original_language": "en",
        "synopsis": "A lighthouse keeper's last summer.",
        "duration_minutes": 111,
        "certification": "U",
        "release_date": "2026-12-04",
        "genres": ["Drama", "drama", "family"],
        "languages": ["en", "hi"],
        "localizations": [{"locale": "hi", "title": "डेल्टा डॉन", "synopsis": "प्रकाशस्तंभ"}],
    })
}

db_test!(
    admins_add_cities_and_movies_that_browse_sees_at_once,
    |app| {
        fixtures::load(app).await;
        let (admin, _) = account_token(app, "admin@example.com", Role::Admin).await;
        let cities_before = app.get_ok("/api/v1/cities?limit=100").await;
        assert_eq!(cities_before["items"].as_array().unwrap().len(), 3);

        let city = json!({"name": "Pune", "country_code": "in", "timezone": "Asia/Kolkata", "currency": "INR"});
        let created = send(
            app,
            Method::POST,
            "/api/v1/admin/cities",
            &admin,
            Some(city.clone()),
        )
        .await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let created: Value = created.json().await.unwrap();
        assert_eq!(created["country_code"], "IN");
        // The cached city list reflects the write on the next read.
        let cities_after = app.get_ok("/api/v1/cities?limit=100").await;
        assert_eq!(cities_after["items"].as_array().unwrap().len(), 4);
        assert_problem(
            send(
                app,
                Method::POST,
                "/api/v1/admin/cities",
                &admin,
                Some(city),
            )
            .await,
            409,
            "duplicate",
        )
        .await;
        for bad in [
            json!({"name": "X", "country_code": "IND", "timezone": "Asia/Kolkata", "currency": "INR"}),
            json!({"name": "X", "country_code": "IN", "timezone": "Mars/Olympus", "currency": "INR"}),
            json!({"name": "X", "country_code": "IN", "timezone": "Asia/Kolkata", "currency": "rupees"}),
            json!({"name": " ", "country_code": "IN", "timezone": "Asia/Kolkata", "currency": "INR"}),
        ] {
            assert_problem(
                send(app, Method::POST, "/api/v1/admin/cities", &admin, Some(bad)).await,
                400,
                "invalid-request",
            )
            .await;
        }

        let created = send(
            app,
            Method::POST,
            "/api/v1/admin/movies",
            &admin,
            Some(movie()),
        )
        .await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let created: Value = created.json().await.unwrap();
        assert_eq!(created["genres"], json!(["drama", "family"]));
        assert_eq!(created["available_locales"], json!(["hi"]));
        let id = created["id"].as_str().unwrap().to_owned();
        let hindi = app
            .get_with(&format!("/api/v1/movies/{id}"), ("accept-language", "hi"))
            .await
            .json::<Value>()
            .await
            .unwrap();
        assert_eq!(hindi["title"], "डेल्टा डॉन");
        let found = app.get_ok("/api/v1/search?q=delta").await;
        assert_eq!(found["items"][0]["id"], id.as_str());

        // Replace: new title and localizations; search and the cached detail follow.
        let mut renamed = movie();
        renamed["title"] = json!("Epsilon Evening");
        renamed["localizations"] = json!([{"locale": "de", "title": "Epsilon-Abend"}]);
        let replaced = send(
            app,
            Method::PUT,
            &format!("/api/v1/admin/movies/{id}"),
            &admin,
            Some(renamed.clone()),
        )
        .await;
        assert_eq!(replaced.status(), StatusCode::OK);
        let detail = app
            .get_with(&format!("/api/v1/movies/{id}"), ("accept-language", "hi"))
            .await
            .json::<Value>()
            .await
            .unwrap();
        assert_eq!(detail["title"], "Epsilon Evening");
        assert_eq!(detail["available_locales"], json!(["de"]));
        assert!(
            app.get_ok("/api/v1/search?q=delta").await["items"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            app.get_ok("/api/v1/search?q=abend").await["items"][0]["id"],
            id.as_str()
        );
        let missing = send(
            app,
            Method::PUT,
            "/api/v1/admin/movies/mov_00000000000000000000000000",
            &admin,
            Some(renamed),
        )
        .await;
        assert_problem(missing, 404, "not-found").await;

        let mut bad = movie();
        bad["duration_minutes"] = json!(0);
        assert_problem(
            send(app, Method::POST, "/api/v1/admin/movies", &admin, Some(bad)).await,
            400,
            "invalid-request",
        )
        .await;
        let mut bad = movie();
        bad["localizations"] =
            json!([{"locale": "hi", "title": "a"}, {"locale": "HI", "title": "b"}]);
        assert_problem(
            send(app, Method::POST, "/api/v1/admin/movies", &admin, Some(bad)).await,
            400,
            "invalid-request",
        )
        .await;
    }
);

db_test!(disabling_a_user_refuses_their_tokens_at_once, |app| {
    let (admin, admin_id) = account_token(app, "admin@example.com", Role::Admin).await;
    let (customer, customer_id) = account_token(app, "c@example.com", Role::Customer).await;
    let me =
        |token: String| async move { send(app, Method::GET, "/api/v1/me", &token, None).await };
    assert_eq!(me(customer.clone()).await.status(), 200);
    let disabled = send(
        app,
        Method::POST,
        &format!("/api/v1/admin/users/{customer_id}/disable"),
        &admin,
        None,
    )
    .await;
    assert_eq!(disabled.status(), StatusCode::NO_CONTENT);
    assert_problem(me(customer.clone()).await, 403, "account-disabled").await;
    let self_disable = send(
        app,
        Method::POST,
        &format!("/api/v1/admin/users/{admin_id}/disable"),
        &admin,
        None,
    )
    .await;
    assert_problem(self_disable, 403, "forbidden").await;
    let unknown = send(
        app,
        Method::POST,
        "/api/v1/admin/users/usr_00000000000000000000000000/disable",
        &admin,
        None,
    )
    .await;
    assert_problem(unknown, 404, "not-found").await;
    let by_customer = send(
        app,
        Method::POST,
        &format!("/api/v1/admin/users/{admin_id}/disable"),
        &customer,
        None,
    )
    .await;
    assert_problem(by_customer, 403, "account-disabled").await;
});

db_test!(admin_routes_refuse_other_roles, |app| {
    let (partner, _) = account_token(app, "p@example.com", Role::Partner).await;
    let (customer, _) = account_token(app, "c@example.com", Role::Customer).await;
    for (method, path) in [
        (Method::POST, "/api/v1/admin/cities"),
        (
            Method::PUT,
            "/api/v1/admin/cities/cty_00000000000000000000000000",
        ),
        (Method::POST, "/api/v1/admin/movies"),
        (
            Method::PUT,
            "/api/v1/admin/movies/mov_00000000000000000000000000",
        ),
        (
            Method::POST,
            "/api/v1/admin/users/usr_00000000000000000000000000/disable",
        ),
    ] {
        let anonymous = app
            .client
            .request(method.clone(), app.url(path))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_problem(anonymous, 401, "unauthenticated").await;
        for token in [&partner, &customer] {
            assert_problem(
                send(app, method.clone(), path, token, Some(json!({}))).await,
                403,
                "forbidden",
            )
            .await;
        }
    }
});

db_test!(
    cities_can_be_renamed_but_not_rezoned_once_they_have_theatres,
    |app| {
        let f = fixtures::load(app).await;
        let (admin, _) = account_token(app, "admin@example.com", Role::Admin).await;
        let path = format!("/api/v1/admin/cities/{}", f.testpur);
        let cached = app.get_ok(&format!("/api/v1/cities/{}", f.testpur)).await;
        assert_eq!(cached["name"], "Testpur");
        let renamed = json!({"name": "New Testpur", "country_code": "IN", "timezone": "Asia/Kolkata", "currency": "INR"});
        let response = send(app, Method::PUT, &path, &admin, Some(renamed)).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            app.get_ok(&format!("/api/v1/cities/{}", f.testpur)).await["name"],
            "New Testpur"
        );
        let rezoned = json!({"name": "New Testpur", "country_code": "IN", "timezone": "Asia/Dubai", "currency": "INR"});
        assert_problem(
            send(app, Method::PUT, &path, &admin, Some(rezoned)).await,
            409,
            "city-in-use",
        )
        .await;
        // A city without theatres may change zone.
        let empty = json!({"name": "Emptyville", "country_code": "IN", "timezone": "Asia/Dubai", "currency": "AED"});
        let response = send(
            app,
            Method::PUT,
            &format!("/api/v1/admin/cities/{}", f.empty_city),
            &admin,
            Some(empty),
        )
        .await;
        assert_eq!(
            response.json::<Value>().await.unwrap()["timezone"],
            "Asia/Dubai"
        );
        let missing = json!({"name": "Nowhere", "country_code": "IN", "timezone": "Asia/Kolkata", "currency": "INR"});
        let response = send(
            app,
            Method::PUT,
            "/api/v1/admin/cities/cty_00000000000000000000000000",
            &admin,
            Some(missing),
        )
        .await;
        assert_problem(response, 404, "not-found").await;
    }
);
