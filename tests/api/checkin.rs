//! Check-in at the theatre's door: the first scan admits and a second is refused with
//! when and where; other organisations' tickets are not found, forged ones invalid,
//! cancelled bookings admit nobody; scanners racing for one ticket admit it once; offline
//! batches are placed by their own times (the earliest scan is the admission), conflicts
//! flagged, and a re-sent batch changes nothing; a show's admissions and conflicts.

use std::collections::BTreeMap;

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::{
    booking::{cancel, confirmed, customer, id_of, login, other_partner, owning_partner, race},
    db_test, fixtures,
    helpers::{TestApp, assert_problem, send, test_epoch},
};

const CHECK_INS: &str = "/api/v1/partner/check-ins";
const BATCH: &str = "/api/v1/partner/check-ins/batch";

/// The ticket code of a confirmed booking.
async fn code_of(app: &TestApp, token: &str, booking: &str) -> String {
    let response = send(
        app,
        Method::GET,
        &format!("/api/v1/bookings/{booking}/ticket"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let ticket: Value = response.json().await.unwrap();
    ticket["code"].as_str().unwrap().to_owned()
}

async fn scan(app: &TestApp, token: &str, body: Value) -> Response {
    send(app, Method::POST, CHECK_INS, Some(token), Some(body)).await
}

/// A scan that must answer `status`; returns its body.
async fn scan_ok(app: &TestApp, token: &str, body: Value, status: StatusCode) -> Value {
    let response = scan(app, token, body.clone()).await;
    let got = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "scan {body}: {text}");
    serde_json::from_str(&text).unwrap()
}

async fn batch(app: &TestApp, token: &str, body: Value) -> Response {
    send(app, Method::POST, BATCH, Some(token), Some(body)).await
}

async fn batch_ok(app: &TestApp, token: &str, body: Value) -> Value {
    let response = batch(app, token, body).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "batch: {text}");
    serde_json::from_str(&text).unwrap()
}

async fn list(app: &TestApp, token: &str, show: &str, query: &str) -> Response {
    send(
        app,
        Method::GET,
        &format!("/api/v1/partner/shows/{show}/check-ins{query}"),
        Some(token),
        None,
    )
    .await
}

/// `code` with the first character of its signature part changed.
fn forged(code: &str) -> String {
    let (rest, signature) = code.rsplit_once('.').unwrap();
    let mut chars: Vec<char> = signature.chars().collect();
    chars[0] = if chars[0] == 'A' { 'B' } else { 'A' };
    format!("{rest}.{}", chars.into_iter().collect::<String>())
}

/// Test time plus `minutes`, as the API writes it.
fn at(minutes: i64) -> String {
    (test_epoch() + chrono::Duration::minutes(minutes))
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Every recorded scan of the booking as (scanner, outcome, scanned_at), oldest first.
async fn recorded(app: &TestApp, booking: &str) -> Vec<(String, String, String)> {
    marquee::checkin::scans_of_booking(&app.db, booking)
        .await
        .unwrap()
        .into_iter()
        .map(|s| {
            let outcome = serde_json::to_value(s.outcome).unwrap();
            (
                s.scanner_id,
                outcome.as_str().unwrap().to_owned(),
                s.scanned_at.to_rfc3339(),
            )
        })
        .collect()
}

async fn scan_count(app: &TestApp) -> i64 {
    app.db
        .fetch_one("SELECT COUNT(*) FROM ticket_scans", &[])
        .await
        .unwrap()
}

db_test!(
    a_second_scan_is_refused_with_when_and_by_which_scanner_it_was_admitted,
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        let owner = owning_partner(app, "pat@example.com").await;
        let booking = confirmed(app, &ana, &f.noon, &["B2", "B1"]).await;
        let id = id_of(&booking);
        let code = code_of(app, &ana, &id).await;

        let admitted = scan_ok(
            app,
            &owner,
            json!({"code": code, "scanner_id": "door-1"}),
            StatusCode::CREATED,
        )
        .await;
        let scan_id = admitted["scan_id"].as_str().unwrap().to_owned();
        assert!(scan_id.starts_with("scn_"), "{admitted}");
        assert_eq!(
            admitted,
            json!({"scan_id": scan_id, "booking_id": id, "show_id": f.noon.as_str(),
                   "show_starts_at": "2026-11-22T06:30:00Z", "seats": ["B1", "B2"],
                   "scanner_id": "door-1", "scanned_at": "2026-11-22T03:30:00Z"})
        );

        // Two minutes later, at the other door, through the organisation's API key.
        app.clock.advance(chrono::Duration::minutes(2));
        let owner = login(app, "pat@example.com").await;
        let key: Value = send(
            app,
            Method::POST,
            "/api/v1/partner/api-keys",
            Some(&owner),
            Some(json!({"name": "door 2"})),
        )
        .await
        .json()
        .await
        .unwrap();
        let key = key["key"].as_str().unwrap().to_owned();
        let refused = assert_problem(
            scan(app, &key, json!({"code": code, "scanner_id": "door-2"})).await,
            409,
            "already-checked-in",
        )
        .await;
        assert_eq!(refused["booking_id"], id.as_str());
        assert_eq!(refused["first_scanner_id"], "door-1");
        assert_eq!(refused["first_scanned_at"], "2026-11-22T03:30:00Z");
        assert_eq!(
            refused["detail"],
            format!(
                "booking {id} was already checked in at 2026-11-22T03:30:00Z by scanner door-1"
            )
        );
        // The same scanner scanning again, a minute later, is refused too.
        app.clock.advance(chrono::Duration::minutes(1));
        assert_problem(
            scan(app, &owner, json!({"code": code, "scanner_id": "door-1"})).await,
            409,
            "already-checked-in",
        )
        .await;
        // The first scan sent again (its answer was lost): the same admission, 200.
        let repeated = scan_ok(
            app,
            &owner,
            json!({"code": code, "scanner_id": "door-1", "scanned_at": at(0)}),
            StatusCode::OK,
        )
        .await;
        assert_eq!(repeated, admitted);

        // Every refused scan is kept as evidence; the repeat recorded nothing.
        assert_eq!(
            recorded(app, &id).await,
            [
                ("door-1".into(), "admitted".into(), at(0)),
                ("door-2".into(), "refused".into(), at(2)),
                ("door-1".into(), "refused".into(), at(3)),
            ]
        );
    }
);

