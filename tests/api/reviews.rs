//! Reviews and ratings over the API, on both engines: only customers who saw the movie
//! review it, once (editable); the movie's rating stays exact under concurrent reviews;
//! lists in two orders with pages; helpful votes; administrators hide a review.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    booking::{confirmed, customer, login, race_with},
    db_test, db_test_with, fixtures,
    helpers::{TestApp, send},
};

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let response = send(app, method, path, token, body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

db_test_with!(
    customers_who_saw_a_movie_rate_it_and_the_average_holds_under_concurrent_reviews,
    |config| {
        config.limits.registrations_per_client_per_minute = 1_000;
        config.auth.login_attempts_per_client_per_minute = 1_000;
        config.limits.review_writes_per_account_per_minute = 1_000;
    },
    |app| {
        let f = fixtures::load(app).await;
        let seats = ["A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4", "C1", "C2"];
        let mut viewers = Vec::new();
        for (i, seat) in seats.iter().enumerate() {
            let email = format!("viewer{i}@example.com");
            let token = customer(app, &email).await;
            confirmed(app, &token, &f.noon, &[seat]).await;
            viewers.push(email);
        }
        let mine = format!("/api/v1/movies/{}/reviews/me", f.alpha);
        let first = login(app, &viewers[0]).await;
        // Before the show has ended: not yet.
        let (status, problem) = call(
            app,
            Method::PUT,
            &mine,
            Some(&first),
            Some(json!({"rating": 5})),
        )
        .await;
        assert_eq!(status, 403, "{problem}");
        assert!(
            problem["type"]
                .as_str()
                .unwrap()
                .ends_with("/review-not-allowed")
        );

        // The noon show (06:30–08:30 UTC) is over.
        app.clock.set("2026-11-22T09:00:00Z".parse().unwrap());
        let mut tokens = Vec::new();
        for email in &viewers {
            tokens.push(login(app, email).await);
        }
        let stranger = customer(app, "never.went@example.com").await;
        let (status, _) = call(
            app,
            Method::PUT,
            &mine,
            Some(&stranger),
            Some(json!({"rating": 5})),
        )
        .await;
        assert_eq!(status, 403);
        for bad in [
            json!({"rating": 0}),
            json!({"rating": 6}),
            json!({"rating": 3, "body": "x".repeat(2_001)}),
        ] {
            let (status, problem) =
                call(app, Method::PUT, &mine, Some(&tokens[0]), Some(bad)).await;
            assert_eq!(status, 422, "{problem}");
            assert!(
                problem["type"]
                    .as_str()
                    .unwrap()
                    .ends_with("/invalid-review")
            );
        }
        let (status, _) = call(
            app,
            Method::PUT,
            "/api/v1/movies/mov_00000000000000000000000000/reviews/me",
            Some(&tokens[0]),
            Some(json!({"rating": 3})),
        )
        .await;
        assert_eq!(status, 404);

        // Ten reviews at once: ratings 1..5 twice (sum 30), every one counted.
        let requests: Vec<(String, Value)> = tokens
        .iter()
        .enumerate()
        .map(|(i, token)| {
            (token.clone(), json!({"rating": (i % 5) + 1, "body": format!("Review {i}: <b>loud</b> & 'quoted'")}))
        })
        .collect();
        let answers = race_with(app, Method::PUT, &mine, requests).await;
        assert!(
            answers.iter().all(|(status, _)| *status == 201),
            "{answers:?}"
        );
        let detail = call(
            app,
            Method::GET,
            &format!("/api/v1/movies/{}", f.alpha),
            None,
            None,
        )
        .await
        .1;
        assert_eq!(detail["rating"], json!({"count": 10, "average": 3.0}));

        // Editing keeps one review: 1 → 5 makes the sum 34.
        let (status, edited) = call(
            app,
            Method::PUT,
            &mine,
            Some(&tokens[0]),
            Some(json!({"rating": 5, "body": "Better the second time"})),
        )
        .await;
        assert_eq!(status, 200, "{edited}");
        assert_eq!(edited["status"], "visible");
        let detail = call(
            app,
            Method::GET,
            &format!("/api/v1/movies/{}", f.alpha),
            None,
            None,
        )
        .await
        .1;
        assert_eq!(detail["rating"], json!({"count": 10, "average": 3.4}));
        let review_of_first = edited["id"].as_str().unwrap().to_owned();

        // Newest first, in pages of four: every review once, text as written.
        let list = format!("/api/v1/movies/{}/reviews", f.alpha);
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("{list}?limit=4&cursor={c}"),
                None => format!("{list}?limit=4"),
            };
            let (status, page) = call(app, Method::GET, &path, None, None).await;
            assert_eq!(status, 200, "{page}");
            for item in page["items"].as_array().unwrap() {
                assert!(item.get("status").is_none(), "status is for the author");
                seen.push(item["id"].as_str().unwrap().to_owned());
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!((seen.len(), unique.len()), (10, 10));
        let (_, page) = call(app, Method::GET, &format!("{list}?limit=100"), None, None).await;
        assert!(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["body"] == "Review 3: <b>loud</b> & 'quoted'")
        );

        // Helpful votes: once per customer, never for your own.
        let helpful = format!("/api/v1/reviews/{review_of_first}/helpful");
        for token in [&tokens[1], &tokens[1], &tokens[2]] {
            let (status, _) = call(app, Method::POST, &helpful, Some(token), None).await;
            assert_eq!(status, 200);
        }
        let (_, vote) = call(app, Method::POST, &helpful, Some(&tokens[3]), None).await;
        assert_eq!(
            vote,
            json!({"review_id": review_of_first, "helpful_count": 3})
        );
        let (status, problem) = call(app, Method::POST, &helpful, Some(&tokens[0]), None).await;
        assert_eq!(status, 422);
        assert!(problem["type"].as_str().unwrap().ends_with("/own-review"));
        let (_, top) = call(
            app,
            Method::GET,
            &format!("{list}?order=most_helpful&limit=2"),
            None,
            None,
        )
        .await;
        assert_eq!(top["items"][0]["id"], review_of_first.as_str());
        assert_eq!(top["items"][0]["helpful_count"], 3);
        let next = top["next_cursor"].as_str().unwrap();
        let (status, _) = call(
            app,
            Method::GET,
            &format!("{list}?order=most_helpful&cursor={next}"),
            None,
            None,
        )
        .await;
        assert_eq!(status, 200);
        let (status, _) = call(
            app,
            Method::GET,
            &format!("{list}?order=newest&cursor={next}"),
            None,
            None,
        )
        .await;
        assert_eq!(status, 422, "a cursor of the other order");

        // An administrator hides it: out of the lists and the rating (sum 29 of 9).
        let admin = crate::offers::admin(app).await;
        let hide = format!("/api/v1/admin/reviews/{review_of_first}/hide");
        let (status, _) = call(
            app,
            Method::POST,
            &hide,
            Some(&tokens[1]),
            Some(json!({"reason": "spoilers"})),
        )
        .await;
        assert_eq!(status, 403);
        let (status, hidden) = call(
            app,
            Method::POST,
            &hide,
            Some(&admin),
            Some(json!({"reason": "spoilers"})),
        )
        .await;
        assert_eq!(status, 200, "{hidden}");
        assert_eq!(hidden["status"], "hidden");
        let detail = call(
            app,
            Method::GET,
            &format!("/api/v1/movies/{}", f.alpha),
            None,
            None,
        )
        .await
        .1;
        assert_eq!(detail["rating"], json!({"count": 9, "average": 3.22}));
        let (_, page) = call(app, Method::GET, &format!("{list}?limit=100"), None, None).await;
        assert_eq!(page["items"].as_array().unwrap().len(), 9);
        let (_, own) = call(app, Method::GET, &mine, Some(&tokens[0]), None).await;
        assert_eq!(own["status"], "hidden");
        // Editing a hidden review leaves the rating alone.
        call(
            app,
            Method::PUT,
            &mine,
            Some(&tokens[0]),
            Some(json!({"rating": 1})),
        )
        .await;
        let detail = call(
            app,
            Method::GET,
            &format!("/api/v1/movies/{}", f.alpha),
            None,
            None,
        )
        .await
        .1;
        assert_eq!(detail["rating"], json!({"count": 9, "average": 3.22}));
        let (status, _) = call(app, Method::POST, &helpful, Some(&tokens[4]), None).await;
        assert_eq!(status, 404);
        // A customer's export carries their review.
        let (status, export) = call(
            app,
            Method::GET,
            "/api/v1/me/export",
            Some(&tokens[1]),
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(export["reviews"].as_array().unwrap().len(), 1);
        assert_eq!(
            export["reviews"][0]["body"],
            "Review 1: <b>loud</b> & 'quoted'"
        );
        // The listing shows the rating too.
        let (_, movies) = call(
            app,
            Method::GET,
            &format!("/api/v1/cities/{}/movies", f.testpur),
            None,
            None,
        )
        .await;
        let alpha = movies["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == f.alpha.as_str())
            .unwrap();
        assert_eq!(alpha["rating"]["count"], 9);
    }
);

db_test!(review_writes_are_rate_limited_per_account, |app| {
    let f = fixtures::load(app).await;
    let token = customer(app, "prolific@example.com").await;
    confirmed(app, &token, &f.noon, &["A1"]).await;
    app.clock.set("2026-11-22T09:00:00Z".parse().unwrap());
    let token = login(app, "prolific@example.com").await;
    let mine = format!("/api/v1/movies/{}/reviews/me", f.alpha);
    // Ten writes a minute (the default), then 429 with when to retry.
    for rating in [1, 2, 3, 4, 5, 1, 2, 3, 4, 5] {
        let (status, _) = call(
            app,
            Method::PUT,
            &mine,
            Some(&token),
            Some(json!({"rating": rating})),
        )
        .await;
        assert!(status == 200 || status == 201, "{status}");
    }
    let response = send(
        app,
        Method::PUT,
        &mine,
        Some(&token),
        Some(json!({"rating": 5})),
    )
    .await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    // The movie counted one review, at its last rating.
    let detail = call(
        app,
        Method::GET,
        &format!("/api/v1/movies/{}", f.alpha),
        None,
        None,
    )
    .await
    .1;
    assert_eq!(detail["rating"], json!({"count": 1, "average": 5.0}));
});
