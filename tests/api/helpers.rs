//! Starts the real app on port 0 against a fresh database per test: a SQLite file in a
//! temporary directory, or a new PostgreSQL database (dropped afterwards). Time is a
//! `ManualClock`, so tests about dates and expiry move time instead of sleeping.
//!
//! PostgreSQL is found at `MARQUEE_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). When it cannot be reached the PostgreSQL
//! half of each test is skipped with a message, except under `CI=true`, where it fails.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use marquee::{
    app::{App, AppState},
    clock::ManualClock,
    config::Config,
    db::{Db, Engine},
    http::cache::ResponseCache,
};
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use sqlx::{Connection, PgConnection};
use tokio::sync::oneshot;

pub const DEFAULT_PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// 2026-11-22 09:00 in Kolkata (03:30 UTC): the instant every test starts at.
pub fn test_epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 3, 30, 0).unwrap()
}

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub clock: ManualClock,
    pub db: Db,
    pub engine: Engine,
    pub cache: Arc<ResponseCache>,
    /// The running app's state, for calling its services directly (the sweeper).
    pub state: AppState,
    /// Key of the mock gateway's webhook signatures.
    pub webhook_secret: Vec<u8>,
    /// What the app was started with, for `restart`.
    config: Config,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    pg_database: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

/// A running app's handles.
struct Running {
    base: String,
    db: Db,
    cache: Arc<ResponseCache>,
    state: AppState,
    webhook_secret: Vec<u8>,
    shutdown: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

/// Connects, migrates, builds and serves the app on `config`.
async fn start(config: Config, clock: &ManualClock) -> Running {
    let db = Db::connect(&config)
        .await
        .expect("connect to test database");
    db.migrate().await.expect("migrate test database");
    let app = App::build_with(config, db.clone(), Arc::new(clock.clone()))
        .await
        .expect("build app");
    let base = format!("http://{}", app.addr());
    let cache = app.state().cache.clone();
    let state = app.state().clone();
    let webhook_secret = state.webhook_secret.clone();
    let (shutdown, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let _ = app
            .run_until(async move {
                let _ = stopped.await;
            })
            .await;
    });
    Running {
        base,
        db,
        cache,
        state,
        webhook_secret,
        shutdown,
        server,
    }
}

impl TestApp {
    /// A running app on a fresh, migrated database, or `None` when PostgreSQL is wanted
    /// but unavailable outside CI.
    pub async fn spawn(engine: Engine) -> Option<TestApp> {
        Self::spawn_with(engine, |_| {}).await
    }

