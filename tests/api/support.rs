//! Customer support over the API, on both engines: administrators find customers by part
//! of their address or name, and bookings by id, customer, show, status and time.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    booking::{confirmed, customer, hold_ok},
    db_test, db_test_with, fixtures,
    helpers::{TestApp, send},
};

async fn admin_get(app: &TestApp, admin: &str, path: &str) -> (u16, Value) {
    let response = send(app, Method::GET, path, Some(admin), None).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

db_test!(administrators_find_customers_and_their_bookings, |app| {
    let f = fixtures::load(app).await;
    let admin = crate::offers::admin(app).await;
    let ana = customer(app, "ana.lopez@example.com").await;
    let bob = customer(app, "bob@example.com").await;
    let paid = confirmed(app, &ana, &f.noon, &["A1"]).await;
    app.clock.advance(chrono::Duration::seconds(5));
    let held = hold_ok(app, &ana, &f.evening, &["B1"]).await;
    let bobs = confirmed(app, &bob, &f.noon, &["A2"]).await;

    // Users: by part of the address, any case; wildcards are text.
    let (status, found) = admin_get(app, &admin, "/api/v1/admin/users?q=LOPEZ").await;
    assert_eq!(status, 200);
    assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["items"][0]["email"], "ana.lopez@example.com");
    assert_eq!(found["items"][0]["status"], "active");
    let (_, none) = admin_get(app, &admin, "/api/v1/admin/users?q=%25").await;
    assert_eq!(none["items"], json!([]), "% is text: {none}");
    let (_, customers) = admin_get(app, &admin, "/api/v1/admin/users?role=customer&limit=1").await;
    assert_eq!(customers["items"].as_array().unwrap().len(), 1);
    let cursor = customers["next_cursor"].as_str().expect("a second page");
    let (_, second) = admin_get(
        app,
        &admin,
        &format!("/api/v1/admin/users?role=customer&limit=1&cursor={cursor}"),
    )
    .await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_ne!(ids(&customers), ids(&second));
    let (status, _) = admin_get(app, &admin, "/api/v1/admin/users?role=wizard").await;
    assert_eq!(status, 400);

    // Bookings: by the customer's address (newest first), status, show, id and time.
    let (_, anas) = admin_get(
        app,
        &admin,
        "/api/v1/admin/bookings?email=Ana.Lopez@example.com",
    )
    .await;
    assert_eq!(
        ids(&anas),
        [held["id"].as_str().unwrap(), paid["id"].as_str().unwrap()]
    );
    assert_eq!(anas["items"][0]["customer_email"], "ana.lopez@example.com");
    assert_eq!(anas["items"][1]["total"]["amount"], paid["total"]["amount"]);
    let (_, confirmed_noon) = admin_get(
        app,
        &admin,
        &format!("/api/v1/admin/bookings?status=confirmed&show_id={}", f.noon),
    )
    .await;
    assert_eq!(
        ids(&confirmed_noon),
        [bobs["id"].as_str().unwrap(), paid["id"].as_str().unwrap()]
    );
    let (_, one) = admin_get(
        app,
        &admin,
        &format!(
            "/api/v1/admin/bookings?booking_id={}",
            paid["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(ids(&one), [paid["id"].as_str().unwrap()]);
    assert_eq!(one["items"][0]["payments"][0]["status"], "succeeded");
    let (_, later) = admin_get(
        app,
        &admin,
        "/api/v1/admin/bookings?email=ana.lopez@example.com&from=2026-11-22T03:30:03Z",
    )
    .await;
    assert_eq!(ids(&later), [held["id"].as_str().unwrap()]);
    let (status, _) = admin_get(app, &admin, "/api/v1/admin/bookings?status=lost").await;
    assert_eq!(status, 400);

    // Administrators only; and their looking is in the audit log.
    let (status, _) = admin_get(app, &ana, "/api/v1/admin/bookings").await;
    assert_eq!(status, 403);
    let (_, log) = admin_get(
        app,
        &admin,
        "/api/v1/admin/audit-log?action=GET%20%2Fapi%2Fv1%2Fadmin%2Fbookings",
    )
    .await;
    assert!(log["items"].as_array().unwrap().len() >= 5, "{log}");
});

db_test!(a_bookings_timeline_tells_its_whole_story_in_order, |app| {
    let f = fixtures::load(app).await;
    let admin = crate::offers::admin(app).await;
    let ana = customer(app, "story@example.com").await;
    let booking = confirmed(app, &ana, &f.noon, &["A1"]).await;
    let id = booking["id"].as_str().unwrap().to_owned();
    let payment = booking["payments"][0]["id"].as_str().unwrap().to_owned();
    let cancelled = crate::booking::cancel(app, &ana, &id).await;
    assert_eq!(cancelled.status(), 200);
    crate::booking::wait_for_payment(app, &ana, &id, &payment, "refunded").await;

    let path = format!("/api/v1/admin/bookings/{id}/timeline");
    let mut timeline = Value::Null;
    // The confirmation's message is queued by the event consumer, a moment later (the
    // refund's, of another aggregate, may come first).
    for _ in 0..100 {
        let (status, body) = admin_get(app, &admin, &path).await;
        assert_eq!(status, 200);
        timeline = body;
        if timeline
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["source"] == "notification" && e["kind"] == "booking_confirmation")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let entries = timeline.as_array().unwrap();
    let seen: Vec<(String, String)> = entries
        .iter()
        .map(|e| {
            (
                e["source"].as_str().unwrap().to_owned(),
                e["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for wanted in [
        ("event", "booking.held"),
        ("payment", "refunded"),
        ("event", "booking.confirmed"),
        ("audit", "booking.confirmed"),
        ("event", "booking.cancelled"),
        ("audit", "booking.cancelled"),
        ("event", "payment.refunded"),
        ("audit", "payment.refunded"),
        ("notification", "booking_confirmation"),
    ] {
        assert!(
            seen.iter().any(|(s, k)| s == wanted.0 && k == wanted.1),
            "{wanted:?} in {seen:?}"
        );
    }
    let position = |source: &str, kind: &str| {
        seen.iter()
            .position(|(s, k)| s == source && k == kind)
            .unwrap()
    };
    assert!(position("event", "booking.held") < position("event", "booking.confirmed"));
    assert!(position("event", "booking.confirmed") < position("event", "booking.cancelled"));
    let times: Vec<&str> = entries.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "oldest first");
    assert_eq!(
        entries[position("payment", "refunded")]["detail"]["refund_amount"],
        15_000
    );

    let (status, _) = admin_get(
        app,
        &admin,
        "/api/v1/admin/bookings/bkg_00000000000000000000000000/timeline",
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = admin_get(app, &ana, &path).await;
    assert_eq!(status, 403);
});

db_test!(support_disables_and_enables_an_account, |app| {
    let admin = crate::offers::admin(app).await;
    let ana = customer(app, "toggle@example.com").await;
    let (_, found) = admin_get(app, &admin, "/api/v1/admin/users?q=toggle").await;
    let id = found["items"][0]["id"].as_str().unwrap().to_owned();
    let post = |path: String| {
        let admin = admin.clone();
        async move { send(app, Method::POST, &path, Some(&admin), None).await }
    };

    assert_eq!(
        post(format!("/api/v1/admin/users/{id}/disable"))
            .await
            .status(),
        204
    );
    let (_, found) = admin_get(app, &admin, "/api/v1/admin/users?q=toggle").await;
    assert_eq!(found["items"][0]["status"], "disabled");
    assert_eq!(
        send(app, Method::GET, "/api/v1/me", Some(&ana), None)
            .await
            .status(),
        403
    );

    assert_eq!(
        post(format!("/api/v1/admin/users/{id}/enable"))
            .await
            .status(),
        204
    );
    let (_, found) = admin_get(app, &admin, "/api/v1/admin/users?q=toggle").await;
    assert_eq!(found["items"][0]["status"], "active");
    let again = crate::booking::login(app, "toggle@example.com").await;
    assert_eq!(
        send(app, Method::GET, "/api/v1/me", Some(&again), None)
            .await
            .status(),
        200
    );
    assert_eq!(
        post("/api/v1/admin/users/usr_00000000000000000000000000/enable".into())
            .await
            .status(),
        404
    );
    assert_eq!(
        send(
            app,
            Method::POST,
            &format!("/api/v1/admin/users/{id}/enable"),
            Some(&again),
            None
        )
        .await
        .status(),
        403
    );
});

async fn refund(app: &TestApp, admin: &str, booking: &str, key: &str, body: Value) -> (u16, Value) {
    let response = crate::booking::post_keyed(
        app,
        &format!("/api/v1/admin/bookings/{booking}/refunds"),
        admin,
        key,
        &body.to_string(),
    )
    .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Waits until every refund of the booking is confirmed by the gateway; returns them.
async fn refunds_settled(app: &TestApp, admin: &str, booking: &str) -> Value {
    let path = format!("/api/v1/admin/bookings/{booking}/refunds");
    for _ in 0..100 {
        let (status, list) = admin_get(app, admin, &path).await;
        assert_eq!(status, 200);
        if list
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "succeeded")
        {
            return list;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("refunds of {booking} still pending");
}

db_test_with!(
    an_administrator_refunds_one_seat_of_three_then_the_rest_never_more_than_captured,
    |config| {
        config.settlement.run_interval_ms = 0;
    },
    |app| {
        let f = fixtures::load(app).await;
        let admin = crate::offers::admin(app).await;
        let owner = crate::booking::owning_partner(app, "owner@example.com").await;
        let ana = customer(app, "refund.me@example.com").await;
        let booking = confirmed(app, &ana, &f.noon, &["A1", "A2", "A3"]).await;
        assert_eq!(booking["total"]["amount"], 47_250);
        let payment = booking["payments"][0]["id"].as_str().unwrap().to_owned();

        // Support finds her by address, then her booking.
        let (_, users) = admin_get(app, &admin, "/api/v1/admin/users?q=refund.me").await;
        assert_eq!(users["items"][0]["email"], "refund.me@example.com");
        let (_, found) = admin_get(
            app,
            &admin,
            "/api/v1/admin/bookings?email=refund.me@example.com",
        )
        .await;
        let id = ids(&found)[0].clone();
        assert_eq!(id, booking["id"]);
        let path = format!("/api/v1/admin/bookings/{id}/refunds");

        // Money moves only under an idempotency key.
        let unkeyed = send(
            app,
            Method::POST,
            &path,
            Some(&admin),
            Some(json!({"seats": ["A2"], "reason": "seat broken"})),
        )
        .await;
        assert_eq!(unkeyed.status(), 428);
        let problem: Value = unkeyed.json().await.unwrap();
        assert!(
            problem["type"]
                .as_str()
                .unwrap()
                .ends_with("/idempotency-key-required")
        );
        // Customers and partners may not refund.
        let (status, _) = refund(
            app,
            &ana,
            &id,
            "k-cust",
            json!({"full": true, "reason": "x"}),
        )
        .await;
        assert_eq!(status, 403);

        // One seat of three: its ticket (15,000), fees kept; the seat is for sale again.
        let one = json!({"seats": ["A2"], "reason": "seat broken"});
        let (status, first) = refund(app, &admin, &id, "k-seat", one.clone()).await;
        assert_eq!(status, 201, "{first}");
        assert_eq!(
            first["amount"],
            json!({"amount": 15_000, "currency": "INR"})
        );
        assert_eq!(
            (first["ticket_amount"].clone(), first["fee_amount"].clone()),
            (json!(15_000), json!(0))
        );
        assert_eq!(first["seats"], json!(["A2"]));
        assert_eq!(first["reason"], "seat broken");
        // The same request again is the same refund; another with the key is refused.
        let again =
            crate::booking::post_keyed(app, &path, &admin, "k-seat", &one.to_string()).await;
        assert_eq!(again.status(), 201);
        assert_eq!(crate::booking::replayed(&again).as_deref(), Some("true"));
        let again: Value = again.json().await.unwrap();
        assert_eq!(again["id"], first["id"]);
        let (status, _) = refund(
            app,
            &admin,
            &id,
            "k-seat",
            json!({"seats": ["A1"], "reason": "seat broken"}),
        )
        .await;
        assert_eq!(status, 422);
        assert_eq!(
            crate::booking::states(app, &f.noon, &["A1", "A2", "A3"]).await,
            ["booked", "available", "booked"]
        );
        let now = crate::booking::get_booking(app, &ana, &id).await;
        assert_eq!(now["status"], "confirmed");
        assert_eq!(now["seats"], json!(["A1", "A3"]));
        // Her ticket now names the two seats she keeps.
        let ticket = send(
            app,
            Method::GET,
            &format!("/api/v1/bookings/{id}/ticket"),
            Some(&ana),
            None,
        )
        .await;
        let ticket: Value = ticket.json().await.unwrap();
        assert_eq!(ticket["seats"], json!(["A1", "A3"]));

        // The refund in the reports: the platform's (money back, fees included) and the
        // partner's (tickets: 45,000 sold, 15,000 back, one seat fewer sold).
        let (status, platform) = admin_get(
            app,
            &admin,
            "/api/v1/admin/reports/platform?from=2026-11-22&to=2026-11-22&group_by=day",
        )
        .await;
        assert_eq!(status, 200, "{platform}");
        let day = &platform["rows"][0];
        assert_eq!(day["key"], "2026-11-22");
        assert_eq!(
            (day["refunds_count"].clone(), day["refunds"].clone()),
            (json!(1), json!(15_000))
        );
        let (status, sales) = admin_get(
            app,
            &owner,
            "/api/v1/partner/reports/sales?from=2026-11-22&to=2026-11-22&group_by=show",
        )
        .await;
        assert_eq!(status, 200, "{sales}");
        let noon = sales["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == f.noon.as_str())
            .unwrap();
        assert_eq!(
            (
                noon["gross"].clone(),
                noon["refunds"].clone(),
                noon["net"].clone(),
                noon["seats_sold"].clone()
            ),
            (json!(45_000), json!(15_000), json!(30_000), json!(2))
        );

        // Bad requests.
        for (n, (body, kind)) in [
            (
                json!({"seats": ["A2"], "reason": "again"}),
                "invalid-refund",
            ),
            (
                json!({"amount": 100, "full": true, "reason": "two"}),
                "invalid-refund",
            ),
            (json!({"amount": 100, "reason": ""}), "invalid-refund"),
            (
                json!({"amount": 32_251, "reason": "too much"}),
                "refund-exceeds-captured",
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let (status, problem) = refund(app, &admin, &id, &format!("bad-{n}"), body).await;
            assert_eq!(status, 422, "{problem}");
            assert!(
                problem["type"].as_str().unwrap().ends_with(kind),
                "{problem}"
            );
        }
        let (_, problem) = refund(
            app,
            &admin,
            &id,
            "k-big",
            json!({"amount": 32_251, "reason": "too much"}),
        )
        .await;
        assert_eq!(
            (problem["requested"].clone(), problem["refundable"].clone()),
            (json!(32_251), json!(32_250))
        );

        // Two refunds at once that cannot both fit in what is left: one wins.
        let goodwill = |key: &'static str| {
            let body = json!({"amount": 20_000, "reason": "late start"}).to_string();
            let (app, admin, path) = (app, admin.clone(), path.clone());
            async move {
                crate::booking::post_keyed(app, &path, &admin, key, &body)
                    .await
                    .status()
                    .as_u16()
            }
        };
        let (a, b) = tokio::join!(goodwill("k-race-a"), goodwill("k-race-b"));
        let mut outcomes = vec![a, b];
        outcomes.sort();
        assert_eq!(outcomes, [201, 422]);

        // The rest: 32,250 − 20,000 = 12,250 (the tickets' 10,000 and all the fees), and
        // the booking is cancelled with its seats released.
        let (status, rest) = refund(
            app,
            &admin,
            &id,
            "k-full",
            json!({"full": true, "reason": "customer left"}),
        )
        .await;
        assert_eq!(status, 201, "{rest}");
        assert_eq!(rest["amount"]["amount"], 12_250);
        assert_eq!(
            (rest["ticket_amount"].clone(), rest["fee_amount"].clone()),
            (json!(10_000), json!(2_250))
        );
        assert_eq!(rest["seats"], json!(["A1", "A3"]));
        assert_eq!(
            crate::booking::states(app, &f.noon, &["A1", "A2", "A3"]).await,
            ["available", "available", "available"]
        );
        let (status, problem) = refund(
            app,
            &admin,
            &id,
            "k-more",
            json!({"amount": 1, "reason": "more"}),
        )
        .await;
        assert_eq!(status, 409);
        assert!(
            problem["type"]
                .as_str()
                .unwrap()
                .ends_with("/nothing-to-refund")
        );
        let cancelled = crate::booking::get_booking(app, &ana, &id).await;
        assert_eq!(cancelled["status"], "cancelled");

        // Through the gateway: three refunds whose entries add up to the capture.
        let list = refunds_settled(app, &admin, &id).await;
        let amounts: Vec<i64> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["amount"]["amount"].as_i64().unwrap())
            .collect();
        assert_eq!(amounts, [15_000, 20_000, 12_250]);
        let ledger: Vec<(String, i64)> = app
            .db
            .fetch_all(
                "SELECT kind, amount FROM mock_gateway_ledger WHERE payment_id = $1 ORDER BY occurred_at, id",
                marquee::params![&payment],
            )
            .await
            .unwrap();
        let refunded: i64 = ledger
            .iter()
            .filter(|(k, _)| k == "refund")
            .map(|(_, a)| a)
            .sum();
        assert_eq!(
            ledger
                .iter()
                .filter(|(k, _)| k == "capture")
                .map(|(_, a)| *a)
                .sum::<i64>(),
            47_250
        );
        assert_eq!(refunded, 47_250);

        // The timeline tells it; reconciliation finds nothing amiss.
        let (_, timeline) = admin_get(
            app,
            &admin,
            &format!("/api/v1/admin/bookings/{id}/timeline"),
        )
        .await;
        let refunded_events = timeline
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["source"] == "event" && e["kind"] == "booking.refunded")
            .count();
        assert_eq!(refunded_events, 3);
        assert!(
            timeline
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["source"] == "refund" && e["kind"] == "succeeded")
        );
        assert!(
            timeline
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["source"] == "audit" && e["kind"] == "booking.refunded")
        );
        let (status, report) =
            admin_get(app, &admin, "/api/v1/admin/reconciliation?date=2026-11-22").await;
        assert_eq!(status, 200);
        assert_eq!(report["mismatches"], json!([]), "{report}");
        assert_eq!(report["totals"][0]["marquee_refunded"], 47_250);
        assert_eq!(report["totals"][0]["gateway_refunded"], 47_250);

        // Settled: the sale, and each refund in its own line; the partner is owed nothing.
        app.clock.set("2026-11-23T12:00:00Z".parse().unwrap());
        let admin = crate::booking::login(app, "admin@example.com").await;
        let org = marquee::ids::PartnerOrgId::derived("test/org").to_string();
        let run = send(
            app,
            Method::POST,
            "/api/v1/admin/settlements",
            Some(&admin),
            Some(json!({"org_id": org, "business_date": "2026-11-22"})),
        )
        .await;
        let status = run.status();
        let run: Value = run.json().await.unwrap();
        assert_eq!(status, 201, "{run}");
        let lines: Vec<(String, i64, i64)> = run["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["kind"].as_str().unwrap().to_owned(),
                    l["ticket_amount"].as_i64().unwrap(),
                    l["fee_amount"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            lines,
            [
                ("sale".to_owned(), 45_000, 2_250),
                ("refund".to_owned(), -15_000, 0),
                ("refund".to_owned(), -20_000, 0),
                ("refund".to_owned(), -10_000, -2_250)
            ]
        );
        let totals = &run["totals"][0];
        assert_eq!(
            (
                totals["net_payable"].clone(),
                totals["commission"].clone(),
                totals["fees"].clone()
            ),
            (json!(0), json!(0), json!(0))
        );
        assert_eq!(totals["customer_refunded"], 47_250);
    }
);

db_test!(
    a_customers_cancellation_after_a_seat_refund_gives_back_only_what_is_left,
    |app| {
        let f = fixtures::load(app).await;
        let admin = crate::offers::admin(app).await;
        let ana = customer(app, "two.seats@example.com").await;
        let booking = confirmed(app, &ana, &f.noon, &["A1", "A2"]).await;
        let id = booking["id"].as_str().unwrap().to_owned();
        let payment = booking["payments"][0]["id"].as_str().unwrap().to_owned();
        let (status, _) = refund(
            app,
            &admin,
            &id,
            "k1",
            json!({"seats": ["A1"], "include_fees": true, "reason": "double charge"}),
        )
        .await;
        assert_eq!(status, 201);
        // Her cancellation refunds the other ticket (15,000), not both.
        let cancelled = crate::booking::cancel(app, &ana, &id).await;
        assert_eq!(cancelled.status(), 200);
        let after = crate::booking::wait_for_payment(app, &ana, &id, &payment, "refunded").await;
        assert_eq!(after["refund"]["amount"], 15_000);
        refunds_settled(app, &admin, &id).await;
        let refunded: Vec<i64> = app
        .db
        .fetch_all(
            "SELECT amount FROM mock_gateway_ledger WHERE payment_id = $1 AND kind = 'refund' ORDER BY amount",
            marquee::params![&payment],
        )
        .await
        .unwrap();
        assert_eq!(refunded, [15_000, 15_750]);
    }
);

db_test!(support_sends_a_ticket_again, |app| {
    let f = fixtures::load(app).await;
    let admin = crate::offers::admin(app).await;
    let ana = customer(app, "resend@example.com").await;
    let booking = confirmed(app, &ana, &f.noon, &["A1"]).await;
    let id = booking["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/admin/bookings/{id}/ticket-email");
    let response = send(app, Method::POST, &path, Some(&admin), None).await;
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"booking_id": id, "status": "queued"}));
    // The message goes out with the next notifications.
    let mut sent = 0;
    for _ in 0..100 {
        sent = app
            .db
            .fetch_all::<String>(
                "SELECT recipient FROM notifications WHERE kind = 'ticket_resent'",
                marquee::params![],
            )
            .await
            .unwrap()
            .len();
        if sent > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(sent, 1);
    let held = hold_ok(app, &ana, &f.noon, &["A3"]).await;
    let path = format!(
        "/api/v1/admin/bookings/{}/ticket-email",
        held["id"].as_str().unwrap()
    );
    assert_eq!(
        send(app, Method::POST, &path, Some(&admin), None)
            .await
            .status(),
        409
    );
    let path = "/api/v1/admin/bookings/bkg_00000000000000000000000000/ticket-email";
    assert_eq!(
        send(app, Method::POST, path, Some(&admin), None)
            .await
            .status(),
        404
    );
    assert_eq!(
        send(
            app,
            Method::POST,
            &format!("/api/v1/admin/bookings/{id}/ticket-email"),
            Some(&ana),
            None
        )
        .await
        .status(),
        403
    );
});
