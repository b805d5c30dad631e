//! What the gateway says is checked, and what it owes is never lost: a correctly signed
//! webhook that does not match its payment (another amount, currency or intent) is
//! refused, recorded and never confirms; the mock gateway's owed webhooks survive a
//! restart; and a payment whose webhook never comes is settled by asking the gateway.

use marquee::{
    booking::store as booking_store,
    clock::Clock,
    db::Engine,
    payment::{gateway::IntentRequest, service as payments, store as payments_store},
};
use reqwest::StatusCode;
use serde_json::Value;

use crate::{
    booking::{customer, get_booking, hold_ok, id_of, pay_ok, payment_in, states, wait_for_status},
    db_test_with, fixtures,
    helpers::{TestApp, assert_problem},
    payments::{deliver_signed, gateway_event},
};

fn now_secs(app: &TestApp) -> i64 {
    app.clock.now().as_millis() / 1000
}

/// The gateway's intent id the app stored for a payment.
async fn intent_of(app: &TestApp, payment_id: &str) -> String {
    booking_store::get_payment(&app.state.db, payment_id)
        .await
        .unwrap()
        .and_then(|p| p.intent_id)
        .expect("a payment with an intent")
}

db_test_with!(
    a_signed_webhook_that_does_not_match_its_payment_is_refused_recorded_and_never_confirms,
    |config| {
        // The real verdict (tok_delayed) stays away for the whole test.
        config.payment.mock_delay_ms = 60_000;
    },
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        let booking = hold_ok(app, &ana, &f.noon, &["A1", "A2"]).await;
        let id = id_of(&booking);
        let payment_id = id_of(&pay_ok(app, &ana, &id, "tok_delayed").await);
        let intent = intent_of(app, &payment_id).await;
        let total = 31_500;
        let now = now_secs(app);
        let wrong = [
            ("evt_amount_1", intent.as_str(), 1, "INR", "amount_mismatch"),
            ("evt_amount_0", intent.as_str(), 0, "INR", "amount_mismatch"),
            (
                "evt_amount_x10",
                intent.as_str(),
                total * 10,
                "INR",
                "amount_mismatch",
            ),
            (
                "evt_gbp",
                intent.as_str(),
                total,
                "GBP",
                "currency_mismatch",
            ),
            (
                "evt_other_intent",
                "pi_someone_else",
                total,
                "INR",
                "intent_mismatch",
            ),
        ];
        for (event_id, intent_id, amount, currency, _) in wrong {
            let body = gateway_event(
                event_id,
                "payment.succeeded",
                now,
                &payment_id,
                intent_id,
                amount,
                currency,
            );
            let refused =
                assert_problem(deliver_signed(app, &body).await, 422, "webhook-mismatch").await;
            assert!(
                refused["detail"].as_str().unwrap().contains(&payment_id),
                "{refused}"
            );
            // Redelivered: refused again, recorded once.
            assert_problem(deliver_signed(app, &body).await, 422, "webhook-mismatch").await;
        }
        // A failure that names another amount cannot fail the payment either.
        let failure = gateway_event(
            "evt_failed_amount",
            "payment.failed",
            now,
            &payment_id,
            &intent,
            total + 1,
            "INR",
        );
        assert_problem(deliver_signed(app, &failure).await, 422, "webhook-mismatch").await;

        // Nothing changed: still held and pending, and the stored intent is the original.
        let after = get_booking(app, &ana, &id).await;
        assert_eq!(after["status"], "pending_payment");
        assert_eq!(payment_in(&after, &payment_id)["status"], "pending");
        assert_eq!(states(app, &f.noon, &["A1", "A2"]).await, ["held", "held"]);
        assert_eq!(intent_of(app, &payment_id).await, intent);

        // Each refused message recorded once, for reconciliation.
        let anomalies = payments_store::anomalies_of(&app.state.db, &payment_id)
            .await
            .unwrap();
        let mut recorded: Vec<(String, String, String, String)> = anomalies
            .iter()
            .map(|a| {
                (
                    a.message_id.clone(),
                    a.kind.clone(),
                    a.expected.clone(),
                    a.received.clone(),
                )
            })
            .collect();
        recorded.sort();
        let mut expected: Vec<(String, String, String, String)> = vec![
            (
                "evt_amount_0".into(),
                "amount_mismatch".into(),
                "31500".into(),
                "0".into(),
            ),
            (
                "evt_amount_1".into(),
                "amount_mismatch".into(),
                "31500".into(),
                "1".into(),
            ),
            (
                "evt_amount_x10".into(),
                "amount_mismatch".into(),
                "31500".into(),
                "315000".into(),
            ),
            (
                "evt_failed_amount".into(),
                "amount_mismatch".into(),
                "31500".into(),
                "31501".into(),
            ),
            (
                "evt_gbp".into(),
                "currency_mismatch".into(),
                "INR".into(),
                "GBP".into(),
            ),
            (
                "evt_other_intent".into(),
                "intent_mismatch".into(),
                intent.clone(),
                "pi_someone_else".into(),
            ),
        ];
        expected.sort();
        assert_eq!(recorded, expected);
        assert!(anomalies.iter().all(|a| a.provider == "mock"));

        // The true verdict still confirms.
        let genuine = gateway_event(
            "evt_genuine",
            "payment.succeeded",
            now,
            &payment_id,
            &intent,
            total,
            "INR",
        );
        assert_eq!(
            deliver_signed(app, &genuine).await.status(),
            StatusCode::NO_CONTENT
        );
        let confirmed = get_booking(app, &ana, &id).await;
        assert_eq!(confirmed["status"], "confirmed");
        assert_eq!(payment_in(&confirmed, &payment_id)["status"], "succeeded");
        assert_eq!(
            states(app, &f.noon, &["A1", "A2"]).await,
            ["booked", "booked"]
        );
    }
);

