//! Dynamic pricing over HTTP: partners and administrators manage price rules (validated,
//! owned), calendar, time-band and format rules price quotes, seat maps and holds to the
//! minor unit in the theatre's local time, and a demand rule follows the show's sales while
//! a hold keeps the price it was quoted.

use marquee::ids::{PartnerOrgId, ShowId};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    booking::{
        PASSWORD, cancel, confirmed, customer, get_booking, hold_ok, inr, other_partner,
        owning_partner, seat_map,
    },
    db_test, fixtures,
    helpers::{TestApp, assert_problem, send},
    offers::admin,
};

const RULES: &str = "/api/v1/partner/price-rules";
const PLATFORM_RULES: &str = "/api/v1/admin/price-rules";

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    send(app, method, path, Some(token), body).await
}

/// Creates a rule, which must succeed; returns its id.
async fn create(app: &TestApp, path: &str, token: &str, body: Value) -> String {
    let response = call(app, Method::POST, path, token, Some(body.clone())).await;
    let status = response.status();
    let created: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body} → {created}");
    created["id"].as_str().unwrap().to_owned()
}

async fn quote(app: &TestApp, show: &ShowId, seats: &[&str]) -> Value {
    let response = send(
        app,
        Method::POST,
        "/api/v1/quotes",
        None,
        Some(json!({"show_id": show.as_str(), "seats": seats})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// The quote's line for `seat`.
fn line<'a>(quote: &'a Value, seat: &str) -> &'a Value {
    quote["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|line| line["seat"] == seat)
        .unwrap_or_else(|| panic!("no line for {seat} in {quote}"))
}

/// Each applied rule of a line as (name, kind, amount in minor units).
fn applied(line: &Value) -> Vec<(String, String, i64)> {
    line["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rule| {
            (
                rule["rule_name"].as_str().unwrap().to_owned(),
                rule["kind"].as_str().unwrap().to_owned(),
                rule["amount"]["amount"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn applied_rule(name: &str, kind: &str, amount: i64) -> (String, String, i64) {
    (name.to_owned(), kind.to_owned(), amount)
}

/// The show's category prices as its detail lists them: (category, minor units).
async fn detail_prices(app: &TestApp, show: &ShowId) -> Vec<(String, i64)> {
    let detail = app.get_ok(&format!("/api/v1/shows/{show}")).await;
    category_prices(&detail["prices"])
}

/// A `prices` array as (category, minor units).
fn category_prices(prices: &Value) -> Vec<(String, i64)> {
    prices
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["category"].as_str().unwrap().to_owned(),
                p["price"]["amount"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// The show's category prices as a listing at `path` shows them (a movie's shows in a
/// city, or a theatre's schedule).
async fn listed_prices(app: &TestApp, path: &str, show: &ShowId) -> Vec<(String, i64)> {
    let listing = app.get_ok(path).await;
    let groups = listing
        .get("items")
        .or_else(|| listing.get("movies"))
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("no shows in {listing}"));
    let listed = groups
        .iter()
        .flat_map(|group| group["shows"].as_array().unwrap())
        .find(|s| s["id"] == show.as_str())
        .unwrap_or_else(|| panic!("{show} not in {listing}"));
    category_prices(&listed["prices"])
}

fn categories(regular: i64, premium: i64, recliner: i64) -> Vec<(String, i64)> {
    vec![
        ("regular".to_owned(), regular),
        ("premium".to_owned(), premium),
        ("recliner".to_owned(), recliner),
    ]
}

/// The price the seat map shows for `label`, in minor units.
fn map_price(map: &Value, label: &str) -> i64 {
    map["seats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|seat| seat["label"] == label)
        .unwrap_or_else(|| panic!("no seat {label}"))["price"]["amount"]
        .as_i64()
        .unwrap()
}

db_test!(partners_manage_their_own_price_rules_validated, |app| {
    let f = fixtures::load(app).await;
    let owner = owning_partner(app, "owner@example.com").await;
    let other = other_partner(app, "other@example.com").await;

    let created = call(
        app,
        Method::POST,
        RULES,
        &owner,
        Some(json!({
            "name": "  Weekend  ",
            "rule": {"kind": "day_of_week", "days": ["sun", "sat"], "percent_bp": 1000},
            "categories": ["premium", "regular", "premium"],
            "theatre_ids": [f.aurora.as_str()],
            "bounds": {"regular": {"cap": 16000}}
        })),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let rule: Value = created.json().await.unwrap();
    let id = rule["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("prr_"), "{id}");
    // Stored normalised: the name trimmed, days in week order, categories once each.
    assert_eq!(
        rule,
        json!({"id": id, "org_id": PartnerOrgId::derived("test/org").as_str(),
               "name": "Weekend",
               "rule": {"kind": "day_of_week", "days": ["sat", "sun"], "percent_bp": 1000},
               "categories": ["regular", "premium"], "theatre_ids": [f.aurora.as_str()],
               "city_ids": [], "bounds": {"regular": {"floor": null, "cap": 16000}},
               "active": true})
    );
    let path = format!("{RULES}/{id}");
    let listed: Value = call(app, Method::GET, RULES, &owner, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!([rule]));
    let fetched: Value = call(app, Method::GET, &path, &owner, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, rule);

    // Another organisation neither sees nor touches it, nor names the owner's theatre.
    let theirs: Value = call(app, Method::GET, RULES, &other, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs, json!([]));
    let replacement = json!({"name": "Holiday", "rule": {"kind": "holiday", "percent_bp": 500}});
    for method in [Method::GET, Method::DELETE] {
        assert_problem(
            call(app, method, &path, &other, None).await,
            404,
            "not-found",
        )
        .await;
    }
    assert_problem(
        call(app, Method::PUT, &path, &other, Some(replacement.clone())).await,
        404,
        "not-found",
    )
    .await;
    let trespass = json!({"name": "x", "rule": {"kind": "holiday", "percent_bp": 500},
                          "theatre_ids": [f.aurora.as_str()]});
    assert_problem(
        call(app, Method::POST, RULES, &other, Some(trespass)).await,
        422,
        "invalid-price-rule",
    )
    .await;

    // Customers and partners are kept off the routes that are not theirs.
    let ana = customer(app, "ana@example.com").await;
    assert_problem(
        call(app, Method::GET, RULES, &ana, None).await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        call(app, Method::GET, PLATFORM_RULES, &owner, None).await,
        403,
        "forbidden",
    )
    .await;

    // An organisation not approved yet creates nothing.
    let signup = send(
        app,
        Method::POST,
        "/api/v1/partner/signup",
        None,
        Some(
            json!({"organisation_name": "Pending Screens", "email": "p@example.com",
                    "password": PASSWORD, "display_name": "P"}),
        ),
    )
    .await;
    assert_eq!(signup.status(), StatusCode::CREATED);
    let pending = crate::booking::login(app, "p@example.com").await;
    assert_problem(
        call(
            app,
            Method::POST,
            RULES,
            &pending,
            Some(replacement.clone()),
        )
        .await,
        403,
        "partner-not-approved",
    )
    .await;

    // Refusals name what is wrong, and store nothing.
    for bad in [
        json!({"name": "", "rule": {"kind": "holiday", "percent_bp": 500}}),
        json!({"name": "x", "rule": {"kind": "holiday", "percent_bp": 10001}}),
        json!({"name": "x", "rule": {"kind": "holiday", "percent_bp": -10000}}),
        json!({"name": "x", "rule": {"kind": "day_of_week", "days": [], "percent_bp": 5}}),
        json!({"name": "x", "rule": {"kind": "day_of_week", "days": ["mon", "mon"], "percent_bp": 5}}),
        json!({"name": "x", "rule": {"kind": "time_band", "from": "18:00:00", "until": "18:00:00", "percent_bp": 5}}),
        json!({"name": "x", "rule": {"kind": "format", "formats": ["8K"], "percent_bp": 5}}),
        json!({"name": "x", "rule": {"kind": "demand", "tiers": []}}),
        json!({"name": "x", "rule": {"kind": "demand", "tiers": [{"from_occupancy_bp": 100, "percent_bp": 5}]}}),
        json!({"name": "x", "rule": {"kind": "demand", "tiers": [
            {"from_occupancy_bp": 0, "percent_bp": 5}, {"from_occupancy_bp": 0, "percent_bp": 9}]}}),
        json!({"name": "x", "rule": {"kind": "demand", "tiers": [
            {"from_occupancy_bp": 0, "percent_bp": 5}, {"from_occupancy_bp": 10001, "percent_bp": 9}]}}),
        json!({"name": "x", "rule": {"kind": "holiday", "percent_bp": 5},
               "bounds": {"regular": {"floor": 20000, "cap": 10000}}}),
        json!({"name": "x", "rule": {"kind": "holiday", "percent_bp": 5},
               "bounds": {"regular": {"floor": -1}}}),
        json!({"name": "x", "rule": {"kind": "holiday", "percent_bp": 5},
               "bounds": {"regular": {}}}),
        json!({"name": "x", "rule": {"kind": "holiday", "percent_bp": 5},
               "city_ids": [f.testpur.as_str()]}),
        json!({"name": "x", "rule": {"kind": "holiday", "percent_bp": 5},
               "theatre_ids": ["thr_nope"]}),
    ] {
        let response = call(app, Method::POST, RULES, &owner, Some(bad.clone())).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(
            problem["type"], "https://marquee.example/problems/invalid-price-rule",
            "{bad}: {problem}"
        );
    }
    // Unknown fields and kinds are malformed bodies.
    for bad in [
        json!({"name": "x", "rule": {"kind": "lunar", "percent_bp": 5}}),
        json!({"name": "x", "rule": {"kind": "holiday", "percent_bp": 5}, "colour": "red"}),
    ] {
        assert_problem(
            call(app, Method::POST, RULES, &owner, Some(bad)).await,
            400,
            "invalid-body",
        )
        .await;
    }
    let listed: Value = call(app, Method::GET, RULES, &owner, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");

    // Replaced, switched off, deleted.
    let replaced: Value = call(app, Method::PUT, &path, &owner, Some(replacement))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(replaced["id"], id.as_str());
    assert_eq!(
        replaced["rule"],
        json!({"kind": "holiday", "percent_bp": 500})
    );
    assert_eq!(replaced["theatre_ids"], json!([]));
    let deleted = call(app, Method::DELETE, &path, &owner, None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_problem(
        call(app, Method::GET, &path, &owner, None).await,
        404,
        "not-found",
    )
    .await;
    assert_problem(
        call(app, Method::DELETE, &path, &owner, None).await,
        404,
        "not-found",
    )
    .await;
});

db_test!(admins_manage_platform_rules_and_holiday_calendars, |app| {
    let f = fixtures::load(app).await;
    let admin = admin(app).await;
    let id = create(
        app,
        PLATFORM_RULES,
        &admin,
        json!({"name": "Testpur festival", "rule": {"kind": "holiday", "percent_bp": 1500},
               "city_ids": [f.testpur.as_str()]}),
    )
    .await;
    let rule: Value = call(
        app,
        Method::GET,
        &format!("{PLATFORM_RULES}/{id}"),
        &admin,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        rule.get("org_id"),
        None,
        "a platform rule has no owner: {rule}"
    );
    assert_eq!(rule["city_ids"], json!([f.testpur.as_str()]));
    assert_problem(
        call(
            app,
            Method::POST,
            PLATFORM_RULES,
            &admin,
            Some(
                json!({"name": "x", "rule": {"kind": "holiday", "percent_bp": 5},
                        "city_ids": ["cty_nowhere"]}),
            ),
        )
        .await,
        422,
        "invalid-price-rule",
    )
    .await;
    // A partner's list does not show the platform's rules.
    let owner = owning_partner(app, "owner@example.com").await;
    let theirs: Value = call(app, Method::GET, RULES, &owner, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs, json!([]));

    // Holiday calendars: one year replaced at a time, read back in date order.
    let calendar = "/api/v1/admin/holidays/in";
    let year = |holidays: Value| json!({"year": 2026, "holidays": holidays});
    let saved: Value = call(
        app,
        Method::PUT,
        calendar,
        &admin,
        Some(year(json!([
            {"date": "2026-12-25", "name": "Christmas"},
            {"date": "2026-11-08", "name": "Diwali"}
        ]))),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        saved,
        json!({"country_code": "IN", "holidays": [
            {"date": "2026-11-08", "name": "Diwali"}, {"date": "2026-12-25", "name": "Christmas"}]})
    );
    call(
        app,
        Method::PUT,
        calendar,
        &admin,
        Some(json!({"year": 2027, "holidays": [{"date": "2027-01-26", "name": "Republic Day"}]})),
    )
    .await;
    let replaced: Value = call(
        app,
        Method::PUT,
        calendar,
        &admin,
        Some(year(
            json!([{"date": "2026-11-22", "name": "Test Festival"}]),
        )),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        replaced["holidays"],
        json!([{"date": "2026-11-22", "name": "Test Festival"},
               {"date": "2027-01-26", "name": "Republic Day"}])
    );
    // Calendars are for administrators.
    assert_problem(
        send(app, Method::GET, "/api/v1/admin/holidays/IN", None, None).await,
        401,
        "unauthenticated",
    )
    .await;
    let read: Value = call(app, Method::GET, "/api/v1/admin/holidays/IN", &admin, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read, replaced);
    for (path, body) in [
        ("/api/v1/admin/holidays/IND", year(json!([]))),
        (
            calendar,
            year(json!([{"date": "2027-01-01", "name": "New Year"}])),
        ),
        (
            calendar,
            year(json!([{"date": "2026-01-01", "name": "A"}, {"date": "2026-01-01", "name": "B"}])),
        ),
        (calendar, year(json!([{"date": "2026-01-01", "name": " "}]))),
        (calendar, json!({"year": 1800, "holidays": []})),
    ] {
        assert_problem(
            call(app, Method::PUT, path, &admin, Some(body)).await,
            422,
            "invalid-price-rule",
        )
        .await;
    }
    assert_problem(
        call(app, Method::PUT, calendar, &owner, Some(year(json!([])))).await,
        403,
        "forbidden",
    )
    .await;
});

db_test!(
    calendar_time_band_and_format_rules_price_quotes_maps_and_holds_in_local_time,
    |app| {
        let f = fixtures::load(app).await;
        let admin = admin(app).await;
        let owner = owning_partner(app, "owner@example.com").await;
        // The noon show: Sunday 22 November, 12:00 in Testpur (IST), 2D at Aurora. The evening
        // show: the same Sunday at 18:00, 3D at Bijou. The west show: Saturday 21 November at
        // 21:00 in Westville (Los Angeles), though already the 22nd in UTC.
        call(
            app,
            Method::PUT,
            "/api/v1/admin/holidays/IN",
            &admin,
            Some(json!({"year": 2026, "holidays": [{"date": "2026-11-22", "name": "Test Festival"}]})),
        )
        .await;
        create(
            app,
            PLATFORM_RULES,
            &admin,
            json!({"name": "Festival", "rule": {"kind": "holiday", "percent_bp": 500},
                   "categories": ["premium"]}),
        )
        .await;
        create(
            app,
            RULES,
            &owner,
            json!({"name": "Weekend", "rule": {"kind": "day_of_week", "days": ["sat", "sun"], "percent_bp": 1000}}),
        )
        .await;
        create(
            app,
            RULES,
            &owner,
            json!({"name": "Evening", "rule": {"kind": "time_band", "from": "17:00:00", "until": "23:00:00", "percent_bp": 500}}),
        )
        .await;
        let format = create(
            app,
            RULES,
            &owner,
            json!({"name": "3D glasses", "rule": {"kind": "format", "formats": ["3d"], "percent_bp": 2000},
                   "bounds": {"regular": {"cap": 20000}}}),
        )
        .await;

        // Noon: the weekend on every seat, the festival on premium seats after it.
        let noon = quote(app, &f.noon, &["A1", "B1"]).await;
        let a1 = line(&noon, "A1");
        assert_eq!(applied(a1), [applied_rule("Weekend", "day_of_week", 1_500)]);
        assert_eq!(a1["base"], inr(15_000));
        assert_eq!(a1["list_price"], inr(16_500));
        assert_eq!(a1["price"], inr(16_500));
        assert_eq!(a1["fee"], inr(825));
        assert_eq!(a1["total"], inr(17_325));
        let b1 = line(&noon, "B1");
        // 25,000 + 10% = 27,500; + 5% = 28,875; fee 1,443.75 → 1,444.
        assert_eq!(
            applied(b1),
            [
                applied_rule("Weekend", "day_of_week", 2_500),
                applied_rule("Festival", "holiday", 1_375)
            ]
        );
        assert_eq!(b1["list_price"], inr(28_875));
        assert_eq!(b1["fee"], inr(1_444));
        assert_eq!(noon["base_total"], inr(40_000));
        assert_eq!(noon["rule_total"], inr(5_375));
        assert_eq!(noon["fee_total"], inr(2_269));
        assert_eq!(noon["total"], inr(47_644));

        // Evening, regular: 15,000 → 16,500 (weekend) → 17,325 (time band) → 20,790 (3D),
        // capped at 20,000.
        let evening = quote(app, &f.evening, &["A1"]).await;
        assert_eq!(
            applied(line(&evening, "A1")),
            [
                applied_rule("Weekend", "day_of_week", 1_500),
                applied_rule("Evening", "time_band", 825),
                applied_rule("3D glasses", "format", 2_675)
            ]
        );
        assert_eq!(line(&evening, "A1")["list_price"], inr(20_000));
        // A recliner has no cap: 45,050 → 49,555 → 52,033 (52,032.75) → 62,440 (62,439.6).
        assert_eq!(
            line(&quote(app, &f.evening, &["C1"]).await, "C1")["list_price"],
            inr(62_440)
        );

        // West: Saturday evening where the theatre is; no Indian holiday. 1,200 → 1,320 → 1,386.
        let west = quote(app, &f.west, &["A1"]).await;
        assert_eq!(
            applied(line(&west, "A1")),
            [
                applied_rule("Weekend", "day_of_week", 120),
                applied_rule("Evening", "time_band", 66)
            ]
        );
        assert_eq!(west["total"]["currency"], "USD");

        // The seat map shows each seat at its price now.
        let map = seat_map(app, &f.noon).await;
        assert_eq!(map_price(&map, "A1"), 16_500);
        assert_eq!(map_price(&map, "B4"), 28_875);
        assert_eq!(map_price(&map, "C1"), 49_555);
        // And the show's detail each category's, and the listings.
        assert_eq!(
            detail_prices(app, &f.noon).await,
            categories(16_500, 28_875, 49_555)
        );
        let in_city = format!(
            "/api/v1/cities/{}/movies/{}/shows?date=2026-11-22",
            f.testpur, f.alpha
        );
        assert_eq!(
            listed_prices(app, &in_city, &f.noon).await,
            categories(16_500, 28_875, 49_555)
        );
        let at_bijou = format!("/api/v1/theatres/{}/shows?date=2026-11-22", f.bijou);
        assert_eq!(
            listed_prices(app, &at_bijou, &f.evening).await,
            categories(20_000, 36_383, 62_440)
        );

        // A hold made right after the quote agrees with it, and keeps it once the rule goes.
        let ana = customer(app, "ana@example.com").await;
        let held = hold_ok(app, &ana, &f.evening, &["A1"]).await;
        assert_eq!(held["quote"], evening);
        let deleted = call(
            app,
            Method::DELETE,
            &format!("{RULES}/{format}"),
            &owner,
            None,
        )
        .await;
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            line(&quote(app, &f.evening, &["A2"]).await, "A2")["list_price"],
            inr(17_325)
        );
        // The cached listing is dropped with the rule.
        assert_eq!(
            listed_prices(app, &at_bijou, &f.evening).await,
            categories(17_325, 30_319, 52_033)
        );
        let booking = get_booking(app, &ana, held["id"].as_str().unwrap()).await;
        assert_eq!(booking["quote"], evening);
        assert_eq!(booking["total"], inr(21_000));
    }
);

db_test!(
    a_demand_rule_follows_sales_within_its_refresh_and_a_hold_keeps_its_price,
    |app| {
        let f = fixtures::load(app).await;
        let owner = owning_partner(app, "owner@example.com").await;
        // Quiet shows 10% off, half-full shows 20% on; regular seats between ₹140 and ₹170.
        create(
            app,
            RULES,
            &owner,
            json!({"name": "Demand", "rule": {"kind": "demand", "tiers": [
                       {"from_occupancy_bp": 0, "percent_bp": -1000},
                       {"from_occupancy_bp": 3000, "percent_bp": 0},
                       {"from_occupancy_bp": 5000, "percent_bp": 2000}]},
                   "bounds": {"regular": {"floor": 14000, "cap": 17000}}}),
        )
        .await;

        // The show's detail, read (and cached) before any sale, and a listing.
        assert_eq!(
            detail_prices(app, &f.noon).await,
            categories(14_000, 22_500, 40_545)
        );
        assert_eq!(
            listed_prices(
                app,
                &format!("/api/v1/theatres/{}/shows?date=2026-11-22", f.aurora),
                &f.noon
            )
            .await,
            categories(14_000, 22_500, 40_545)
        );
        // Empty: 15,000 - 10% = 13,500, raised to the floor.
        let quiet = quote(app, &f.noon, &["A1"]).await;
        assert_eq!(
            applied(line(&quiet, "A1")),
            [applied_rule("Demand", "demand", -1_000)]
        );
        assert_eq!(quiet["total"], inr(14_700));
        let ana = customer(app, "ana@example.com").await;
        let held = hold_ok(app, &ana, &f.noon, &["A1"]).await;
        assert_eq!(
            held["quote"], quiet,
            "the hold made right after the quote agrees"
        );
        // Premium seats have no bounds: 25,000 - 10%.
        assert_eq!(
            line(&quote(app, &f.noon, &["B1"]).await, "B1")["list_price"],
            inr(22_500)
        );

        // Bob takes four more seats: half the show (5 of 10) is taken.
        let bob = customer(app, "bob@example.com").await;
        let bobs = hold_ok(app, &bob, &f.noon, &["B1", "B2", "B3", "B4"]).await;
        // Within demand_refresh_ms the occupancy read for the first quote is reused.
        assert_eq!(
            line(&quote(app, &f.noon, &["A2"]).await, "A2")["list_price"],
            inr(14_000)
        );
        // Past it, the quote reads the sales: 15,000 + 20% = 18,000, capped at 17,000.
        app.clock.advance(chrono::Duration::milliseconds(1_000));
        let busy = quote(app, &f.noon, &["A2"]).await;
        assert_eq!(
            applied(line(&busy, "A2")),
            [applied_rule("Demand", "demand", 2_000)]
        );
        assert_eq!(busy["total"], inr(17_850));
        assert_eq!(map_price(&seat_map(app, &f.noon).await, "A3"), 17_000);
        // The detail was cached before; the holds changed the show's seats, so it is counted
        // again: 15,000 capped at 17,000, 25,000 and 45,050 + 20%.
        assert_eq!(
            detail_prices(app, &f.noon).await,
            categories(17_000, 30_000, 54_060)
        );

        // Ana's hold keeps the price it was quoted, and she pays that.
        let booking = get_booking(app, &ana, held["id"].as_str().unwrap()).await;
        assert_eq!(booking["quote"], quiet);
        let paid = confirmed(app, &ana, &f.noon, &["A2"]).await;
        assert_eq!(paid["total"], inr(17_850), "a new hold pays the busy price");
        let booking = get_booking(app, &ana, held["id"].as_str().unwrap()).await;
        assert_eq!(booking["total"], inr(14_700));

        // Bob lets his seats go: 2 of 10 taken. A seat-map load counts every seat, and the quote
        // made right after it agrees with it, without waiting for the refresh.
        let cancelled = cancel(app, &bob, bobs["id"].as_str().unwrap()).await;
        assert!(cancelled.status().is_success(), "{}", cancelled.status());
        assert_eq!(map_price(&seat_map(app, &f.noon).await, "A3"), 14_000);
        assert_eq!(
            detail_prices(app, &f.noon).await,
            categories(14_000, 22_500, 40_545)
        );
        assert_eq!(
            line(&quote(app, &f.noon, &["A3"]).await, "A3")["list_price"],
            inr(14_000)
        );
    }
);
