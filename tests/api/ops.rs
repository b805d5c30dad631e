//! Health, readiness, metrics, OpenAPI, request ids and conditional GETs.

use serde_json::Value;

use crate::{db_test, fixtures};

db_test!(health_and_readiness_report_the_engine, |app| {
    let health = app.get_ok("/healthz").await;
    assert_eq!(health["status"], "ok");
    let ready = app.get_ok("/readyz").await;
    assert_eq!(ready["database"], app.engine.name());
});

db_test!(metrics_count_requests_per_route, |app| {
    let f = fixtures::load(app).await;
    app.get_ok(&format!("/api/v1/shows/{}/seats", f.noon)).await;
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("marquee_http_requests_total")
                && l.contains("route=\"/api/v1/shows/{show_id}/seats\"")
                && l.contains("status=\"200\"")),
        "request counter missing:\n{text}"
    );
    assert!(text.contains("marquee_http_request_duration_seconds_bucket"));
});

db_test!(openapi_documents_every_route, |app| {
    let doc = app.get_ok("/openapi.json").await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/v1/cities",
        "/api/v1/cities/{city_id}",
        "/api/v1/cities/{city_id}/movies",
        "/api/v1/cities/{city_id}/movies/{movie_id}/shows",
        "/api/v1/cities/{city_id}/theatres",
        "/api/v1/theatres/{theatre_id}",
        "/api/v1/theatres/{theatre_id}/shows",
        "/api/v1/movies/{movie_id}",
        "/api/v1/search",
        "/api/v1/shows/{show_id}",
        "/api/v1/shows/{show_id}/seats",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(paths.contains_key(path), "{path} is not documented");
    }
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    let docs = app.get("/docs/").await;
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger"));
});

db_test!(request_ids_are_generated_and_propagated, |app| {
    let generated = app.get("/healthz").await;
    let id = generated
        .headers()
        .get("x-request-id")
        .expect("request id")
        .to_str()
        .unwrap();
    assert_eq!(id.len(), 36);
    let supplied = app
        .get_with("/healthz", ("x-request-id", "trace-me-42"))
        .await;
    assert_eq!(
        supplied.headers().get("x-request-id").unwrap(),
        "trace-me-42"
    );
    assert_eq!(
        supplied.headers().get("x-content-type-options").unwrap(),
        "nosniff"
    );
});

db_test!(etag_revalidation_answers_304, |app| {
    let f = fixtures::load(app).await;
    let path = format!("/api/v1/shows/{}/seats", f.noon);
    let first = app.get(&path).await;
    let etag = first
        .headers()
        .get("etag")
        .expect("etag")
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(first.headers().get("cache-control").unwrap(), "no-cache");
    let again = app.get_with(&path, ("if-none-match", &etag)).await;
    assert_eq!(again.status(), 304);
    fixtures::set_seat(app, &f.noon, "A1", "booked", None).await;
    let changed = app.get_with(&path, ("if-none-match", &etag)).await;
    assert_eq!(changed.status(), 200);
    let body: Value = changed.json().await.unwrap();
    assert_eq!(body["seats"][0]["state"], "booked");
});

db_test!(readiness_fails_with_503_when_the_database_is_gone, |app| {
    app.get_ok("/readyz").await;
    app.db.close().await;
    let response = app.get("/readyz").await;
    crate::helpers::assert_problem(response, 503, "unavailable").await;
    // Liveness does not depend on the database.
    assert_eq!(app.get("/healthz").await.status(), 200);
});

/// Every operation lists the errors the edge can answer to any request (400, 408, 413,
/// 500, 503), 401/403 when it needs a token and 404 when its path names an id, each with
/// the problem+json body the service sends.
#[tokio::test]
async fn every_operation_documents_the_shared_error_responses() {
    let Some(app) = crate::helpers::TestApp::spawn(marquee::db::Engine::Sqlite).await else {
        return;
    };
    let doc = app.get_ok("/openapi.json").await;
    let shared = &doc["components"]["responses"];
    let mut missing = Vec::new();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if !["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            operations += 1;
            let secured = operation["security"].as_array().is_some_and(|all| {
                all.iter()
                    .any(|r| r.as_object().is_some_and(|r| !r.is_empty()))
            });
            let mut wanted = vec!["400", "408", "413", "500", "503"];
            if secured {
                wanted.extend(["401", "403"]);
            }
            if path.contains('{') {
                wanted.push("404");
            }
            let responses = operation["responses"].as_object().unwrap();
            for status in wanted {
                if !responses.contains_key(status) {
                    missing.push(format!("{method} {path}: no {status}"));
                }
            }
            for (status, response) in responses {
                if status.as_str() < "400" {
                    continue;
                }
                let response = match response["$ref"].as_str() {
                    Some(name) => &shared[name.trim_start_matches("#/components/responses/")],
                    None => response,
                };
                let content = response["content"].as_object();
                let problem = content
                    .filter(|content| content.len() == 1)
                    .and_then(|content| content.get("application/problem+json"));
                if problem.is_none_or(|p| p["schema"]["$ref"] != "#/components/schemas/Problem") {
                    missing.push(format!("{method} {path}: {status} is not a Problem"));
                }
            }
        }
    }
    assert!(operations > 50, "only {operations} operations documented");
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    app.stop().await;
}
