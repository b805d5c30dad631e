//! Messages that arrive when they help (issue 17): a reminder shortly before an unpaid hold
//! lapses (once, never after payment, cancellation or expiry), and word to every customer
//! of a show the partner moved or re-priced (one message per booking), whose booking keeps
//! its price and, moved, may be cancelled in full.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use marquee::{
    booking::reminders,
    integration::{events::Event, outbox},
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    booking::{
        cancel, confirmed, customer, hold_ok, id_of, inr, login, owning_partner, pay_ok,
        wait_for_payment, wait_for_status,
    },
    db_test_with, fixtures,
    helpers::{TestApp, assert_problem, send},
    reports::notices as file_sink,
};

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// Mail to the file sink, events handed over quickly, no background timers: the test runs
/// the reminder timer itself.
fn notices_to_file(config: &mut marquee::config::Config) {
    config.events.dispatch_interval_ms = 20;
    config.booking.sweep_interval_ms = 0;
    config.notify.file = Some(std::env::temp_dir().join(format!(
        "marquee-customer-notices-{}.jsonl",
        ulid::Ulid::new()
    )));
}

/// Waits (bounded) until every event so far has been handed to every consumer, so the
/// `notifications` consumer has queued every message it will.
async fn settle(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !outbox::unpublished(&app.db, 1).await.unwrap().is_empty() {
        assert!(
            Instant::now() < deadline,
            "events still unhandled after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The customers' messages of `kind` queued so far: (recipient, event id), sorted.
async fn queued(app: &TestApp, kind: &str) -> Vec<(String, String)> {
    app.db
        .fetch_all(
            "SELECT recipient, event_id FROM notifications WHERE kind = $1 \
             ORDER BY recipient, event_id",
            marquee::params![kind],
        )
        .await
        .unwrap()
}

/// The outbox's events of `event_type`.
async fn events_of(app: &TestApp, event_type: &str) -> Vec<Event> {
    outbox::all(&app.db)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.event_type == event_type)
        .filter_map(|e| e.event())
        .collect()
}

db_test_with!(
    a_hold_about_to_lapse_is_reminded_once_and_only_if_still_unpaid,
    |config| {
        notices_to_file(config);
    },
    |app| {
        let f = fixtures::load(app).await;
        // Holds last 300 s; the reminder comes 60 s before (the defaults).
        assert_eq!(app.state.config.booking.hold_secs, 300);
        assert_eq!(app.state.config.booking.hold_reminder_lead_secs, 60);
        let dan = customer(app, "dan@example.com").await;
        // 03:30:00 → lapses 03:35:00, before the timer first runs in its window.
        let lapsed = id_of(&hold_ok(app, &dan, &f.noon, &["A4"]).await);

        app.clock.set(utc("2026-11-22T03:32:00Z"));
        let ana = customer(app, "ana@example.com").await;
        let ben = customer(app, "ben@example.com").await;
        let cat = customer(app, "cat@example.com").await;
        // Each lapses at 03:37:00, so each is due from 03:36:00.
        let reminded = id_of(&hold_ok(app, &ana, &f.noon, &["A1"]).await);
        let paid = confirmed(app, &ben, &f.noon, &["A2"]).await;
        assert_eq!(paid["expires_at"], "2026-11-22T03:37:00Z");
        let cancelled = id_of(&hold_ok(app, &cat, &f.noon, &["A3"]).await);
        assert_eq!(cancel(app, &cat, &cancelled).await.status(), StatusCode::OK);

        // A millisecond before the window: nobody is due (dan's hold has lapsed).
        app.clock.set(utc("2026-11-22T03:35:59.999Z"));
        assert_eq!(reminders::remind_once(&app.state).await.unwrap(), 0);
        // The window opens: ana's hold alone is reminded; the timer again reminds no one.
        app.clock.set(utc("2026-11-22T03:36:00Z"));
        assert_eq!(reminders::remind_once(&app.state).await.unwrap(), 1);
        assert_eq!(reminders::remind_once(&app.state).await.unwrap(), 0);
        app.clock.set(utc("2026-11-22T03:36:30Z"));
        assert_eq!(reminders::remind_once(&app.state).await.unwrap(), 0);

        let events = events_of(app, "booking.hold_expiring").await;
        assert_eq!(
            events,
            [Event::BookingHoldExpiring {
                booking_id: reminded.clone(),
                show_id: f.noon.to_string(),
                expires_at: utc("2026-11-22T03:37:00Z").timestamp_millis(),
            }]
        );
        settle(app).await;
        let sent = queued(app, "hold_expiring").await;
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0].0, "ana@example.com");
        let mail = &file_sink(app, "hold_expiring", 1).await[0];
        assert_eq!(mail["to"], "ana@example.com");
        let subject = mail["subject"].as_str().unwrap();
        // 03:37 UTC is 09:07 in the theatre's Kolkata.
        assert!(subject.contains("09:07"), "{subject}");
        assert!(subject.contains(&reminded), "{subject}");
        let body = mail["body"].as_str().unwrap();
        assert!(body.contains("go back on sale"), "{body}");
        assert!(
            !body.contains(&lapsed) && !body.contains(&cancelled),
            "{body}"
        );

        // Once lapsed, nothing more: the timer never reminds an expired hold.
        app.clock.set(utc("2026-11-22T03:37:00Z"));
        assert_eq!(reminders::remind_once(&app.state).await.unwrap(), 0);
        settle(app).await;
        assert_eq!(queued(app, "hold_expiring").await.len(), 1);
    }
);

