//! Every path that frees seats hands them to the show's waitlist in the same unit of work,
//! also when the pricing snapshots (show facts, offers: 2 s by the app clock) are stale at
//! that moment, so the unit's caller has to take fresh ones first. (On SQLite such a unit
//! once priced its offers itself, reached a pool from the committer thread and panicked.)
//! Each test lines up entries so that first-come-first-served-with-skip shows, moves the
//! clock past the snapshots' age, frees seats one way and checks who was offered which
//! seats, that the public cannot take them, and what the freeing request answered.
//!
//! Against the code before the fix (snapshots then aged by wall time, so a 2.1 s sleep
//! stood in for the clock moves) the SQLite halves of the sweep, tick, cancel, bulk-cancel
//! and late-payment tests fail with the committer's panic; partner release (then its own
//! sqlx transaction on the runtime) and show cancellation (prices nothing) passed there,
//! and guard the units they run as now.

use marquee::{booking::sweeper::sweep_once, clock::Clock, config::Config, ids::ShowId};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::{
    booking::{
        cancel, confirmed, customer, expected_quote, get_booking, hold, hold_ok, id_of, inr,
        owning_partner, pay_ok, payment_in, states,
    },
    db_test_with, fixtures,
    helpers::{TestApp, assert_problem, send},
    payments::{deliver_signed, gateway_event, now_secs},
    waitlist::{entry, events, join},
};

/// Every seat of a fixture show, in layout order.
const SEATS: [&str; 10] = ["A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4", "C1", "C2"];

/// A customer's token and their waitlist entry.
type InLine = (String, String);

/// The tests run the sweeper themselves; no dispatcher touches the outbox.
fn quiet(config: &mut Config) {
    config.booking.sweep_interval_ms = 0;
    config.events.dispatch_interval_ms = 0;
}

/// Moves the app clock by `secs`. The pricing snapshots are at most 2 s old by that clock,
/// so after this whatever frees seats next must take fresh ones.
async fn let_time_pass(app: &TestApp, secs: i64) {
    assert!(secs >= 3, "the snapshots outlive a move of {secs} s");
    app.clock.advance(chrono::Duration::seconds(secs));
}

/// The fixture show's seats other than `except`.
fn all_but(except: &[&str]) -> Vec<&'static str> {
    SEATS.into_iter().filter(|s| !except.contains(s)).collect()
}

/// Customers join the show's waitlist in this order, each wanting that many seats.
async fn line_up(app: &TestApp, show: &ShowId, line: &[(&str, i64)]) -> Vec<InLine> {
    let mut entries = Vec::new();
    for (i, (email, wanted)) in line.iter().enumerate() {
        let token = customer(app, email).await;
        let response = join(app, &token, show.as_str(), json!({"seats_wanted": wanted})).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{email} joins: {body}");
        assert_eq!(body["position"], i + 1, "{email} joins: {body}");
        entries.push((token, id_of(&body)));
    }
    entries
}

/// The body of a response that must be 200 OK.
async fn ok_body(response: Response, what: &str) -> Value {
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{what} answered {status}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// The `waitlist.offered` events in outbox order: entry, booking, seats.
async fn offers_made(app: &TestApp) -> Vec<(String, String, Vec<String>)> {
    marquee::integration::outbox::all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == "waitlist.offered")
        .map(|e| {
            let payload: Value = serde_json::from_str(&e.payload).unwrap();
            let seats = payload["seats"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_owned())
                .collect();
            (
                payload["entry_id"].as_str().unwrap().to_owned(),
                payload["booking_id"].as_str().unwrap().to_owned(),
                seats,
            )
        })
        .collect()
}

/// An expected `waitlist.offered`, as `offers_made` lists it.
fn offer(entry: &InLine, booking: &str, seats: &[&str]) -> (String, String, Vec<String>) {
    (
        entry.1.clone(),
        booking.to_owned(),
        seats.iter().map(|s| (*s).to_owned()).collect(),
    )
}

/// How many events the outbox holds, to read what comes after.
async fn outbox_mark(app: &TestApp) -> usize {
    events(app).await.0.len()
}