db_test!(
    other_organisations_tickets_are_not_found_and_forged_codes_are_invalid,
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        let owner = owning_partner(app, "pat@example.com").await;
        let stranger = other_partner(app, "sam@example.com").await;
        let booking = confirmed(app, &ana, &f.noon, &["A1"]).await;
        let id = id_of(&booking);
        let code = code_of(app, &ana, &id).await;

        let hidden = assert_problem(
            scan(
                app,
                &stranger,
                json!({"code": code, "scanner_id": "door-1"}),
            )
            .await,
            404,
            "not-found",
        )
        .await;
        assert_eq!(hidden["detail"], format!("no ticket {id} for your shows"));
        for bad in [forged(&code), "MQ1.garbage.sig".into(), String::new()] {
            assert_problem(
                scan(app, &owner, json!({"code": bad, "scanner_id": "door-1"})).await,
                422,
                "invalid-ticket",
            )
            .await;
        }
        for (scanner, scanned_at, why) in [
            ("", at(0), "scanner_id must be 1 to 64 characters"),
            ("door\n1", at(0), "scanner_id must be 1 to 64 characters"),
            ("door-1", at(6), "ahead of the server's clock"),
            ("door-1", at(-8 * 24 * 60), "more than 7 days before"),
        ] {
            let problem = assert_problem(
                scan(
                    app,
                    &owner,
                    json!({"code": code, "scanner_id": scanner, "scanned_at": scanned_at}),
                )
                .await,
                422,
                "invalid-check-in",
            )
            .await;
            let detail = problem["detail"].as_str().unwrap();
            assert!(detail.contains(why), "{detail}");
        }
        // None of that used the ticket: it still admits, at the right theatre.
        assert!(recorded(app, &id).await.is_empty());
        let admitted = scan_ok(
            app,
            &owner,
            json!({"code": code, "scanner_id": "door-1", "scanned_at": at(5)}),
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(admitted["scanned_at"], at(5));
        // Nor can the other organisation list the show's check-ins.
        assert_problem(
            list(app, &stranger, f.noon.as_str(), "").await,
            404,
            "not-found",
        )
        .await;
        // A customer cannot scan at all.
        assert_problem(
            scan(app, &ana, json!({"code": code, "scanner_id": "door-1"})).await,
            403,
            "forbidden",
        )
        .await;
    }
);

