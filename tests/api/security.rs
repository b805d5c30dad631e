//! Security by default, on both engines: what answers a signed-in request is never kept
//! by caches, browsers on other origins get in only from the configured allow-list, HSTS
//! when configured, and card numbers sent where a gateway token belongs are refused and
//! end up in no table and no log line.

use std::time::Duration;

use marquee::db::{Db, Engine};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::{
    booking::customer,
    db_test, db_test_with,
    helpers::send,
    serve::{Api, ProcessDatabase, ServeOptions, ServeProcess, tomorrow},
};

/// The tables with a row that holds `needle` anywhere (any column, as text).
pub async fn tables_holding(db: &Db, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    match db.engine() {
        Engine::Sqlite => {
            let tables: Vec<String> = db
                .fetch_all(
                    "SELECT name FROM sqlite_master WHERE type = 'table' \
                     AND name NOT LIKE 'sqlite_%' ORDER BY name",
                    marquee::params![],
                )
                .await
                .unwrap();
            for table in tables {
                let columns: Vec<String> = db
                    .fetch_all(
                        "SELECT name FROM pragma_table_info($1)",
                        marquee::params![&table],
                    )
                    .await
                    .unwrap();
                let test = columns
                    .iter()
                    .map(|c| format!("instr(CAST(\"{c}\" AS TEXT), $1) > 0"))
                    .collect::<Vec<_>>()
                    .join(" OR ");
                let rows: i64 = db
                    .fetch_one(
                        format!("SELECT COUNT(*) FROM \"{table}\" WHERE {test}").as_str(),
                        marquee::params![needle],
                    )
                    .await
                    .unwrap();
                if rows > 0 {
                    found.push(table);
                }
            }
        }
        Engine::Postgres => {
            let tables: Vec<String> = db
                .fetch_all(
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
                     ORDER BY table_name",
                    marquee::params![],
                )
                .await
                .unwrap();
            for table in tables {
                let rows: i64 = db
                    .fetch_one(
                        format!("SELECT COUNT(*) FROM \"{table}\" t WHERE strpos(t::text, $1) > 0")
                            .as_str(),
                        marquee::params![needle],
                    )
                    .await
                    .unwrap();
                if rows > 0 {
                    found.push(table);
                }
            }
        }
    }
    found
}

/// A header's values, joined (`Vary` comes in several).
fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    let values: Vec<&str> = response
        .headers()
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

db_test_with!(
    personal_answers_are_not_cached_and_other_origins_get_in_only_from_the_list,
    |config| {
        config.http.cors_allowed_origins = vec!["https://app.example".into()];
        config.http.hsts_max_age_secs = 31_536_000;
    },
    |app| {
        crate::fixtures::load(app).await;
        let token = customer(app, "headers@example.com").await;

        // Signed in: nothing on the way may store the answer, errors included.
        for path in [
            "/api/v1/me",
            "/api/v1/bookings",
            "/api/v1/bookings/bkg_nope",
        ] {
            let response = send(app, Method::GET, path, Some(&token), None).await;
            assert_eq!(
                header(&response, "cache-control").as_deref(),
                Some("no-store"),
                "{path}"
            );
        }
        // Public reads stay cacheable.
        let cities = send(app, Method::GET, "/api/v1/cities", None, None).await;
        assert_eq!(cities.status(), 200);
        assert!(
            !header(&cities, "cache-control")
                .unwrap_or_default()
                .contains("no-store"),
            "public reads are cacheable"
        );
        assert_eq!(
            header(&cities, "strict-transport-security").as_deref(),
            Some("max-age=31536000; includeSubDomains")
        );

        // A preflight from the allowed origin is answered; from another, it is not allowed.
        let preflight = |origin: &'static str| {
            app.client
                .request(Method::OPTIONS, app.url("/api/v1/bookings"))
                .header("Origin", origin)
                .header("Access-Control-Request-Method", "POST")
                .header(
                    "Access-Control-Request-Headers",
                    "authorization,content-type,idempotency-key",
                )
                .send()
        };
        let allowed = preflight("https://app.example").await.unwrap();
        assert!(allowed.status().is_success(), "{}", allowed.status());
        assert_eq!(
            header(&allowed, "access-control-allow-origin").as_deref(),
            Some("https://app.example")
        );
        let methods = header(&allowed, "access-control-allow-methods").unwrap();
        assert!(methods.contains("POST"), "{methods}");
        let headers = header(&allowed, "access-control-allow-headers").unwrap();
        assert!(headers.contains("idempotency-key"), "{headers}");
        assert_eq!(header(&allowed, "access-control-allow-credentials"), None);
        let other = preflight("https://evil.example").await.unwrap();
        assert_eq!(header(&other, "access-control-allow-origin"), None);

        // Ordinary requests: the allowed origin may read the answer (and its request id).
        let read = |origin: &'static str| {
            app.client
                .get(app.url("/api/v1/cities"))
                .header("Origin", origin)
                .send()
        };
        let mine = read("https://app.example").await.unwrap();
        assert_eq!(
            header(&mine, "access-control-allow-origin").as_deref(),
            Some("https://app.example")
        );
        assert!(
            header(&mine, "access-control-expose-headers")
                .unwrap_or_default()
                .contains("x-request-id")
        );
        assert!(header(&mine, "vary").unwrap_or_default().contains("origin"));
        let theirs = read("https://evil.example").await.unwrap();
        assert_eq!(header(&theirs, "access-control-allow-origin"), None);
    }
);