    pub async fn spawn_with(
        engine: Engine,
        configure: impl FnOnce(&mut Config),
    ) -> Option<TestApp> {
        let mut config = Config {
            addr: "127.0.0.1:0".parse().unwrap(),
            ..Config::default()
        };
        config.log.filter = "warn".into();
        let (dir, pg_database) = match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                config.database_url =
                    format!("sqlite://{}", dir.path().join("marquee.db").display());
                (Some(dir), None)
            }
            Engine::Postgres => {
                let (admin_url, name) = create_test_database("marquee_test").await?;
                config.database_url = database_url(&admin_url, &name);
                config.database.max_connections = 5;
                (None, Some((admin_url, name)))
            }
        };
        configure(&mut config);
        let clock = ManualClock::new(test_epoch());
        let running = start(config.clone(), &clock).await;
        Some(TestApp {
            base: running.base,
            client: Client::new(),
            clock,
            db: running.db,
            engine,
            cache: running.cache,
            state: running.state,
            webhook_secret: running.webhook_secret,
            config,
            shutdown: Some(running.shutdown),
            server: Some(running.server),
            pg_database,
            _dir: dir,
        })
    }

    /// Stops the app (gracefully) and starts it again on the same database and clock, on
    /// a new port: what survives a restart survives this.
    pub async fn restart(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.db.close().await;
        let running = start(self.config.clone(), &self.clock).await;
        self.base = running.base;
        self.db = running.db;
        self.cache = running.cache;
        self.state = running.state;
        self.webhook_secret = running.webhook_secret;
        self.shutdown = Some(running.shutdown);
        self.server = Some(running.server);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    pub async fn get_with(&self, path: &str, header: (&str, &str)) -> Response {
        self.client
            .get(self.url(path))
            .header(header.0, header.1)
            .send()
            .await
            .expect("request")
    }

    /// GET that must answer 200; returns the JSON body.
    pub async fn get_ok(&self, path: &str) -> Value {
        let response = self.get(path).await;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(
            status,
            StatusCode::OK,
            "GET {path} answered {status}: {body}"
        );
        serde_json::from_str(&body).expect("JSON body")
    }

    /// Sends the shutdown signal (as SIGTERM would) without waiting for the server to stop.
    pub fn begin_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Stops the server and drops the PostgreSQL database.
    pub async fn stop(mut self) {
        self.shutdown_now().await;
    }

    async fn shutdown_now(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.db.close().await;
        if let Some((admin_url, name)) = self.pg_database.take() {
            drop_database(&admin_url, &name).await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // A test that panicked before `stop`: still drop its PostgreSQL database.
        if let Some((admin_url, name)) = self.pg_database.take() {
            drop_database_blocking(admin_url, name);
        }
    }
}

/// The PostgreSQL server tests create their databases on.
pub fn pg_admin_url() -> String {
    std::env::var("MARQUEE_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_PG_ADMIN_URL.to_owned())
}

/// True under `CI=true`, where a missing prerequisite fails a test instead of skipping it.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A test cannot run here: fails under `CI=true`, else says why it is skipped.
pub fn skip_unless_ci(reason: &str) {
    if in_ci() {
        panic!("required under CI=true: {reason}");
    }
    eprintln!("skipping: {reason}");
}

/// Creates a fresh database named `<prefix>_<ulid>` on the test server; returns the admin
/// URL and the name, or `None` (after `skip_unless_ci`) when the server cannot be reached.
pub async fn create_test_database(prefix: &str) -> Option<(String, String)> {
    let admin_url = pg_admin_url();
    let name = format!("{prefix}_{}", ulid::Ulid::new().to_string().to_lowercase());
    match PgConnection::connect(&admin_url).await {
        Ok(mut admin) => {
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await
                .expect("create test database");
            let _ = admin.close().await;
            Some((admin_url, name))
        }
        Err(error) => {
            skip_unless_ci(&format!(
                "PostgreSQL at {admin_url} cannot be reached: {error}"
            ));
            None
        }
    }
}

/// Drops a test database from a `Drop` implementation, which cannot await: on a thread of
/// its own with a runtime of its own, so it also works while a test is unwinding.
pub fn drop_database_blocking(admin_url: String, name: String) {
    let _ = std::thread::spawn(move || {
        if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            runtime.block_on(drop_database(&admin_url, &name));
        }
    })
    .join();
}

pub async fn drop_database(admin_url: &str, name: &str) {
    if let Ok(mut admin) = PgConnection::connect(admin_url).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin)
            .await;
        let _ = admin.close().await;
    }
}

/// The admin URL with its database name replaced.
pub fn database_url(admin_url: &str, name: &str) -> String {
    let mut url = url::Url::parse(admin_url).expect("MARQUEE_TEST_POSTGRES_URL is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// A request with an optional bearer token and JSON body.
pub async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Response {
    let mut request = app.client.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("request")
}

/// Asserts a problem+json response with the given status and `type` code; returns it.
pub async fn assert_problem(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("problem body");
    assert_eq!(
        body["type"],
        format!("https://marquee.example/problems/{code}"),
        "problem type in {body}"
    );
    assert_eq!(body["status"], status);
    body
}

/// Defines `mod $name { sqlite, postgres }`: one test body run on each engine.
#[macro_export]
macro_rules! db_test {
    ($name:ident, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: &$crate::helpers::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(app) = $crate::helpers::TestApp::spawn(marquee::db::Engine::Sqlite).await {
                    run(&app).await;
                    app.stop().await;
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = $crate::helpers::TestApp::spawn(marquee::db::Engine::Postgres).await {
                    run(&app).await;
                    app.stop().await;
                }
            }
        }
    };
}
