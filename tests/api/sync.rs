//! Inbound sync by the theatre system's own ids: created once, the same document again
//! changes nothing, what may change is updated, what may not is refused.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    booking::{other_partner, owning_partner},
    db_test, fixtures,
    helpers::{TestApp, assert_problem, send},
};

async fn put(app: &TestApp, token: &str, path: &str, body: &Value) -> (StatusCode, Value) {
    let response = send(app, Method::PUT, path, Some(token), Some(body.clone())).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

db_test!(
    a_theatre_sent_by_its_own_id_is_created_once_then_updated_or_left_alone,
    |app| {
        let f = fixtures::load(app).await;
        let partner = owning_partner(app, "owner@example.com").await;
        let path = "/api/v1/partner/sync/theatres/BLR-01";
        let document = json!({"city_id": f.testpur.to_string(), "name": "Lakeside",
                          "address": "1 Lake Road"});

        let (status, created) = put(app, &partner, path, &document).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        assert!(id.starts_with("thr_"));
        assert_eq!(
            created,
            json!({"id": id, "external_id": "BLR-01", "city_id": f.testpur.to_string(),
               "name": "Lakeside", "address": "1 Lake Road", "outcome": "created"})
        );
        let (status, again) = put(app, &partner, path, &document).await;
        assert_eq!(
            (status, &again["outcome"], &again["id"]),
            (StatusCode::OK, &json!("unchanged"), &json!(id))
        );

        let renamed = json!({"city_id": f.testpur.to_string(), "name": "Lakeside Grand",
                         "address": "1 Lake Road"});
        let (status, updated) = put(app, &partner, path, &renamed).await;
        assert_eq!(
            (status, &updated["outcome"]),
            (StatusCode::OK, &json!("updated"))
        );
        assert_eq!(updated["name"], "Lakeside Grand");
        let listed: Value = send(
            app,
            Method::GET,
            "/api/v1/partner/theatres",
            Some(&partner),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
        let named: Vec<&Value> = listed["items"]
            .as_array()
            .or(listed.as_array())
            .unwrap()
            .iter()
            .filter(|t| t["id"] == json!(id))
            .collect();
        assert_eq!(named.len(), 1);
        assert_eq!(named[0]["name"], "Lakeside Grand");

        // A theatre does not move.
        let moved = json!({"city_id": f.westville.to_string(), "name": "Lakeside Grand",
                       "address": "1 Lake Road"});
        let response = send(app, Method::PUT, path, Some(&partner), Some(moved)).await;
        assert_problem(response, 409, "sync-change-refused").await;

        // Bad ids and documents.
        for bad in [
            "/api/v1/partner/sync/theatres/a%20b",
            "/api/v1/partner/sync/theatres/%C3%A9",
        ] {
            let response = send(
                app,
                Method::PUT,
                bad,
                Some(&partner),
                Some(document.clone()),
            )
            .await;
            assert_problem(response, 400, "invalid-request").await;
        }
        let nowhere = json!({"city_id": "cty_nowhere", "name": "X", "address": "Y"});
        let response = send(app, Method::PUT, path, Some(&partner), Some(nowhere)).await;
        assert_problem(response, 422, "unknown-city").await;

        // Another organisation's same id is its own theatre.
        let other = other_partner(app, "other@example.com").await;
        let (status, theirs) = put(app, &other, path, &document).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_ne!(theirs["id"], json!(id));
    }
);

db_test!(
    the_same_new_theatre_sent_six_times_at_once_is_created_once,
    |app| {
        let f = fixtures::load(app).await;
        let partner = owning_partner(app, "owner@example.com").await;
        let document =
            json!({"city_id": f.testpur.to_string(), "name": "Twin", "address": "2 Road"});
        let sends = (0..6).map(|_| {
            let (client, url, token, body) = (
                app.client.clone(),
                app.url("/api/v1/partner/sync/theatres/TWIN"),
                partner.clone(),
                document.clone(),
            );
            tokio::spawn(async move {
                let response = client
                    .put(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                (
                    response.status().as_u16(),
                    response.json::<Value>().await.unwrap(),
                )
            })
        });
        let mut answers = Vec::new();
        for send in sends.collect::<Vec<_>>() {
            answers.push(send.await.unwrap());
        }
        let mut statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 200, 200, 200, 200, 201], "{answers:?}");
        let ids: BTreeSet<&str> = answers
            .iter()
            .map(|(_, b)| b["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 1);
        let rows: Vec<String> = app
            .db
            .fetch_all(
                "SELECT id FROM theatres WHERE external_id = $1",
                marquee::params!["TWIN"],
            )
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
    }
);

db_test!(
    a_screen_sent_by_its_own_id_keeps_its_layout_until_the_rows_change,
    |app| {
        let f = fixtures::load(app).await;
        let partner = owning_partner(app, "owner@example.com").await;
        let theatre =
            json!({"city_id": f.testpur.to_string(), "name": "Lakeside", "address": "1 Road"});
        put(
            app,
            &partner,
            "/api/v1/partner/sync/theatres/BLR-01",
            &theatre,
        )
        .await;
        let path = "/api/v1/partner/sync/theatres/BLR-01/screens/S1";
        let rows = json!([
            {"label": "A", "category": "regular", "blocks": [3, 3]},
            {"label": "B", "category": "premium", "blocks": [4], "accessible": [1]}
        ]);
        let document = json!({"name": "Audi 1", "rows": rows});

        let (status, created) = put(app, &partner, path, &document).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert!(created["id"].as_str().unwrap().starts_with("scr_"));
        assert_eq!(created["seat_count"], 10);
        assert_eq!(created["theatre_external_id"], "BLR-01");
        assert_eq!(created["outcome"], "created");
        let layout = created["layout_id"].clone();

        let (status, same) = put(app, &partner, path, &document).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(same["outcome"], "unchanged");
        assert_eq!((&same["id"], &same["layout_id"]), (&created["id"], &layout));

        let renamed = json!({"name": "Audi One", "rows": rows});
        let (_, renamed) = put(app, &partner, path, &renamed).await;
        assert_eq!(
            (&renamed["outcome"], &renamed["layout_id"]),
            (&json!("updated"), &layout)
        );

        let bigger = json!({"name": "Audi One", "rows": [
            {"label": "A", "category": "regular", "blocks": [3, 3]},
            {"label": "B", "category": "premium", "blocks": [4], "accessible": [1]},
            {"label": "C", "category": "recliner", "blocks": [2]}
        ]});
        let (status, relaid) = put(app, &partner, path, &bigger).await;
        assert_eq!(
            (status, &relaid["outcome"]),
            (StatusCode::OK, &json!("updated"))
        );
        assert_ne!(relaid["layout_id"], layout);
        assert_eq!(relaid["seat_count"], 12);
        let (_, again) = put(app, &partner, path, &bigger).await;
        assert_eq!(
            (&again["outcome"], &again["layout_id"]),
            (&json!("unchanged"), &relaid["layout_id"])
        );

        // Another screen of the theatre may not take the name; an unknown theatre is 404.
        let clash = json!({"name": "Audi One", "rows": rows});
        let response = send(
            app,
            Method::PUT,
            "/api/v1/partner/sync/theatres/BLR-01/screens/S2",
            Some(&partner),
            Some(clash.clone()),
        )
        .await;
        assert_problem(response, 409, "duplicate-screen").await;
        let response = send(
            app,
            Method::PUT,
            "/api/v1/partner/sync/theatres/NOPE/screens/S1",
            Some(&partner),
            Some(clash.clone()),
        )
        .await;
        assert_problem(response, 404, "not-found").await;
        // Another organisation cannot reach this theatre by its id.
        let other = other_partner(app, "other@example.com").await;
        let response = send(app, Method::PUT, path, Some(&other), Some(clash)).await;
        assert_problem(response, 404, "not-found").await;
    }
);