db_test_with!(
    by_default_no_other_origin_and_no_hsts,
    |_config| {},
    |app| {
        let response = app
            .client
            .request(Method::OPTIONS, app.url("/api/v1/cities"))
            .header("Origin", "https://app.example")
            .header("Access-Control-Request-Method", "GET")
            .send()
            .await
            .unwrap();
        assert_eq!(header(&response, "access-control-allow-origin"), None);
        let cities = send(app, Method::GET, "/api/v1/cities", None, None).await;
        assert_eq!(header(&cities, "strict-transport-security"), None);
    }
);

/// Card numbers as a client might send them where a gateway token belongs.
const CARD_NUMBERS: [&str; 4] = [
    "4242424242424242",
    "4000 0566 5566 5556",
    "5555-5555-5555-4444",
    "tok_378282246310005",
];

async fn card_numbers_are_refused_and_never_kept(engine: Engine) {
    let Some(database) = ProcessDatabase::create(engine).await else {
        return;
    };
    let server = ServeProcess::start(
        &database.url,
        &ServeOptions {
            demo: true,
            ..ServeOptions::default()
        }
        // Everything the server says, request by request.
        .env("MARQUEE_LOG__FILTER", "debug")
        .env("MARQUEE_LOG__ACCESS_LOG", "true"),
    )
    .await
    .expect("marquee serve --demo");
    let api = Api::new(&server.base, Duration::from_secs(30));
    let token = api.customer("pci@example.com").await;
    let shows = api.shows_on(tomorrow(), 1).await;
    let show = shows.first().expect("a show tomorrow");
    let seat_map = api
        .expect(
            Method::GET,
            &format!("/api/v1/shows/{show}/seats"),
            None,
            None,
            StatusCode::OK,
        )
        .await;
    let seat = seat_map["seats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["state"] == "available")
        .expect("a free seat")["label"]
        .as_str()
        .unwrap()
        .to_owned();
    let booking = api
        .expect(
            Method::POST,
            "/api/v1/bookings",
            Some(&token),
            Some(&json!({"show_id": show, "seats": [seat]})),
            StatusCode::CREATED,
        )
        .await;
    let id = booking["id"].as_str().unwrap();

    for (i, card) in CARD_NUMBERS.iter().enumerate() {
        let key = format!("pci-{i}");
        let paid = api
            .call(
                Method::POST,
                &format!("/api/v1/bookings/{id}/payments"),
                Some(&token),
                Some(&json!({"card_token": card})),
                Some(&key),
            )
            .await
            .unwrap();
        assert_eq!(
            paid.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            paid.text
        );
        assert!(
            paid.body["type"]
                .as_str()
                .unwrap()
                .ends_with("/card-data-refused"),
            "{}",
            paid.text
        );
        let held = api
            .call(
                Method::POST,
                "/api/v1/bookings",
                Some(&token),
                Some(&json!({"show_id": show, "seats": ["Z99"], "admission_token": card})),
                None,
            )
            .await
            .unwrap();
        assert_eq!(
            held.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            held.text
        );
        let refreshed = api
            .call(
                Method::POST,
                "/api/v1/auth/refresh",
                None,
                Some(&json!({"refresh_token": card})),
                None,
            )
            .await
            .unwrap();
        assert_eq!(
            refreshed.status,
            StatusCode::UNAUTHORIZED,
            "{}",
            refreshed.text
        );
        let bearer = api
            .call(Method::GET, "/api/v1/me", Some(card), None, None)
            .await
            .unwrap();
        assert_eq!(bearer.status, StatusCode::UNAUTHORIZED, "{}", bearer.text);
    }
    // The real token still pays.
    let paid = api
        .call(
            Method::POST,
            &format!("/api/v1/bookings/{id}/payments"),
            Some(&token),
            Some(&json!({"card_token": "tok_visa"})),
            Some("pci-real"),
        )
        .await
        .unwrap();
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.text);

    let config = marquee::config::Config {
        database_url: database.url.clone(),
        ..Default::default()
    };
    let db = Db::connect(&config).await.expect("the server's database");
    // The log has every request, the refused payments among them.
    let (lines, payments) = server.lines_containing("/payments");
    assert!(
        payments.len() > CARD_NUMBERS.len(),
        "{lines} lines: {payments:?}"
    );
    for card in CARD_NUMBERS {
        let digits: String = card.chars().filter(char::is_ascii_digit).collect();
        for needle in [card, digits.as_str()] {
            assert_eq!(
                tables_holding(&db, needle).await,
                Vec::<String>::new(),
                "{needle} is stored"
            );
            let (_, found) = server.lines_containing(needle);
            assert_eq!(found, Vec::<String>::new(), "{needle} is logged");
        }
    }
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_numbers_are_refused_and_never_kept_on_sqlite() {
    card_numbers_are_refused_and_never_kept(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_numbers_are_refused_and_never_kept_on_postgres() {
    card_numbers_are_refused_and_never_kept(Engine::Postgres).await;
}

/// The audit log as administrators read it, with a query string.
async fn audit_log(
    app: &crate::helpers::TestApp,
    admin: &str,
    query: &str,
) -> Vec<serde_json::Value> {
    let response = send(
        app,
        Method::GET,
        &format!("/api/v1/admin/audit-log?{query}"),
        Some(admin),
        None,
    )
    .await;
    assert_eq!(response.status(), 200);
    let page: serde_json::Value = response.json().await.unwrap();
    page["items"].as_array().unwrap().clone()
}

db_test_with!(
    administrators_and_partners_actions_and_money_movements_are_in_the_append_only_audit_log,
    |_config| {},
    |app| {
        let f = crate::fixtures::load(app).await;
        let admin = crate::offers::admin(app).await;
        let partner = crate::booking::owning_partner(app, "owner@example.com").await;
        let stranger = crate::booking::other_partner(app, "sam@example.com").await;
        let ana = customer(app, "ana@example.com").await;

        // A partner's write, answered with a request id; another's refused write.
        let room = send(
            app,
            Method::PUT,
            &format!("/api/v1/partner/shows/{}/waiting-room", f.day3),
            Some(&partner),
            Some(json!({"on_sale_at": "2026-11-22T05:00:00Z"})),
        )
        .await;
        assert_eq!(room.status(), 200);
        let request_id = header(&room, "x-request-id").unwrap();
        let refused = send(
            app,
            Method::PUT,
            &format!("/api/v1/partner/shows/{}/waiting-room", f.day3),
            Some(&stranger),
            Some(json!({"on_sale_at": "2026-11-22T05:00:00Z"})),
        )
        .await;
        assert_eq!(refused.status(), 404);
        // A partner's read and a customer's booking are not recorded; money is.
        send(
            app,
            Method::GET,
            "/api/v1/partner/theatres",
            Some(&partner),
            None,
        )
        .await;
        let booking = crate::booking::confirmed(app, &ana, &f.noon, &["A1"]).await;
        let booking_id = booking["id"].as_str().unwrap();
        let cancelled = crate::booking::cancel(app, &ana, booking_id).await;
        assert_eq!(cancelled.status(), 200);
        let payment = booking["payments"][0]["id"].as_str().unwrap();
        crate::booking::wait_for_payment(app, &ana, booking_id, payment, "refunded").await;

        let records = audit_log(app, &admin, "limit=100").await;
        let summary: Vec<(String, String, String, Option<i64>)> = records
            .iter()
            .map(|r| {
                (
                    r["actor_role"].as_str().unwrap().to_owned(),
                    r["action"].as_str().unwrap().to_owned(),
                    r["target"].as_str().unwrap().to_owned(),
                    r["status"].as_i64(),
                )
            })
            .collect();
        let room_path = format!("/api/v1/partner/shows/{}/waiting-room", f.day3);
        let route = "PUT /api/v1/partner/shows/{show_id}/waiting-room".to_owned();
        // Newest first: the refund, the cancellation's refund, the payment; the refused
        // write, the partner's write. (The admin's reading of the log comes after it.)
        assert_eq!(
            summary,
            [
                (
                    "system".into(),
                    "payment.refunded".into(),
                    payment.to_owned(),
                    None
                ),
                (
                    "system".into(),
                    "booking.cancelled".into(),
                    booking_id.to_owned(),
                    None
                ),
                (
                    "system".into(),
                    "booking.confirmed".into(),
                    booking_id.to_owned(),
                    None
                ),
                (
                    "partner".into(),
                    route.clone(),
                    room_path.clone(),
                    Some(404)
                ),
                (
                    "partner".into(),
                    route.clone(),
                    room_path.clone(),
                    Some(200)
                ),
            ]
        );
        let write = &records[4];
        assert_eq!(write["request_id"], request_id.as_str());
        assert_eq!(
            write["org_id"],
            marquee::ids::PartnerOrgId::derived("test/org").to_string()
        );
        assert!(write["actor_id"].as_str().unwrap().starts_with("usr_"));
        assert_eq!(records[0]["detail"]["amount"], 15_000, "{}", records[0]);

        // The administrator's reading is itself recorded; filters narrow the log.
        let reads = audit_log(app, &admin, "action=GET%20%2Fapi%2Fv1%2Fadmin%2Faudit-log").await;
        assert_eq!(reads.len(), 1, "{reads:?}");
        assert_eq!(reads[0]["actor_role"], "admin");
        let money = audit_log(app, &admin, &format!("target={booking_id}")).await;
        assert_eq!(money.len(), 2);
        let refusals = audit_log(
            app,
            &admin,
            &format!("actor_id={}", records[3]["actor_id"].as_str().unwrap()),
        )
        .await;
        assert_eq!(refusals.len(), 1);
        assert_eq!(refusals[0]["status"], 404);
        assert_eq!(
            audit_log(app, &admin, "from=2030-01-01T00:00:00Z")
                .await
                .len(),
            0
        );
        assert_eq!(
            send(
                app,
                Method::GET,
                "/api/v1/admin/audit-log",
                Some(&partner),
                None
            )
            .await
            .status(),
            403
        );

        // Append-only: the database itself refuses to change or remove a record.
        let changed = app
            .db
            .write(|tx| {
                tx.execute(
                    "UPDATE audit_log SET action = 'nothing'",
                    marquee::params![],
                )
            })
            .await;
        assert!(changed.is_err(), "an update went through");
        let removed = app
            .db
            .write(|tx| tx.execute("DELETE FROM audit_log", marquee::params![]))
            .await;
        assert!(removed.is_err(), "a delete went through");
        assert!(audit_log(app, &admin, "limit=100").await.len() >= 6);
    }
);

/// The customer's data export.
async fn export_of(app: &crate::helpers::TestApp, token: &str) -> serde_json::Value {
    let response = send(app, Method::GET, "/api/v1/me/export", Some(token), None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "cache-control").as_deref(),
        Some("no-store")
    );
    response.json().await.unwrap()
}

db_test_with!(
    a_customer_downloads_their_data_and_erasure_leaves_no_trace_of_them,
    |config| {
        config.privacy.notification_retention_days = 30;
    },
    |app| {
        let f = crate::fixtures::load(app).await;
        let email = "zebulon.quixote@example.com";
        let name = "Zebulon Quixote";
        let password = "correct horse battery staple";
        let registered = send(
            app,
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"email": email, "password": password, "display_name": name})),
        )
        .await;
        assert_eq!(registered.status(), 201);
        let token = crate::booking::login_with(app, email, password).await;
        let booking = crate::booking::confirmed(app, &token, &f.noon, &["A1"]).await;
        let booking_id = booking["id"].as_str().unwrap().to_owned();
        let partner = crate::booking::owning_partner(app, "owner@example.com").await;
        let room = send(
            app,
            Method::PUT,
            &format!("/api/v1/partner/shows/{}/waiting-room", f.day3),
            Some(&partner),
            Some(json!({"on_sale_at": "2026-11-22T05:00:00Z"})),
        )
        .await;
        assert_eq!(room.status(), 200);
        let joined = send(
            app,
            Method::POST,
            &format!("/api/v1/shows/{}/waiting-room/entries", f.day3),
            Some(&token),
            None,
        )
        .await;
        assert_eq!(joined.status(), 201);

        // The export has it all (the confirmation message is sent by the event consumer).
        let mut export = export_of(app, &token).await;
        for _ in 0..100 {
            if !export["notifications"].as_array().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            export = export_of(app, &token).await;
        }
        assert_eq!(export["account"]["email"], email);
        assert_eq!(export["account"]["display_name"], name);
        assert_eq!(export["bookings"][0]["id"], booking_id.as_str());
        assert_eq!(export["bookings"][0]["total"], 15_750, "fees included");
        assert_eq!(export["payments"][0]["status"], "succeeded");
        assert_eq!(export["waiting_rooms"].as_array().unwrap().len(), 1);
        assert_eq!(export["notifications"][0]["recipient"], email);
        assert!(!export["sessions"].as_array().unwrap().is_empty());
        assert!(!tables_holding(&app.db, email).await.is_empty());

        // Erasure needs the password, and is for customers.
        let wrong = send(
            app,
            Method::POST,
            "/api/v1/me/erase",
            Some(&token),
            Some(json!({"password": "not the password"})),
        )
        .await;
        assert_eq!(wrong.status(), 401);
        let not_customer = send(
            app,
            Method::POST,
            "/api/v1/me/erase",
            Some(&partner),
            Some(json!({"password": crate::booking::PASSWORD})),
        )
        .await;
        assert_eq!(not_customer.status(), 403);
        let erased = send(
            app,
            Method::POST,
            "/api/v1/me/erase",
            Some(&token),
            Some(json!({"password": password})),
        )
        .await;
        assert_eq!(erased.status(), 200);

        // No table and no stored event holds the address or the name any more.
        assert_eq!(tables_holding(&app.db, email).await, Vec::<String>::new());
        assert_eq!(tables_holding(&app.db, name).await, Vec::<String>::new());
        assert_eq!(
            tables_holding(&app.db, "zebulon").await,
            Vec::<String>::new()
        );
        // The account is gone for its holder; the money stays on the books.
        assert_eq!(
            send(app, Method::GET, "/api/v1/me", Some(&token), None)
                .await
                .status(),
            403
        );
        let login = send(
            app,
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": email, "password": password})),
        )
        .await;
        assert_eq!(login.status(), 401);
        let kept: (i64, String) = app
            .db
            .fetch_one(
                "SELECT b.total, p.status FROM bookings b JOIN payments p ON p.booking_id = b.id \
                 WHERE b.id = $1",
                marquee::params![&booking_id],
            )
            .await
            .unwrap();
        assert_eq!(kept, (15_750, "succeeded".to_owned()));

        // Retention: another customer's message loses its address after 30 days.
        let other = customer(app, "retained@example.com").await;
        crate::booking::confirmed(app, &other, &f.noon, &["A2"]).await;
        for _ in 0..100 {
            if tables_holding(&app.db, "retained@example.com").await.len() > 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            tables_holding(&app.db, "retained@example.com").await,
            ["notifications", "users"]
        );
        assert_eq!(
            marquee::identity::privacy::purge_expired(&app.state)
                .await
                .unwrap(),
            0
        );
        app.clock.advance(chrono::Duration::days(31));
        assert!(
            marquee::identity::privacy::purge_expired(&app.state)
                .await
                .unwrap()
                >= 1
        );
        assert_eq!(
            tables_holding(&app.db, "retained@example.com").await,
            ["users"]
        );
    }
);