/// The types of the events appended after `mark`, in order.
async fn types_since(app: &TestApp, mark: usize) -> Vec<String> {
    events(app).await.0[mark..].to_vec()
}

/// The entry was offered `seats` (in quote order) just now: its hold, as its customer sees
/// it, is priced like any hold and runs for the hold time from now. Returns its id.
async fn assert_offered(app: &TestApp, (token, id): &InLine, seats: &[&str]) -> String {
    let offered = entry(app, token, id).await;
    assert_eq!(offered["status"], "offered", "{offered}");
    assert_eq!(offered["position"], Value::Null, "{offered}");
    let booking_id = offered["booking_id"]
        .as_str()
        .expect("a booking")
        .to_owned();
    let booking = get_booking(app, token, &booking_id).await;
    assert_eq!(booking["status"], "pending_payment", "{booking}");
    assert_eq!(booking["seats"], json!(seats), "{booking}");
    assert_eq!(booking["quote"], expected_quote(seats), "{booking}");
    assert_eq!(booking["total"], booking["quote"]["total"]);
    let expires = app.clock.now().to_utc() + chrono::Duration::seconds(300);
    assert_eq!(
        booking["expires_at"],
        expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    booking_id
}

/// The entry still waits, at `position`.
async fn assert_waiting(app: &TestApp, (token, id): &InLine, position: i64) {
    let waiting = entry(app, token, id).await;
    assert_eq!(waiting["status"], "waiting", "{waiting}");
    assert_eq!(waiting["position"], position, "{waiting}");
    assert_eq!(waiting["booking_id"], Value::Null, "{waiting}");
}

/// A public hold on `seats` is refused with 409 naming every one of them.
async fn assert_public_refused(app: &TestApp, token: &str, show: &ShowId, seats: &[&str]) {
    let problem =
        assert_problem(hold(app, token, show, seats).await, 409, "seat-unavailable").await;
    let mut named: Vec<String> = problem["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    named.sort();
    let mut wanted: Vec<&str> = seats.to_vec();
    wanted.sort_unstable();
    assert_eq!(named, wanted, "{problem}");
}

// ---------------------------------------------------------------------------------------
// 1. Expiry sweep
// ---------------------------------------------------------------------------------------

db_test_with!(
    an_expiry_sweep_with_stale_snapshots_offers_lapsed_seats_in_line_order,
    |config| {
        quiet(config);
    },
    |app| {
        let f = fixtures::load(app).await;
        let fay = customer(app, "fay@example.com").await;
        let gus = customer(app, "gus@example.com").await;
        let public = customer(app, "pub@example.com").await;
        let lapsing = id_of(&hold_ok(app, &fay, &f.noon, &["A2", "A3", "A4"]).await);
        confirmed(app, &gus, &f.noon, &all_but(&["A2", "A3", "A4"])).await;
        let line = line_up(
            app,
            &f.noon,
            &[
                ("ana@example.com", 4),
                ("ben@example.com", 2),
                ("cy@example.com", 1),
            ],
        )
        .await;
        let (ana, ben, cy) = (&line[0], &line[1], &line[2]);
        let mark = outbox_mark(app).await;

        // Fay's hold lapses; the snapshots are long stale when the sweeper runs.
        let_time_pass(app, 301).await;
        let expired = sweep_once(&app.state).await.expect("the sweep succeeds");
        assert_eq!(expired, 1);
        assert_eq!(get_booking(app, &fay, &lapsing).await["status"], "expired");

        // Ana (4) cannot be served by three seats and keeps her place; Ben gets the
        // adjacent pair (A2 is across the aisle from A3), Cy the seat left.
        assert_waiting(app, ana, 1).await;
        let ben_booking = assert_offered(app, ben, &["A3", "A4"]).await;
        let cy_booking = assert_offered(app, cy, &["A2"]).await;
        assert_eq!(
            offers_made(app).await,
            [
                offer(ben, &ben_booking, &["A3", "A4"]),
                offer(cy, &cy_booking, &["A2"]),
            ]
        );
        assert_eq!(
            types_since(app, mark).await,
            [
                "booking.expired",
                "seats.released",
                "booking.held",
                "waitlist.offered",
                "booking.held",
                "waitlist.offered",
            ]
        );
        assert_eq!(
            states(app, &f.noon, &SEATS).await,
            [
                "booked", "held", "held", "held", "booked", "booked", "booked", "booked", "booked",
                "booked",
            ]
        );
        assert_public_refused(app, &public, &f.noon, &["A2", "A3", "A4"]).await;
    }
);

db_test_with!(
    the_sweeper_offers_each_lapse_tick_after_tick_with_stale_snapshots,
    |config| {
        quiet(config);
    },
    |app| {
        let f = fixtures::load(app).await;
        let fay = customer(app, "fay@example.com").await;
        let gus = customer(app, "gus@example.com").await;
        let hal = customer(app, "hal@example.com").await;
        let public = customer(app, "pub@example.com").await;
        // Two holds that lapse 100 s apart: B1 at +300 s, B2 at +400 s.
        let first = id_of(&hold_ok(app, &fay, &f.noon, &["B1"]).await);
        let_time_pass(app, 100).await;
        let second = id_of(&hold_ok(app, &gus, &f.noon, &["B2"]).await);
        confirmed(app, &hal, &f.noon, &all_but(&["B1", "B2"])).await;
        let line = line_up(
            app,
            &f.noon,
            &[
                ("ana@example.com", 2),
                ("ben@example.com", 1),
                ("cy@example.com", 1),
            ],
        )
        .await;
        let (ana, ben, cy) = (&line[0], &line[1], &line[2]);
        let mark = outbox_mark(app).await;

        // Tick 1 (+301 s): B1 lapsed; Ana (2) is skipped, Ben takes it.
        let_time_pass(app, 201).await;
        assert_eq!(sweep_once(&app.state).await.expect("tick 1"), 1);
        assert_eq!(get_booking(app, &fay, &first).await["status"], "expired");
        assert_eq!(
            get_booking(app, &gus, &second).await["status"],
            "pending_payment"
        );
        let ben_booking = assert_offered(app, ben, &["B1"]).await;
        assert_waiting(app, ana, 1).await;
        assert_waiting(app, cy, 2).await;

        // Tick 2 (+401 s), the snapshots stale again: B2 lapsed and goes to Cy.
        let_time_pass(app, 100).await;
        assert_eq!(sweep_once(&app.state).await.expect("tick 2"), 1);
        assert_eq!(get_booking(app, &gus, &second).await["status"], "expired");
        let cy_booking = assert_offered(app, cy, &["B2"]).await;
        assert_waiting(app, ana, 1).await;
        assert_eq!(
            offers_made(app).await,
            [
                offer(ben, &ben_booking, &["B1"]),
                offer(cy, &cy_booking, &["B2"]),
            ]
        );

        // Tick 3 (+602 s): Ben's offer lapsed unpaid. Ana still wants two, so B1 goes
        // back on sale.
        let_time_pass(app, 201).await;
        assert_eq!(sweep_once(&app.state).await.expect("tick 3"), 1);
        assert_eq!(entry(app, &ben.0, &ben.1).await["status"], "lapsed");
        assert_eq!(
            get_booking(app, &ben.0, &ben_booking).await["status"],
            "expired"
        );
        assert_eq!(entry(app, &cy.0, &cy.1).await["status"], "offered");
        assert_waiting(app, ana, 1).await;
        assert_eq!(offers_made(app).await.len(), 2, "nobody else was offered");
        assert_eq!(
            types_since(app, mark).await,
            [
                "booking.expired",
                "seats.released",
                "booking.held",
                "waitlist.offered",
                "booking.expired",
                "seats.released",
                "booking.held",
                "waitlist.offered",
                "booking.expired",
                "seats.released",
            ]
        );
        assert_eq!(
            states(app, &f.noon, &["B1", "B2"]).await,
            ["available", "held"]
        );
        assert_public_refused(app, &public, &f.noon, &["B2"]).await;
        hold_ok(app, &public, &f.noon, &["B1"]).await;
    }
);

// ---------------------------------------------------------------------------------------
// 2. Customer cancel: a confirmed booking, then a pending hold
// ---------------------------------------------------------------------------------------

db_test_with!(
    cancelling_a_confirmed_booking_then_a_hold_with_stale_snapshots_offers_their_seats,
    |config| {
        quiet(config);
    },
    |app| {
        let f = fixtures::load(app).await;
        let fay = customer(app, "fay@example.com").await;
        let gus = customer(app, "gus@example.com").await;
        let public = customer(app, "pub@example.com").await;
        let paid = confirmed(app, &fay, &f.noon, &["B1", "B2"]).await;
        let payment_id = paid["payments"][0]["id"].as_str().unwrap().to_owned();
        let pending = id_of(&hold_ok(app, &fay, &f.noon, &["C1", "C2"]).await);
        confirmed(app, &gus, &f.noon, &all_but(&["B1", "B2", "C1", "C2"])).await;
        let line = line_up(
            app,
            &f.noon,
            &[
                ("ana@example.com", 3),
                ("ben@example.com", 2),
                ("cy@example.com", 1),
            ],
        )
        .await;
        let (ana, ben, cy) = (&line[0], &line[1], &line[2]);
        let mark = outbox_mark(app).await;

        // The confirmed booking, well before the cutoff: B1 and B2 go to Ben (Ana wants
        // three); none is left for Cy.
        let_time_pass(app, 3).await;
        let cancelled = ok_body(cancel(app, &fay, &id_of(&paid)).await, "cancel confirmed").await;
        assert_eq!(cancelled["status"], "cancelled");
        assert_eq!(cancelled["refund"], inr(50_000), "the total less fees");
        assert_eq!(payment_in(&cancelled, &payment_id)["status"], "refunded");
        let ben_booking = assert_offered(app, ben, &["B1", "B2"]).await;
        assert_waiting(app, ana, 1).await;
        assert_waiting(app, cy, 2).await;

        // The pending hold: Ana still cannot be served by two seats, Cy takes C1, and
        // C2 — which no entry can use — goes back on sale.
        let_time_pass(app, 3).await;
        let released = ok_body(cancel(app, &fay, &pending).await, "cancel pending").await;
        assert_eq!(released["status"], "cancelled");
        assert_eq!(released["refund"], Value::Null);
        let cy_booking = assert_offered(app, cy, &["C1"]).await;
        assert_waiting(app, ana, 1).await;

        assert_eq!(
            offers_made(app).await,
            [
                offer(ben, &ben_booking, &["B1", "B2"]),
                offer(cy, &cy_booking, &["C1"]),
            ]
        );
        assert_eq!(
            types_since(app, mark).await,
            [
                "booking.cancelled",
                "seats.released",
                "booking.held",
                "waitlist.offered",
                "payment.refunded",
                "booking.cancelled",
                "seats.released",
                "booking.held",
                "waitlist.offered",
            ]
        );
        assert_eq!(
            states(app, &f.noon, &SEATS).await,
            [
                "booked",
                "booked",
                "booked",
                "booked",
                "held",
                "held",
                "booked",
                "booked",
                "held",
                "available",
            ]
        );
        assert_public_refused(app, &public, &f.noon, &["B1", "B2", "C1"]).await;
        hold_ok(app, &public, &f.noon, &["C2"]).await;
    }
);

// ---------------------------------------------------------------------------------------
// 3. Bulk cancel
// ---------------------------------------------------------------------------------------

db_test_with!(
    a_bulk_cancel_with_stale_snapshots_offers_each_items_seats_in_turn,
    |config| {
        quiet(config);
    },
    |app| {
        let f = fixtures::load(app).await;
        let fay = customer(app, "fay@example.com").await;
        let gus = customer(app, "gus@example.com").await;
        let public = customer(app, "pub@example.com").await;
        let paid = id_of(&confirmed(app, &fay, &f.noon, &["A1"]).await);
        let pending = id_of(&hold_ok(app, &fay, &f.noon, &["B3", "B4"]).await);
        let not_hers = id_of(&confirmed(app, &gus, &f.noon, &all_but(&["A1", "B3", "B4"])).await);
        let line = line_up(
            app,
            &f.noon,
            &[
                ("ana@example.com", 3),
                ("ben@example.com", 2),
                ("cy@example.com", 1),
            ],
        )
        .await;
        let (ana, ben, cy) = (&line[0], &line[1], &line[2]);
        let mark = outbox_mark(app).await;

        let_time_pass(app, 3).await;
        let response = send(
            app,
            Method::POST,
            "/api/v1/bookings/bulk-cancel",
            Some(&fay),
            Some(json!({"booking_ids": [&paid, &not_hers, &pending]})),
        )
        .await;
        let body = ok_body(response, "bulk cancel").await;
        let results = body["results"].as_array().unwrap();
        assert_eq!(results.len(), 3, "{body}");
        assert_eq!(results[0]["booking_id"], paid.as_str());
        assert_eq!(results[0]["ok"], true, "{body}");
        assert_eq!(results[0]["booking"]["status"], "cancelled");
        assert_eq!(results[0]["booking"]["refund"], inr(15_000));
        assert_eq!(results[1]["booking_id"], not_hers.as_str());
        assert_eq!(results[1]["ok"], false, "{body}");
        assert_eq!(results[1]["problem"]["status"], 404);
        assert_eq!(
            results[1]["problem"]["type"],
            "https://marquee.example/problems/not-found"
        );
        assert_eq!(results[2]["booking_id"], pending.as_str());
        assert_eq!(results[2]["ok"], true, "{body}");
        assert_eq!(results[2]["booking"]["status"], "cancelled");
        assert_eq!(
            get_booking(app, &gus, &not_hers).await["status"],
            "confirmed"
        );

        // Item by item: A1 alone serves only Cy (Ana wants three, Ben two); then B3 and
        // B4 serve Ben. Ana keeps her place throughout.
        let cy_booking = assert_offered(app, cy, &["A1"]).await;
        let ben_booking = assert_offered(app, ben, &["B3", "B4"]).await;
        assert_waiting(app, ana, 1).await;
        assert_eq!(
            offers_made(app).await,
            [
                offer(cy, &cy_booking, &["A1"]),
                offer(ben, &ben_booking, &["B3", "B4"]),
            ]
        );
        assert_eq!(
            types_since(app, mark).await,
            [
                "booking.cancelled",
                "seats.released",
                "booking.held",
                "waitlist.offered",
                "payment.refunded",
                "booking.cancelled",
                "seats.released",
                "booking.held",
                "waitlist.offered",
            ]
        );
        assert_eq!(
            states(app, &f.noon, &SEATS).await,
            [
                "held", "booked", "booked", "booked", "booked", "booked", "held", "held", "booked",
                "booked",
            ]
        );
        assert_public_refused(app, &public, &f.noon, &["A1", "B3", "B4"]).await;
    }
);

// ---------------------------------------------------------------------------------------
// 4. A payment that lands after its hold expired
// ---------------------------------------------------------------------------------------

db_test_with!(
    a_late_payment_with_stale_snapshots_expires_the_booking_offers_its_seats_and_refunds,
    |config| {
        quiet(config);
        // The gateway's own delivery never comes during the test: the test delivers.
        config.payment.mock_delay_ms = 600_000;
    },
    |app| {
        let f = fixtures::load(app).await;
        let fay = customer(app, "fay@example.com").await;
        let gus = customer(app, "gus@example.com").await;
        let public = customer(app, "pub@example.com").await;
        let late = hold_ok(app, &fay, &f.noon, &["B1", "B2", "B3"]).await;
        let late_id = id_of(&late);
        assert_eq!(late["total"], inr(78_750));
        let payment_id = id_of(&pay_ok(app, &fay, &late_id, "tok_delayed").await);
        confirmed(app, &gus, &f.noon, &all_but(&["B1", "B2", "B3"])).await;
        let line = line_up(
            app,
            &f.noon,
            &[
                ("ana@example.com", 4),
                ("ben@example.com", 1),
                ("cy@example.com", 2),
            ],
        )
        .await;
        let (ana, ben, cy) = (&line[0], &line[1], &line[2]);
        let mark = outbox_mark(app).await;

        // The hold lapses (no sweeper), then the gateway reports success.
        let_time_pass(app, 301).await;
        let intent = marquee::booking::store::get_payment(&app.state.db, &payment_id)
            .await
            .unwrap()
            .and_then(|p| p.intent_id)
            .expect("the payment's intent");
        let success = gateway_event(
            "evt_late",
            "payment.succeeded",
            now_secs(app),
            &payment_id,
            &intent,
            78_750,
            "INR",
        );
        let response = deliver_signed(app, &success).await;
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, StatusCode::NO_CONTENT, "webhook answered: {body}");

        let expired = get_booking(app, &fay, &late_id).await;
        assert_eq!(expired["status"], "expired", "{expired}");
        assert_eq!(expired["confirmed_at"], Value::Null);
        assert_eq!(payment_in(&expired, &payment_id)["status"], "refunded");
        // Ana (4) is skipped; Ben gets the first seat, Cy the adjacent two after it.
        assert_waiting(app, ana, 1).await;
        let ben_booking = assert_offered(app, ben, &["B1"]).await;
        let cy_booking = assert_offered(app, cy, &["B2", "B3"]).await;
        assert_eq!(
            offers_made(app).await,
            [
                offer(ben, &ben_booking, &["B1"]),
                offer(cy, &cy_booking, &["B2", "B3"]),
            ]
        );
        assert_eq!(
            types_since(app, mark).await,
            [
                "booking.expired",
                "seats.released",
                "booking.held",
                "waitlist.offered",
                "booking.held",
                "waitlist.offered",
                "payment.refunded",
            ]
        );
        assert_eq!(
            states(app, &f.noon, &SEATS).await,
            [
                "booked", "booked", "booked", "booked", "held", "held", "held", "booked", "booked",
                "booked",
            ]
        );
        assert_public_refused(app, &public, &f.noon, &["B1", "B2", "B3"]).await;
    }
);

// ---------------------------------------------------------------------------------------
// 5. Partner release
// ---------------------------------------------------------------------------------------

db_test_with!(
    a_partner_release_with_stale_snapshots_offers_the_seats,
    |config| {
        quiet(config);
    },
    |app| {
        let f = fixtures::load(app).await;
        let partner = owning_partner(app, "owner@example.com").await;
        let gus = customer(app, "gus@example.com").await;
        let public = customer(app, "pub@example.com").await;
        let inventory = format!("/api/v1/partner/shows/{}/inventory", f.noon);
        let kept = send(
            app,
            Method::POST,
            &inventory,
            Some(&partner),
            Some(json!({"withhold": ["A1", "A2"], "block": ["C1"]})),
        )
        .await;
        ok_body(kept, "withhold and block").await;
        confirmed(app, &gus, &f.noon, &all_but(&["A1", "A2", "C1"])).await;
        let line = line_up(
            app,
            &f.noon,
            &[
                ("ana@example.com", 4),
                ("ben@example.com", 2),
                ("cy@example.com", 1),
            ],
        )
        .await;
        let (ana, ben, cy) = (&line[0], &line[1], &line[2]);
        let mark = outbox_mark(app).await;

        let_time_pass(app, 3).await;
        let released = send(
            app,
            Method::POST,
            &inventory,
            Some(&partner),
            Some(json!({"release": ["A1", "A2", "C1"]})),
        )
        .await;
        assert_eq!(
            ok_body(released, "release").await,
            json!({"withheld": 0, "blocked": 0, "released": 3})
        );

        // Ana (4) is skipped; Ben gets the pair, Cy the recliner.
        assert_waiting(app, ana, 1).await;
        let ben_booking = assert_offered(app, ben, &["A1", "A2"]).await;
        let cy_booking = assert_offered(app, cy, &["C1"]).await;
        assert_eq!(
            offers_made(app).await,
            [
                offer(ben, &ben_booking, &["A1", "A2"]),
                offer(cy, &cy_booking, &["C1"]),
            ]
        );
        assert_eq!(
            types_since(app, mark).await,
            [
                "seats.released",
                "booking.held",
                "waitlist.offered",
                "booking.held",
                "waitlist.offered",
            ]
        );
        assert_eq!(
            states(app, &f.noon, &SEATS).await,
            [
                "held", "held", "booked", "booked", "booked", "booked", "booked", "booked", "held",
                "booked",
            ]
        );
        assert_public_refused(app, &public, &f.noon, &["A1", "A2", "C1"]).await;
    }
);

// ---------------------------------------------------------------------------------------
// 6. Show cancellation by the partner
// ---------------------------------------------------------------------------------------

db_test_with!(
    a_show_cancellation_with_stale_snapshots_offers_nothing_and_ends_every_entry,
    |config| {
        quiet(config);
    },
    |app| {
        let f = fixtures::load(app).await;
        let partner = owning_partner(app, "owner@example.com").await;
        let fay = customer(app, "fay@example.com").await;
        let gus = customer(app, "gus@example.com").await;
        let public = customer(app, "pub@example.com").await;
        let pending = id_of(&hold_ok(app, &fay, &f.noon, &["C1"]).await);
        let fays = confirmed(app, &fay, &f.noon, &["B1", "B2"]).await;
        let guss = confirmed(app, &gus, &f.noon, &all_but(&["B1", "B2", "C1"])).await;
        let line = line_up(
            app,
            &f.noon,
            &[
                ("ana@example.com", 3),
                ("ben@example.com", 1),
                ("cy@example.com", 2),
            ],
        )
        .await;
        let (ana, ben, cy) = (&line[0], &line[1], &line[2]);

        // Setup, not the path under test: Fay lets C1 go with the snapshots warm (a
        // quote takes them), and Ben is offered it, so one entry is `offered`.
        let quote = send(
            app,
            Method::POST,
            "/api/v1/quotes",
            None,
            Some(json!({"show_id": f.noon.as_str(), "seats": ["A1"]})),
        )
        .await;
        ok_body(quote, "quote").await;
        ok_body(cancel(app, &fay, &pending).await, "cancel pending").await;
        let ben_booking = assert_offered(app, ben, &["C1"]).await;
        assert_waiting(app, ana, 1).await;
        assert_waiting(app, cy, 2).await;
        let mark = outbox_mark(app).await;

        let_time_pass(app, 3).await;
        let response = send(
            app,
            Method::POST,
            &format!("/api/v1/partner/shows/{}/cancel", f.noon),
            Some(&partner),
            None,
        )
        .await;
        let refunded =
            fays["total"]["amount"].as_i64().unwrap() + guss["total"]["amount"].as_i64().unwrap();
        assert_eq!(
            ok_body(response, "show cancellation").await,
            json!({"show_id": f.noon.as_str(), "status": "cancelled", "bookings_cancelled": 3,
                   "refunds": 2, "refunded_total": inr(refunded)})
        );

        // Every live entry ends, the offered one with its hold; nobody is offered more.
        for (token, id) in [ana, ben, cy] {
            let ended = entry(app, token, id).await;
            assert_eq!(ended["status"], "cancelled", "{ended}");
            assert_eq!(ended["position"], Value::Null, "{ended}");
        }
        assert_eq!(
            get_booking(app, &ben.0, &ben_booking).await["status"],
            "cancelled"
        );
        assert_eq!(offers_made(app).await, [offer(ben, &ben_booking, &["C1"])]);
        assert_eq!(
            types_since(app, mark).await,
            [
                "show.cancelled",
                "booking.cancelled",
                "booking.cancelled",
                "booking.cancelled",
                "payment.refunded",
                "payment.refunded",
            ]
        );
        assert_eq!(states(app, &f.noon, &SEATS).await, ["blocked"; 10]);
        assert_problem(
            hold(app, &public, &f.noon, &["C1"]).await,
            409,
            "show-not-on-sale",
        )
        .await;
        let late = join(app, &public, f.noon.as_str(), json!({"seats_wanted": 1})).await;
        assert_problem(late, 409, "show-not-on-sale").await;
    }
);