db_test_with!(
    a_payment_whose_webhook_never_arrives_is_settled_by_asking_the_gateway,
    |config| {
        // Every delivery fails: nothing listens there.
        config.payment.mock_webhook_url = Some("http://127.0.0.1:9/unreachable".into());
        config.payment.reconcile_after_ms = 60_000;
        config.booking.sweep_interval_ms = 0;
    },
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        let paid = id_of(&hold_ok(app, &ana, &f.noon, &["A1"]).await);
        let paid_with = id_of(&pay_ok(app, &ana, &paid, "tok_visa").await);
        let declined = id_of(&hold_ok(app, &ana, &f.noon, &["B1"]).await);
        let declined_with = id_of(&pay_ok(app, &ana, &declined, "tok_chargeDeclined").await);
        // Not yet overdue: nothing to ask about.
        assert_eq!(payments::reconcile(&app.state).await.unwrap(), 0);
        assert_eq!(
            get_booking(app, &ana, &paid).await["status"],
            "pending_payment"
        );

        app.clock.advance(chrono::Duration::seconds(61));
        assert_eq!(payments::reconcile(&app.state).await.unwrap(), 2);
        let confirmed = get_booking(app, &ana, &paid).await;
        assert_eq!(confirmed["status"], "confirmed");
        assert_eq!(payment_in(&confirmed, &paid_with)["status"], "succeeded");
        assert_eq!(
            states(app, &f.noon, &["A1", "B1"]).await,
            ["booked", "held"]
        );
        let still_held = get_booking(app, &ana, &declined).await;
        assert_eq!(still_held["status"], "pending_payment");
        let failed = payment_in(&still_held, &declined_with);
        assert_eq!(failed["status"], "failed");
        assert_eq!(failed["failure_reason"], "card_declined");
        // Settled: asking again changes nothing.
        assert_eq!(payments::reconcile(&app.state).await.unwrap(), 0);
    }
);

