//! Availability under abuse: one account cannot take every seat (caps on the seats it
//! holds unpaid, per show and in all), and what a client can repeat cheaply but the
//! platform pays for dearly is rate-limited with a 429 problem and `Retry-After` — holds
//! per account, payments per booking and per account, registrations and quotes per address.

use reqwest::{Method, Response, StatusCode};
use serde_json::json;

use crate::{
    booking::{customer, hold, hold_ok, id_of, pay, pay_ok, wait_for_payment, wait_for_status},
    db_test_with, fixtures,
    helpers::{assert_problem, send},
};

/// Asserts a 429 `rate-limited` problem with a `Retry-After` of 1 to 60 seconds.
pub async fn assert_rate_limited(response: Response, what: &str) {
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After header");
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    let problem = assert_problem(response, 429, "rate-limited").await;
    assert!(
        problem["detail"].as_str().unwrap().contains(what),
        "{problem}"
    );
}

db_test_with!(
    one_account_holds_at_most_its_caps_of_unpaid_seats,
    |config| {
        config.booking.max_seats = 3;
        config.booking.bulk_max_seats = 5;
        config.booking.max_held_seats_per_show = 3;
        config.booking.max_held_seats_per_account = 5;
        config.booking.sweep_interval_ms = 0;
    },
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        hold_ok(app, &ana, &f.noon, &["A1", "A2"]).await;
        let third = hold_ok(app, &ana, &f.noon, &["A3"]).await;
        // A fourth seat of the same show passes the per-show cap.
        let refused = assert_problem(
            hold(app, &ana, &f.noon, &["A4"]).await,
            409,
            "hold-limit-reached",
        )
        .await;
        let detail = refused["detail"].as_str().unwrap();
        assert!(
            detail.contains("you hold 3 of this show and 3 in all"),
            "{detail}"
        );
        // Another show: two more fit the per-account cap of 5, a sixth does not.
        hold_ok(app, &ana, &f.evening, &["A1", "A2"]).await;
        let refused = assert_problem(
            hold(app, &ana, &f.late, &["A1"]).await,
            409,
            "hold-limit-reached",
        )
        .await;
        assert!(
            refused["detail"].as_str().unwrap().contains("5 in all"),
            "{refused}"
        );
        // Others are not limited by her holds.
        let ben = customer(app, "ben@example.com").await;
        hold_ok(app, &ben, &f.noon, &["A4"]).await;
        // A bulk hold counts like single ones.
        let bulk = send(
            app,
            Method::POST,
            "/api/v1/bookings/bulk",
            Some(&ana),
            Some(json!({"items": [{"show_id": f.late.to_string(), "seats": ["A2"]}]})),
        )
        .await;
        assert_problem(bulk, 409, "hold-limit-reached").await;

        // Paid seats are no longer held: paying the third hold makes room for one seat.
        let third = id_of(&third);
        pay_ok(app, &ana, &third, "tok_visa").await;
        wait_for_status(app, &ana, &third, "confirmed").await;
        hold_ok(app, &ana, &f.late, &["A1"]).await;
        assert_problem(
            hold(app, &ana, &f.late, &["A2"]).await,
            409,
            "hold-limit-reached",
        )
        .await;
        // Lapsed holds count for nothing, even before the sweeper has run.
        app.clock.advance(chrono::Duration::seconds(301));
        hold_ok(app, &ana, &f.late, &["A2", "A3"]).await;
        hold_ok(app, &ana, &f.noon, &["B1", "B2", "B3"]).await;
    }
);

db_test_with!(
    holds_and_payments_are_rate_limited_per_account_and_booking,
    |config| {
        config.limits.holds_per_account_per_minute = 3;
        config.limits.payments_per_booking_per_minute = 2;
        config.limits.payments_per_account_per_minute = 3;
    },
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        let first = id_of(&hold_ok(app, &ana, &f.noon, &["A1"]).await);
        let second = id_of(&hold_ok(app, &ana, &f.noon, &["A2"]).await);
        hold_ok(app, &ana, &f.noon, &["A3"]).await;
        assert_rate_limited(
            hold(app, &ana, &f.noon, &["A4"]).await,
            "holds from this account",
        )
        .await;
        // Another account has its own allowance.
        let ben = customer(app, "ben@example.com").await;
        hold_ok(app, &ben, &f.noon, &["A4"]).await;

        // Card testing on one booking: two declines, then refused without reaching the
        // gateway.
        for _ in 0..2 {
            let declined = id_of(&pay_ok(app, &ana, &first, "tok_chargeDeclined").await);
            wait_for_payment(app, &ana, &first, &declined, "failed").await;
        }
        assert_rate_limited(
            pay(app, &ana, &first, "tok_chargeDeclined").await,
            "payment attempts for this booking",
        )
        .await;
        // …and across the account's bookings.
        assert_eq!(
            pay(app, &ana, &second, "tok_chargeDeclined").await.status(),
            StatusCode::CREATED
        );
        assert_rate_limited(
            pay(app, &ana, &second, "tok_chargeDeclined").await,
            "payment attempts from this account",
        )
        .await;
    }
);

db_test_with!(
    registrations_and_quotes_are_rate_limited_per_address,
    |config| {
        config.limits.registrations_per_client_per_minute = 2;
        config.limits.quotes_per_client_per_minute = 2;
    },
    |app| {
        let f = fixtures::load(app).await;
        let register = |email: &str| json!({"email": email, "password": "correct horse battery", "display_name": "Someone"});
        for n in 0..2 {
            let body = register(&format!("user{n}@example.com"));
            let response = send(app, Method::POST, "/api/v1/auth/register", None, Some(body)).await;
            assert_eq!(response.status(), StatusCode::CREATED);
        }
        let flood = send(
            app,
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(register("user2@example.com")),
        )
        .await;
        assert_rate_limited(flood, "registrations from this address").await;
        // Partner sign-up draws on the same allowance (both cost an Argon2 hash).
        let signup = send(
            app,
            Method::POST,
            "/api/v1/partner/signup",
            None,
            Some(
                json!({"organisation_name": "Flood Cinemas", "email": "p@example.com",
                        "password": "correct horse battery", "display_name": "P"}),
            ),
        )
        .await;
        assert_rate_limited(signup, "registrations from this address").await;

        let quote = json!({"show_id": f.noon.to_string(), "seats": ["A1"]});
        for _ in 0..2 {
            let response = send(
                app,
                Method::POST,
                "/api/v1/quotes",
                None,
                Some(quote.clone()),
            )
            .await;
            assert_eq!(response.status(), StatusCode::OK);
        }
        let flood = send(app, Method::POST, "/api/v1/quotes", None, Some(quote)).await;
        assert_rate_limited(flood, "quotes from this address").await;
    }
);