/// The `kid` in an access token's header.
fn kid_of(token: &str) -> String {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap();
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap_or("").to_owned()
}

db_test_with!(
    signing_keys_rotate_without_signing_anyone_out,
    |_config| {},
    |app| {
        let admin = crate::offers::admin(app).await;
        let email = "rotation@example.com";
        customer(app, email).await;
        let pair: serde_json::Value = send(
            app,
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": email, "password": crate::booking::PASSWORD})),
        )
        .await
        .json()
        .await
        .unwrap();
        let before = pair["access_token"].as_str().unwrap().to_owned();
        assert_eq!(kid_of(&before), marquee::identity::tokens::MASTER_KID);

        // Rotate twice: every token signed so far still works.
        let mut kids = Vec::new();
        for _ in 0..2 {
            let rotated = send(
                app,
                Method::POST,
                "/api/v1/admin/signing-keys/rotate",
                Some(&admin),
                None,
            )
            .await;
            assert_eq!(rotated.status(), 200);
            let body: serde_json::Value = rotated.json().await.unwrap();
            kids.push(body["kid"].as_str().unwrap().to_owned());
        }
        assert_ne!(kids[0], kids[1]);
        assert_eq!(
            send(app, Method::GET, "/api/v1/me", Some(&before), None)
                .await
                .status(),
            200,
            "a token of the old key still works"
        );
        // The refresh token is untouched; what it gets is signed with the newest key.
        let refreshed: serde_json::Value = send(
            app,
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": pair["refresh_token"]})),
        )
        .await
        .json()
        .await
        .unwrap();
        let after = refreshed["access_token"].as_str().unwrap().to_owned();
        assert_eq!(kid_of(&after), kids[1]);
        assert_eq!(
            send(app, Method::GET, "/api/v1/me", Some(&after), None)
                .await
                .status(),
            200
        );

        // Another node, started before the rotation, learns the new key from the database.
        let master: String = app
            .db
            .fetch_one(
                "SELECT secret FROM signing_keys WHERE id = 'access-token'",
                marquee::params![],
            )
            .await
            .unwrap();
        let other = marquee::identity::tokens::TokenSigner::new(master.as_bytes(), 900);
        let now = marquee::clock::Clock::now(&app.clock);
        assert_eq!(
            other.verify(&after, now),
            Err(marquee::identity::tokens::TokenError::UnknownKey)
        );
        other.adopt(&marquee::identity::store::token_keys(&app.db).await.unwrap());
        assert!(other.verify(&after, now).is_ok());
        assert!(other.verify(&before, now).is_ok());
        assert_eq!(other.signing_kid(), kids[1]);

        // The rotations are in the audit log; only administrators rotate.
        let log = audit_log(
            app,
            &admin,
            "action=POST%20%2Fapi%2Fv1%2Fadmin%2Fsigning-keys%2Frotate",
        )
        .await;
        assert_eq!(log.len(), 2);
        assert_eq!(
            send(
                app,
                Method::POST,
                "/api/v1/admin/signing-keys/rotate",
                Some(&after),
                None
            )
            .await
            .status(),
            403
        );
    }
);