db_test_with!(
    a_payment_the_gateway_never_charged_fails_so_the_customer_can_pay_again,
    |config| {
        config.payment.reconcile_after_ms = 60_000;
        config.booking.sweep_interval_ms = 0;
    },
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        let booking = hold_ok(app, &ana, &f.noon, &["C1"]).await;
        let id = id_of(&booking);
        // As if the process died between recording the payment and confirming its intent:
        // the intent exists at the gateway, unconfirmed.
        let intent = app
            .state
            .gateway
            .create_intent(IntentRequest {
                payment_id: "pay_01M8MZZZZZZZZZZZZZZZZZZZZZ".into(),
                amount: marquee::money::Money::new(
                    booking["total"]["amount"].as_i64().unwrap(),
                    marquee::money::Currency::parse("INR").unwrap(),
                ),
                card_token: "tok_visa".into(),
            })
            .await
            .unwrap();
        let payment = marquee::booking::model::PaymentRow {
            id: "pay_01M8MZZZZZZZZZZZZZZZZZZZZZ".into(),
            booking_id: id.clone(),
            provider: "mock".into(),
            intent_id: Some(intent.clone()),
            status: "pending".into(),
            amount: booking["total"]["amount"].as_i64().unwrap(),
            currency: "INR".into(),
            refund_amount: None,
            failure_reason: None,
            created_at: app.clock.now().as_millis(),
        };
        let now = app.clock.now().as_millis();
        assert!(
            app.state
                .db
                .write(move |tx| booking_store::insert_payment(tx, &payment, now))
                .await
                .unwrap()
        );

        app.clock.advance(chrono::Duration::seconds(61));
        assert_eq!(payments::reconcile(&app.state).await.unwrap(), 1);
        let after = get_booking(app, &ana, &id).await;
        assert_eq!(after["status"], "pending_payment");
        let failed = payment_in(&after, "pay_01M8MZZZZZZZZZZZZZZZZZZZZZ");
        assert_eq!(failed["status"], "failed");
        assert_eq!(failed["failure_reason"], "not_confirmed");
        // The intent can no longer be charged.
        assert!(app.state.gateway.confirm(intent).await.is_err());
        // The hold stands: the customer pays again.
        pay_ok(app, &ana, &id, "tok_visa").await;
        wait_for_status(app, &ana, &id, "confirmed").await;
    }
);

/// A webhook the gateway owes when the process stops is delivered after it starts again.
async fn owed_webhooks_survive_a_restart(engine: Engine) {
    let Some(mut app) = TestApp::spawn_with(engine, |config| {
        config.payment.mock_delay_ms = 300;
    })
    .await
    else {
        return;
    };
    let f = fixtures::load(&app).await;
    let ana = customer(&app, "ana@example.com").await;
    let id = id_of(&hold_ok(&app, &ana, &f.noon, &["A3"]).await);
    let payment_id = id_of(&pay_ok(&app, &ana, &id, "tok_delayed").await);
    // Stopped before the charge settles: the webhook is owed, not sent.
    app.restart().await;
    let confirmed = wait_for_status(&app, &ana, &id, "confirmed").await;
    assert_eq!(payment_in(&confirmed, &payment_id)["status"], "succeeded");
    let booked: Value = serde_json::json!(["booked"]);
    assert_eq!(
        serde_json::to_value(states(&app, &f.noon, &["A3"]).await).unwrap(),
        booked
    );
    app.stop().await;
}

mod owed_webhooks_are_delivered_after_a_restart {
    use marquee::db::Engine;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::owed_webhooks_survive_a_restart(Engine::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::owed_webhooks_survive_a_restart(Engine::Postgres).await;
    }
}

db_test_with!(
    a_charge_for_a_payment_given_up_as_failed_is_refunded,
    |config| {
        config.payment.mock_delay_ms = 60_000;
    },
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        let id = id_of(&hold_ok(app, &ana, &f.noon, &["B2"]).await);
        let payment_id = id_of(&pay_ok(app, &ana, &id, "tok_delayed").await);
        let intent = intent_of(app, &payment_id).await;
        // As when the gateway did not answer the confirmation: the payment is given up.
        let failed = payment_id.clone();
        app.state
            .db
            .write(move |tx| {
                tx.execute(
                    "UPDATE payments SET status = 'failed', failure_reason = 'gateway_unavailable' \
                     WHERE id = $1",
                    marquee::params![&failed],
                )
            })
            .await
            .unwrap();
        // …but it was charged: its success arrives.
        let success = gateway_event(
            "evt_charged_anyway",
            "payment.succeeded",
            now_secs(app),
            &payment_id,
            &intent,
            26_250,
            "INR",
        );
        assert_eq!(
            deliver_signed(app, &success).await.status(),
            StatusCode::NO_CONTENT
        );
        let after = get_booking(app, &ana, &id).await;
        assert_eq!(after["status"], "pending_payment");
        assert_eq!(payment_in(&after, &payment_id)["status"], "refunded");
        assert_eq!(states(app, &f.noon, &["B2"]).await, ["held"]);
    }
);
