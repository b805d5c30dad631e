//! Partner operations: sign-up → approval → theatre → screen → a week of shows → seat
//! inventory → the public seat map; every refusal with its own problem type; ownership
//! (another organisation's resources are 404); roles on every partner and admin route.

use marquee::{identity::model::Role, identity::service, time::Timestamp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    db_test,
    fixtures::{self, Fixture},
    helpers::{TestApp, assert_problem, send, test_epoch},
};

const PASSWORD: &str = "correct horse battery";

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> reqwest::Response {
    send(app, Method::POST, path, Some(token), Some(body)).await
}

async fn token_for(app: &TestApp, email: &str) -> String {
    let response = send(
        app,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"email": email, "password": PASSWORD})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK, "login {email}");
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn admin_token(app: &TestApp) -> String {
    let now = Timestamp::from_datetime(test_epoch());
    service::create_account(
        &app.db,
        "admin@example.com",
        PASSWORD,
        "Admin",
        Role::Admin,
        now,
    )
    .await
    .unwrap();
    token_for(app, "admin@example.com").await
}

/// Signs up a partner organisation, approves it, and returns the partner's token and org id.
async fn approved_partner(
    app: &TestApp,
    admin: &str,
    email: &str,
    organisation: &str,
) -> (String, String) {
    let signup = send(
        app,
        Method::POST,
        "/api/v1/partner/signup",
        None,
        Some(json!({"organisation_name": organisation, "email": email, "password": PASSWORD, "display_name": "Pat"})),
    )
    .await;
    assert_eq!(signup.status(), StatusCode::CREATED);
    let account: Value = signup.json().await.unwrap();
    let org = account["organisation"]["id"].as_str().unwrap().to_owned();
    let approve = send(
        app,
        Method::POST,
        &format!("/api/v1/admin/partners/{org}/approve"),
        Some(admin),
        None,
    )
    .await;
    assert_eq!(approve.status(), StatusCode::NO_CONTENT);
    (token_for(app, email).await, org)
}

/// A theatre in Testpur with one ten-seat screen (the fixture's small layout).
async fn theatre_with_screen(
    app: &TestApp,
    token: &str,
    f: &Fixture,
    name: &str,
) -> (String, String) {
    let theatre = post(
        app,
        "/api/v1/partner/theatres",
        token,
        json!({"city_id": f.testpur.as_str(), "name": name, "address": "2 Partner Road"}),
    )
    .await;
    assert_eq!(theatre.status(), StatusCode::CREATED);
    let theatre: Value = theatre.json().await.unwrap();
    let theatre_id = theatre["id"].as_str().unwrap().to_owned();
    let screen = post(
        app,
        &format!("/api/v1/partner/theatres/{theatre_id}/screens"),
        token,
        json!({"name": "Audi 1", "rows": layout_json()}),
    )
    .await;
    assert_eq!(screen.status(), StatusCode::CREATED);
    let screen: Value = screen.json().await.unwrap();
    assert_eq!(screen["seat_count"], 10);
    (theatre_id, screen["id"].as_str().unwrap().to_owned())
}

fn layout_json() -> Value {
    json!([
        {"label": "A", "category": "regular", "blocks": [2, 2]},
        {"label": "B", "category": "premium", "blocks": [2, 2]},
        {"label": "C", "category": "recliner", "blocks": [2], "offset": 1, "accessible": [1]},
    ])
}

fn show(screen: &str, movie: &str, starts_at: &str) -> Value {
    json!({
        "screen_id": screen,
        "movie_id": movie,
        "starts_at": starts_at,
        "language": "en",
        "format": "2D",
        "prices": {"regular": 15000, "premium": 25000, "recliner": 45050},
    })
}