/// The Redis the shared limits use in tests (`MARQUEE_TEST_REDIS_URL`, else the local
/// one), or `None` (after `skip_unless_ci`) when it does not answer.
async fn test_redis() -> Option<String> {
    let url = std::env::var("MARQUEE_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let address = url.trim_start_matches("redis://").trim_end_matches('/');
    match tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect(address),
    )
    .await
    {
        Ok(Ok(_)) => Some(url),
        _ => {
            crate::helpers::skip_unless_ci(&format!("Redis at {url}"));
            None
        }
    }
}

/// Two nodes on one PostgreSQL; with `redis` their limits are shared.
async fn two_nodes(
    database: &ProcessDatabase,
    redis: Option<&str>,
) -> (ServeProcess, ServeProcess) {
    let prefix = format!("marquee-test-{}", ulid::Ulid::new());
    let mut options = ServeOptions::default()
        .env("MARQUEE_LIMITS__REGISTRATIONS_PER_CLIENT_PER_MINUTE", "3")
        .env("MARQUEE_AUTH__LOGIN_ATTEMPTS_PER_ACCOUNT_PER_MINUTE", "4")
        .env("MARQUEE_LIMITS__REDIS_PREFIX", &prefix);
    if let Some(redis) = redis {
        options = options.env("MARQUEE_REDIS_URL", redis);
    }
    let a = ServeProcess::start(&database.url, &options)
        .await
        .expect("node A");
    let b = ServeProcess::start(&database.url, &options)
        .await
        .expect("node B");
    (a, b)
}

