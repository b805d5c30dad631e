//! Partner and platform reports over the API, on both engines: a partner's bookings
//! across its organisation (and nobody else's), its occupancy and revenue to the minor
//! unit in JSON and CSV, the platform's conversion and refunds, and the partner's members
//! mailed of each booking and cancellation.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use crate::{
    booking::{
        cancel, confirmed, customer, hold_ok, id_of, other_partner, owning_partner,
        wait_for_payment,
    },
    db_test_with, fixtures,
    helpers::{TestApp, assert_problem, send},
};

async fn get(app: &TestApp, token: &str, path: &str) -> (u16, String, reqwest::header::HeaderMap) {
    let response = send(app, Method::GET, path, Some(token), None).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, response.text().await.unwrap(), headers)
}

async fn get_json(app: &TestApp, token: &str, path: &str) -> Value {
    let (status, body, _) = get(app, token, path).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn row<'a>(report: &'a Value, key: &str) -> &'a Value {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == key)
        .unwrap_or_else(|| panic!("row {key} in {report}"))
}

/// The messages the file sink has written of `kind`, waiting (bounded) for `n` of them.
pub async fn notices(app: &TestApp, kind: &str, n: usize) -> Vec<Value> {
    let path = app.state.config.notify.file.clone().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let found: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|m| m["kind"] == kind)
            .collect();
        if found.len() >= n {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} {kind} messages: {text}",
            found.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

