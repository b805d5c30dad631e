//! Bad input is a 4xx problem+json with a stable type, never a 500.

use crate::{db_test, fixtures, helpers::assert_problem};

db_test!(unknown_and_malformed_ids_are_404_problems, |app| {
    let f = fixtures::load(app).await;
    let paths = [
        "/api/v1/cities/cty_00000000000000000000000000".to_owned(),
        "/api/v1/cities/not-an-id".to_owned(),
        "/api/v1/cities/cty_00000000000000000000000000/movies".to_owned(),
        "/api/v1/cities/cty_00000000000000000000000000/theatres".to_owned(),
        format!(
            "/api/v1/cities/{}/movies/mov_00000000000000000000000000/shows",
            f.testpur
        ),
        format!(
            "/api/v1/cities/cty_00000000000000000000000000/movies/{}/shows",
            f.alpha
        ),
        format!("/api/v1/cities/{}/movies/{}/shows", f.testpur, f.testpur),
        "/api/v1/movies/mov_00000000000000000000000000".to_owned(),
        format!("/api/v1/movies/{}", f.aurora),
        "/api/v1/theatres/thr_00000000000000000000000000".to_owned(),
        "/api/v1/theatres/thr_00000000000000000000000000/shows".to_owned(),
        "/api/v1/shows/shw_00000000000000000000000000".to_owned(),
        "/api/v1/shows/shw_00000000000000000000000000/seats".to_owned(),
        "/api/v1/shows/%F0%9F%8E%AC/seats".to_owned(),
        format!("/api/v1/shows/{}x/seats", f.noon),
        "/api/v1/search?q=a&city_id=cty_00000000000000000000000000".to_owned(),
        "/api/v1/nowhere".to_owned(),
    ];
    for path in paths {
        let problem = assert_problem(app.get(&path).await, 404, "not-found").await;
        assert!(problem["detail"].is_string(), "{path}: {problem}");
    }
});

db_test!(bad_dates_are_400_invalid_date, |app| {
    let f = fixtures::load(app).await;
    for date in [
        "2026-13-01",
        "2026-02-30",
        "tomorrow",
        "2026-11-22T00:00",
        "22-11-2026",
        "2026-1-5",
    ] {
        for path in [
            format!("/api/v1/cities/{}/movies?date={date}", f.testpur),
            format!(
                "/api/v1/cities/{}/movies/{}/shows?date={date}",
                f.testpur, f.alpha
            ),
            format!("/api/v1/theatres/{}/shows?date={date}", f.aurora),
        ] {
            assert_problem(app.get(&path).await, 400, "invalid-date").await;
        }
    }
});

db_test!(bad_pagination_and_filters_are_400, |app| {
    let f = fixtures::load(app).await;
    for limit in ["0", "101", "-1", "ten", "99999999999"] {
        assert_problem(
            app.get(&format!("/api/v1/cities?limit={limit}")).await,
            400,
            "invalid-query",
        )
        .await;
    }
    for cursor in ["garbage!", "eyJub3QiOiJrZXkifQ", "bm90IGpzb24"] {
        assert_problem(
            app.get(&format!("/api/v1/cities?cursor={cursor}")).await,
            400,
            "invalid-cursor",
        )
        .await;
    }
    let long = "x".repeat(33);
    assert_problem(
        app.get(&format!("/api/v1/cities/{}/movies?genre={long}", f.testpur))
            .await,
        400,
        "invalid-query",
    )
    .await;
    assert_problem(
        app.get(&format!("/api/v1/cities/{}/movies?language=", f.testpur))
            .await,
        400,
        "invalid-query",
    )
    .await;
    assert_problem(app.get("/api/v1/search").await, 400, "invalid-query").await;
    for q in ["%25%25", "%20", &"a".repeat(101)] {
        assert_problem(
            app.get(&format!("/api/v1/search?q={q}")).await,
            400,
            "invalid-search",
        )
        .await;
    }
});

db_test!(wrong_method_is_405_problem, |app| {
    let response = app
        .client
        .post(app.url("/api/v1/cities"))
        .send()
        .await
        .unwrap();
    assert_problem(response, 405, "method-not-allowed").await;
    let response = app.client.delete(app.url("/healthz")).send().await.unwrap();
    assert_problem(response, 405, "method-not-allowed").await;
});
