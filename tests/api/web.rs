//! The web app's files, served by the binary on the API's port.

use marquee::db::Engine;
use reqwest::StatusCode;

use crate::helpers::{TestApp, assert_problem};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_is_served_from_the_binary_under_a_strict_content_policy() {
    let app = TestApp::spawn(Engine::Sqlite).await.expect("SQLite app");
    let page = app.get("/").await;
    assert_eq!(page.status(), StatusCode::OK);
    let headers = page.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-cache");
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(
        policy.starts_with("default-src 'self'; script-src 'self'"),
        "{policy}"
    );
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    let body = page.text().await.unwrap();
    assert!(body.contains(r#"<script type="module" src="app.js"></script>"#));
    assert!(
        !body.contains("onclick") && !body.contains("style=\""),
        "no inline code"
    );

    let script = app.get("/app.js").await;
    assert_eq!(script.status(), StatusCode::OK);
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let etag = script.headers()["etag"].to_str().unwrap().to_owned();
    let again = app.get_with("/app.js", ("if-none-match", &etag)).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(
        app.get("/app.css").await.headers()["content-type"],
        "text/css; charset=utf-8"
    );

    for missing in ["/missing.js", "/..%2FCargo.toml", "/.gitignore", "/src"] {
        assert_problem(app.get(missing).await, 404, "not-found").await;
    }
    let post = app.client.post(app.url("/")).send().await.unwrap();
    assert_problem(post, 405, "method-not-allowed").await;
    app.stop().await;
}