/// Statuses of registrations and then of wrong-password logins for one account, sent
/// to the two nodes in turn.
async fn hammer(a: &ServeProcess, b: &ServeProcess, run: &str) -> (Vec<u16>, Vec<u16>) {
    let apis = [
        Api::new(&a.base, Duration::from_secs(30)),
        Api::new(&b.base, Duration::from_secs(30)),
    ];
    let mut registrations = Vec::new();
    for i in 0..6 {
        let account = json!({
            "email": format!("limit{i}-{run}@example.com"),
            "password": "correct horse battery staple",
            "display_name": "Limit"
        });
        let answer = apis[i % 2]
            .call(
                Method::POST,
                "/api/v1/auth/register",
                None,
                Some(&account),
                None,
            )
            .await
            .unwrap();
        registrations.push(answer.status.as_u16());
    }
    let mut logins = Vec::new();
    for i in 0..8 {
        let attempt = json!({"email": format!("limit0-{run}@example.com"), "password": "wrong"});
        let answer = apis[i % 2]
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(&attempt),
                None,
            )
            .await
            .unwrap();
        logins.push(answer.status.as_u16());
    }
    (registrations, logins)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_limits_hold_across_nodes_and_without_it_per_node() {
    let Some(redis) = test_redis().await else {
        return;
    };
    let _machine = crate::serve::exclusive().await;
    let Some(database) = ProcessDatabase::create(Engine::Postgres).await else {
        return;
    };
    let run = ulid::Ulid::new().to_string().to_lowercase();

    // Shared: three registrations and four login attempts from this address in all.
    let (a, b) = two_nodes(&database, Some(&redis)).await;
    let (registrations, logins) = hammer(&a, &b, &run).await;
    assert_eq!(registrations, [201, 201, 201, 429, 429, 429]);
    assert_eq!(logins, [401, 401, 401, 401, 429, 429, 429, 429]);
    drop((a, b));

    // Per node: each node allows its own three and four.
    let other = format!("{run}-alone");
    let (a, b) = two_nodes(&database, None).await;
    let (registrations, logins) = hammer(&a, &b, &other).await;
    assert_eq!(registrations, [201, 201, 201, 201, 201, 201]);
    assert_eq!(logins, [401, 401, 401, 401, 401, 401, 401, 401]);
}

/// A self-signed certificate for `marquee.test`, written next to its key; the PEM.
fn self_signed(dir: &std::path::Path) -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["marquee.test".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    cert.pem()
}