db_test_with!(
    no_reminders_when_the_lead_is_zero,
    |config| {
        notices_to_file(config);
        config.booking.hold_reminder_lead_secs = 0;
    },
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        hold_ok(app, &ana, &f.noon, &["A1"]).await;
        app.clock.set(utc("2026-11-22T03:34:59Z"));
        assert_eq!(reminders::remind_once(&app.state).await.unwrap(), 0);
        assert!(events_of(app, "booking.hold_expiring").await.is_empty());
    }
);

/// `PATCH /api/v1/partner/shows/{id}` as the owning partner.
async fn patch_show(app: &TestApp, partner: &str, show: &str, body: Value) -> reqwest::Response {
    send(
        app,
        Method::PATCH,
        &format!("/api/v1/partner/shows/{show}"),
        Some(partner),
        Some(body),
    )
    .await
}

db_test_with!(
    customers_are_told_once_each_when_their_show_is_moved_or_repriced,
    |config| {
        notices_to_file(config);
    },
    |app| {
        let f = fixtures::load(app).await;
        let noon = f.noon.to_string();
        let partner = owning_partner(app, "owner@example.com").await;
        let ana = customer(app, "ana@example.com").await;
        let ben = customer(app, "ben@example.com").await;
        // One paid booking and one unpaid hold, each a regular seat: 15,000 + 750 fee.
        let paid = confirmed(app, &ana, &f.noon, &["A1"]).await;
        let paid_id = id_of(&paid);
        assert_eq!(paid["total"], inr(15_750));
        let held = hold_ok(app, &ben, &f.noon, &["A2"]).await;
        let held_id = id_of(&held);
        assert_eq!(held["total"], inr(15_750));

        // Without the opt-in the show does not move (12:00 → 15:30 in Kolkata).
        let later = json!({"starts_at": "2026-11-22T15:30:00+05:30"});
        let refused = patch_show(app, &partner, &noon, later.clone()).await;
        assert_problem(refused, 409, "show-has-bookings").await;
        assert!(events_of(app, "show.rescheduled").await.is_empty());

        let mut opted_in = later;
        opted_in["move_with_customers"] = json!(true);
        let moved = patch_show(app, &partner, &noon, opted_in).await;
        assert_eq!(moved.status(), StatusCode::OK);
        let moved: Value = moved.json().await.unwrap();
        assert_eq!(moved["starts_at"], "2026-11-22T10:00:00Z");

        let (from, to) = (
            utc("2026-11-22T06:30:00Z").timestamp_millis(),
            utc("2026-11-22T10:00:00Z").timestamp_millis(),
        );
        assert_eq!(
            events_of(app, "show.rescheduled").await,
            [Event::ShowRescheduled {
                show_id: noon.clone(),
                from,
                to
            }]
        );
        let mut told: Vec<Event> = events_of(app, "booking.show_rescheduled").await;
        told.sort_by_key(|e| e.aggregate().1.to_owned());
        let mut expected: Vec<Event> = [&paid_id, &held_id]
            .iter()
            .map(|id| Event::BookingShowRescheduled {
                booking_id: (*id).clone(),
                show_id: noon.clone(),
                from,
                to,
            })
            .collect();
        expected.sort_by_key(|e| e.aggregate().1.to_owned());
        assert_eq!(told, expected);

        settle(app).await;
        let sent = queued(app, "show_rescheduled").await;
        let to_whom: Vec<&str> = sent.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(to_whom, ["ana@example.com", "ben@example.com"]);
        for mail in file_sink(app, "show_rescheduled", 2).await {
            let body = mail["body"].as_str().unwrap();
            assert!(body.contains("15:30") && body.contains("12:00"), "{body}");
            assert!(body.contains("cancel"), "{body}");
        }
        // The booking shows the new time.
        let ana = login(app, "ana@example.com").await;
        let now_at = crate::booking::get_booking(app, &ana, &paid_id).await;
        assert_eq!(now_at["starts_at"], "2026-11-22T10:00:00Z");

        // New prices: each customer is told once; their bookings keep their price.
        let repriced = patch_show(
            app,
            &partner,
            &noon,
            json!({"prices": {"regular": 18_000, "premium": 30_000, "recliner": 50_000}}),
        )
        .await;
        assert_eq!(repriced.status(), StatusCode::OK);
        assert_eq!(events_of(app, "show.repriced").await.len(), 1);
        assert_eq!(events_of(app, "booking.show_repriced").await.len(), 2);
        settle(app).await;
        let sent = queued(app, "show_repriced").await;
        let to_whom: Vec<&str> = sent.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(to_whom, ["ana@example.com", "ben@example.com"]);
        for mail in file_sink(app, "show_repriced", 2).await {
            let body = mail["body"].as_str().unwrap();
            assert!(body.contains("157.50"), "the price kept: {body}");
        }
        // Still one reschedule message each: nothing was sent twice.
        assert_eq!(queued(app, "show_rescheduled").await.len(), 2);

        // The hold, paid now, costs what it was quoted: 15,750, not 18,900.
        let ben = login(app, "ben@example.com").await;
        let payment = pay_ok(app, &ben, &held_id, "tok_visa").await;
        let done = wait_for_status(app, &ben, &held_id, "confirmed").await;
        assert_eq!(done["total"], inr(15_750));
        assert_eq!(payment["amount"], inr(15_750), "{payment}");
        // A hold made now pays the new price: 18,000 + 900 fee.
        let cat = customer(app, "cat@example.com").await;
        let after = confirmed(app, &cat, &f.noon, &["A3"]).await;
        assert_eq!(after["total"], inr(18_900));

        // An hour before the new start, inside the 120-minute cutoff: a booking whose show
        // was moved is cancelled in full (fee included); one made after the move is not.
        app.clock.set(utc("2026-11-22T09:00:00Z"));
        let ana = login(app, "ana@example.com").await;
        let cancelled = cancel(app, &ana, &paid_id).await;
        assert_eq!(cancelled.status(), StatusCode::OK);
        let cancelled: Value = cancelled.json().await.unwrap();
        assert_eq!(cancelled["refund"], inr(15_750));
        let payment_id = paid["payments"][0]["id"].as_str().unwrap().to_owned();
        wait_for_payment(app, &ana, &paid_id, &payment_id, "refunded").await;
        let cat = login(app, "cat@example.com").await;
        assert_problem(
            cancel(app, &cat, &id_of(&after)).await,
            409,
            "cancellation-closed",
        )
        .await;
    }
);

