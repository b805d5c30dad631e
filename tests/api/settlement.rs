//! Settlement and reconciliation over the API: commission set by an administrator, a
//! business day settled T+1 (by hand and by the scheduled job) with one line per sale and
//! refund adding up to the minor unit, a later refund landing in the next statement as an
//! adjustment, runs that never change once closed, the partner's CSV agreeing with the
//! gateway's ledger, mismatches found and explained, and reports.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    booking::{
        cancel, confirmed, customer, id_of, login, other_partner, owning_partner, wait_for_payment,
    },
    db_test_with, fixtures,
    helpers::{TestApp, assert_problem, send},
    offers::admin,
};

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, String) {
    let response = send(app, method, path, Some(token), body).await;
    let status = response.status();
    (status, response.text().await.unwrap())
}

async fn json_ok(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
    want: StatusCode,
) -> Value {
    let (status, text) = call(app, method, path, token, body).await;
    assert_eq!(status, want, "{path}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// Cancels and waits for the refund to reach the gateway.
async fn cancel_refunded(app: &TestApp, token: &str, booking: &Value) {
    let id = id_of(booking);
    let response = cancel(app, token, &id).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        response.text().await.unwrap()
    );
    let payment = booking["payments"][0]["id"].as_str().unwrap();
    wait_for_payment(app, token, &id, payment, "refunded").await;
}

fn day_of(org: &str, date: &str) -> Value {
    json!({"org_id": org, "business_date": date})
}

fn org_id() -> String {
    marquee::ids::PartnerOrgId::derived("test/org").to_string()
}

db_test_with!(
    a_business_day_is_settled_once_to_the_minor_unit_and_reconciles_with_the_gateway,
    |config| {
        config.settlement.run_interval_ms = 0;
    },
    |app| {
        let f = fixtures::load(app).await;
        let org = org_id();
        owning_partner(app, "owner@example.com").await;
        let root = admin(app).await;
        let rates = format!("/api/v1/admin/partners/{org}/commission-rates");
        let rate = json_ok(
            app,
            Method::POST,
            &rates,
            &root,
            Some(json!({"basis_points": 1250, "valid_from": "2026-11-22"})),
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(rate["valid_until"], Value::Null);

        // Day 1 (22 Nov in Testpur): three sales, one cancelled in time.
        let ana = customer(app, "ana@example.com").await;
        let ana_booking = confirmed(app, &ana, &f.noon, &["A1", "A2"]).await;
        assert_eq!(
            ana_booking["total"],
            json!({"amount": 31_500, "currency": "INR"})
        );
        let bob = customer(app, "bob@example.com").await;
        let bob_booking = confirmed(app, &bob, &f.noon, &["A3"]).await;
        let carl = customer(app, "carl@example.com").await;
        let carl_booking = confirmed(app, &carl, &f.day3, &["A1"]).await;
        assert_eq!(
            carl_booking["total"],
            json!({"amount": 15_750, "currency": "INR"})
        );
        app.clock.set(utc("2026-11-22T04:00:00Z"));
        let bob = login(app, "bob@example.com").await;
        cancel_refunded(app, &bob, &bob_booking).await;
        // Day 2: Carl cancels (his sale was on day 1).
        app.clock.set(utc("2026-11-23T09:00:00Z"));
        let carl = login(app, "carl@example.com").await;
        cancel_refunded(app, &carl, &carl_booking).await;

        let root = login(app, "admin@example.com").await;
        let day1 = json_ok(
            app,
            Method::POST,
            "/api/v1/admin/settlements",
            &root,
            Some(day_of(&org, "2026-11-22")),
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(day1["payout_date"], "2026-11-23", "T+1");
        assert_eq!(day1["line_count"], 4);
        // 12.5 % of the tickets: 30,000 → 3,750; 15,000 → 1,875. Bob's fee (750) is kept.
        assert_eq!(
            day1["totals"],
            json!([{
                "currency": "INR", "sales": 3, "refunds_count": 1,
                "gross": 60_000, "refunds": 15_000, "commission": 5_625, "fees": 3_000,
                "net_payable": 39_375, "customer_paid": 63_000, "customer_refunded": 15_000
            }])
        );
        let lines: Vec<(String, String, i64, i64, i64, i64, bool)> = day1["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["kind"].as_str().unwrap().to_owned(),
                    l["booking_id"].as_str().unwrap().to_owned(),
                    l["ticket_amount"].as_i64().unwrap(),
                    l["fee_amount"].as_i64().unwrap(),
                    l["commission"].as_i64().unwrap(),
                    l["net"].as_i64().unwrap(),
                    l["adjustment"].as_bool().unwrap(),
                )
            })
            .collect();
        let (a, b, c) = (
            id_of(&ana_booking),
            id_of(&bob_booking),
            id_of(&carl_booking),
        );
        assert_eq!(
            lines,
            [
                (
                    "sale".into(),
                    a.clone(),
                    30_000,
                    1_500,
                    3_750,
                    26_250,
                    false
                ),
                ("sale".into(), b.clone(), 15_000, 750, 1_875, 13_125, false),
                ("sale".into(), c.clone(), 15_000, 750, 1_875, 13_125, false),
                (
                    "refund".into(),
                    b.clone(),
                    -15_000,
                    0,
                    -1_875,
                    -13_125,
                    false
                ),
            ]
        );
        assert_eq!(day1["lines"][0]["occurred_at"], "2026-11-22T09:00:00+05:30");
        assert_eq!(day1["lines"][0]["commission_bp"], 1250);

        // Running the day again changes nothing.
        let again = json_ok(
            app,
            Method::POST,
            "/api/v1/admin/settlements",
            &root,
            Some(day_of(&org, "2026-11-22")),
            StatusCode::OK,
        )
        .await;
        assert_eq!(again, day1);
        // Day 2 is not over in Testpur yet.
        let (status, text) = call(
            app,
            Method::POST,
            "/api/v1/admin/settlements",
            &root,
            Some(day_of(&org, "2026-11-23")),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{text}");
        assert!(text.contains("business-day-open"), "{text}");

        // T+1 on day 3: Carl's refund lands in day 2's statement, as an adjustment.
        app.clock.set(utc("2026-11-24T09:00:00Z"));
        let root = login(app, "admin@example.com").await;
        let day2 = json_ok(
            app,
            Method::POST,
            "/api/v1/admin/settlements",
            &root,
            Some(day_of(&org, "2026-11-23")),
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(day2["line_count"], 1);
        assert_eq!(day2["lines"][0]["kind"], "refund");
        assert_eq!(day2["lines"][0]["booking_id"], c.as_str());
        assert_eq!(day2["lines"][0]["adjustment"], true);
        assert_eq!(day2["lines"][0]["business_date"], "2026-11-23");
        assert_eq!(day2["totals"][0]["net_payable"], -13_125);
        assert_eq!(day2["totals"][0]["refunds"], 15_000);
        // An earlier day can no longer be settled; a rate cannot start on a settled day.
        let (status, text) = call(
            app,
            Method::POST,
            "/api/v1/admin/settlements",
            &root,
            Some(day_of(&org, "2026-11-21")),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(text.contains("business-day-closed"), "{text}");
        let (status, text) = call(
            app,
            Method::POST,
            &rates,
            &root,
            Some(json!({"basis_points": 900, "valid_from": "2026-11-23"})),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(text.contains("commission-conflict"), "{text}");
        json_ok(
            app,
            Method::POST,
            &rates,
            &root,
            Some(json!({"basis_points": 900, "valid_from": "2026-11-25"})),
            StatusCode::CREATED,
        )
        .await;
        let listed = json_ok(app, Method::GET, &rates, &root, None, StatusCode::OK).await;
        let ranges: Vec<(i64, &str, Option<&str>)> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["basis_points"].as_i64().unwrap(),
                    r["valid_from"].as_str().unwrap(),
                    r["valid_until"].as_str(),
                )
            })
            .collect();
        assert_eq!(
            ranges,
            [
                (1250, "2026-11-22", Some("2026-11-25")),
                (900, "2026-11-25", None)
            ]
        );

        // The partner's statements, newest first, and yesterday's as CSV.
        let partner = login(app, "owner@example.com").await;
        let mine = json_ok(
            app,
            Method::GET,
            "/api/v1/partner/settlements",
            &partner,
            None,
            StatusCode::OK,
        )
        .await;
        let dates: Vec<&str> = mine["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["business_date"].as_str().unwrap())
            .collect();
        assert_eq!(dates, ["2026-11-23", "2026-11-22"]);
        assert!(mine["items"][0].get("lines").is_none());
        let day1_id = day1["id"].as_str().unwrap();
        let response = send(
            app,
            Method::GET,
            &format!("/api/v1/partner/settlements/{day1_id}.csv"),
            Some(&partner),
            None,
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"],
            "text/csv; charset=utf-8"
        );
        let csv = response.text().await.unwrap();
        let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
        assert_eq!(rows[0][2], "kind");
        assert_eq!(rows.len(), 1 + 4 + 1, "{csv}");
        let customer_sum: i64 = rows[1..5]
            .iter()
            .map(|r| r[10].parse::<i64>().unwrap())
            .sum();
        let total = rows.last().unwrap();
        assert_eq!(
            (total[2], total[9], total[10], total[15]),
            ("total", "INR", "48000", "39375")
        );
        assert_eq!(customer_sum, 48_000);

        // The gateway's ledger for the day: the same money, every entry matched.
        let recon = json_ok(
            app,
            Method::GET,
            "/api/v1/admin/reconciliation?date=2026-11-22",
            &root,
            None,
            StatusCode::OK,
        )
        .await;
        assert_eq!(recon["mismatches"], json!([]));
        assert_eq!(recon["matched"], 4);
        assert_eq!(
            recon["totals"],
            json!([{"currency": "INR",
            "gateway_captured": 63_000, "gateway_refunded": 15_000,
            "marquee_captured": 63_000, "marquee_refunded": 15_000}])
        );
        let gateway_net = recon["totals"][0]["gateway_captured"].as_i64().unwrap()
            - recon["totals"][0]["gateway_refunded"].as_i64().unwrap();
        assert_eq!(
            customer_sum, gateway_net,
            "the statement reconciles to the cent"
        );

        // Break the ledger three ways; each is found and explained.
        let ana_payment = ana_booking["payments"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let bob_payment = bob_booking["payments"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let at = utc("2026-11-22T05:00:00Z").timestamp_millis();
        app.db.write(move |tx| {
            tx.execute("INSERT INTO mock_gateway_ledger (id, kind, intent_id, payment_id, amount, currency, occurred_at) \
                        VALUES ('cap_stray', 'capture', 'pi_x', 'pay_stray', 500, 'INR', $1)", marquee::params![at])?;
            tx.execute("INSERT INTO mock_gateway_ledger (id, kind, intent_id, payment_id, amount, currency, occurred_at) \
                        VALUES ('cap_twice', 'capture', 'pi_y', $1, 31500, 'INR', $2)", marquee::params![&ana_payment, at])?;
            tx.execute("DELETE FROM mock_gateway_ledger WHERE kind = 'refund' AND payment_id = $1", marquee::params![&bob_payment])?;
            Ok::<_, sqlx::Error>(())
        }).await.unwrap();
        let recon = json_ok(
            app,
            Method::GET,
            "/api/v1/admin/reconciliation?date=2026-11-22",
            &root,
            None,
            StatusCode::OK,
        )
        .await;
        let mut found: Vec<(String, String, String)> = recon["mismatches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["kind"].as_str().unwrap().into(),
                    m["movement"].as_str().unwrap().into(),
                    m["payment_id"].as_str().unwrap().into(),
                )
            })
            .collect();
        found.sort();
        assert_eq!(
            found,
            [
                (
                    "duplicate".into(),
                    "capture".into(),
                    ana_booking["payments"][0]["id"]
                        .as_str()
                        .unwrap()
                        .to_owned()
                ),
                (
                    "missing_at_gateway".into(),
                    "refund".into(),
                    bob_booking["payments"][0]["id"]
                        .as_str()
                        .unwrap()
                        .to_owned()
                ),
                (
                    "missing_in_marquee".into(),
                    "capture".into(),
                    "pay_stray".into()
                ),
            ]
        );
        let response = send(
            app,
            Method::GET,
            "/api/v1/admin/reconciliation?date=2026-11-22&format=csv",
            Some(&root),
            None,
        )
        .await;
        assert_eq!(response.text().await.unwrap().lines().count(), 1 + 3);

        // Reports over settled days.
        let report = json_ok(
            app,
            Method::GET,
            "/api/v1/admin/reports/sales?from=2026-11-22&to=2026-11-23&group_by=theatre",
            &root,
            None,
            StatusCode::OK,
        )
        .await;
        let by_theatre: Vec<(String, i64, i64, i64, i64)> = report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["name"].as_str().unwrap().into(),
                    r["sales"].as_i64().unwrap(),
                    r["gross"].as_i64().unwrap(),
                    r["refunds"].as_i64().unwrap(),
                    r["net_payable"].as_i64().unwrap(),
                )
            })
            .collect();
        let mut by_theatre = by_theatre;
        by_theatre.sort();
        assert_eq!(
            by_theatre,
            [
                ("Aurora Cinema".into(), 2, 45_000, 15_000, 26_250),
                ("Cosmos Multiplex".into(), 1, 15_000, 15_000, 0)
            ]
        );
        let by_day = json_ok(
            app,
            Method::GET,
            "/api/v1/admin/reports/sales?from=2026-11-22&to=2026-11-23",
            &root,
            None,
            StatusCode::OK,
        )
        .await;
        let nets: Vec<(&str, i64)> = by_day["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["key"].as_str().unwrap(),
                    r["net_payable"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(nets, [("2026-11-22", 39_375), ("2026-11-23", -13_125)]);
        let csv = send(
            app,
            Method::GET,
            "/api/v1/admin/reports/sales?from=2026-11-22&to=2026-11-23&group_by=movie&format=csv",
            Some(&root),
            None,
        )
        .await
        .text()
        .await
        .unwrap();
        assert!(csv.starts_with("movie,name,currency,sales,gross,"), "{csv}");
        assert_problem(
            send(
                app,
                Method::GET,
                "/api/v1/admin/reports/sales?from=2026-11-22&to=2026-11-23&group_by=planet",
                Some(&root),
                None,
            )
            .await,
            400,
            "invalid-request",
        )
        .await;

        // Only the organisation and administrators see its statements.
        let other = other_partner(app, "other@example.com").await;
        assert_problem(
            send(
                app,
                Method::GET,
                &format!("/api/v1/partner/settlements/{day1_id}"),
                Some(&other),
                None,
            )
            .await,
            404,
            "not-found",
        )
        .await;
        let other_list = json_ok(
            app,
            Method::GET,
            "/api/v1/partner/settlements",
            &other,
            None,
            StatusCode::OK,
        )
        .await;
        assert_eq!(other_list["items"], json!([]));
        let ana = login(app, "ana@example.com").await;
        assert_problem(
            send(
                app,
                Method::GET,
                "/api/v1/partner/settlements",
                Some(&ana),
                None,
            )
            .await,
            403,
            "forbidden",
        )
        .await;
        assert_problem(
            send(
                app,
                Method::POST,
                "/api/v1/admin/settlements",
                Some(&partner),
                Some(day_of(&org, "2026-11-22")),
            )
            .await,
            403,
            "forbidden",
        )
        .await;
        let _ = partner;
    }
);

db_test_with!(
    the_scheduled_job_settles_yesterday_for_every_partner,
    |config| {
        config.settlement.run_interval_ms = 50;
    },
    |app| {
        let f = fixtures::load(app).await;
        owning_partner(app, "owner@example.com").await;
        let ana = customer(app, "ana@example.com").await;
        confirmed(app, &ana, &f.noon, &["A1"]).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let partner = login(app, "owner@example.com").await;
        let none = json_ok(
            app,
            Method::GET,
            "/api/v1/partner/settlements",
            &partner,
            None,
            StatusCode::OK,
        )
        .await;
        assert_eq!(none["items"], json!([]), "the day is not over");
        // The next day, once 22 Nov is over in every zone the organisation has theatres in.
        app.clock.set(utc("2026-11-23T09:00:00Z"));
        let partner = login(app, "owner@example.com").await;
        let mut items = Value::Null;
        for _ in 0..100 {
            let page = json_ok(
                app,
                Method::GET,
                "/api/v1/partner/settlements",
                &partner,
                None,
                StatusCode::OK,
            )
            .await;
            items = page["items"].clone();
            if items.as_array().is_some_and(|a| !a.is_empty()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let items = items.as_array().unwrap();
        assert_eq!(items.len(), 1, "{items:#?}");
        assert_eq!(items[0]["business_date"], "2026-11-22");
        assert_eq!(items[0]["created_by"], "scheduler");
        // The default commission, 10 %.
        assert_eq!(items[0]["totals"][0]["commission"], 1_500);
        assert_eq!(items[0]["totals"][0]["net_payable"], 13_500);
    }
);

/// Random histories (seeded): customers buy seats of several shows over two days, some
/// cancel the same day or the next, some pay after their hold lapsed (captured, then
/// refunded in full). Settled day by day, every statement adds up, each sale and refund
/// is in exactly one statement, and over all statements the partner's nets plus the
/// platform's commission and fees equal what the gateway's ledger says it captured less
/// what it refunded, to the minor unit; reconciliation finds nothing amiss.
async fn random_history_settles_to_the_gateways_ledger(engine: marquee::db::Engine, seed: u64) {
    use rand::{Rng, SeedableRng, rngs::SmallRng, seq::IndexedRandom};

    use crate::booking::{hold_ok, pay_ok};

    let Some(owned) = TestApp::spawn_with(engine, |config| {
        config.settlement.run_interval_ms = 0;
        config.limits.registrations_per_client_per_minute = 1_000;
        config.auth.login_attempts_per_client_per_minute = 1_000;
        config.payment.mock_delay_ms = 200;
        config.booking.sweep_interval_ms = 0;
        config.limits.holds_per_account_per_minute = 1_000;
        config.limits.payments_per_booking_per_minute = 1_000;
    })
    .await
    else {
        return;
    };
    let app = &owned;
    let mut rng = SmallRng::seed_from_u64(seed);
    let f = fixtures::load(app).await;
    let org = org_id();
    owning_partner(app, "owner@example.com").await;
    let root = admin(app).await;
    json_ok(
        app,
        Method::POST,
        &format!("/api/v1/admin/partners/{org}/commission-rates"),
        &root,
        Some(json!({"basis_points": 1234, "valid_from": "2026-11-01"})),
        StatusCode::CREATED,
    )
    .await;
    let seats = ["A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4", "C1", "C2"];
    let mut free: std::collections::HashMap<String, Vec<&str>> = Default::default();
    for show in [&f.evening, &f.late, &f.day3] {
        free.insert(show.to_string(), seats.to_vec());
    }
    // (customer email, booking, show) of confirmed bookings not cancelled.
    let mut kept: Vec<(String, Value, String)> = Vec::new();
    let (mut sales, mut refunds, mut late) = (0, 0, 0);
    for (day, start) in [
        ("2026-11-22", "2026-11-22T03:30:00Z"),
        ("2026-11-23", "2026-11-23T03:30:00Z"),
    ] {
        app.clock.set(utc(start));
        let shows: Vec<marquee::ids::ShowId> = if day == "2026-11-22" {
            vec![f.evening.clone(), f.late.clone(), f.day3.clone()]
        } else {
            vec![f.day3.clone()]
        };
        for step in 0..8 {
            let email = format!("c{seed}-{day}-{step}@example.com");
            let token = customer(app, &email).await;
            let roll: u32 = rng.random_range(0..10);
            if roll < 4 && !kept.is_empty() {
                // Someone cancels (in time for every show still open).
                let at = rng.random_range(0..kept.len());
                let (owner, booking, show) = kept.swap_remove(at);
                if day == "2026-11-23" && show != f.day3.to_string() {
                    kept.push((owner, booking, show));
                    continue;
                }
                let owner_token = login(app, &owner).await;
                cancel_refunded(app, &owner_token, &booking).await;
                for seat in booking["seats"].as_array().unwrap() {
                    let label = seat["label"].as_str().or(seat.as_str()).unwrap();
                    let label = seats.iter().find(|s| **s == label).unwrap();
                    free.get_mut(&show).unwrap().push(label);
                }
                refunds += 1;
                continue;
            }
            let show = shows.choose(&mut rng).unwrap().clone();
            let pool = free.get_mut(&show.to_string()).unwrap();
            if pool.is_empty() {
                continue;
            }
            let n = rng.random_range(1..=pool.len().min(3));
            let mut picked = Vec::new();
            for _ in 0..n {
                let i = rng.random_range(0..pool.len());
                picked.push(pool.swap_remove(i));
            }
            if roll == 9 {
                // Paid too late: the hold lapses while the gateway is still deciding.
                let booking = hold_ok(app, &token, &show, &picked).await;
                let id = id_of(&booking);
                let payment = id_of(&pay_ok(app, &token, &id, "tok_delayed").await);
                app.clock.advance(chrono::Duration::seconds(301));
                wait_for_payment(app, &login(app, &email).await, &id, &payment, "refunded").await;
                marquee::booking::sweeper::sweep_once(&app.state)
                    .await
                    .unwrap();
                pool.extend(picked);
                late += 1;
            } else {
                let booking = confirmed(app, &token, &show, &picked).await;
                kept.push((email, booking, show.to_string()));
                sales += 1;
            }
        }
    }
    assert!(sales > 0, "seed {seed}: no sales");
    app.clock.set(utc("2026-11-24T09:00:00Z"));
    let root = login(app, "admin@example.com").await;
    let mut statements = Vec::new();
    for day in ["2026-11-22", "2026-11-23"] {
        statements.push(
            json_ok(
                app,
                Method::POST,
                "/api/v1/admin/settlements",
                &root,
                Some(day_of(&org, day)),
                StatusCode::CREATED,
            )
            .await,
        );
    }
    let mut sale_lines = 0;
    let mut refund_lines = 0;
    let mut partner_and_platform = 0i64;
    let mut booked: std::collections::BTreeMap<(String, String), u32> = Default::default();
    for statement in &statements {
        for t in statement["totals"].as_array().unwrap() {
            let get = |k: &str| t[k].as_i64().unwrap();
            assert_eq!(
                get("gross") - get("refunds") - get("commission"),
                get("net_payable"),
                "seed {seed}"
            );
            partner_and_platform += get("net_payable") + get("commission") + get("fees");
        }
        for line in statement["lines"].as_array().unwrap() {
            let key = (
                line["booking_id"].as_str().unwrap().to_owned(),
                line["kind"].as_str().unwrap().to_owned(),
            );
            *booked.entry(key).or_default() += 1;
            if line["kind"] == "sale" {
                sale_lines += 1
            } else {
                refund_lines += 1
            }
        }
    }
    assert!(
        booked.values().all(|n| *n == 1),
        "seed {seed}: a fact in two statements"
    );
    assert_eq!(
        (sale_lines, refund_lines),
        (sales, refunds),
        "seed {seed} ({late} late payments)"
    );
    let ledger: Vec<(String, i64)> = app
        .db
        .fetch_all(
            "SELECT kind, amount FROM mock_gateway_ledger",
            marquee::params![],
        )
        .await
        .unwrap();
    let moved: i64 = ledger
        .iter()
        .map(|(kind, amount)| if kind == "capture" { *amount } else { -amount })
        .sum();
    assert_eq!(
        partner_and_platform, moved,
        "seed {seed}: statements vs the gateway's ledger"
    );
    assert_eq!(
        ledger.iter().filter(|(k, _)| k == "capture").count(),
        sales + late
    );
    for day in ["2026-11-22", "2026-11-23"] {
        let recon = json_ok(
            app,
            Method::GET,
            &format!("/api/v1/admin/reconciliation?date={day}"),
            &root,
            None,
            StatusCode::OK,
        )
        .await;
        assert_eq!(recon["mismatches"], json!([]), "seed {seed}, {day}");
    }
    owned.stop().await;
}

mod random_histories_settle_to_the_gateways_ledger {
    use marquee::db::Engine;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        for seed in [1, 2, 3] {
            super::random_history_settles_to_the_gateways_ledger(Engine::Sqlite, seed).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        for seed in [1, 2, 3] {
            super::random_history_settles_to_the_gateways_ledger(Engine::Postgres, seed).await;
        }
    }
}
