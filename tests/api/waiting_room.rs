//! The waiting room over the API, on both engines: the pre-queue ordered by a seed whose
//! hash was published first (recomputed here independently), later arrivals in order,
//! admission in position order with tokens that holds require, estimates that never go
//! up, a per-account seat cap, and the queue ending when the show sells out.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    booking::{customer, hold, owning_partner},
    db_test_with, fixtures,
    helpers::{TestApp, assert_problem, send},
};

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

async fn ok(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
    want: StatusCode,
) -> Value {
    let response = send(app, method, path, token, body).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, want, "{path}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// The documented shuffle, written again here from `docs/waiting-room.md`.
fn recompute(seed_hex: &str, ids: &[String]) -> Vec<String> {
    let seed = hex::decode(seed_hex).unwrap();
    let mut order = ids.to_vec();
    order.sort();
    for i in (1..order.len()).rev() {
        let mut hasher = Sha256::new();
        hasher.update(&seed);
        hasher.update((i as u64).to_be_bytes());
        let digest = hasher.finalize();
        let j = u64::from_be_bytes(digest[..8].try_into().unwrap()) % (i as u64 + 1);
        order.swap(i, j as usize);
    }
    order
}

async fn hold_with(
    app: &TestApp,
    token: &str,
    show: &str,
    seats: &[&str],
    admission: Option<&str>,
) -> reqwest::Response {
    let mut body = json!({"show_id": show, "seats": seats});
    if let Some(admission) = admission {
        body["admission_token"] = json!(admission);
    }
    send(
        app,
        Method::POST,
        "/api/v1/bookings",
        Some(token),
        Some(body),
    )
    .await
}

/// Gives `show` a room on sale at 03:40 with two seats per account and moves the clock
/// there; returns the room's entries path.
async fn open_room_capped_at_two(app: &TestApp, show: &str) -> String {
    let partner = owning_partner(app, "owner@example.com").await;
    ok(
        app,
        Method::PUT,
        &format!("/api/v1/partner/shows/{show}/waiting-room"),
        Some(&partner),
        Some(json!({"on_sale_at": "2026-11-22T03:40:00Z", "seats_per_account": 2})),
        StatusCode::OK,
    )
    .await;
    app.clock.set(utc("2026-11-22T03:40:00Z"));
    format!("/api/v1/shows/{show}/waiting-room/entries")
}

fn quick_admission(config: &mut marquee::config::Config) {
    config.waiting_room.tick_ms = 20;
    config.waiting_room.initial_window = 2;
    config.waiting_room.max_window = 2;
}

db_test_with!(
    the_pre_queue_is_shuffled_by_the_committed_seed_then_arrivals_queue_in_order,
    |config| {
        config.waiting_room.tick_ms = 0;
        config.limits.registrations_per_client_per_minute = 1_000;
        config.auth.login_attempts_per_client_per_minute = 1_000;
    },
    |app| {
        let f = fixtures::load(app).await;
        let show = f.day3.to_string();
        let partner = owning_partner(app, "owner@example.com").await;
        let room_path = format!("/api/v1/partner/shows/{show}/waiting-room");
        let room = ok(
            app,
            Method::PUT,
            &room_path,
            Some(&partner),
            Some(json!({"on_sale_at": "2026-11-22T03:40:00Z", "seats_per_account": 2})),
            StatusCode::OK,
        )
        .await;
        assert_eq!(room["status"], "waiting");
        assert_eq!(room["seed"], Value::Null, "secret until the on-sale");
        let hash = room["seed_hash"].as_str().unwrap().to_owned();
        assert_eq!(hash.len(), 64);

        let entries = format!("/api/v1/shows/{show}/waiting-room/entries");
        let mut early = Vec::new();
        for i in 0..12 {
            let token = customer(app, &format!("early{i}@example.com")).await;
            let entry = ok(
                app,
                Method::POST,
                &entries,
                Some(&token),
                None,
                StatusCode::CREATED,
            )
            .await;
            assert_eq!(entry["state"], "pre-queue");
            assert_eq!(entry["position"], Value::Null);
            assert_eq!(entry["estimated_wait_secs"], 600, "until the on-sale");
            early.push((token, entry["id"].as_str().unwrap().to_owned()));
        }
        let again = ok(
            app,
            Method::POST,
            &entries,
            Some(&early[0].0),
            None,
            StatusCode::OK,
        )
        .await;
        assert_eq!(again["id"], early[0].1.as_str(), "one entry per account");
        // Nobody holds before the on-sale, and the audit is not out yet.
        assert_problem(
            hold_with(app, &early[0].0, &show, &["A1"], None).await,
            403,
            "admission-required",
        )
        .await;
        assert_problem(
            send(
                app,
                Method::GET,
                &format!("/api/v1/shows/{show}/waiting-room/audit"),
                None,
                None,
            )
            .await,
            409,
            "waiting-room-not-open",
        )
        .await;

        // The on-sale: later arrivals take the next positions, in order.
        app.clock.set(utc("2026-11-22T03:41:00Z"));
        let mut late = Vec::new();
        for i in 0..3 {
            let token = customer(app, &format!("late{i}@example.com")).await;
            let entry = ok(
                app,
                Method::POST,
                &entries,
                Some(&token),
                None,
                StatusCode::CREATED,
            )
            .await;
            assert_eq!(entry["state"], "waiting");
            assert_eq!(entry["position"], 13 + i);
            late.push(entry["id"].as_str().unwrap().to_owned());
        }
        let room = ok(
            app,
            Method::GET,
            &format!("/api/v1/shows/{show}/waiting-room"),
            None,
            None,
            StatusCode::OK,
        )
        .await;
        let seed = room["seed"].as_str().unwrap().to_owned();
        assert_eq!(
            hex::encode(Sha256::digest(hex::decode(&seed).unwrap())),
            hash,
            "the seed is the one committed to"
        );
        assert_eq!(room["entries"], 15);

        let audit = ok(
            app,
            Method::GET,
            &format!("/api/v1/shows/{show}/waiting-room/audit"),
            None,
            None,
            StatusCode::OK,
        )
        .await;
        let listed = |key: &str| -> Vec<String> {
            audit[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect()
        };
        let mut early_ids: Vec<String> = early.iter().map(|(_, id)| id.clone()).collect();
        early_ids.sort();
        assert_eq!(listed("pre_queue"), early_ids);
        let mut expected = recompute(&seed, &early_ids);
        expected.extend(late.clone());
        assert_eq!(
            listed("order"),
            expected,
            "the shuffle, then arrivals in order"
        );
        // Each customer's own view agrees.
        for (token, id) in &early {
            let me = ok(
                app,
                Method::GET,
                &format!("{entries}/me"),
                Some(token),
                None,
                StatusCode::OK,
            )
            .await;
            let position = expected.iter().position(|e| e == id).unwrap() as i64 + 1;
            assert_eq!(me["position"], position);
        }
        // The room cannot move once open.
        let (status, _) = {
            let r = send(
                app,
                Method::PUT,
                &room_path,
                Some(&partner),
                Some(json!({"on_sale_at": "2026-11-22T05:00:00Z"})),
            )
            .await;
            (r.status(), r.text().await.unwrap())
        };
        assert_eq!(status, StatusCode::CONFLICT);
    }
);

db_test_with!(
    admission_goes_in_position_order_and_holds_need_the_token,
    |config| {
        quick_admission(config);
    },
    |app| {
        let f = fixtures::load(app).await;
        let show = f.day3.to_string();
        let entries = open_room_capped_at_two(app, &show).await;
        let mut buyers = Vec::new();
        for i in 0..6 {
            let token = customer(app, &format!("buyer{i}@example.com")).await;
            ok(
                app,
                Method::POST,
                &entries,
                Some(&token),
                None,
                StatusCode::CREATED,
            )
            .await;
            buyers.push(token);
        }
        // Two deciding at once: the first two are admitted, the rest wait.
        let mine = format!("{entries}/me");
        let me = |i: usize| {
            ok(
                app,
                Method::GET,
                &mine,
                Some(&buyers[i]),
                None,
                StatusCode::OK,
            )
        };
        let mut first = me(0).await;
        for _ in 0..100 {
            if first["state"] == "admitted" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            first = me(0).await;
        }
        assert_eq!(first["state"], "admitted");
        assert!(first["admitted_at"].is_string(), "{first}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let states: Vec<String> = futures::future::join_all((0..6).map(me))
            .await
            .iter()
            .map(|e| e["state"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            states,
            [
                "admitted", "admitted", "waiting", "waiting", "waiting", "waiting"
            ]
        );
        let token0 = first["admission_token"].as_str().unwrap().to_owned();

        // Holds need the buyer's own token; the room caps seats per account.
        assert_problem(
            hold_with(app, &buyers[0], &show, &["A1"], None).await,
            403,
            "admission-required",
        )
        .await;
        assert_problem(
            hold_with(app, &buyers[2], &show, &["A1"], Some(&token0)).await,
            403,
            "admission-required",
        )
        .await;
        assert_problem(
            hold_with(app, &buyers[0], &show, &["A1"], Some("garbage")).await,
            403,
            "admission-required",
        )
        .await;
        assert_problem(
            hold_with(app, &buyers[0], &show, &["A1", "A2", "A3"], Some(&token0)).await,
            409,
            "seat-cap-reached",
        )
        .await;
        let held = hold_with(app, &buyers[0], &show, &["A1", "A2"], Some(&token0)).await;
        assert_eq!(held.status(), StatusCode::CREATED);
        assert_problem(
            hold_with(app, &buyers[0], &show, &["A3"], Some(&token0)).await,
            409,
            "seat-cap-reached",
        )
        .await;
        // A show without a room needs no token.
        assert_eq!(
            hold(app, &buyers[5], &f.noon, &["A1"]).await.status(),
            StatusCode::CREATED
        );

        // Buyer 0 has decided: the third is admitted in turn. Estimates never go up.
        let mut estimates = Vec::new();
        for step in 0..60 {
            let waiting = me(5).await;
            if let Some(wait) = waiting["estimated_wait_secs"].as_i64() {
                estimates.push(wait);
            }
            if step % 10 == 0 {
                app.clock.advance(chrono::Duration::seconds(1));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(estimates.windows(2).all(|w| w[1] <= w[0]), "{estimates:?}");
        let third = me(2).await;
        assert_eq!(third["state"], "admitted");
        assert_eq!(me(3).await["state"], "waiting");
    }
);

db_test_with!(
    a_sold_out_show_ends_its_queue,
    |config| {
        quick_admission(config);
    },
    |app| {
        let f = fixtures::load(app).await;
        let show = f.day3.to_string();
        let partner = owning_partner(app, "owner@example.com").await;
        ok(
            app,
            Method::PUT,
            &format!("/api/v1/partner/shows/{show}/waiting-room"),
            Some(&partner),
            Some(json!({"on_sale_at": "2026-11-22T03:40:00Z"})),
            StatusCode::OK,
        )
        .await;
        let entries = format!("/api/v1/shows/{show}/waiting-room/entries");
        let ana = customer(app, "ana@example.com").await;
        ok(
            app,
            Method::POST,
            &entries,
            Some(&ana),
            None,
            StatusCode::CREATED,
        )
        .await;
        // Every seat goes (to the box office, say) before the on-sale.
        for seat in ["A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4", "C1", "C2"] {
            fixtures::set_seat(app, &f.day3, seat, "booked", None).await;
        }
        app.clock.set(utc("2026-11-22T03:41:00Z"));
        let mut room = Value::Null;
        for _ in 0..100 {
            room = ok(
                app,
                Method::GET,
                &format!("/api/v1/shows/{show}/waiting-room"),
                None,
                None,
                StatusCode::OK,
            )
            .await;
            if room["status"] == "sold-out" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(room["status"], "sold-out");
        assert_eq!(room["admitted_through"], 0);
        let mine = ok(
            app,
            Method::GET,
            &format!("{entries}/me"),
            Some(&ana),
            None,
            StatusCode::OK,
        )
        .await;
        assert_eq!(mine["state"], "sold-out");
        let bob = customer(app, "bob@example.com").await;
        assert_problem(
            send(app, Method::POST, &entries, Some(&bob), None).await,
            409,
            "sold-out",
        )
        .await;
    }
);

db_test_with!(
    a_long_poll_answers_as_soon_as_the_room_admits_its_customer,
    |config| {
        quick_admission(config);
        config.waiting_room.initial_window = 1;
        config.waiting_room.max_window = 1;
    },
    |app| {
        let f = fixtures::load(app).await;
        let show = f.day3.to_string();
        let entries = open_room_capped_at_two(app, &show).await;
        let first = customer(app, "first@example.com").await;
        let second = customer(app, "second@example.com").await;
        for token in [&first, &second] {
            ok(
                app,
                Method::POST,
                &entries,
                Some(token),
                None,
                StatusCode::CREATED,
            )
            .await;
        }
        let long_poll = format!("{entries}/me?wait_ms=10000");
        let admitted = ok(
            app,
            Method::GET,
            &long_poll,
            Some(&first),
            None,
            StatusCode::OK,
        )
        .await;
        assert_eq!(admitted["state"], "admitted", "{admitted}");

        // One deciding at a time: the second waits, its long poll open, until the first
        // holds; then it is answered at once, well before its 10 s are up.
        let waiting = {
            let request = app.client.get(app.url(&long_poll)).bearer_auth(&second);
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                let response = request.send().await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                let entry: Value = response.json().await.unwrap();
                (entry, started.elapsed())
            })
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!waiting.is_finished(), "answered before anything moved");
        let hold = json!({"show_id": show, "best_available": {"count": 2},
                          "admission_token": admitted["admission_token"]});
        ok(
            app,
            Method::POST,
            "/api/v1/bookings",
            Some(&first),
            Some(hold),
            StatusCode::CREATED,
        )
        .await;
        let (entry, took) = waiting.await.unwrap();
        assert_eq!(entry["state"], "admitted", "{entry}");
        assert!(took < Duration::from_secs(8), "answered after {took:?}");

        assert_problem(
            send(
                app,
                Method::GET,
                &format!("{entries}/me?wait_ms=10001"),
                Some(&second),
                None,
            )
            .await,
            400,
            "invalid-request",
        )
        .await;
    }
);

db_test_with!(
    every_show_of_a_movie_in_a_city_gets_a_room_of_its_own_in_one_step,
    |config| {
        config.waiting_room.tick_ms = 0;
    },
    |app| {
        let f = fixtures::load(app).await;
        let partner = owning_partner(app, "owner@example.com").await;
        let stranger = crate::booking::other_partner(app, "sam@example.com").await;
        let admin = crate::offers::admin(app).await;
        let path = format!("/api/v1/partner/movies/{}/waiting-rooms", f.alpha);
        let body = |on_sale: &str| json!({"city_id": f.testpur.as_str(), "on_sale_at": on_sale, "seats_per_account": 4});

        let set = ok(
            app,
            Method::PUT,
            &path,
            Some(&partner),
            Some(body("2026-11-22T03:35:00Z")),
            StatusCode::OK,
        )
        .await;
        // Alpha in Testpur: the show that started at 02:30 is left out; the others by start.
        let shows: Vec<&str> = set["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|room| room["show_id"].as_str().unwrap())
            .collect();
        assert_eq!(
            shows,
            [f.noon.as_str(), f.evening.as_str(), f.day3.as_str()]
        );
        assert_eq!(set["already_open"], json!([]));
        let hashes: std::collections::HashSet<&str> = set["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|room| room["seed_hash"].as_str().unwrap())
            .collect();
        assert_eq!(hashes.len(), 3, "a seed per show: {set}");
        for room in set["rooms"].as_array().unwrap() {
            assert_eq!(room["status"], "waiting");
            assert_eq!(room["seats_per_account"], 4);
            assert_eq!(
                utc(room["on_sale_at"].as_str().unwrap()),
                utc("2026-11-22T03:35:00Z")
            );
        }

        // The show's page says sales go through the room; a show without one says nothing.
        let detail = ok(
            app,
            Method::GET,
            &format!("/api/v1/shows/{}", f.evening),
            None,
            None,
            StatusCode::OK,
        )
        .await;
        assert_eq!(
            utc(detail["waiting_room"]["on_sale_at"].as_str().unwrap()),
            utc("2026-11-22T03:35:00Z")
        );
        assert_eq!(
            detail["waiting_room"]["on_sale_at_local"],
            "2026-11-22T09:05:00+05:30"
        );
        assert_eq!(detail["waiting_room"]["seats_per_account"], 4);
        let other = ok(
            app,
            Method::GET,
            &format!("/api/v1/shows/{}", f.late),
            None,
            None,
            StatusCode::OK,
        )
        .await;
        assert_eq!(other["waiting_room"], Value::Null);
        let buyer = customer(app, "buyer@example.com").await;
        assert_problem(
            hold(app, &buyer, &f.evening, &["A1"]).await,
            403,
            "admission-required",
        )
        .await;
        assert_eq!(
            hold(app, &buyer, &f.late, &["A1"]).await.status(),
            201,
            "no room, no queue"
        );

        // Another organisation has no such shows; nor has the movie in another city.
        assert_problem(
            send(
                app,
                Method::PUT,
                &path,
                Some(&stranger),
                Some(body("2026-11-22T03:35:00Z")),
            )
            .await,
            404,
            "not-found",
        )
        .await;
        let admin_path = format!("/api/v1/admin/movies/{}/waiting-rooms", f.alpha);
        assert_problem(
            send(
                app,
                Method::PUT,
                &admin_path,
                Some(&admin),
                Some(
                    json!({"city_id": f.westville.as_str(), "on_sale_at": "2026-11-22T03:35:00Z"}),
                ),
            )
            .await,
            404,
            "not-found",
        )
        .await;
        assert_problem(
            send(
                app,
                Method::PUT,
                &path,
                Some(&partner),
                Some(body("2026-11-22T03:00:00Z")),
            )
            .await,
            400,
            "invalid-request",
        )
        .await;
        assert_eq!(
            send(
                app,
                Method::PUT,
                &admin_path,
                Some(&partner),
                Some(body("2026-11-22T03:35:00Z"))
            )
            .await
            .status(),
            403,
            "administrators only"
        );

        // One show's room moved later on its own; past the on-sale the others open, and
        // setting the movie again moves the one not yet open (its published seed stays)
        // and leaves the open ones alone.
        ok(
            app,
            Method::PUT,
            &format!("/api/v1/partner/shows/{}/waiting-room", f.evening),
            Some(&partner),
            Some(json!({"on_sale_at": "2026-11-22T03:45:00Z", "seats_per_account": 4})),
            StatusCode::OK,
        )
        .await;
        app.clock.set(utc("2026-11-22T03:35:01Z"));
        let noon = ok(
            app,
            Method::GET,
            &format!("/api/v1/shows/{}/waiting-room", f.noon),
            None,
            None,
            StatusCode::OK,
        )
        .await;
        assert_eq!(noon["status"], "selling");
        let again = ok(
            app,
            Method::PUT,
            &admin_path,
            Some(&admin),
            Some(body("2026-11-22T03:50:00Z")),
            StatusCode::OK,
        )
        .await;
        assert_eq!(
            again["already_open"],
            json!([f.noon.as_str(), f.day3.as_str()])
        );
        let moved: Vec<(&str, &str)> = again["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|room| {
                (
                    room["show_id"].as_str().unwrap(),
                    room["seed_hash"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            moved,
            [(
                f.evening.as_str(),
                set["rooms"][1]["seed_hash"].as_str().unwrap()
            )]
        );
        for room in again["rooms"].as_array().unwrap() {
            assert_eq!(
                utc(room["on_sale_at"].as_str().unwrap()),
                utc("2026-11-22T03:50:00Z")
            );
        }
        let detail = ok(
            app,
            Method::GET,
            &format!("/api/v1/shows/{}", f.evening),
            None,
            None,
            StatusCode::OK,
        )
        .await;
        assert_eq!(
            utc(detail["waiting_room"]["on_sale_at"].as_str().unwrap()),
            utc("2026-11-22T03:50:00Z"),
            "the cached show detail is not stale"
        );
    }
);

db_test_with!(
    a_rush_of_joins_takes_consecutive_places_one_per_account,
    |config| {
        config.waiting_room.tick_ms = 0;
        config.limits.registrations_per_client_per_minute = 1_000;
        config.auth.login_attempts_per_client_per_minute = 1_000;
    },
    |app| {
        let f = fixtures::load(app).await;
        let show = f.day3.to_string();
        let partner = owning_partner(app, "owner@example.com").await;
        ok(
            app,
            Method::PUT,
            &format!("/api/v1/partner/shows/{show}/waiting-room"),
            Some(&partner),
            Some(json!({"on_sale_at": "2026-11-22T03:31:00Z"})),
            StatusCode::OK,
        )
        .await;
        let buyers = crate::booking::customers(app, 24).await;
        app.clock.set(utc("2026-11-22T03:31:01Z"));
        let room = ok(
            app,
            Method::GET,
            &format!("/api/v1/shows/{show}/waiting-room"),
            None,
            None,
            StatusCode::OK,
        )
        .await;
        assert_eq!(room["status"], "selling");

        // Everyone at once, the first eight twice over (a double click, a retry).
        let entries = format!("/api/v1/shows/{show}/waiting-room/entries");
        let requests: Vec<(String, Value)> = buyers
            .iter()
            .chain(&buyers[..8])
            .map(|(_, token)| (token.clone(), json!({})))
            .collect();
        let answers = crate::booking::race(app, &entries, requests).await;
        let created = answers.iter().filter(|(status, _)| *status == 201).count();
        let again = answers.iter().filter(|(status, _)| *status == 200).count();
        assert_eq!((created, again), (24, 8), "{answers:?}");

        // One entry per account, at the places 1…24: none skipped, none shared.
        let mut positions = Vec::new();
        for (_, token) in &buyers {
            let entry = ok(
                app,
                Method::GET,
                &format!("{entries}/me"),
                Some(token),
                None,
                StatusCode::OK,
            )
            .await;
            assert_eq!(entry["state"], "waiting");
            positions.push(entry["position"].as_i64().unwrap());
        }
        positions.sort_unstable();
        assert_eq!(positions, (1..=24).collect::<Vec<i64>>());
        let audit = ok(
            app,
            Method::GET,
            &format!("/api/v1/shows/{show}/waiting-room/audit"),
            None,
            None,
            StatusCode::OK,
        )
        .await;
        assert_eq!(audit["order"].as_array().unwrap().len(), 24);
    }
);

db_test_with!(
    a_script_firing_holds_at_once_stays_within_the_seat_cap,
    |config| {
        quick_admission(config);
    },
    |app| {
        let f = fixtures::load(app).await;
        let show = f.day3.to_string();
        let entries = open_room_capped_at_two(app, &show).await;
        let token = customer(app, "script@example.com").await;
        ok(
            app,
            Method::POST,
            &entries,
            Some(&token),
            None,
            StatusCode::CREATED,
        )
        .await;
        let mut entry = Value::Null;
        for _ in 0..200 {
            entry = ok(
                app,
                Method::GET,
                &format!("{entries}/me"),
                Some(&token),
                None,
                StatusCode::OK,
            )
            .await;
            if entry["state"] == "admitted" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(entry["state"], "admitted", "{entry}");
        let admission = entry["admission_token"].as_str().unwrap();

        // Eight holds of one seat each at once, with the one admission: two win.
        let requests: Vec<(String, Value)> = ["A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4"]
            .iter()
            .map(|seat| {
                (
                    token.clone(),
                    json!({"show_id": show, "seats": [seat], "admission_token": admission}),
                )
            })
            .collect();
        let answers = crate::booking::race(app, "/api/v1/bookings", requests).await;
        let won = answers.iter().filter(|(status, _)| *status == 201).count();
        let capped = answers
            .iter()
            .filter(|(status, body)| {
                *status == 409
                    && body["type"]
                        .as_str()
                        .unwrap()
                        .ends_with("/seat-cap-reached")
            })
            .count();
        assert_eq!((won, capped), (2, 6), "{answers:?}");
        let states = crate::booking::states(
            app,
            &f.day3,
            &["A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4"],
        )
        .await;
        let held = states
            .iter()
            .filter(|state| state.as_str() == "held")
            .count();
        assert_eq!(held, 2, "two seats held in all: {states:?}");
    }
);