db_test_with!(
    customers_ask_for_their_tickets_again_in_their_language,
    |config| { notices_to_file(config) },
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        let french = send(
            app,
            Method::PATCH,
            "/api/v1/me",
            Some(&ana),
            Some(json!({"locale": "fr"})),
        )
        .await;
        assert_eq!(french.status(), StatusCode::OK);
        let paid = confirmed(app, &ana, &f.noon, &["A1"]).await;
        let id = id_of(&paid);
        let path = format!("/api/v1/bookings/{id}/ticket-email");

        // Only the booking's customer, only once it is paid.
        let bob = customer(app, "bob@example.com").await;
        assert_problem(
            send(app, Method::POST, &path, Some(&bob), None).await,
            404,
            "not-found",
        )
        .await;
        let held = hold_ok(app, &ana, &f.noon, &["A2"]).await;
        assert_problem(
            send(
                app,
                Method::POST,
                &format!("/api/v1/bookings/{}/ticket-email", id_of(&held)),
                Some(&ana),
                None,
            )
            .await,
            409,
            "ticket-unavailable",
        )
        .await;

        // Twice a minute per booking (the default), then 429.
        for _ in 0..2 {
            let response = send(app, Method::POST, &path, Some(&ana), None).await;
            assert_eq!(response.status(), StatusCode::ACCEPTED);
            let body: Value = response.json().await.unwrap();
            assert_eq!(body, json!({"booking_id": id, "status": "queued"}));
        }
        crate::abuse::assert_rate_limited(
            send(app, Method::POST, &path, Some(&ana), None).await,
            "ticket emails for this booking",
        )
        .await;

        // Two messages, in French, each with the ticket code alone on its line.
        settle(app).await;
        assert_eq!(queued(app, "ticket_resent").await.len(), 2);
        let code = send(
            app,
            Method::GET,
            &format!("/api/v1/bookings/{id}/ticket"),
            Some(&ana),
            None,
        )
        .await
        .json::<Value>()
        .await
        .unwrap()["code"]
            .as_str()
            .unwrap()
            .to_owned();
        for mail in file_sink(app, "ticket_resent", 2).await {
            assert_eq!(mail["to"], "ana@example.com");
            assert_eq!(
                mail["subject"],
                format!("Vos billets, à nouveau : réservation {id}")
            );
            let body = mail["body"].as_str().unwrap();
            assert!(body.lines().any(|line| line == code), "{code} in {body}");
        }
    }
);