db_test!(
    a_cancelled_booking_admits_nobody_and_refunded_seats_are_not_admitted,
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        let owner = owning_partner(app, "pat@example.com").await;
        let booking = confirmed(app, &ana, &f.noon, &["A1"]).await;
        let id = id_of(&booking);
        let code = code_of(app, &ana, &id).await;
        assert_eq!(cancel(app, &ana, &id).await.status(), StatusCode::OK);

        let refused = assert_problem(
            scan(app, &owner, json!({"code": code, "scanner_id": "door-1"})).await,
            409,
            "ticket-not-admissible",
        )
        .await;
        assert_eq!(refused["booking_status"], "cancelled");
        assert_eq!(refused["booking_id"], id.as_str());
        assert!(recorded(app, &id).await.is_empty());

        // A seat given back (refunded) is no longer the booking's: the ticket code still
        // lists it, the door admits only the seats the booking holds now.
        let two = confirmed(app, &ana, &f.noon, &["A3", "A4"]).await;
        let two_id = id_of(&two);
        let code = code_of(app, &ana, &two_id).await;
        let (show, booking) = (f.noon.to_string(), two_id.clone());
        app.db
            .write(move |tx| {
                tx.execute(
                    "UPDATE show_seats SET state = 'available', booking_id = NULL \
                     WHERE show_id = $1 AND booking_id = $2 AND seat_label = 'A4'",
                    marquee::params![&show, &booking],
                )
            })
            .await
            .unwrap();
        let admitted = scan_ok(
            app,
            &owner,
            json!({"code": code, "scanner_id": "door-1"}),
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(admitted["seats"], json!(["A3"]));
    }
);

db_test!(
    scanners_racing_for_one_ticket_admit_it_exactly_once,
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        let owner = owning_partner(app, "pat@example.com").await;
        let booking = confirmed(app, &ana, &f.noon, &["C1", "C2"]).await;
        let id = id_of(&booking);
        let code = code_of(app, &ana, &id).await;

        const SCANNERS: usize = 16;
        let requests = (0..SCANNERS)
            .map(|i| {
                (
                    owner.clone(),
                    json!({"code": code, "scanner_id": format!("door-{i}")}),
                )
            })
            .collect();
        let answers = race(app, CHECK_INS, requests).await;
        let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
        for (status, _) in &answers {
            *by_status.entry(*status).or_default() += 1;
        }
        assert_eq!(
            by_status,
            BTreeMap::from([(201, 1), (409, SCANNERS - 1)]),
            "{answers:?}"
        );
        let winner = answers
            .iter()
            .find(|(status, _)| *status == 201)
            .map(|(_, body)| body["scanner_id"].as_str().unwrap().to_owned())
            .unwrap();
        for (status, body) in &answers {
            if *status == 409 {
                assert_eq!(body["first_scanner_id"], winner.as_str(), "{body}");
                assert_eq!(body["first_scanned_at"], at(0));
            }
        }
        let scans = recorded(app, &id).await;
        assert_eq!(scans.len(), SCANNERS);
        let admitted: Vec<_> = scans.iter().filter(|s| s.1 == "admitted").collect();
        assert_eq!(admitted.len(), 1);
        assert_eq!(admitted[0].0, winner);
    }
);

