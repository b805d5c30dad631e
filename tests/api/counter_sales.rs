//! Box-office sales reported by a theatre's own system: sold once, idempotent by the
//! theatre's sale id, never overselling against online holds (a race with counted
//! winners), voided back to sale.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    booking::{customer, customers, hold, hold_ok, other_partner, owning_partner, race, states},
    db_test, fixtures,
    helpers::{TestApp, assert_problem, send},
};

const SALES: &str = "/api/v1/partner/counter-sales";

async fn sell(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    send(app, Method::POST, SALES, Some(token), Some(body)).await
}

async fn sell_ok(app: &TestApp, token: &str, body: Value, status: StatusCode) -> Value {
    let response = sell(app, token, body.clone()).await;
    let got = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "sale {body}: {text}");
    serde_json::from_str(&text).unwrap()
}

async fn event_types(app: &TestApp) -> Vec<String> {
    marquee::integration::outbox::all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect()
}

db_test!(
    a_box_office_sale_sells_its_seats_once_and_a_repeat_answers_the_same,
    |app| {
        let f = fixtures::load(app).await;
        let partner = owning_partner(app, "owner@example.com").await;
        // The theatre's system uses its API key.
        let key: Value = send(
            app,
            Method::POST,
            "/api/v1/partner/api-keys",
            Some(&partner),
            Some(json!({"name": "box office"})),
        )
        .await
        .json()
        .await
        .unwrap();
        let key = key["key"].as_str().unwrap().to_owned();
        let show = f.noon.to_string();

        let sale = sell_ok(
            app,
            &key,
            json!({"show_id": show, "external_sale_id": "BO-1", "seats": ["A2", "A1"]}),
            StatusCode::CREATED,
        )
        .await;
        assert!(sale["id"].as_str().unwrap().starts_with("cts_"));
        assert_eq!(sale["external_sale_id"], "BO-1");
        assert_eq!(sale["seats"], json!(["A2", "A1"]));
        assert_eq!(sale["status"], "sold");
        assert_eq!(sale["voided_at"], Value::Null);
        assert_eq!(
            states(app, &f.noon, &["A1", "A2", "A3"]).await,
            ["booked", "booked", "available"]
        );

        // The same report again (in another order): the same sale, nothing changes.
        let repeat = sell_ok(
            app,
            &key,
            json!({"show_id": show, "external_sale_id": "BO-1", "seats": ["A1", "A2"]}),
            StatusCode::OK,
        )
        .await;
        assert_eq!(repeat, sale);
        // The same id for other seats is refused.
        let reused = sell(
            app,
            &key,
            json!({"show_id": show, "external_sale_id": "BO-1", "seats": ["A3"]}),
        )
        .await;
        assert_problem(reused, 409, "external-id-reused").await;

        // Online, the sold seats are taken.
        let ann = customer(app, "ann@example.com").await;
        let refused = hold(app, &ann, &f.noon, &["A1"]).await;
        assert_eq!(
            assert_problem(refused, 409, "seat-unavailable").await["seats"],
            json!(["A1"])
        );

        // A seat held online refuses the whole sale, and nothing of it is sold.
        hold_ok(app, &ann, &f.noon, &["B1"]).await;
        let conflict = sell(
            app,
            &key,
            json!({"show_id": show, "external_sale_id": "BO-2", "seats": ["B2", "B1", "A1"]}),
        )
        .await;
        let problem = assert_problem(conflict, 409, "seat-unavailable").await;
        assert_eq!(problem["seats"], json!(["A1", "B1"]));
        assert_eq!(
            states(app, &f.noon, &["B1", "B2"]).await,
            ["held", "available"]
        );
        let missing = send(app, Method::GET, &format!("{SALES}/BO-2"), Some(&key), None).await;
        assert_problem(missing, 404, "not-found").await;

        // Seats withheld for the box office can be sold there.
        send(
            app,
            Method::POST,
            &format!("/api/v1/partner/shows/{show}/inventory"),
            Some(&partner),
            Some(json!({"withhold": ["C1"]})),
        )
        .await;
        sell_ok(
            app,
            &key,
            json!({"show_id": show, "external_sale_id": "BO-3", "seats": ["C1"]}),
            StatusCode::CREATED,
        )
        .await;

        // Bad reports.
        let unknown = sell(
            app,
            &key,
            json!({"show_id": show, "external_sale_id": "BO-4", "seats": ["Z9"]}),
        )
        .await;
        assert_eq!(
            assert_problem(unknown, 422, "unknown-seats").await["seats"],
            json!(["Z9"])
        );
        for body in [
            json!({"show_id": show, "external_sale_id": "", "seats": ["A3"]}),
            json!({"show_id": show, "external_sale_id": "BO-5", "seats": []}),
            json!({"show_id": show, "external_sale_id": "BO-5", "seats": ["A3", "A3"]}),
        ] {
            assert_problem(sell(app, &key, body).await, 400, "invalid-request").await;
        }
        let other = other_partner(app, "other@example.com").await;
        let foreign = sell(
            app,
            &other,
            json!({"show_id": show, "external_sale_id": "X-1", "seats": ["A3"]}),
        )
        .await;
        assert_problem(foreign, 404, "not-found").await;
        let by_customer = sell(
            app,
            &ann,
            json!({"show_id": show, "external_sale_id": "X-2", "seats": ["A3"]}),
        )
        .await;
        assert_problem(by_customer, 403, "forbidden").await;
        let cancelled = sell(
        app,
        &key,
        json!({"show_id": f.cancelled.to_string(), "external_sale_id": "BO-6", "seats": ["A1"]}),
    )
    .await;
        assert_problem(cancelled, 409, "show-not-on-sale").await;

        // Voided: the seats are for sale again; voiding again changes nothing.
        let voided: Value = send(
            app,
            Method::POST,
            &format!("{SALES}/BO-1/void"),
            Some(&key),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(voided["status"], "voided");
        assert!(voided["voided_at"].is_string());
        assert_eq!(
            states(app, &f.noon, &["A1", "A2"]).await,
            ["available", "available"]
        );
        let again: Value = send(
            app,
            Method::POST,
            &format!("{SALES}/BO-1/void"),
            Some(&key),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(again, voided);
        let read: Value = send(app, Method::GET, &format!("{SALES}/BO-1"), Some(&key), None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(read, voided);
        hold_ok(app, &ann, &f.noon, &["A1"]).await;

        let types = event_types(app).await;
        let sales: Vec<&str> = types
            .iter()
            .map(String::as_str)
            .filter(|t| t.starts_with("counter_sale.") || *t == "seats.released")
            .collect();
        assert_eq!(
            sales,
            [
                "counter_sale.recorded",
                // The sale refused because of an online hold, told to the theatre.
                "counter_sale.conflicted",
                "counter_sale.recorded",
                "counter_sale.voided",
                "seats.released"
            ]
        );
    }
);

db_test!(
    counter_sales_and_online_holds_racing_for_the_same_seats_leave_each_seat_one_owner,
    |app| {
        let f = fixtures::load(app).await;
        let partner = owning_partner(app, "owner@example.com").await;
        let show = f.noon.to_string();
        let buyers = customers(app, 8).await;
        // Overlapping pairs of the ten seats, wanted online and at the counter at once.
        let seats = ["A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4", "C1", "C2"];
        let pair = |i: usize| vec![seats[i % 10], seats[(i + 1) % 10]];
        let mut holds = Vec::new();
        for (i, (_, token)) in buyers.iter().enumerate() {
            holds.push((
                token.clone(),
                json!({"show_id": show, "seats": pair(2 * i)}),
            ));
        }
        let mut sales = Vec::new();
        for i in 0..8 {
            sales.push((
                partner.clone(),
                json!({"show_id": show, "external_sale_id": format!("BO-{i}"), "seats": pair(2 * i + 1)}),
            ));
        }
        let (online, counter) = tokio::join!(
            race(app, "/api/v1/bookings", holds.clone()),
            race(app, SALES, sales.clone())
        );

        // Who got what, by the answers.
        let mut owners: BTreeMap<String, String> = BTreeMap::new();
        let mut claim = |owner: String, body: &Value| {
            for seat in body["seats"].as_array().unwrap() {
                let seat = seat.as_str().unwrap().to_owned();
                if let Some(previous) = owners.insert(seat.clone(), owner.clone()) {
                    panic!("{seat} sold to {previous} and to {owner}");
                }
            }
        };
        let (mut online_won, mut counter_won) = (0, 0);
        for ((status, body), (_, asked)) in online.iter().zip(&holds) {
            match status {
                201 => {
                    online_won += 1;
                    claim(body["id"].as_str().unwrap().to_owned(), asked);
                }
                409 => assert_eq!(
                    body["type"],
                    "https://marquee.example/problems/seat-unavailable"
                ),
                other => panic!("hold answered {other}: {body}"),
            }
        }
        for (status, body) in &counter {
            match status {
                201 => {
                    counter_won += 1;
                    claim(body["id"].as_str().unwrap().to_owned(), body);
                }
                409 => assert_eq!(
                    body["type"],
                    "https://marquee.example/problems/seat-unavailable"
                ),
                other => panic!("sale answered {other}: {body}"),
            }
        }
        assert!(
            online_won + counter_won >= 3,
            "ten seats in pairs: at least 3 winners"
        );

        // The stored seats agree with the answers, seat by seat.
        let stored: Vec<(String, String, Option<String>)> = app
            .db
            .fetch_all(
                "SELECT seat_label, state, booking_id FROM show_seats WHERE show_id = $1 \
                 ORDER BY seat_label",
                marquee::params![show.as_str()],
            )
            .await
            .unwrap();
        let mut sold = BTreeSet::new();
        for (label, state, owner) in stored {
            match owners.get(&label) {
                Some(winner) => {
                    assert_eq!(owner.as_deref(), Some(winner.as_str()), "{label}");
                    let expected = if winner.starts_with("cts_") {
                        "booked"
                    } else {
                        "held"
                    };
                    assert_eq!(state, expected, "{label}");
                    sold.insert(label);
                }
                None => assert_eq!((state.as_str(), owner), ("available", None), "{label}"),
            }
        }
        assert_eq!(sold.len(), owners.len());
        let recorded: Vec<String> = app
            .db
            .fetch_all("SELECT id FROM counter_sales WHERE status = 'sold'", &[])
            .await
            .unwrap();
        assert_eq!(recorded.len(), counter_won);
    }
);

db_test!(
    the_same_sale_reported_twice_at_once_is_recorded_once,
    |app| {
        let f = fixtures::load(app).await;
        let partner = owning_partner(app, "owner@example.com").await;
        let report = json!({"show_id": f.noon.to_string(), "external_sale_id": "BO-77",
                            "seats": ["B3", "B4"]});
        let answers = race(app, SALES, vec![(partner.clone(), report.clone()); 6]).await;
        let mut statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 200, 200, 200, 200, 201], "{answers:?}");
        let ids: BTreeSet<&str> = answers
            .iter()
            .map(|(_, body)| body["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 1, "one sale: {answers:?}");
        let recorded = event_types(app)
            .await
            .into_iter()
            .filter(|t| t == "counter_sale.recorded")
            .count();
        assert_eq!(recorded, 1);
    }
);
