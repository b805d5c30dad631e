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
