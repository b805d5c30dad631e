//! Disputes over the API, on both engines: the mock gateway plays the customer's bank
//! (signed webhooks), an administrator answers with evidence (the timeline, the ticket's
//! scan at the door), the bank decides, and a lost dispute is settled to the minor unit.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    booking::{confirmed, customer, login, owning_partner},
    db_test_with, fixtures,
    helpers::{TestApp, send},
};

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let response = send(app, method, path, Some(token), body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Waits until the booking's dispute reaches `status` (its webhook is delivered by the
/// gateway's background task); returns it.
async fn dispute_of(app: &TestApp, admin: &str, booking: &str, status: &str) -> Value {
    for _ in 0..200 {
        let (code, list) = call(
            app,
            Method::GET,
            &format!("/api/v1/admin/disputes?booking_id={booking}"),
            admin,
            None,
        )
        .await;
        assert_eq!(code, 200, "{list}");
        if let Some(found) = list
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["status"] == status)
        {
            return found.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no {status} dispute for {booking}");
}

db_test_with!(
    a_dispute_runs_from_open_to_lost_and_the_money_adds_up,
    |config| {
        config.settlement.run_interval_ms = 0;
    },
    |app| {
        let f = fixtures::load(app).await;
        let admin = crate::offers::admin(app).await;
        let partner = owning_partner(app, "owner@example.com").await;
        let ana = customer(app, "disputer@example.com").await;
        let booking = confirmed(app, &ana, &f.noon, &["A1"]).await;
        let id = booking["id"].as_str().unwrap().to_owned();
        let payment = booking["payments"][0]["id"].as_str().unwrap().to_owned();
        let bob = customer(app, "slow.bank@example.com").await;
        let late = confirmed(app, &bob, &f.noon, &["A2"]).await;
        let late_id = late["id"].as_str().unwrap().to_owned();

        // The customer's bank disputes the payment; Marquee hears of it by webhook.
        let (status, raised) = call(
            app,
            Method::POST,
            "/api/v1/admin/mock-gateway/disputes",
            &admin,
            Some(json!({"payment_id": payment, "reason": "fraudulent"})),
        )
        .await;
        assert_eq!(status, 201, "{raised}");
        let gateway_id = raised["gateway_dispute_id"].as_str().unwrap().to_owned();
        let open = dispute_of(app, &admin, &id, "open").await;
        assert_eq!(open["amount"], json!({"amount": 15_750, "currency": "INR"}));
        assert_eq!(
            (open["ticket_amount"].clone(), open["fee_amount"].clone()),
            (json!(15_000), json!(750))
        );
        assert_eq!(open["gateway_dispute_id"], gateway_id.as_str());
        assert_eq!(open["reason"], "fraudulent");
        assert_eq!(open["evidence_due_by"], "2026-11-29T03:30:00Z");
        let dispute_id = open["id"].as_str().unwrap().to_owned();
        // Nobody but the staff sees it or plays the bank.
        let (status, _) = call(app, Method::GET, "/api/v1/admin/disputes", &partner, None).await;
        assert_eq!(status, 403);
        let (status, _) = call(
            app,
            Method::POST,
            "/api/v1/admin/mock-gateway/disputes",
            &ana,
            Some(json!({"payment_id": payment, "reason": "fraudulent"})),
        )
        .await;
        assert_eq!(status, 403);

        // She did come: the theatre scanned her ticket at the door.
        let (_, ticket) = call(
            app,
            Method::GET,
            &format!("/api/v1/bookings/{id}/ticket"),
            &ana,
            None,
        )
        .await;
        let (status, scan) = call(
            app,
            Method::POST,
            "/api/v1/partner/check-ins",
            &partner,
            Some(json!({"code": ticket["code"], "scanner_id": "door-1"})),
        )
        .await;
        assert_eq!(status, 201, "{scan}");

        // The evidence: a note, the timeline, the scan.
        let path = format!("/api/v1/admin/disputes/{dispute_id}/evidence");
        let (status, answered) = call(
            app,
            Method::POST,
            &path,
            &admin,
            Some(json!({"note": "The customer attended: the ticket was scanned at the door."})),
        )
        .await;
        assert_eq!(status, 200, "{answered}");
        assert_eq!(answered["status"], "evidence_submitted");
        let evidence = &answered["evidence"];
        assert_eq!(evidence["ticket_scans"].as_array().unwrap().len(), 1);
        assert_eq!(evidence["ticket_scans"][0]["scanner_id"], "door-1");
        let kinds: Vec<&str> = evidence["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert!(kinds.contains(&"booking.confirmed"), "{kinds:?}");
        assert!(kinds.contains(&"payment.disputed"), "{kinds:?}");
        assert_eq!(evidence["booking"]["id"], id.as_str());
        let (status, problem) = call(
            app,
            Method::POST,
            &path,
            &admin,
            Some(json!({"note": "again"})),
        )
        .await;
        assert_eq!(status, 409);
        assert!(
            problem["type"]
                .as_str()
                .unwrap()
                .ends_with("/dispute-not-open")
        );
        // The gateway's own word that it has the evidence changes nothing more.
        let (_, got) = call(
            app,
            Method::GET,
            &format!("/api/v1/admin/disputes/{dispute_id}"),
            &admin,
            None,
        )
        .await;
        assert_eq!(got["status"], "evidence_submitted");
        assert_eq!(
            got["evidence"]["note"],
            "The customer attended: the ticket was scanned at the door."
        );

        // The bank decides against the platform.
        let decision = format!("/api/v1/admin/mock-gateway/disputes/{gateway_id}/decision");
        let (status, _) = call(
            app,
            Method::POST,
            &decision,
            &admin,
            Some(json!({"outcome": "lost"})),
        )
        .await;
        assert_eq!(status, 200);
        let lost = dispute_of(app, &admin, &id, "lost").await;
        assert!(lost["closed_at"].is_string());
        // The booking's timeline shows the scan and the dispute as it stands.
        let (_, timeline) = call(
            app,
            Method::GET,
            &format!("/api/v1/admin/bookings/{id}/timeline"),
            &admin,
            None,
        )
        .await;
        let seen: Vec<(&str, &str)> = timeline
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["source"].as_str().unwrap(), e["kind"].as_str().unwrap()))
            .collect();
        assert!(seen.contains(&("check_in", "admitted")), "{seen:?}");
        assert!(seen.contains(&("dispute", "lost")), "{seen:?}");
        let (status, _) = call(
            app,
            Method::POST,
            &decision,
            &admin,
            Some(json!({"outcome": "won"})),
        )
        .await;
        assert_eq!(status, 409);
        let (status, _) = call(
            app,
            Method::POST,
            &decision,
            &admin,
            Some(json!({"outcome": "maybe"})),
        )
        .await;
        assert_eq!(status, 422);

        // Another dispute, answered too late.
        let late_payment = late["payments"][0]["id"].as_str().unwrap();
        call(
            app,
            Method::POST,
            "/api/v1/admin/mock-gateway/disputes",
            &admin,
            Some(json!({"payment_id": late_payment, "reason": "product_not_received"})),
        )
        .await;
        let late_dispute = dispute_of(app, &admin, &late_id, "open").await;

        // Settled: the sale and the lost dispute; the partner keeps nothing of it, nor does
        // the platform (commission and fee given back).
        app.clock.set("2026-11-23T12:00:00Z".parse().unwrap());
        let admin = login(app, "admin@example.com").await;
        let org = marquee::ids::PartnerOrgId::derived("test/org").to_string();
        let (status, run) = call(
            app,
            Method::POST,
            "/api/v1/admin/settlements",
            &admin,
            Some(json!({"org_id": org, "business_date": "2026-11-22"})),
        )
        .await;
        assert_eq!(status, 201, "{run}");
        let mine: Vec<(String, i64, i64, i64)> = run["lines"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["booking_id"] == id.as_str())
            .map(|l| {
                (
                    l["kind"].as_str().unwrap().to_owned(),
                    l["customer_amount"].as_i64().unwrap(),
                    l["ticket_amount"].as_i64().unwrap(),
                    l["net"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            mine,
            [
                ("sale".to_owned(), 15_750, 15_000, 13_500),
                ("chargeback".to_owned(), -15_750, -15_000, -13_500)
            ]
        );
        let chargeback = run["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["kind"] == "chargeback")
            .unwrap();
        assert_eq!(chargeback["fact_id"], dispute_id.as_str());
        let totals = &run["totals"][0];
        // Bob's sale alone is left: 15,000 of tickets, 10 % commission.
        assert_eq!(totals["gross"], 30_000);
        assert_eq!(totals["refunds"], 15_000);
        assert_eq!(totals["net_payable"], 13_500);
        assert_eq!(totals["commission"], 1_500);
        assert_eq!(totals["fees"], 750);

        app.clock.set("2026-11-30T00:00:00Z".parse().unwrap());
        let admin = login(app, "admin@example.com").await;
        let (status, problem) = call(
            app,
            Method::POST,
            &format!(
                "/api/v1/admin/disputes/{}/evidence",
                late_dispute["id"].as_str().unwrap()
            ),
            &admin,
            Some(json!({"note": "late"})),
        )
        .await;
        assert_eq!(status, 409);
        assert!(
            problem["type"]
                .as_str()
                .unwrap()
                .ends_with("/evidence-deadline-passed")
        );
        // Won: nothing to settle.
        let won = format!(
            "/api/v1/admin/mock-gateway/disputes/{}/decision",
            late_dispute["gateway_dispute_id"].as_str().unwrap()
        );
        let (status, _) = call(
            app,
            Method::POST,
            &won,
            &admin,
            Some(json!({"outcome": "won"})),
        )
        .await;
        assert_eq!(status, 200);
        dispute_of(app, &admin, &late_id, "won").await;
        let (status, _) = call(
            app,
            Method::GET,
            "/api/v1/admin/disputes/dsp_00000000000000000000000000",
            &admin,
            None,
        )
        .await;
        assert_eq!(status, 404);
        let (status, problem) = call(
            app,
            Method::POST,
            "/api/v1/admin/mock-gateway/disputes",
            &admin,
            Some(json!({"payment_id": "pay_nope", "reason": "fraudulent"})),
        )
        .await;
        assert_eq!(status, 422, "{problem}");
    }
);