db_test_with!(
    partner_and_platform_reports_add_up_to_the_minor_unit,
    |config| {
        config.events.dispatch_interval_ms = 20;
        config.notify.file = Some(std::env::temp_dir().join(format!(
            "marquee-report-notices-{}.jsonl",
            ulid::Ulid::new()
        )));
    },
    |app| {
        let f = fixtures::load(app).await;
        let owner = owning_partner(app, "owner@example.com").await;
        let stranger = other_partner(app, "sam@example.com").await;
        let admin = crate::offers::admin(app).await;
        let ana = customer(app, "ana@example.com").await;
        let ben = customer(app, "ben@example.com").await;

        // Three paid bookings of one regular seat each (₹150 + ₹7.50 fee), one of them
        // cancelled by its customer (₹150 back, the fee kept), and a hold left unpaid.
        let first = confirmed(app, &ana, &f.noon, &["A1"]).await;
        let second = confirmed(app, &ben, &f.noon, &["A2"]).await;
        let third = confirmed(app, &ana, &f.noon, &["A3"]).await;
        assert_eq!(third["total"]["amount"], 15_750, "{third}");
        let third_id = id_of(&third);
        let cancelled = cancel(app, &ana, &third_id).await;
        assert_eq!(cancelled.status(), 200);
        let payment = third["payments"][0]["id"].as_str().unwrap().to_owned();
        wait_for_payment(app, &ana, &third_id, &payment, "refunded").await;
        let unpaid = hold_ok(app, &ben, &f.noon, &["A4"]).await;

        // The partner's report by show: the noon show to the minor unit.
        let day = "from=2026-11-22&to=2026-11-22";
        let by_show = get_json(
            app,
            &owner,
            &format!("/api/v1/partner/reports/sales?{day}&group_by=show"),
        )
        .await;
        let noon = row(&by_show, f.noon.as_str());
        assert_eq!(noon["currency"], "INR");
        assert_eq!(noon["shows"], 1);
        assert_eq!(noon["capacity"], 10);
        assert_eq!(noon["seats_sold"], 2);
        assert_eq!(noon["occupancy_bp"], 2_000);
        assert_eq!(noon["bookings_confirmed"], 3);
        assert_eq!(noon["bookings_cancelled"], 1);
        assert_eq!(noon["gross"], 45_000);
        assert_eq!(noon["refunds_count"], 1);
        assert_eq!(noon["refunds"], 15_000);
        assert_eq!(noon["chargebacks"], 0);
        assert_eq!(noon["net"], 30_000);
        // Only shows of the 22nd in Testpur (the midnight show is the 23rd there).
        let keys: Vec<&str> = by_show["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["key"].as_str().unwrap())
            .collect();
        assert!(!keys.contains(&f.midnight.as_str()), "{keys:?}");
        assert!(keys.contains(&f.late.as_str()), "{keys:?}");

        // By theatre: Aurora has the started show and the noon show that day.
        let by_theatre = get_json(
            app,
            &owner,
            &format!("/api/v1/partner/reports/sales?{day}&group_by=theatre"),
        )
        .await;
        let aurora = row(&by_theatre, f.aurora.as_str());
        assert_eq!(
            (&aurora["shows"], &aurora["capacity"], &aurora["seats_sold"]),
            (&Value::from(2), &Value::from(20), &Value::from(2))
        );
        assert_eq!(aurora["occupancy_bp"], 1_000);
        assert_eq!(aurora["net"], 30_000);

        // The same as CSV.
        let (status, csv, headers) = get(
            app,
            &owner,
            &format!("/api/v1/partner/reports/sales?{day}&group_by=show&format=csv"),
        )
        .await;
        assert_eq!(status, 200, "{csv}");
        assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
        assert_eq!(
            headers["content-disposition"],
            "attachment; filename=\"sales-by-show-2026-11-22-2026-11-22.csv\""
        );
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "show,name,currency,shows,shows_cancelled,capacity,seats_sold,counter_seats,\
             occupancy_bp,bookings_confirmed,bookings_cancelled,gross,refunds_count,refunds,\
             chargebacks_count,chargebacks,net"
        );
        let noon_line = format!(
            "{},\"Alpha Adventure, Aurora Cinema, 2026-11-22T12:00:00+05:30\",INR,1,0,10,2,0,2000,3,1,\
             45000,1,15000,0,0,30000",
            f.noon
        );
        assert!(lines.contains(&noon_line.as_str()), "{noon_line} in {csv}");
        assert_eq!(lines.len(), by_show["rows"].as_array().unwrap().len() + 1);

        // Another organisation sees nothing of it.
        let theirs = get_json(
            app,
            &stranger,
            &format!("/api/v1/partner/reports/sales?{day}&group_by=show"),
        )
        .await;
        assert_eq!(theirs["rows"], Value::Array(vec![]));
        let theirs = get_json(app, &stranger, "/api/v1/partner/bookings").await;
        assert_eq!(theirs["items"], Value::Array(vec![]));
        let theirs = get_json(
            app,
            &stranger,
            &format!("/api/v1/partner/bookings?show_id={}", f.noon),
        )
        .await;
        assert_eq!(theirs["items"], Value::Array(vec![]));

        // The organisation's bookings, newest first, in pages, without e-mail addresses.
        let (status, text, _) = get(app, &owner, "/api/v1/partner/bookings").await;
        assert_eq!(status, 200, "{text}");
        assert!(!text.contains("@example.com"), "{text}");
        let all: Value = serde_json::from_str(&text).unwrap();
        let items = all["items"].as_array().unwrap();
        let ids: Vec<&str> = items.iter().map(|b| b["id"].as_str().unwrap()).collect();
        let mut expected = [
            id_of(&first),
            id_of(&second),
            third_id.clone(),
            id_of(&unpaid),
        ];
        expected.sort_by(|a, b| b.cmp(a)); // one instant: newest first means id order
        assert_eq!(ids, expected.iter().map(String::as_str).collect::<Vec<_>>());
        let cancelled_item = items.iter().find(|b| b["id"] == third_id).unwrap();
        assert_eq!(cancelled_item["status"], "cancelled");
        assert_eq!(cancelled_item["refunded"], 15_000);
        assert_eq!(cancelled_item["seats"], serde_json::json!(["A3"]));
        assert_eq!(cancelled_item["theatre_id"], f.aurora.as_str());
        assert_eq!(cancelled_item["show_starts_at"], "2026-11-22T06:30:00Z");
        assert!(
            cancelled_item["customer_id"]
                .as_str()
                .unwrap()
                .starts_with("usr_")
        );
        let page = get_json(app, &owner, "/api/v1/partner/bookings?limit=3").await;
        assert_eq!(page["items"].as_array().unwrap().len(), 3);
        let cursor = page["next_cursor"].as_str().unwrap();
        let rest = get_json(
            app,
            &owner,
            &format!("/api/v1/partner/bookings?limit=3&cursor={cursor}"),
        )
        .await;
        assert_eq!(rest["items"][0]["id"], expected[3].as_str());
        assert_eq!(rest["next_cursor"], Value::Null);
        let only = get_json(
            app,
            &owner,
            &format!(
                "/api/v1/partner/bookings?status=confirmed&theatre_id={}&from=2026-11-22T00:00:00Z&to=2026-11-23T00:00:00%2B05:30",
                f.aurora
            ),
        )
        .await;
        assert_eq!(only["items"].as_array().unwrap().len(), 2);
        let none = get_json(
            app,
            &owner,
            &format!("/api/v1/partner/bookings?theatre_id={}", f.bijou),
        )
        .await;
        assert_eq!(none["items"], Value::Array(vec![]));
        for bad in [
            "status=lost",
            "show_id=nope",
            "theatre_id=shw_01JAAAAAAAAAAAAAAAAAAAAAAA",
            "from=yesterday",
            "from=2026-11-23T00:00:00Z&to=2026-11-22T00:00:00Z",
        ] {
            let response = send(
                app,
                Method::GET,
                &format!("/api/v1/partner/bookings?{bad}"),
                Some(&owner),
                None,
            )
            .await;
            assert_problem(response, 422, "invalid-report-query").await;
        }
        for bad in [
            "from=2026-11-22&to=2026-11-21",
            "from=2026-11-22&to=2026-11-22&group_by=city",
            "from=2026-11-22&to=2026-11-22&format=xml",
            "from=22-11-2026&to=2026-11-22",
        ] {
            let response = send(
                app,
                Method::GET,
                &format!("/api/v1/partner/reports/sales?{bad}"),
                Some(&owner),
                None,
            )
            .await;
            assert_problem(response, 422, "invalid-report-query").await;
        }

        // The platform: four holds made on the 22nd, three confirmed; one refund.
        let platform = get_json(
            app,
            &admin,
            &format!("/api/v1/admin/reports/platform?{day}&group_by=city"),
        )
        .await;
        let testpur = row(&platform, f.testpur.as_str());
        assert_eq!(testpur["holds"], 4);
        assert_eq!(testpur["holds_confirmed"], 3);
        assert_eq!(testpur["conversion_bp"], 7_500);
        assert_eq!(testpur["bookings_confirmed"], 3);
        assert_eq!(testpur["revenue"], 47_250);
        assert_eq!(testpur["fees"], 2_250);
        assert_eq!(testpur["refunds_count"], 1);
        assert_eq!(testpur["refunds"], 15_000);
        assert_eq!(testpur["seats_sold"], 2);
        let (status, csv, headers) = get(
            app,
            &admin,
            &format!("/api/v1/admin/reports/platform?{day}&group_by=movie&format=csv"),
        )
        .await;
        assert_eq!(status, 200, "{csv}");
        assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
        assert!(
            csv.starts_with("movie,name,currency,shows,capacity,seats_sold,occupancy_bp,"),
            "{csv}"
        );
        let alpha = csv
            .lines()
            .find(|l| l.starts_with(f.alpha.as_str()))
            .unwrap_or_else(|| panic!("Alpha in {csv}"));
        assert!(alpha.ends_with(",1,15000,0,0,4,3,7500"), "{alpha}");
        let response = send(
            app,
            Method::GET,
            &format!("/api/v1/admin/reports/platform?{day}&group_by=show"),
            Some(&admin),
            None,
        )
        .await;
        assert_problem(response, 422, "invalid-report-query").await;
        let (status, _, _) = get(
            app,
            &owner,
            &format!("/api/v1/admin/reports/platform?{day}"),
        )
        .await;
        assert_eq!(status, 403);

        // The organisation's member was mailed of each booking and the cancellation, with
        // no customer's address; the other organisation of nothing.
        let booked = notices(app, "partner_booking_confirmed", 3).await;
        let cancelled = notices(app, "partner_booking_cancelled", 1).await;
        assert_eq!(booked.len(), 3);
        assert_eq!(cancelled.len(), 1);
        for notice in booked.iter().chain(&cancelled) {
            assert_eq!(notice["to"], "owner@example.com");
            assert!(!notice["body"].as_str().unwrap().contains("@"), "{notice}");
        }
        assert!(
            cancelled[0]["subject"]
                .as_str()
                .unwrap()
                .contains(&third_id)
        );
        assert!(
            cancelled[0]["body"]
                .as_str()
                .unwrap()
                .contains("INR 150.00")
        );
        let path = app.state.config.notify.file.clone().unwrap();
        let all = std::fs::read_to_string(path).unwrap();
        assert!(!all.contains("sam@example.com"));
    }
);

db_test_with!(
    partner_booking_emails_can_be_switched_off,
    |config| {
        config.events.dispatch_interval_ms = 20;
        config.notify.partner_booking_emails = false;
        config.notify.file = Some(std::env::temp_dir().join(format!(
            "marquee-report-notices-{}.jsonl",
            ulid::Ulid::new()
        )));
    },
    |app| {
        let f = fixtures::load(app).await;
        let _owner = owning_partner(app, "owner@example.com").await;
        let ana = customer(app, "ana@example.com").await;
        confirmed(app, &ana, &f.noon, &["A1"]).await;
        // The customer's confirmation is written; no partner notice beside it.
        notices(app, "booking_confirmation", 1).await;
        let path = app.state.config.notify.file.clone().unwrap();
        let all = std::fs::read_to_string(path).unwrap();
        assert!(!all.contains("owner@example.com"), "{all}");
    }
);
