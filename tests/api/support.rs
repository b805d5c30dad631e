//! Customer support over the API, on both engines: administrators find customers by part
//! of their address or name, and bookings by id, customer, show, status and time.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    booking::{confirmed, customer, hold_ok},
    db_test, fixtures,
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
    // The confirmation's message is sent by the event consumer, a moment later.
    for _ in 0..100 {
        let (status, body) = admin_get(app, &admin, &path).await;
        assert_eq!(status, 200);
        timeline = body;
        if timeline
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["source"] == "notification")
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
