//! The first-come-first-served waitlist and the outbox behind it: freed seats go to the
//! earliest entry they satisfy (FCFS with skip) before any public hold can take them, an
//! unpaid waitlist hold lapses and its seats move on, and every change leaves exactly the
//! events it should (a refused change leaves none).

use marquee::integration::outbox;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    booking::{
        cancel, customer, get_booking, hold, hold_ok, id_of, owning_partner, pay_ok, seat_map,
        seat_state, wait_for_status,
    },
    db_test_with, fixtures,
    helpers::{TestApp, assert_problem, send},
};

pub(crate) async fn join(app: &TestApp, token: &str, show: &str, body: Value) -> reqwest::Response {
    send(
        app,
        Method::POST,
        &format!("/api/v1/shows/{show}/waitlist"),
        Some(token),
        Some(body),
    )
    .await
}

pub(crate) async fn entry(app: &TestApp, token: &str, id: &str) -> Value {
    let response = send(
        app,
        Method::GET,
        &format!("/api/v1/waitlist/{id}"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Event types in outbox order, and the entries `waitlist.offered` named, in order.
pub(crate) async fn events(app: &TestApp) -> (Vec<String>, Vec<String>) {
    let all = outbox::all(&app.state.db).await.unwrap();
    let offered = all
        .iter()
        .filter(|e| e.event_type == "waitlist.offered")
        .map(|e| {
            let payload: Value = serde_json::from_str(&e.payload).unwrap();
            payload["entry_id"].as_str().unwrap().to_owned()
        })
        .collect();
    (all.into_iter().map(|e| e.event_type).collect(), offered)
}

db_test_with!(
    freed_seats_go_to_the_earliest_entry_they_satisfy_before_the_public,
    |config| {
        // The test runs the sweeper itself; no dispatcher marking events published.
        config.booking.sweep_interval_ms = 0;
        config.events.dispatch_interval_ms = 0;
    },
    |app| {
        let f = fixtures::load(app).await;
        let show = f.noon.as_str();
        let map = seat_map(app, &f.noon).await;
        let mut labels: Vec<String> = map["seats"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["label"].as_str().unwrap().to_owned())
            .collect();
        labels.sort();
        let all: Vec<&str> = labels.iter().map(String::as_str).collect();
        assert_eq!(all.len(), 10, "{all:?}");

        // Sold out: one seat, two seats, and the rest (paid).
        let filler = customer(app, "filler@example.com").await;
        let one = id_of(&hold_ok(app, &filler, &f.noon, &all[..1]).await);
        let two = id_of(&hold_ok(app, &filler, &f.noon, &all[1..3]).await);
        let rest = id_of(&hold_ok(app, &filler, &f.noon, &all[3..]).await);
        pay_ok(app, &filler, &rest, "tok_visa").await;
        wait_for_status(app, &filler, &rest, "confirmed").await;

        // Four customers join in a known order.
        let mut tokens = Vec::new();
        let mut entries = Vec::new();
        for (email, wanted) in [
            ("ana@example.com", 2),
            ("ben@example.com", 1),
            ("cy@example.com", 1),
            ("dee@example.com", 3),
        ] {
            let token = customer(app, email).await;
            let response = join(app, &token, show, json!({"seats_wanted": wanted})).await;
            assert_eq!(response.status(), StatusCode::CREATED);
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["status"], "waiting");
            assert_eq!(body["position"], entries.len() as i64 + 1);
            entries.push(id_of(&body));
            tokens.push(token);
        }
        let (ana, ben, cy, dee) = (&tokens[0], &tokens[1], &tokens[2], &tokens[3]);
        // Joining twice is refused.
        let again = join(app, ben, show, json!({"seats_wanted": 1})).await;
        assert_problem(again, 409, "already-waiting").await;

        // One seat frees up: Ana (2) cannot be satisfied and keeps her place; Ben (1) can.
        assert_eq!(cancel(app, &filler, &one).await.status(), StatusCode::OK);
        let ben_entry = entry(app, ben, &entries[1]).await;
        assert_eq!(ben_entry["status"], "offered");
        assert_eq!(ben_entry["position"], Value::Null);
        let ben_booking = ben_entry["booking_id"].as_str().unwrap().to_owned();
        let held = get_booking(app, ben, &ben_booking).await;
        assert_eq!(held["status"], "pending_payment");
        assert_eq!(held["seats"], json!([all[0]]));
        assert_eq!(entry(app, ana, &entries[0]).await["position"], 1);
        assert_eq!(entry(app, cy, &entries[2]).await["position"], 2);
        assert_eq!(entry(app, dee, &entries[3]).await["position"], 3);
        // The public never saw that seat free.
        let public = customer(app, "eve@example.com").await;
        let refused = hold(app, &public, &f.noon, &all[..1]).await;
        assert_problem(refused, 409, "seat-unavailable").await;

        // Two seats free up together: Ana (first in line) gets both, adjacent.
        assert_eq!(cancel(app, &filler, &two).await.status(), StatusCode::OK);
        let ana_entry = entry(app, ana, &entries[0]).await;
        assert_eq!(ana_entry["status"], "offered");
        let ana_booking = ana_entry["booking_id"].as_str().unwrap().to_owned();
        assert_eq!(
            get_booking(app, ana, &ana_booking).await["seats"],
            json!([all[1], all[2]])
        );
        assert_eq!(entry(app, cy, &entries[2]).await["position"], 1);
        pay_ok(app, ana, &ana_booking, "tok_visa").await;
        wait_for_status(app, ana, &ana_booking, "confirmed").await;
        assert_eq!(entry(app, ana, &entries[0]).await["status"], "fulfilled");

        // Ben never pays. Past his expiry the public still cannot take the lapsed seat
        // while people wait; the sweeper hands it to Cy, the next entry it satisfies.
        app.clock.advance(chrono::Duration::seconds(301));
        let refused = hold(app, &public, &f.noon, &all[..1]).await;
        assert_problem(refused, 409, "seat-unavailable").await;
        marquee::booking::sweeper::sweep_once(&app.state)
            .await
            .unwrap();
        assert_eq!(entry(app, ben, &entries[1]).await["status"], "lapsed");
        assert_eq!(
            get_booking(app, ben, &ben_booking).await["status"],
            "expired"
        );
        let cy_entry = entry(app, cy, &entries[2]).await;
        assert_eq!(cy_entry["status"], "offered");
        let cy_booking = cy_entry["booking_id"].as_str().unwrap().to_owned();
        assert_eq!(
            get_booking(app, cy, &cy_booking).await["seats"],
            json!([all[0]])
        );
        let dee_entry = entry(app, dee, &entries[3]).await;
        assert_eq!(dee_entry["status"], "waiting");
        assert_eq!(dee_entry["position"], 1);
        assert_eq!(seat_state(&seat_map(app, &f.noon).await, all[0]), "held");

        // The offers went exactly in FCFS-with-skip order, each told by one event.
        let (types, offered) = events(app).await;
        assert_eq!(
            offered,
            [entries[1].clone(), entries[0].clone(), entries[2].clone()]
        );
        let count = |t: &str| types.iter().filter(|x| *x == t).count();
        // filler ×3 + Ben, Ana, Cy.
        assert_eq!(count("booking.held"), 6);
        assert_eq!(count("booking.confirmed"), 2);
        assert_eq!(count("booking.cancelled"), 2);
        assert_eq!(count("booking.expired"), 1);
        assert_eq!(count("seats.released"), 3);

        // Leaving: Dee leaves; a left entry cannot be left again.
        let left = send(
            app,
            Method::DELETE,
            &format!("/api/v1/waitlist/{}", entries[3]),
            Some(dee),
            None,
        )
        .await;
        assert_eq!(left.status(), StatusCode::OK);
        let again = send(
            app,
            Method::DELETE,
            &format!("/api/v1/waitlist/{}", entries[3]),
            Some(dee),
            None,
        )
        .await;
        assert_problem(again, 409, "waitlist-entry-not-waiting").await;
        // Someone else's entry is not found.
        let foreign = send(
            app,
            Method::GET,
            &format!("/api/v1/waitlist/{}", entries[0]),
            Some(dee),
            None,
        )
        .await;
        assert_problem(foreign, 404, "not-found").await;
    }
);

db_test_with!(
    a_refused_change_leaves_no_event_and_a_show_with_seats_has_no_waitlist,
    |config| {
        config.events.dispatch_interval_ms = 0;
    },
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        let ben = customer(app, "ben@example.com").await;
        hold_ok(app, &ana, &f.noon, &["A1"]).await;
        let before = outbox::all(&app.state.db).await.unwrap();
        assert_eq!(before.len(), 1);
        assert_eq!(before[0].event_type, "booking.held");
        assert_eq!(before[0].aggregate_type, "booking");
        // A refused hold (rolled back in the database) publishes nothing.
        let refused = hold(app, &ben, &f.noon, &["A2", "A1"]).await;
        assert_problem(refused, 409, "seat-unavailable").await;
        assert_eq!(outbox::all(&app.state.db).await.unwrap(), before);

        // Seats are available: book them instead of waiting.
        let response = join(app, &ben, f.noon.as_str(), json!({"seats_wanted": 2})).await;
        assert_problem(response, 409, "seats-available").await;
        let response = join(app, &ben, f.noon.as_str(), json!({"seats_wanted": 0})).await;
        assert_problem(response, 422, "invalid-booking").await;
        let response = join(
            app,
            &ben,
            f.noon.as_str(),
            json!({"seats_wanted": 1, "category": "balcony"}),
        )
        .await;
        assert_problem(response, 422, "invalid-booking").await;
        assert_eq!(outbox::all(&app.state.db).await.unwrap(), before);
    }
);

db_test_with!(
    seats_a_partner_releases_go_to_the_waitlist_and_a_cancelled_show_ends_it,
    |config| {
        config.events.dispatch_interval_ms = 0;
    },
    |app| {
        let f = fixtures::load(app).await;
        let show = f.noon.as_str();
        let partner = owning_partner(app, "owner@example.com").await;
        let inventory = format!("/api/v1/partner/shows/{show}/inventory");
        // The partner withholds two seats; a customer buys the other eight.
        let withheld = send(
            app,
            Method::POST,
            &inventory,
            Some(&partner),
            Some(json!({"withhold": ["A1", "A2"]})),
        )
        .await;
        assert_eq!(withheld.status(), StatusCode::OK);
        let map = seat_map(app, &f.noon).await;
        let free: Vec<String> = map["seats"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["state"] == "available")
            .map(|s| s["label"].as_str().unwrap().to_owned())
            .collect();
        let free: Vec<&str> = free.iter().map(String::as_str).collect();
        let filler = customer(app, "filler@example.com").await;
        hold_ok(app, &filler, &f.noon, &free).await;

        let ana = customer(app, "ana@example.com").await;
        let response = join(app, &ana, show, json!({"seats_wanted": 2})).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let ana_entry = id_of(&response.json::<Value>().await.unwrap());
        let ben = customer(app, "ben@example.com").await;
        let response = join(app, &ben, show, json!({"seats_wanted": 1})).await;
        let ben_entry = id_of(&response.json::<Value>().await.unwrap());

        // Released by the partner: straight to Ana, in the same transaction.
        let released = send(
            app,
            Method::POST,
            &inventory,
            Some(&partner),
            Some(json!({"release": ["A1", "A2"]})),
        )
        .await;
        assert_eq!(released.status(), StatusCode::OK);
        let offered = entry(app, &ana, &ana_entry).await;
        assert_eq!(offered["status"], "offered");
        let booking = offered["booking_id"].as_str().unwrap().to_owned();
        assert_eq!(
            get_booking(app, &ana, &booking).await["seats"],
            json!(["A1", "A2"])
        );
        assert_eq!(entry(app, &ben, &ben_entry).await["position"], 1);

        // The show is cancelled: the offered hold is cancelled and nobody waits any more.
        let cancelled = send(
            app,
            Method::POST,
            &format!("/api/v1/partner/shows/{show}/cancel"),
            Some(&partner),
            None,
        )
        .await;
        assert_eq!(cancelled.status(), StatusCode::OK);
        assert_eq!(entry(app, &ana, &ana_entry).await["status"], "cancelled");
        assert_eq!(entry(app, &ben, &ben_entry).await["status"], "cancelled");
        let (types, offered) = events(app).await;
        assert_eq!(offered, vec![ana_entry.clone()]);
        assert!(types.contains(&"show.cancelled".to_owned()), "{types:?}");
        assert!(
            types.ends_with(&[
                "show.cancelled".to_owned(),
                "booking.cancelled".to_owned(),
                "booking.cancelled".to_owned(),
            ]),
            "{types:?}"
        );
    }
);
