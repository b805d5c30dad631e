//! Partners' webhook endpoints: registered with a secret shown once, listed without it,
//! rotated with an overlap, removed; private targets refused.

use marquee::integration::webhooks;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    booking::{customer, other_partner, owning_partner},
    db_test, fixtures,
    helpers::{assert_problem, send},
};

const ENDPOINTS: &str = "/api/v1/partner/webhook-endpoints";

db_test!(
    a_partner_registers_rotates_and_removes_a_webhook_endpoint,
    |app| {
        fixtures::load(app).await;
        let partner = owning_partner(app, "owner@example.com").await;
        let request = json!({"url": "https://tms.example.com/hooks",
                         "event_types": ["show.changed", "booking.confirmed"]});
        let response = send(app, Method::POST, ENDPOINTS, Some(&partner), Some(request)).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let created: Value = response.json().await.unwrap();
        let id = created["id"].as_str().unwrap().to_owned();
        assert!(id.starts_with("whe_"));
        let secret = created["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("whsec_"));
        assert_eq!(
            created["event_types"],
            json!(["booking.confirmed", "show.changed"])
        );
        assert_eq!(created["status"], "enabled");
        assert_eq!(created["previous_secret_expires_at"], Value::Null);

        // Listed without its secret.
        let listed: Value = send(app, Method::GET, ENDPOINTS, Some(&partner), None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(listed.as_array().unwrap().len(), 1);
        assert!(listed[0].get("secret").is_none(), "{listed}");
        assert!(!listed.to_string().contains(&secret));

        // Rotation: a new secret once; the old one signs beside it for 24 hours.
        let rotate = format!("{ENDPOINTS}/{id}/rotate-secret");
        let rotated: Value = send(app, Method::POST, &rotate, Some(&partner), None)
            .await
            .json()
            .await
            .unwrap();
        let fresh = rotated["secret"].as_str().unwrap().to_owned();
        assert_ne!(fresh, secret);
        assert_eq!(
            rotated["previous_secret_expires_at"],
            "2026-11-23T03:30:00Z"
        );
        let signing = webhooks::signing_secrets(&app.state, &id).await.unwrap();
        assert_eq!(signing, [fresh.clone(), secret.clone()]);

        // Another organisation cannot touch it; a customer cannot register.
        let other = other_partner(app, "other@example.com").await;
        assert_problem(
            send(app, Method::POST, &rotate, Some(&other), None).await,
            404,
            "not-found",
        )
        .await;
        let ann = customer(app, "ann@example.com").await;
        let by_customer = send(
            app,
            Method::POST,
            ENDPOINTS,
            Some(&ann),
            Some(json!({"url": "https://x.example.com/", "event_types": ["show.changed"]})),
        )
        .await;
        assert_problem(by_customer, 403, "forbidden").await;

        // Private and loopback targets are refused (A10: server-side request forgery).
        for url in [
            "http://tms.example.com/",
            "https://127.0.0.1/hook",
            "https://169.254.169.254/",
            "https://localhost/x",
        ] {
            let response = send(
                app,
                Method::POST,
                ENDPOINTS,
                Some(&partner),
                Some(json!({"url": url, "event_types": ["show.changed"]})),
            )
            .await;
            assert_problem(response, 400, "invalid-request").await;
        }
        let unknown_type = send(
            app,
            Method::POST,
            ENDPOINTS,
            Some(&partner),
            Some(json!({"url": "https://tms.example.com/", "event_types": ["booking.held"]})),
        )
        .await;
        assert_problem(unknown_type, 400, "invalid-request").await;

        // A day later the old secret no longer signs (checked last: tokens are short).
        app.clock.advance(chrono::Duration::hours(25));
        assert_eq!(
            webhooks::signing_secrets(&app.state, &id).await.unwrap(),
            [fresh]
        );
        let partner = crate::booking::login(app, "owner@example.com").await;
        let delete = format!("{ENDPOINTS}/{id}");
        assert_eq!(
            send(app, Method::DELETE, &delete, Some(&partner), None)
                .await
                .status(),
            StatusCode::NO_CONTENT
        );
        assert_problem(
            send(app, Method::DELETE, &delete, Some(&partner), None).await,
            404,
            "not-found",
        )
        .await;
    }
);