db_test_with!(
    the_server_terminates_tls_with_its_certificate_and_sends_hsts,
    |config| {
        let dir = std::env::temp_dir().join(format!("marquee-tls-{}", ulid::Ulid::new()));
        self_signed(&dir);
        config.http.tls_cert_path = Some(dir.join("cert.pem"));
        config.http.tls_key_path = Some(dir.join("key.pem"));
    },
    |app| {
        let http = &app.state.config.http;
        let pem = std::fs::read(http.tls_cert_path.as_ref().unwrap()).unwrap();
        let addr: std::net::SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();
        let trusting = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
            .resolve("marquee.test", addr)
            .build()
            .unwrap();
        let url = |path: &str| format!("https://marquee.test:{}{path}", addr.port());

        // HTTPS with the configured certificate; HSTS on by default under TLS.
        let health = trusting.get(url("/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200);
        assert_eq!(
            header(&health, "strict-transport-security").as_deref(),
            Some("max-age=31536000; includeSubDomains")
        );
        let registered = trusting
            .post(url("/api/v1/auth/register"))
            .json(&json!({
                "email": "tls@example.com",
                "password": "correct horse battery staple",
                "display_name": "Tls"
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(registered.status(), 201);

        // A client that does not trust the certificate gets nowhere; nor does plain HTTP.
        let untrusting = reqwest::Client::builder()
            .resolve("marquee.test", addr)
            .build()
            .unwrap();
        assert!(untrusting.get(url("/healthz")).send().await.is_err());
        let plain = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap()
            .get(format!("http://{addr}/healthz"))
            .send()
            .await;
        assert!(
            plain.is_err() || !plain.unwrap().status().is_success(),
            "plain HTTP is not served on the TLS port"
        );
        // The server goes on serving after those.
        let again = trusting.get(url("/healthz")).send().await.unwrap();
        assert_eq!(again.status(), 200);
    }
);

/// What an attacker types into text fields: SQL, markup, a NUL-free mix of quotes.
const HOSTILE: &str = "Bo'); DROP TABLE users;-- <script>alert(1)</script> %_\\";

db_test_with!(
    hostile_text_is_stored_and_returned_verbatim_and_runs_nowhere,
    |_config| {},
    |app| {
        let f = crate::fixtures::load(app).await;
        // A customer's name.
        let registered = send(
            app,
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(
                json!({"email": "robert@example.com", "password": "correct horse battery staple",
                        "display_name": HOSTILE}),
            ),
        )
        .await;
        assert_eq!(registered.status(), 201);
        let token =
            crate::booking::login_with(app, "robert@example.com", "correct horse battery staple")
                .await;
        let me: serde_json::Value = send(app, Method::GET, "/api/v1/me", Some(&token), None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(me["display_name"], HOSTILE);

        // A partner's theatre name and address (an idempotent create).
        let partner = crate::booking::owning_partner(app, "owner@example.com").await;
        let theatre = app
            .client
            .post(app.url("/api/v1/partner/theatres"))
            .bearer_auth(&partner)
            .header("Idempotency-Key", "hostile-theatre")
            .json(&json!({"city_id": f.testpur.as_str(), "name": HOSTILE, "address": HOSTILE}))
            .send()
            .await
            .unwrap();
        assert_eq!(theatre.status(), 201);
        let theatre: serde_json::Value = theatre.json().await.unwrap();
        assert_eq!(theatre["name"], HOSTILE);
        assert_eq!(theatre["address"], HOSTILE);

        // A screen's name, a movie's title, synopsis and localized title (administrators),
        // an organisation's name (partner sign-up).
        let screen = app
            .client
            .post(app.url(&format!(
                "/api/v1/partner/theatres/{}/screens",
                theatre["id"].as_str().unwrap()
            )))
            .bearer_auth(&partner)
            .header("Idempotency-Key", "hostile-screen")
            .json(&json!({"name": HOSTILE,
                          "rows": [{"label": "A", "category": "regular", "blocks": [2]}]}))
            .send()
            .await
            .unwrap();
        let status = screen.status();
        let screen: serde_json::Value = screen.json().await.unwrap();
        assert_eq!(status, 201, "{screen}");
        assert_eq!(screen["name"], HOSTILE);
        let admin = crate::offers::admin(app).await;
        let movie = app
            .client
            .post(app.url("/api/v1/admin/movies"))
            .bearer_auth(&admin)
            .header("Idempotency-Key", "hostile-movie")
            .json(&json!({
                "title": HOSTILE, "original_language": "en", "synopsis": HOSTILE,
                "duration_minutes": 100, "certification": "U", "release_date": "2026-12-04",
                "genres": ["drama"], "languages": ["en"],
                "localizations": [{"locale": "hi", "title": HOSTILE, "synopsis": HOSTILE}]
            }))
            .send()
            .await
            .unwrap();
        let status = movie.status();
        let movie: serde_json::Value = movie.json().await.unwrap();
        assert_eq!(status, 201, "{movie}");
        let shown = app
            .get_ok(&format!("/api/v1/movies/{}", movie["id"].as_str().unwrap()))
            .await;
        assert_eq!(shown["title"], HOSTILE);
        assert_eq!(shown["synopsis"], HOSTILE);
        let org = send(
            app,
            Method::POST,
            "/api/v1/partner/signup",
            None,
            Some(
                json!({"organisation_name": HOSTILE, "email": "org@example.com",
                        "password": "correct horse battery staple", "display_name": HOSTILE}),
            ),
        )
        .await;
        assert_eq!(org.status(), 201);
        let org: serde_json::Value = org.json().await.unwrap();
        assert_eq!(org["display_name"], HOSTILE);
        assert_eq!(org["organisation"]["name"], HOSTILE, "{org}");

        // Queries take it as text: the search finds exactly the movie with that title, a
        // filter finds nothing, and every table is still there.
        let search = app
            .get_ok(&format!("/api/v1/search?q={}", urlencode(HOSTILE)))
            .await;
        let found: Vec<&str> = search["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        assert_eq!(found, [movie["id"].as_str().unwrap()], "{search}");
        let cities = send(
            app,
            Method::GET,
            &format!("/api/v1/cities?country={}", urlencode(HOSTILE)),
            None,
            None,
        )
        .await;
        assert!(cities.status().is_client_error() || cities.status() == 200);
        if cities.status() == 200 {
            let page: serde_json::Value = cities.json().await.unwrap();
            assert_eq!(page["items"], json!([]));
        }
        let users: i64 = app
            .db
            .fetch_one("SELECT COUNT(*) FROM users", marquee::params![])
            .await
            .unwrap();
        assert!(users >= 2);
        let theatres = send(
            app,
            Method::GET,
            &format!("/api/v1/cities/{}/theatres", f.testpur),
            None,
            None,
        )
        .await;
        let listed: serde_json::Value = theatres.json().await.unwrap();
        assert!(
            listed["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["name"] == HOSTILE),
            "the public list shows it as data: {listed}"
        );
    }
);

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

db_test_with!(
    waitlist_joins_and_partner_writes_are_rate_limited,
    |config| {
        config.limits.waitlist_joins_per_account_per_minute = 2;
        config.limits.partner_writes_per_org_per_minute = 3;
    },
    |app| {
        let f = crate::fixtures::load(app).await;
        let ana = customer(app, "waitlister@example.com").await;
        let join = format!("/api/v1/shows/{}/waitlist", f.noon);
        let mut statuses = Vec::new();
        for _ in 0..3 {
            let answer = send(
                app,
                Method::POST,
                &join,
                Some(&ana),
                Some(json!({"seats_wanted": 1})),
            )
            .await;
            statuses.push(answer.status().as_u16());
        }
        // Seats are free, so the first two are refused on their merits; the third is not
        // even looked at.
        assert_eq!(statuses, [409, 409, 429]);

        let partner = crate::booking::owning_partner(app, "owner@example.com").await;
        let stranger = crate::booking::other_partner(app, "sam@example.com").await;
        let room = format!("/api/v1/partner/shows/{}/waiting-room", f.day3);
        let body = json!({"on_sale_at": "2026-11-22T05:00:00Z"});
        let mut statuses = Vec::new();
        for _ in 0..4 {
            let answer = send(app, Method::PUT, &room, Some(&partner), Some(body.clone())).await;
            statuses.push(answer.status().as_u16());
        }
        assert_eq!(statuses, [200, 200, 200, 429]);
        let limited = send(app, Method::PUT, &room, Some(&partner), Some(body.clone())).await;
        assert!(header(&limited, "retry-after").is_some());
        // Reads go on; another organisation has its own budget.
        assert_eq!(
            send(
                app,
                Method::GET,
                "/api/v1/partner/theatres",
                Some(&partner),
                None
            )
            .await
            .status(),
            200
        );
        assert_eq!(
            send(app, Method::PUT, &room, Some(&stranger), Some(body))
                .await
                .status(),
            404
        );
    }
);

db_test_with!(
    ticket_keys_rotate_and_every_ticket_sold_before_still_admits,
    |_config| {},
    |app| {
        let f = crate::fixtures::load(app).await;
        let admin = crate::offers::admin(app).await;
        let partner = crate::booking::owning_partner(app, "owner@example.com").await;
        let ana = customer(app, "tickets@example.com").await;
        let code_of = |booking: serde_json::Value| {
            let token = ana.clone();
            async move {
                let id = booking["id"].as_str().unwrap().to_owned();
                let ticket: serde_json::Value = send(
                    app,
                    Method::GET,
                    &format!("/api/v1/bookings/{id}/ticket"),
                    Some(&token),
                    None,
                )
                .await
                .json()
                .await
                .unwrap();
                ticket["code"].as_str().unwrap().to_owned()
            }
        };
        let before = code_of(crate::booking::confirmed(app, &ana, &f.noon, &["A1"]).await).await;
        assert!(before.starts_with("MQ1."));
        let rotated = send(
            app,
            Method::POST,
            "/api/v1/admin/ticket-keys/rotate",
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(rotated.status(), 200);
        let kid = rotated.json::<serde_json::Value>().await.unwrap()["kid"]
            .as_str()
            .unwrap()
            .to_owned();
        let after = code_of(crate::booking::confirmed(app, &ana, &f.noon, &["A2"]).await).await;
        assert!(after.starts_with(&format!("MQ2.{kid}.")), "{after}");
        for code in [&before, &after] {
            let verified: serde_json::Value = send(
                app,
                Method::POST,
                "/api/v1/tickets/verify",
                Some(&partner),
                Some(json!({"code": code})),
            )
            .await
            .json()
            .await
            .unwrap();
            assert_eq!(verified["valid"], true, "{code}: {verified}");
        }
        // A code with its key's name changed is no ticket.
        let forged = after.replacen(&kid, "tforged", 1);
        let refused = send(
            app,
            Method::POST,
            "/api/v1/tickets/verify",
            Some(&partner),
            Some(json!({"code": forged})),
        )
        .await;
        assert_eq!(refused.status(), 422);
        assert_eq!(
            send(
                app,
                Method::POST,
                "/api/v1/admin/ticket-keys/rotate",
                Some(&partner),
                None
            )
            .await
            .status(),
            403
        );
    }
);

/// Path parameters the ownership test does not fill, and why.
const NOT_FILLED: [(&str, &str); 4] = [
    (
        "external_id",
        "sync routes: a theatre's own ids, namespaced per organisation",
    ),
    (
        "theatre_external_id",
        "sync routes: a theatre's own ids, namespaced per organisation",
    ),
    (
        "delivery_id",
        "webhook_deliveries.rs checks another organisation's deliveries",
    ),
    (
        "settlement_id",
        "settlement.rs checks another organisation's statements",
    ),
];

db_test!(every_route_with_an_owners_id_refuses_everyone_else, |app| {
    let f = crate::fixtures::load(app).await;
    let owner = crate::booking::owning_partner(app, "owner@example.com").await;
    let stranger = crate::booking::other_partner(app, "sam@example.com").await;
    let ana = customer(app, "ana@example.com").await;
    let ben = customer(app, "ben@example.com").await;

    // What the owners have: a paid booking, a waitlist entry, a webhook endpoint, an
    // API key (and the fixtures' theatres, screens and shows).
    let booking = crate::booking::confirmed(app, &ana, &f.noon, &["A1"]).await;
    let booking_id = booking["id"].as_str().unwrap().to_owned();
    let filler = customer(app, "filler@example.com").await;
    let map = crate::booking::seat_map(app, &f.evening).await;
    let all: Vec<String> = map["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap().to_owned())
        .collect();
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    for chunk in all.chunks(4) {
        crate::booking::hold_ok(app, &filler, &f.evening, chunk).await;
    }
    let entry =
        crate::waitlist::join(app, &ana, f.evening.as_str(), json!({"seats_wanted": 1})).await;
    assert_eq!(entry.status(), 201);
    let entry_id = entry.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let endpoint: serde_json::Value = send(
        app,
        Method::POST,
        "/api/v1/partner/webhook-endpoints",
        Some(&owner),
        Some(json!({"url": "https://tms.example.com/hooks", "event_types": ["show.changed"]})),
    )
    .await
    .json()
    .await
    .unwrap();
    let endpoint_id = endpoint["id"].as_str().unwrap().to_owned();
    let key = app
        .client
        .post(app.url("/api/v1/partner/api-keys"))
        .bearer_auth(&owner)
        .header("Idempotency-Key", "owners-key")
        .json(&json!({"name": "box office"}))
        .send()
        .await
        .unwrap();
    assert_eq!(key.status(), 201);
    let rule = app
        .client
        .post(app.url("/api/v1/partner/price-rules"))
        .bearer_auth(&owner)
        .json(&json!({"name": "weekend", "rule": {"kind": "day_of_week", "days": ["sat"], "percent_bp": 1000}}))
        .send()
        .await
        .unwrap();
    assert_eq!(rule.status(), 201);
    let rule_id = rule.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key_id = key.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let screen_id = marquee::ids::ScreenId::derived(f.aurora.as_str()).to_string();
    let filled: std::collections::HashMap<&str, String> = [
        ("show_id", f.day3.to_string()),
        ("theatre_id", f.aurora.to_string()),
        ("screen_id", screen_id),
        ("movie_id", f.alpha.to_string()),
        ("booking_id", booking_id.clone()),
        ("entry_id", entry_id.clone()),
        ("endpoint_id", endpoint_id.clone()),
        ("key_id", key_id.clone()),
        ("rule_id", rule_id.clone()),
        ("external_sale_id", "owners-sale".to_owned()),
    ]
    .into_iter()
    .collect();

    // Every partner route and every customer route naming someone's resource, called
    // by another partner or another customer: never a success, never a 500.
    let doc = app.get_ok("/openapi.json").await;
    let mut checked = Vec::new();
    let mut wrong = Vec::new();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        let partner_route = path.starts_with("/api/v1/partner/") && !path.contains("/sync/");
        let customer_route = path.starts_with("/api/v1/bookings/{booking_id}")
            || path.starts_with("/api/v1/waitlist/{entry_id}");
        if !(partner_route || customer_route) || !path.contains('{') {
            continue;
        }
        let mut concrete = path.clone();
        let mut complete = true;
        for segment in path.split('/').filter(|s| s.starts_with('{')) {
            let name = segment.trim_matches(['{', '}']);
            match filled.get(name) {
                Some(id) => concrete = concrete.replace(segment, id),
                None => {
                    assert!(
                        NOT_FILLED.iter().any(|(n, _)| *n == name),
                        "{path}: fill {{{name}}} with an owner's id or say why not"
                    );
                    complete = false;
                }
            }
        }
        if !complete {
            continue;
        }
        let caller = if partner_route { &stranger } else { &ben };
        for method in operations.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = (method != Method::GET && method != Method::DELETE).then(|| json!({}));
            let answer = send(app, method.clone(), &concrete, Some(caller), body).await;
            let status = answer.status().as_u16();
            checked.push(format!("{method} {path}"));
            if !(400..500).contains(&status) {
                wrong.push(format!("{method} {concrete}: {status}"));
            }
        }
    }
    assert_eq!(wrong, Vec::<String>::new(), "another owner got through");
    assert!(
        checked.len() >= 24,
        "only {} operations: {checked:?}",
        checked.len()
    );

    // And nothing of the owners' changed.
    let show = app.get_ok(&format!("/api/v1/shows/{}", f.day3)).await;
    assert_eq!(show["status"], "scheduled");
    assert_eq!(show["waiting_room"], serde_json::Value::Null);
    let mine = send(
        app,
        Method::GET,
        &format!("/api/v1/bookings/{booking_id}"),
        Some(&ana),
        None,
    )
    .await
    .json::<serde_json::Value>()
    .await
    .unwrap();
    assert_eq!(mine["status"], "confirmed");
    let entry = crate::waitlist::entry(app, &ana, &entry_id).await;
    assert_eq!(entry["status"], "waiting");
    let endpoints: serde_json::Value = send(
        app,
        Method::GET,
        "/api/v1/partner/webhook-endpoints",
        Some(&owner),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(endpoints[0]["status"], "enabled");
    let keys: serde_json::Value = send(
        app,
        Method::GET,
        "/api/v1/partner/api-keys",
        Some(&owner),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(keys.to_string().contains(&key_id));
});