fn seat_state(map: &Value, label: &str) -> String {
    map["seats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["label"] == label)
        .map(|s| s["state"].as_str().unwrap().to_owned())
        .unwrap()
}

db_test!(
    partner_goes_from_signup_to_a_sellable_week_of_shows,
    |app| {
        let f = fixtures::load(app).await;
        let admin = admin_token(app).await;

        let signup = send(
        app,
        Method::POST,
        "/api/v1/partner/signup",
        None,
        Some(json!({"organisation_name": "Galaxy Screens", "email": "ops@galaxy.example", "password": PASSWORD, "display_name": "Gita"})),
    )
    .await;
        assert_eq!(signup.status(), StatusCode::CREATED);
        let account: Value = signup.json().await.unwrap();
        assert_eq!(account["role"], "partner");
        assert_eq!(account["organisation"]["status"], "pending");
        let org = account["organisation"]["id"].as_str().unwrap().to_owned();

        // Signed in, but not approved yet: nothing can be created.
        let partner = token_for(app, "ops@galaxy.example").await;
        let early = post(
            app,
            "/api/v1/partner/theatres",
            &partner,
            json!({"city_id": f.testpur.as_str(), "name": "Galaxy", "address": "1 Road"}),
        )
        .await;
        assert_problem(early, 403, "partner-not-approved").await;

        let pending: Value = send(
            app,
            Method::GET,
            "/api/v1/admin/partners?status=pending",
            Some(&admin),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(pending.as_array().unwrap().len(), 1);
        assert_eq!(pending[0]["id"], org.as_str());
        let approve = send(
            app,
            Method::POST,
            &format!("/api/v1/admin/partners/{org}/approve"),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(approve.status(), StatusCode::NO_CONTENT);
        let twice = send(
            app,
            Method::POST,
            &format!("/api/v1/admin/partners/{org}/approve"),
            Some(&admin),
            None,
        )
        .await;
        assert_problem(twice, 404, "not-found").await;

        let (theatre, screen) = theatre_with_screen(app, &partner, &f, "Galaxy Testpur").await;
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
        assert_eq!(listed.as_array().unwrap().len(), 1);
        assert_eq!(listed[0]["id"], theatre.as_str());

        // A week from tomorrow: 10:00 and 14:00 Testpur time each day.
        let shows: Vec<Value> = (23..=29)
            .flat_map(|day| {
                [
                    show(
                        &screen,
                        f.alpha.as_str(),
                        &format!("2026-11-{day}T10:00:00+05:30"),
                    ),
                    show(
                        &screen,
                        f.alpha.as_str(),
                        &format!("2026-11-{day}T14:00:00+05:30"),
                    ),
                ]
            })
            .collect();
        let created = post(
            app,
            "/api/v1/partner/shows/bulk",
            &partner,
            json!({"shows": shows}),
        )
        .await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let created: Value = created.json().await.unwrap();
        let created = created["shows"].as_array().unwrap();
        assert_eq!(created.len(), 14);
        assert!(created.iter().all(|s| s["seats"] == 10));
        assert_eq!(created[0]["starts_at"], "2026-11-23T04:30:00Z");
        assert_eq!(created[0]["ends_at"], "2026-11-23T06:30:00Z");
        let first = created[0]["id"].as_str().unwrap().to_owned();

        // The public browse path sees the new theatre and its shows.
        let listing = app
            .get_ok(&format!(
                "/api/v1/cities/{}/movies/{}/shows?date=2026-11-23",
                f.testpur, f.alpha
            ))
            .await;
        let galaxy = listing["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["theatre"]["id"] == theatre.as_str())
            .expect("the partner's theatre is listed");
        assert_eq!(galaxy["shows"].as_array().unwrap().len(), 2);
        assert_eq!(
            galaxy["shows"][0]["starts_at_local"],
            "2026-11-23T10:00:00+05:30"
        );

        // Withhold and block, and the public seat map shows it at once.
        let seats_path = format!("/api/v1/shows/{first}/seats");
        assert_eq!(
            app.get_ok(&seats_path).await["availability"]["available"],
            10
        );
        let change = post(
            app,
            &format!("/api/v1/partner/shows/{first}/inventory"),
            &partner,
            json!({"withhold": ["A1", "A2"], "block": ["C2"]}),
        )
        .await;
        assert_eq!(change.status(), StatusCode::OK);
        assert_eq!(
            change.json::<Value>().await.unwrap(),
            json!({"withheld": 2, "blocked": 1, "released": 0})
        );
        let map = app.get_ok(&seats_path).await;
        assert_eq!(seat_state(&map, "A1"), "withheld");
        assert_eq!(seat_state(&map, "A2"), "withheld");
        assert_eq!(seat_state(&map, "C2"), "blocked");
        assert_eq!(map["availability"]["available"], 7);

        let release = post(
            app,
            &format!("/api/v1/partner/shows/{first}/inventory"),
            &partner,
            json!({"release": ["A1", "C2"]}),
        )
        .await;
        assert_eq!(release.status(), StatusCode::OK);
        let map = app.get_ok(&seats_path).await;
        assert_eq!(seat_state(&map, "A1"), "available");
        assert_eq!(seat_state(&map, "C2"), "available");
        assert_eq!(map["availability"]["available"], 9);
    }
);

db_test!(show_validations_each_have_their_own_problem_type, |app| {
    let f = fixtures::load(app).await;
    let admin = admin_token(app).await;
    let (partner, _) = approved_partner(app, &admin, "a@galaxy.example", "Galaxy").await;
    let (_, screen) = theatre_with_screen(app, &partner, &f, "Galaxy Testpur").await;
    let (other, _) = approved_partner(app, &admin, "b@bijou.example", "Bijou").await;
    let (_, foreign_screen) = theatre_with_screen(app, &other, &f, "Bijou Testpur").await;

    let first = post(
        app,
        "/api/v1/partner/shows",
        &partner,
        show(&screen, f.alpha.as_str(), "2026-11-23T10:00:00+05:30"),
    )
    .await;
    assert_eq!(first.status(), StatusCode::CREATED);

    // Alpha runs 120 minutes (to 12:00); with the 15-minute buffer the screen is free at 12:15.
    let overlap = post(
        app,
        "/api/v1/partner/shows",
        &partner,
        show(&screen, f.gamma.as_str(), "2026-11-23T12:14:00+05:30"),
    )
    .await;
    assert_problem(overlap, 409, "show-overlap").await;
    let next = post(
        app,
        "/api/v1/partner/shows",
        &partner,
        show(&screen, f.gamma.as_str(), "2026-11-23T12:15:00+05:30"),
    )
    .await;
    assert_eq!(next.status(), StatusCode::CREATED);

    let past = post(
        app,
        "/api/v1/partner/shows",
        &partner,
        show(&screen, f.alpha.as_str(), "2026-11-22T08:59:00+05:30"),
    )
    .await;
    assert_problem(past, 422, "start-in-past").await;

    let mut no_recliner = show(&screen, f.alpha.as_str(), "2026-11-24T10:00:00+05:30");
    no_recliner["prices"] = json!({"regular": 15000, "premium": 25000});
    let missing = post(app, "/api/v1/partner/shows", &partner, no_recliner).await;
    let problem = assert_problem(missing, 422, "missing-prices").await;
    assert!(problem["detail"].as_str().unwrap().contains("recliner"));

    let foreign = post(
        app,
        "/api/v1/partner/shows",
        &partner,
        show(
            &foreign_screen,
            f.alpha.as_str(),
            "2026-11-24T10:00:00+05:30",
        ),
    )
    .await;
    assert_problem(foreign, 404, "unknown-screen").await;

    let unknown_movie = post(
        app,
        "/api/v1/partner/shows",
        &partner,
        show(
            &screen,
            "mov_00000000000000000000000000",
            "2026-11-24T10:00:00+05:30",
        ),
    )
    .await;
    assert_problem(unknown_movie, 422, "unknown-movie").await;

    let mut bad_format = show(&screen, f.alpha.as_str(), "2026-11-24T10:00:00+05:30");
    bad_format["format"] = json!("8K");
    assert_problem(
        post(app, "/api/v1/partner/shows", &partner, bad_format).await,
        422,
        "invalid-format",
    )
    .await;

    let theatres: Value = send(
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
    let theatre = theatres[0]["id"].as_str().unwrap();
    for (rows, why) in [
        (json!([]), "no rows"),
        (
            json!([{"label": "a", "category": "regular", "blocks": [2]}]),
            "lower-case label",
        ),
        (
            json!([{"label": "A", "category": "regular", "blocks": [2]}, {"label": "A", "category": "regular", "blocks": [2]}]),
            "duplicate row",
        ),
        (
            json!([{"label": "A", "category": "regular", "blocks": [0]}]),
            "empty block",
        ),
    ] {
        let response = post(
            app,
            &format!("/api/v1/partner/theatres/{theatre}/screens"),
            &partner,
            json!({"name": why, "rows": rows}),
        )
        .await;
        assert_problem(response, 422, "invalid-layout").await;
    }
    let unknown_category = post(
        app,
        &format!("/api/v1/partner/theatres/{theatre}/screens"),
        &partner,
        json!({"name": "X", "rows": [{"label": "A", "category": "balcony", "blocks": [2]}]}),
    )
    .await;
    assert_problem(unknown_category, 400, "invalid-body").await;
    let duplicate = post(
        app,
        &format!("/api/v1/partner/theatres/{theatre}/screens"),
        &partner,
        json!({"name": "Audi 1", "rows": layout_json()}),
    )
    .await;
    assert_problem(duplicate, 409, "duplicate-screen").await;
});

db_test!(
    bulk_scheduling_is_all_or_nothing_with_errors_per_item,
    |app| {
        let f = fixtures::load(app).await;
        let admin = admin_token(app).await;
        let (partner, _) = approved_partner(app, &admin, "a@galaxy.example", "Galaxy").await;
        let (theatre, screen) = theatre_with_screen(app, &partner, &f, "Galaxy Testpur").await;
        let batch = json!({"shows": [
            show(&screen, f.alpha.as_str(), "2026-11-23T10:00:00+05:30"),
            show(&screen, f.alpha.as_str(), "2026-11-23T11:00:00+05:30"),
            show(&screen, "mov_00000000000000000000000000", "2026-11-23T18:00:00+05:30"),
            show(&screen, f.alpha.as_str(), "2026-11-23T20:00:00+05:30"),
        ]});
        let response = post(app, "/api/v1/partner/shows/bulk", &partner, batch).await;
        let problem = assert_problem(response, 422, "bulk-invalid").await;
        let errors: Vec<(u64, String)> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["index"].as_u64().unwrap(),
                    e["type"]
                        .as_str()
                        .unwrap()
                        .rsplit('/')
                        .next()
                        .unwrap()
                        .to_owned(),
                )
            })
            .collect();
        // Items 0 and 1 overlap each other: both are reported; item 3 is fine.
        assert_eq!(
            errors,
            [
                (0, "show-overlap".to_owned()),
                (1, "show-overlap".to_owned()),
                (2, "unknown-movie".to_owned())
            ]
        );
        // Nothing was created.
        let schedule = app
            .get_ok(&format!("/api/v1/theatres/{theatre}/shows?date=2026-11-23"))
            .await;
        assert_eq!(schedule["movies"].as_array().unwrap().len(), 0);
        let empty = post(
            app,
            "/api/v1/partner/shows/bulk",
            &partner,
            json!({"shows": []}),
        )
        .await;
        assert_problem(empty, 400, "invalid-request").await;
    }
);

db_test!(
    inventory_changes_are_atomic_and_refuse_held_or_unknown_seats,
    |app| {
        let f = fixtures::load(app).await;
        let admin = admin_token(app).await;
        let (partner, _) = approved_partner(app, &admin, "a@galaxy.example", "Galaxy").await;
        let (_, screen) = theatre_with_screen(app, &partner, &f, "Galaxy Testpur").await;
        let created: Value = post(
            app,
            "/api/v1/partner/shows",
            &partner,
            show(&screen, f.alpha.as_str(), "2026-11-23T10:00:00+05:30"),
        )
        .await
        .json()
        .await
        .unwrap();
        let show_id = marquee::ids::ShowId::parse(created["id"].as_str().unwrap()).unwrap();
        let path = format!("/api/v1/partner/shows/{show_id}/inventory");
        let live_hold = test_epoch().timestamp_millis() + 5 * 60_000;
        fixtures::set_seat(app, &show_id, "B1", "held", Some(live_hold)).await;
        fixtures::set_seat(app, &show_id, "B2", "booked", None).await;

        let conflict = post(
            app,
            &path,
            &partner,
            json!({"withhold": ["A1", "B1"], "block": ["B2"]}),
        )
        .await;
        let problem = assert_problem(conflict, 409, "seat-unavailable").await;
        assert_eq!(problem["seats"], json!(["B1", "B2"]));
        // Atomic: A1 did not change either.
        let map = app.get_ok(&format!("/api/v1/shows/{show_id}/seats")).await;
        assert_eq!(seat_state(&map, "A1"), "available");

        let unknown = post(app, &path, &partner, json!({"block": ["Z9", "A1"]})).await;
        assert_eq!(
            assert_problem(unknown, 422, "unknown-seats").await["seats"],
            json!(["Z9"])
        );
        let release_available = post(app, &path, &partner, json!({"release": ["A3"]})).await;
        assert_problem(release_available, 409, "seat-unavailable").await;
        let twice = post(
            app,
            &path,
            &partner,
            json!({"withhold": ["A1"], "block": ["A1"]}),
        )
        .await;
        assert_problem(twice, 400, "invalid-request").await;
        assert_problem(
            post(app, &path, &partner, json!({})).await,
            400,
            "invalid-request",
        )
        .await;

        // Once the hold expires the seat can be withheld.
        app.clock.advance(chrono::Duration::minutes(5));
        let after = post(app, &path, &partner, json!({"withhold": ["B1"]})).await;
        assert_eq!(after.status(), StatusCode::OK);
    }
);

db_test!(another_partners_resources_answer_404, |app| {
    let f = fixtures::load(app).await;
    let admin = admin_token(app).await;
    let (owner, _) = approved_partner(app, &admin, "a@galaxy.example", "Galaxy").await;
    let (theatre, screen) = theatre_with_screen(app, &owner, &f, "Galaxy Testpur").await;
    let created: Value = post(
        app,
        "/api/v1/partner/shows",
        &owner,
        show(&screen, f.alpha.as_str(), "2026-11-23T10:00:00+05:30"),
    )
    .await
    .json()
    .await
    .unwrap();
    let show_id = created["id"].as_str().unwrap().to_owned();
    let (intruder, _) = approved_partner(app, &admin, "b@bijou.example", "Bijou").await;

    let attempts: [(&str, Value, &str); 4] = [
        (
            &format!("/api/v1/partner/theatres/{theatre}/screens"),
            json!({"name": "Mine", "rows": layout_json()}),
            "not-found",
        ),
        (
            "/api/v1/partner/shows",
            show(&screen, f.alpha.as_str(), "2026-11-24T10:00:00+05:30"),
            "unknown-screen",
        ),
        (
            "/api/v1/partner/shows/bulk",
            json!({"shows": [show(&screen, f.alpha.as_str(), "2026-11-24T10:00:00+05:30")]}),
            "unknown-screen",
        ),
        (
            &format!("/api/v1/partner/shows/{show_id}/inventory"),
            json!({"block": ["A1"]}),
            "not-found",
        ),
    ];
    for (path, body, code) in attempts {
        assert_problem(post(app, path, &intruder, body).await, 404, code).await;
    }
    let theirs: Value = send(
        app,
        Method::GET,
        "/api/v1/partner/theatres",
        Some(&intruder),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(theirs, json!([]));
    // And the owner's seats are untouched.
    let map = app.get_ok(&format!("/api/v1/shows/{show_id}/seats")).await;
    assert_eq!(map["availability"]["available"], 10);
});

db_test!(
    partner_and_admin_routes_refuse_anonymous_and_wrong_roles,
    |app| {
        fixtures::load(app).await;
        let admin = admin_token(app).await;
        let (partner, org) = approved_partner(app, &admin, "a@galaxy.example", "Galaxy").await;
        let now = Timestamp::from_datetime(test_epoch());
        service::create_account(
            &app.db,
            "c@example.com",
            PASSWORD,
            "Cy",
            Role::Customer,
            now,
        )
        .await
        .unwrap();
        let customer = token_for(app, "c@example.com").await;
        let sid = "shw_00000000000000000000000000";
        let partner_routes = [
            (Method::POST, "/api/v1/partner/theatres".to_owned()),
            (Method::GET, "/api/v1/partner/theatres".to_owned()),
            (
                Method::POST,
                "/api/v1/partner/theatres/thr_00000000000000000000000000/screens".to_owned(),
            ),
            (Method::POST, "/api/v1/partner/shows".to_owned()),
            (Method::POST, "/api/v1/partner/shows/bulk".to_owned()),
            (
                Method::POST,
                format!("/api/v1/partner/shows/{sid}/inventory"),
            ),
        ];
        let admin_routes = [
            (Method::GET, "/api/v1/admin/partners".to_owned()),
            (
                Method::POST,
                format!("/api/v1/admin/partners/{org}/approve"),
            ),
        ];
        for (method, path) in partner_routes.iter().chain(&admin_routes) {
            let anonymous = send(app, method.clone(), path, None, Some(json!({}))).await;
            assert_problem(anonymous, 401, "unauthenticated").await;
            let as_customer =
                send(app, method.clone(), path, Some(&customer), Some(json!({}))).await;
            assert_problem(as_customer, 403, "forbidden").await;
        }
        for (method, path) in &partner_routes {
            let as_admin = send(app, method.clone(), path, Some(&admin), Some(json!({}))).await;
            assert_problem(as_admin, 403, "forbidden").await;
        }
        for (method, path) in &admin_routes {
            let as_partner = send(app, method.clone(), path, Some(&partner), Some(json!({}))).await;
            assert_problem(as_partner, 403, "forbidden").await;
        }
    }
);

db_test!(shows_move_and_delete_until_customers_hold_seats, |app| {
    let f = fixtures::load(app).await;
    let admin = admin_token(app).await;
    let (partner, _) = approved_partner(app, &admin, "a@galaxy.example", "Galaxy").await;
    let (theatre, screen) = theatre_with_screen(app, &partner, &f, "Galaxy Testpur").await;
    let create = |starts: &'static str| {
        let body = show(&screen, f.alpha.as_str(), starts);
        let token = partner.clone();
        async move {
            post(app, "/api/v1/partner/shows", &token, body)
                .await
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let morning = create("2026-11-23T10:00:00+05:30").await;
    let evening = create("2026-11-23T18:00:00+05:30").await;
    let (morning_id, evening_id) = (
        morning["id"].as_str().unwrap(),
        evening["id"].as_str().unwrap(),
    );
    let patch = |id: &str, body: Value| {
        let path = format!("/api/v1/partner/shows/{id}");
        let token = partner.clone();
        async move { send(app, Method::PATCH, &path, Some(&token), Some(body)).await }
    };

    // Move the morning show an hour later: fine, and the public listing follows.
    let moved = patch(
        morning_id,
        json!({"starts_at": "2026-11-23T11:00:00+05:30"}),
    )
    .await;
    assert_eq!(moved.status(), StatusCode::OK);
    let moved: Value = moved.json().await.unwrap();
    assert_eq!(moved["starts_at"], "2026-11-23T05:30:00Z");
    assert_eq!(moved["ends_at"], "2026-11-23T07:30:00Z");
    let schedule = app
        .get_ok(&format!("/api/v1/theatres/{theatre}/shows?date=2026-11-23"))
        .await;
    assert_eq!(
        schedule["movies"][0]["shows"][0]["starts_at_local"],
        "2026-11-23T11:00:00+05:30"
    );
    // Into the evening show's slot: refused.
    let clash = patch(
        morning_id,
        json!({"starts_at": "2026-11-23T16:00:00+05:30"}),
    )
    .await;
    assert_problem(clash, 409, "show-overlap").await;

    // A customer holds a seat of the evening show: it can be re-priced, not moved or deleted.
    let evening_show = marquee::ids::ShowId::parse(evening_id).unwrap();
    let live_hold = test_epoch().timestamp_millis() + 5 * 60_000;
    fixtures::set_seat(app, &evening_show, "A1", "held", Some(live_hold)).await;
    let move_held = patch(
        evening_id,
        json!({"starts_at": "2026-11-23T19:00:00+05:30"}),
    )
    .await;
    let problem = assert_problem(move_held, 409, "show-has-bookings").await;
    assert!(problem["detail"].as_str().unwrap().contains("cancel"));
    let delete_path = format!("/api/v1/partner/shows/{evening_id}");
    let delete_held = send(app, Method::DELETE, &delete_path, Some(&partner), None).await;
    assert_problem(delete_held, 409, "show-has-bookings").await;
    let reprice = patch(
        evening_id,
        json!({"prices": {"regular": 17000, "premium": 27000, "recliner": 47000}}),
    )
    .await;
    assert_eq!(reprice.status(), StatusCode::OK);
    let map = app
        .get_ok(&format!("/api/v1/shows/{evening_id}/seats"))
        .await;
    assert_eq!(map["seats"][0]["price"]["amount"], 17000);

    // Once the hold has expired the show has no customers and can go.
    app.clock.advance(chrono::Duration::minutes(5));
    let deleted = send(app, Method::DELETE, &delete_path, Some(&partner), None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.get(&format!("/api/v1/shows/{evening_id}/seats")).await,
        404,
        "not-found",
    )
    .await;
    assert_problem(
        send(app, Method::DELETE, &delete_path, Some(&partner), None).await,
        404,
        "not-found",
    )
    .await;

    // Another partner cannot touch the morning show.
    let (intruder, _) = approved_partner(app, &admin, "b@bijou.example", "Bijou").await;
    let path = format!("/api/v1/partner/shows/{morning_id}");
    let foreign_patch = send(
        app,
        Method::PATCH,
        &path,
        Some(&intruder),
        Some(json!({"language": "hi"})),
    )
    .await;
    assert_problem(foreign_patch, 404, "not-found").await;
    assert_problem(
        send(app, Method::DELETE, &path, Some(&intruder), None).await,
        404,
        "not-found",
    )
    .await;
});

db_test!(api_keys_act_for_their_organisation_until_revoked, |app| {
    let f = fixtures::load(app).await;
    let admin = admin_token(app).await;
    let (partner, _) = approved_partner(app, &admin, "a@galaxy.example", "Galaxy").await;
    let (theatre, screen) = theatre_with_screen(app, &partner, &f, "Galaxy Testpur").await;

    let created = post(
        app,
        "/api/v1/partner/api-keys",
        &partner,
        json!({"name": "box office sync"}),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("mk_"));
    assert_eq!(created["prefix"], &key[..10]);
    let listed: Value = send(
        app,
        Method::GET,
        "/api/v1/partner/api-keys",
        Some(&partner),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["name"], "box office sync");
    assert!(listed[0].get("key").is_none(), "the key is shown once only");
    assert!(listed[0]["revoked_at"].is_null());

    // The key works on partner routes of its own organisation...
    let theatres: Value = send(
        app,
        Method::GET,
        "/api/v1/partner/theatres",
        Some(&key),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(theatres[0]["id"], theatre.as_str());
    let by_machine = post(
        app,
        "/api/v1/partner/shows",
        &key,
        show(&screen, f.alpha.as_str(), "2026-11-23T10:00:00+05:30"),
    )
    .await;
    assert_eq!(by_machine.status(), StatusCode::CREATED);
    // ...and nowhere else.
    assert_problem(
        send(app, Method::GET, "/api/v1/me", Some(&key), None).await,
        403,
        "forbidden",
    )
    .await;
    let (intruder, _) = approved_partner(app, &admin, "b@bijou.example", "Bijou").await;
    let key_id = created["id"].as_str().unwrap();
    let foreign_revoke = send(
        app,
        Method::DELETE,
        &format!("/api/v1/partner/api-keys/{key_id}"),
        Some(&intruder),
        None,
    )
    .await;
    assert_problem(foreign_revoke, 404, "not-found").await;

    let revoke = send(
        app,
        Method::DELETE,
        &format!("/api/v1/partner/api-keys/{key_id}"),
        Some(&partner),
        None,
    )
    .await;
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    assert_problem(
        send(
            app,
            Method::GET,
            "/api/v1/partner/theatres",
            Some(&key),
            None,
        )
        .await,
        401,
        "unauthenticated",
    )
    .await;
    assert_problem(
        send(
            app,
            Method::GET,
            "/api/v1/partner/theatres",
            Some("mk_forged"),
            None,
        )
        .await,
        401,
        "unauthenticated",
    )
    .await;
    let listed: Value = send(
        app,
        Method::GET,
        "/api/v1/partner/api-keys",
        Some(&partner),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(listed[0]["revoked_at"].is_string());
});

db_test!(
    a_new_layout_applies_to_new_shows_and_never_to_sold_seats,
    |app| {
        let f = fixtures::load(app).await;
        let admin = admin_token(app).await;
        let (partner, _) = approved_partner(app, &admin, "a@galaxy.example", "Galaxy").await;
        let (_, screen) = theatre_with_screen(app, &partner, &f, "Galaxy Testpur").await;
        let before: Value = post(
            app,
            "/api/v1/partner/shows",
            &partner,
            show(&screen, f.alpha.as_str(), "2026-11-23T10:00:00+05:30"),
        )
        .await
        .json()
        .await
        .unwrap();
        let sold = marquee::ids::ShowId::parse(before["id"].as_str().unwrap()).unwrap();
        fixtures::set_seat(app, &sold, "C2", "booked", None).await;

        let smaller = json!({"rows": [{"label": "A", "category": "regular", "blocks": [3]}]});
        let changed = send(
            app,
            Method::PUT,
            &format!("/api/v1/partner/screens/{screen}/layout"),
            Some(&partner),
            Some(smaller),
        )
        .await;
        assert_eq!(changed.status(), StatusCode::OK);
        let changed: Value = changed.json().await.unwrap();
        assert_eq!(changed["seat_count"], 3);
        assert_eq!(changed["name"], "Audi 1");

        // The sold show keeps its ten seats, C2 still booked.
        let map = app.get_ok(&format!("/api/v1/shows/{sold}/seats")).await;
        assert_eq!(map["availability"]["total"], 10);
        assert_eq!(seat_state(&map, "C2"), "booked");
        // A show scheduled now gets the new layout, priced for its one category.
        let mut new_show = show(&screen, f.alpha.as_str(), "2026-11-24T10:00:00+05:30");
        assert_problem(
            post(app, "/api/v1/partner/shows", &partner, new_show.clone()).await,
            422,
            "unused-price",
        )
        .await;
        new_show["prices"] = json!({"regular": 9900});
        let after: Value = post(app, "/api/v1/partner/shows", &partner, new_show)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(after["seats"], 3);

        let bad = json!({"rows": [{"label": "A", "category": "regular", "blocks": []}]});
        let refused = send(
            app,
            Method::PUT,
            &format!("/api/v1/partner/screens/{screen}/layout"),
            Some(&partner),
            Some(bad),
        )
        .await;
        assert_problem(refused, 422, "invalid-layout").await;
        let (intruder, _) = approved_partner(app, &admin, "b@bijou.example", "Bijou").await;
        let foreign = send(
            app,
            Method::PUT,
            &format!("/api/v1/partner/screens/{screen}/layout"),
            Some(&intruder),
            Some(json!({"rows": [{"label": "A", "category": "regular", "blocks": [1]}]})),
        )
        .await;
        assert_problem(foreign, 404, "unknown-screen").await;
    }
);

db_test!(
    concurrent_requests_for_one_slot_create_exactly_one_show,
    |app| {
        let f = fixtures::load(app).await;
        let admin = admin_token(app).await;
        let (partner, _) = approved_partner(app, &admin, "a@galaxy.example", "Galaxy").await;
        let (theatre, screen) = theatre_with_screen(app, &partner, &f, "Galaxy Testpur").await;
        // Twenty requests at once, each for a slot overlapping all the others.
        let racers = (0..20).map(|minute| {
            let body = show(
                &screen,
                f.alpha.as_str(),
                &format!("2026-11-23T10:{minute:02}:00+05:30"),
            );
            let token = partner.clone();
            async move {
                post(app, "/api/v1/partner/shows", &token, body)
                    .await
                    .status()
            }
        });
        let statuses = futures::future::join_all(racers).await;
        let created = statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count();
        let refused = statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count();
        assert_eq!((created, refused), (1, 19), "{statuses:?}");
        let schedule = app
            .get_ok(&format!("/api/v1/theatres/{theatre}/shows?date=2026-11-23"))
            .await;
        assert_eq!(schedule["movies"][0]["shows"].as_array().unwrap().len(), 1);
    }
);

db_test!(creating_with_an_idempotency_key_creates_once, |app| {
    let f = fixtures::load(app).await;
    let admin = admin_token(app).await;
    let (partner, _) = approved_partner(app, &admin, "keys@example.com", "Keyed Cinemas").await;
    let body =
        json!({"city_id": f.testpur.as_str(), "name": "Keyed Palace", "address": "1 Key St"});
    let keyed = |body: Value, key: &'static str| {
        app.client
            .post(app.url("/api/v1/partner/theatres"))
            .bearer_auth(&partner)
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };
    let first = keyed(body.clone(), "theatre-1").await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first_body = first.text().await.unwrap();
    // The retry gets the same answer, and nothing new is created.
    let again = keyed(body.clone(), "theatre-1").await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.text().await.unwrap(), first_body);
    let mine: Value = send(
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
    assert_eq!(mine.as_array().unwrap().len(), 1);
    // The same key for another request is refused; a malformed key is a 400.
    let mut other = body.clone();
    other["name"] = json!("Another Palace");
    assert_problem(
        keyed(other, "theatre-1").await.unwrap(),
        422,
        "idempotency-key-reused",
    )
    .await;
    assert_problem(
        keyed(body, "bad key").await.unwrap(),
        400,
        "invalid-idempotency-key",
    )
    .await;
});