db_test!(
    offline_scans_are_placed_by_their_own_times_conflicts_are_flagged_and_a_resent_batch_changes_nothing,
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        let owner = owning_partner(app, "pat@example.com").await;
        let noon = f.noon.as_str();
        let mut codes = BTreeMap::new();
        let mut ids = BTreeMap::new();
        for (name, seat) in [("b1", "A1"), ("b2", "A2"), ("b3", "B1"), ("b4", "B3"), ("b5", "B4")] {
            let booking = confirmed(app, &ana, &f.noon, &[seat]).await;
            let id = id_of(&booking);
            codes.insert(name, code_of(app, &ana, &id).await);
            ids.insert(name, id);
        }
        assert_eq!(cancel(app, &ana, &ids["b3"]).await.status(), StatusCode::OK);
        // b4 is admitted online at door-1 at 03:30, before the offline scanner reports.
        scan_ok(
            app,
            &owner,
            json!({"code": codes["b4"], "scanner_id": "door-1"}),
            StatusCode::CREATED,
        )
        .await;

        app.clock.advance(chrono::Duration::minutes(10));
        let owner = login(app, "pat@example.com").await;
        let offline = json!({"scanner_id": "door-9", "scans": [
            {"code": codes["b1"], "scanned_at": at(-10)},
            {"code": codes["b1"], "scanned_at": at(-5)},
            {"code": codes["b4"], "scanned_at": at(5)},
            {"code": forged(&codes["b2"]), "scanned_at": at(6)},
            {"code": codes["b3"], "scanned_at": at(7)},
            {"code": codes["b2"], "scanned_at": at(-9)},
        ]});
        let answer = batch_ok(app, &owner, offline.clone()).await;
        assert_eq!(answer["scanner_id"], "door-9");
        let results = answer["results"].as_array().unwrap();
        let kinds: Vec<&str> = results
            .iter()
            .map(|r| r["result"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "admitted",
                "duplicate",
                "conflict",
                "invalid",
                "not_admissible",
                "admitted"
            ]
        );
        for (index, result) in results.iter().enumerate() {
            assert_eq!(result["index"], index);
        }
        assert_eq!(results[0]["booking_id"], ids["b1"].as_str());
        assert_eq!(results[0]["seats"], json!(["A1"]));
        assert_eq!(results[0]["admission"]["scanner_id"], "door-9");
        assert_eq!(results[0]["admission"]["scanned_at"], at(-10));
        assert_eq!(results[1]["admission"]["scanned_at"], at(-10));
        // The online admission was earlier: it stays the admission of record.
        assert_eq!(results[2]["admission"]["scanner_id"], "door-1");
        assert_eq!(results[2]["admission"]["scanned_at"], at(0));
        assert_eq!(
            results[3],
            json!({"index": 3, "result": "invalid",
                   "detail": "the code is not a ticket Marquee issued"})
        );
        assert_eq!(results[4]["status"], "cancelled");
        assert_eq!(results[4]["booking_id"], ids["b3"].as_str());
        assert!(results[4].get("scan_id").is_none());

        // The door now refuses b2 online, naming the offline scanner and its time.
        let refused = assert_problem(
            scan(app, &owner, json!({"code": codes["b2"], "scanner_id": "door-1"})).await,
            409,
            "already-checked-in",
        )
        .await;
        assert_eq!(refused["first_scanner_id"], "door-9");
        assert_eq!(refused["first_scanned_at"], at(-9));

        // The scanner never saw the answer and sends the batch again: the same answer,
        // nothing recorded twice, no new conflict.
        let scans_before = scan_count(app).await;
        let again = batch_ok(app, &owner, offline).await;
        assert_eq!(again, answer);
        assert_eq!(scan_count(app).await, scans_before);

        // An offline scan earlier than an online admission: the earliest scan is the
        // admission of record, the online one becomes the conflict.
        scan_ok(
            app,
            &owner,
            json!({"code": codes["b5"], "scanner_id": "door-1"}),
            StatusCode::CREATED,
        )
        .await;
        let late = batch_ok(
            app,
            &owner,
            json!({"scanner_id": "door-7", "scans": [{"code": codes["b5"], "scanned_at": at(3)}]}),
        )
        .await;
        assert_eq!(late["results"][0]["result"], "conflict");
        assert_eq!(late["results"][0]["admission"]["scanner_id"], "door-7");
        assert_eq!(late["results"][0]["admission"]["scanned_at"], at(3));
        assert_eq!(
            recorded(app, &ids["b5"]).await,
            [
                ("door-7".into(), "admitted".into(), at(3)),
                ("door-1".into(), "conflict".into(), at(10)),
            ]
        );
        let refused = assert_problem(
            scan(app, &owner, json!({"code": codes["b5"], "scanner_id": "door-2"})).await,
            409,
            "already-checked-in",
        )
        .await;
        assert_eq!(refused["first_scanner_id"], "door-7");

        // The show's list: admissions and conflicts in scan order, with the counts.
        let response = list(app, &owner, noon, "").await;
        assert_eq!(response.status(), StatusCode::OK);
        let all: Value = response.json().await.unwrap();
        assert_eq!(all["show_id"], noon);
        assert_eq!(
            all["counts"],
            json!({"admitted": 4, "seats_admitted": 4, "conflicts": 2, "refused": 2})
        );
        let items: Vec<(String, String, String)> = all["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["booking_id"].as_str().unwrap().to_owned(),
                    s["scanner_id"].as_str().unwrap().to_owned(),
                    s["outcome"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let item = |b: &str, scanner: &str, outcome: &str| {
            (ids[b].clone(), scanner.to_owned(), outcome.to_owned())
        };
        assert_eq!(
            items,
            [
                item("b1", "door-9", "admitted"),  // 03:20
                item("b2", "door-9", "admitted"),  // 03:21
                item("b4", "door-1", "admitted"),  // 03:30
                item("b5", "door-7", "admitted"),  // 03:33
                item("b4", "door-9", "conflict"),  // 03:35
                item("b5", "door-1", "conflict"),  // 03:40
            ]
        );
        assert!(all["next_cursor"].is_null());
        let conflicts: Value = list(app, &owner, noon, "?conflicts_only=true")
            .await
            .json()
            .await
            .unwrap();
        let conflicted: Vec<&str> = conflicts["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["booking_id"].as_str().unwrap())
            .collect();
        assert_eq!(conflicted, [ids["b4"].as_str(), ids["b5"].as_str()]);
        assert_eq!(conflicts["items"][0]["source"], "offline");
        assert_eq!(conflicts["items"][1]["source"], "online");
        assert_eq!(conflicts["counts"], all["counts"]);

        // Pages of two, following the cursor, give the same list.
        let mut paged = Vec::new();
        let mut query = "?limit=2".to_owned();
        loop {
            let page: Value = list(app, &owner, noon, &query).await.json().await.unwrap();
            let n = page["items"].as_array().unwrap().len();
            assert!(n <= 2);
            paged.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(cursor) => query = format!("?limit=2&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(Value::Array(paged), all["items"]);
        assert_problem(
            list(app, &owner, noon, "?cursor=nonsense").await,
            400,
            "invalid-cursor",
        )
        .await;
    }
);

db_test!(
    a_batch_is_bounded_and_a_scan_time_the_scanner_cannot_have_made_refuses_it,
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        let owner = owning_partner(app, "pat@example.com").await;
        let booking = confirmed(app, &ana, &f.noon, &["A1"]).await;
        let code = code_of(app, &ana, &id_of(&booking)).await;

        let too_many: Vec<Value> = (0..501)
            .map(|_| json!({"code": "x", "scanned_at": at(0)}))
            .collect();
        let problem = assert_problem(
            batch(
                app,
                &owner,
                json!({"scanner_id": "door-9", "scans": too_many}),
            )
            .await,
            422,
            "invalid-check-in",
        )
        .await;
        assert_eq!(problem["detail"], "a batch carries 1 to 500 scans, not 501");
        assert_problem(
            batch(app, &owner, json!({"scanner_id": "door-9", "scans": []})).await,
            422,
            "invalid-check-in",
        )
        .await;
        for (scanned_at, why) in [
            (
                at(6),
                "scans[1]: scanned_at 2026-11-22T03:36:00Z is 360 s ahead",
            ),
            (
                at(-7 * 24 * 60 - 1),
                "scans[1]: scanned_at 2026-11-15T03:29:00Z is more than 7 days",
            ),
        ] {
            let problem = assert_problem(
                batch(
                    app,
                    &owner,
                    json!({"scanner_id": "door-9", "scans": [
                        {"code": code, "scanned_at": at(-1)},
                        {"code": code, "scanned_at": scanned_at},
                    ]}),
                )
                .await,
                422,
                "invalid-check-in",
            )
            .await;
            let detail = problem["detail"].as_str().unwrap();
            assert!(detail.starts_with(why), "{detail}");
        }
        assert_problem(
            batch(
                app,
                &owner,
                json!({"scanner_id": "door-9", "scans": [{"code": code, "scanned_at": "yesterday"}]}),
            )
            .await,
            400,
            "invalid-body",
        )
        .await;
        // Nothing of the refused batches was recorded.
        assert_eq!(scan_count(app).await, 0);
    }
);

db_test!(
    offline_batches_racing_for_one_ticket_leave_the_earliest_scan_as_its_admission,
    |app| {
        let f = fixtures::load(app).await;
        let ana = customer(app, "ana@example.com").await;
        let owner = owning_partner(app, "pat@example.com").await;
        let booking = confirmed(app, &ana, &f.noon, &["A2"]).await;
        let id = id_of(&booking);
        let code = code_of(app, &ana, &id).await;

        // Scanner door-i read the ticket i minutes ago; they all report at once.
        const SCANNERS: i64 = 8;
        let requests = (0..SCANNERS)
            .map(|i| {
                (
                    owner.clone(),
                    json!({"scanner_id": format!("door-{i}"),
                           "scans": [{"code": code, "scanned_at": at(-i)}]}),
                )
            })
            .collect();
        let answers = race(app, BATCH, requests).await;
        for (status, body) in &answers {
            assert_eq!(*status, 200, "{body}");
            let result = body["results"][0]["result"].as_str().unwrap();
            assert!(["admitted", "conflict"].contains(&result), "{body}");
        }
        let mut scans = recorded(app, &id).await;
        scans.sort();
        let expected: Vec<(String, String, String)> = (0..SCANNERS)
            .map(|i| {
                let outcome = if i == SCANNERS - 1 {
                    "admitted"
                } else {
                    "conflict"
                };
                (format!("door-{i}"), outcome.to_owned(), at(-i))
            })
            .collect();
        assert_eq!(scans, expected);
    }
);
