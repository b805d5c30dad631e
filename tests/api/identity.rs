//! Accounts and tokens: registration rules, login, rotating refresh tokens with reuse
//! detection, logout, /me, refused tokens, disabled accounts and login rate limits.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use marquee::{
    db::Engine,
    identity::{model::Role, service, store as identity_store},
    ids::PartnerOrgId,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    db_test,
    helpers::{TestApp, assert_problem},
};

const PASSWORD: &str = "correct horse battery";

async fn post(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn register(app: &TestApp, email: &str) -> Value {
    let response = post(
        app,
        "/api/v1/auth/register",
        json!({"email": email, "password": PASSWORD, "display_name": "Ana Silva"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

async fn login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    post(
        app,
        "/api/v1/auth/login",
        json!({"email": email, "password": password}),
    )
    .await
}

async fn tokens(app: &TestApp, email: &str) -> Value {
    let response = login(app, email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn me(app: &TestApp, access_token: &str) -> reqwest::Response {
    app.client
        .get(app.url("/api/v1/me"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
}

async fn refresh(app: &TestApp, refresh_token: &Value) -> reqwest::Response {
    post(
        app,
        "/api/v1/auth/refresh",
        json!({"refresh_token": refresh_token}),
    )
    .await
}

db_test!(register_login_me_refresh_and_logout, |app| {
    let account = register(app, "Ana.Silva@Example.com").await;
    assert_eq!(account["email"], "ana.silva@example.com");
    assert_eq!(account["role"], "customer");
    assert!(account["organisation"].is_null());
    assert!(account["id"].as_str().unwrap().starts_with("usr_"));

    let pair = tokens(app, "ana.silva@EXAMPLE.com").await;
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 900);
    assert_eq!(pair["refresh_expires_in"], 30 * 24 * 3600);
    assert!(pair["refresh_token"].as_str().unwrap().starts_with("mrt_"));

    let me_now = me(app, pair["access_token"].as_str().unwrap()).await;
    assert_eq!(me_now.status(), StatusCode::OK);
    assert_eq!(me_now.json::<Value>().await.unwrap(), account);

    // Rotation: the new pair works, the old refresh token is spent.
    let rotated = refresh(app, &pair["refresh_token"]).await;
    assert_eq!(rotated.status(), StatusCode::OK);
    let rotated: Value = rotated.json().await.unwrap();
    assert_ne!(rotated["refresh_token"], pair["refresh_token"]);
    assert_eq!(
        me(app, rotated["access_token"].as_str().unwrap())
            .await
            .status(),
        200
    );

    // Logout ends the login; logging out again is fine.
    let out = post(
        app,
        "/api/v1/auth/logout",
        json!({"refresh_token": rotated["refresh_token"]}),
    )
    .await;
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let again = post(
        app,
        "/api/v1/auth/logout",
        json!({"refresh_token": rotated["refresh_token"]}),
    )
    .await;
    assert_eq!(again.status(), StatusCode::NO_CONTENT);
    assert_problem(
        refresh(app, &rotated["refresh_token"]).await,
        401,
        "invalid-refresh-token",
    )
    .await;
});

db_test!(
    reusing_a_rotated_refresh_token_revokes_the_whole_login,
    |app| {
        register(app, "ana@example.com").await;
        let first = tokens(app, "ana@example.com").await;
        let second: Value = refresh(app, &first["refresh_token"])
            .await
            .json()
            .await
            .unwrap();
        // A thief replays the first token: refused, and the legitimate newer token dies too.
        assert_problem(
            refresh(app, &first["refresh_token"]).await,
            401,
            "refresh-token-reused",
        )
        .await;
        assert_problem(
            refresh(app, &second["refresh_token"]).await,
            401,
            "invalid-refresh-token",
        )
        .await;
        // Another login of the same account is a separate family and keeps working.
        let other = tokens(app, "ana@example.com").await;
        assert_eq!(refresh(app, &other["refresh_token"]).await.status(), 200);
        assert_problem(
            refresh(app, &json!("mrt_forged")).await,
            401,
            "invalid-refresh-token",
        )
        .await;
    }
);

db_test!(registration_rules_give_distinct_problems, |app| {
    let cases = [
        (
            json!({"email": "not-an-email", "password": PASSWORD, "display_name": "A"}),
            400,
            "invalid-email",
        ),
        (
            json!({"email": "a@example.com", "password": "short", "display_name": "A"}),
            400,
            "weak-password",
        ),
        (
            json!({"email": "a@example.com", "password": "A@Example.com", "display_name": "A"}),
            400,
            "weak-password",
        ),
        (
            json!({"email": "a@example.com", "password": "zzzzzzzzzzzz", "display_name": "A"}),
            400,
            "weak-password",
        ),
        (
            json!({"email": "a@example.com", "password": PASSWORD, "display_name": "  "}),
            400,
            "invalid-display-name",
        ),
        (
            json!({"email": "a@example.com", "password": PASSWORD}),
            400,
            "invalid-body",
        ),
        (
            json!({"email": "a@example.com", "password": PASSWORD, "display_name": "A", "role": "admin"}),
            400,
            "invalid-body",
        ),
    ];
    for (body, status, code) in cases {
        assert_problem(post(app, "/api/v1/auth/register", body).await, status, code).await;
    }
    let not_json = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_problem(not_json, 400, "invalid-body").await;
    let no_content_type = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(no_content_type, 400, "invalid-body").await;

    register(app, "taken@example.com").await;
    let duplicate = post(
        app,
        "/api/v1/auth/register",
        json!({"email": "TAKEN@example.com", "password": PASSWORD, "display_name": "B"}),
    )
    .await;
    assert_problem(duplicate, 409, "email-taken").await;
});

db_test!(
    wrong_credentials_are_one_problem_whatever_was_wrong,
    |app| {
        register(app, "ana@example.com").await;
        for (email, password) in [
            ("ana@example.com", "wrong password!"),
            ("nobody@example.com", PASSWORD),
        ] {
            let response = login(app, email, password).await;
            assert_eq!(
                response.headers().get("www-authenticate").unwrap(),
                "Bearer"
            );
            let problem = assert_problem(response, 401, "invalid-credentials").await;
            assert_eq!(problem["detail"], "e-mail address or password is wrong");
        }
    }
);

db_test!(
    missing_malformed_tampered_unsigned_and_expired_tokens_are_refused,
    |app| {
        register(app, "ana@example.com").await;
        let pair = tokens(app, "ana@example.com").await;
        let token = pair["access_token"].as_str().unwrap();

        let anonymous = app.get("/api/v1/me").await;
        assert_eq!(
            anonymous.headers().get("www-authenticate").unwrap(),
            "Bearer"
        );
        assert_problem(anonymous, 401, "unauthenticated").await;
        for header in [
            "Basic YW5hOnB3",
            "Bearer",
            "Bearer    ",
            "Token abc",
            "Bearer not.a.jwt",
        ] {
            let response = app.get_with("/api/v1/me", ("authorization", header)).await;
            assert_problem(response, 401, "unauthenticated").await;
        }

        let parts: Vec<&str> = token.split('.').collect();
        let claims = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        let as_admin = URL_SAFE_NO_PAD.encode(claims.replace("\"customer\"", "\"admin\""));
        let tampered = format!("{}.{as_admin}.{}", parts[0], parts[2]);
        assert_problem(me(app, &tampered).await, 401, "unauthenticated").await;
        let none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        assert_problem(
            me(app, &format!("{none}.{}.", parts[1])).await,
            401,
            "unauthenticated",
        )
        .await;
        assert_problem(
            me(app, &format!("{none}.{as_admin}.")).await,
            401,
            "unauthenticated",
        )
        .await;

        // 15 minutes later the access token has expired; the refresh token still works.
        app.clock.advance(chrono::Duration::seconds(899));
        assert_eq!(me(app, token).await.status(), 200);
        app.clock.advance(chrono::Duration::seconds(1));
        assert_problem(me(app, token).await, 401, "token-expired").await;
        let renewed: Value = refresh(app, &pair["refresh_token"])
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            me(app, renewed["access_token"].as_str().unwrap())
                .await
                .status(),
            200
        );

        // After 30 days the refresh token is dead too.
        app.clock.advance(chrono::Duration::days(30));
        assert_problem(
            refresh(app, &renewed["refresh_token"]).await,
            401,
            "invalid-refresh-token",
        )
        .await;
    }
);

db_test!(a_disabled_account_is_refused_at_once, |app| {
    let account = register(app, "ana@example.com").await;
    let pair = tokens(app, "ana@example.com").await;
    let id = account["id"].as_str().unwrap().to_owned();
    app.db
        .write(move |tx| {
            tx.execute(
                "UPDATE users SET status = 'disabled' WHERE id = $1",
                marquee::params![&id],
            )
        })
        .await
        .unwrap();
    assert_problem(
        me(app, pair["access_token"].as_str().unwrap()).await,
        403,
        "account-disabled",
    )
    .await;
    assert_problem(
        refresh(app, &pair["refresh_token"]).await,
        403,
        "account-disabled",
    )
    .await;
    assert_problem(
        login(app, "ana@example.com", PASSWORD).await,
        403,
        "account-disabled",
    )
    .await;
});

db_test!(partner_accounts_show_their_organisation, |app| {
    let now = marquee::time::Timestamp::from_datetime(crate::helpers::test_epoch());
    let account = service::create_account(
        &app.db,
        "partner@example.com",
        PASSWORD,
        "Pat",
        Role::Partner,
        now,
    )
    .await
    .unwrap();
    let org = PartnerOrgId::derived("test/partner-org");
    let (org_id, user) = (org.to_string(), account.id.to_string());
    app.db
        .write(move |tx| {
            identity_store::insert_approved_org(tx, &org_id, "Bijou Group", now)?;
            identity_store::add_member(tx, &org_id, &user)
        })
        .await
        .unwrap();
    let pair = tokens(app, "partner@example.com").await;
    let body: Value = me(app, pair["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["role"], "partner");
    assert_eq!(
        body["organisation"],
        json!({"id": org.as_str(), "name": "Bijou Group", "status": "approved"})
    );
});

async fn login_rate_limit(engine: Engine) {
    let Some(app) = TestApp::spawn_with(engine, |config| {
        config.auth.login_attempts_per_account_per_minute = 3;
    })
    .await
    else {
        return;
    };
    register(&app, "ana@example.com").await;
    for _ in 0..3 {
        assert_problem(
            login(&app, "ana@example.com", "wrong password!").await,
            401,
            "invalid-credentials",
        )
        .await;
    }
    // The fourth attempt is refused before the password is even checked.
    let limited = login(&app, "ana@example.com", PASSWORD).await;
    let retry_after: u64 = limited
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert_problem(limited, 429, "rate-limited").await;
    // Other accounts are not affected.
    register(&app, "bob@example.com").await;
    assert_eq!(login(&app, "bob@example.com", PASSWORD).await.status(), 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_is_rate_limited_per_account_sqlite() {
    login_rate_limit(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_is_rate_limited_per_account_postgres() {
    login_rate_limit(Engine::Postgres).await;
}

db_test!(openapi_marks_authenticated_operations, |app| {
    let doc = app.get_ok("/openapi.json").await;
    // Every operation says whether it needs a token: partner and admin routes (but partner
    // sign-up), bookings, ticket checks and /me do; the public catalog, auth endpoints,
    // gateway webhooks (signed instead) and operations do not. Waitlists and waiting-room
    // entries are customers'; a room and its audit are public. Writing a review and voting
    // are customers'; reading reviews is public.
    let mut checked = 0;
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let needs_token = (path.starts_with("/api/v1/partner/")
                && path != "/api/v1/partner/signup")
                || path.starts_with("/api/v1/admin/")
                || path.starts_with("/api/v1/bookings")
                || path.starts_with("/api/v1/waitlist")
                || path.ends_with("/waitlist")
                || path.contains("/waiting-room/entries")
                || path.ends_with("/reviews/me")
                || path.ends_with("/helpful")
                || path == "/api/v1/tickets/verify"
                || path == "/api/v1/me"
                || path.starts_with("/api/v1/me/");
            let declared = operation["security"] == json!([{"bearer": []}]);
            assert_eq!(
                declared, needs_token,
                "{method} {path}: security {}",
                operation["security"]
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} operations documented");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert_eq!(
        doc["paths"]["/api/v1/me"]["get"]["security"],
        json!([{"bearer": []}])
    );
    for path in [
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
    ] {
        assert!(doc["paths"][path]["post"].is_object(), "{path} documented");
    }
});

db_test!(
    concurrent_refreshes_all_succeed_without_exhausting_the_pool,
    |app| {
        // Five accounts, four logins each (under the per-account limit): twenty refresh tokens.
        let mut refresh_tokens = Vec::new();
        for n in 0..5 {
            let email = format!("user{n}@example.com");
            register(app, &email).await;
            for _ in 0..4 {
                refresh_tokens.push(tokens(app, &email).await["refresh_token"].clone());
            }
        }
        let racers = refresh_tokens
            .iter()
            .map(|token| async move { refresh(app, token).await.status() });
        let statuses = futures::future::join_all(racers).await;
        assert!(
            statuses.iter().all(|s| *s == StatusCode::OK),
            "{statuses:?}"
        );
    }
);
