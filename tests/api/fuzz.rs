//! Schemathesis fuzzes the API from its own OpenAPI document, against the real binary
//! (`marquee serve --demo`): no request may get a 5xx, and every response must be one the
//! document describes (status code, content type, headers, body schema; 405 with `Allow`
//! for undocumented methods; 401 without a token where one is required). It runs
//! anonymously and as the demo customer, on SQLite and on PostgreSQL, derandomized and
//! with a bounded number of examples per operation, so a CI run is reproducible and takes
//! about a minute per engine.
//!
//! Not checked: `positive_data_acceptance` (that every schema-valid request is accepted).
//! The document does not yet state every validation rule (id formats, minimum lengths,
//! the `limit` range), so schema-valid input is still refused with a 4xx in places.
//!
//! Needs the `schemathesis` CLI: `.ci/run` installs the pinned version and names it in
//! `MARQUEE_SCHEMATHESIS`; otherwise it is looked up on `PATH`. Without it the test is
//! skipped with a message, except under `CI=true`, where it fails.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
};

use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};

use crate::helpers::DEFAULT_PG_ADMIN_URL;

/// Test cases per operation and phase.
const EXAMPLES: &str = "12";

const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
    response_headers_conformance,response_schema_conformance,negative_data_rejection,\
    missing_required_header,unsupported_method,allow_header_conformance,ignored_auth,\
    use_after_free,ensure_resource_availability";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The schemathesis command, or `None` (skip) outside CI when it is not installed.
fn schemathesis() -> Option<String> {
    let program =
        std::env::var("MARQUEE_SCHEMATHESIS").unwrap_or_else(|_| "schemathesis".to_owned());
    let works = Command::new(&program)
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if works {
        return Some(program);
    }
    assert!(
        !in_ci(),
        "schemathesis is required under CI=true (.ci/run installs it): `{program} --version` failed"
    );
    eprintln!(
        "skipping the schemathesis run: `{program} --version` failed (pip install schemathesis)"
    );
    None
}

/// `marquee serve --demo` on a free port; keeps the error lines of its log.
struct Server {
    child: Child,
    base: String,
    errors: Arc<Mutex<Vec<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(database_url: &str) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_marquee"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("MARQUEE_DATABASE_URL", database_url)
        .env("MARQUEE_ADDR", "127.0.0.1:0")
        .env("MARQUEE_LOG__FILTER", "warn,marquee::app=info")
        // Seat streams never end by themselves; each case would wait out the timeout.
        .env("MARQUEE_EVENTS__SEAT_STREAM_MAX_SECS", "1")
        .args(["serve", "--demo"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start marquee serve --demo");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("marquee serve exited before serving")
            .expect("read log line");
        let Ok(entry) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if entry["fields"]["message"] == "serving" {
            break entry["fields"]["addr"].as_str().expect("addr").to_owned();
        }
    };
    let errors = Arc::new(Mutex::new(Vec::new()));
    let kept = errors.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if line.contains("\"ERROR\"") {
                kept.lock().unwrap().push(line);
            }
        }
    });
    Server {
        child,
        base: format!("http://{addr}"),
        errors,
    }
}

async fn demo_customer_token(base: &str) -> String {
    let response = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": "customer@demo.test", "password": "demo-password"}))
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), 200, "demo customer login");
    let body: Value = response.json().await.expect("token");
    body["access_token"]
        .as_str()
        .expect("access token")
        .to_owned()
}

async fn get_json(base: &str, path: &str) -> Value {
    let response = reqwest::get(format!("{base}{path}")).await.expect("GET");
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.expect("JSON")
}

/// Path parameters naming real demo data: a city, a movie showing there tomorrow, a
/// theatre showing it and one of its shows.
async fn demo_ids(base: &str) -> Vec<(&'static str, String)> {
    let id = |value: &Value| value.as_str().expect("an id").to_owned();
    let date = (chrono::Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let cities = get_json(base, "/api/v1/cities").await;
    for city in cities["items"].as_array().expect("cities") {
        let city = id(&city["id"]);
        let movies = get_json(base, &format!("/api/v1/cities/{city}/movies?date={date}")).await;
        for movie in movies["items"].as_array().expect("movies") {
            let movie = id(&movie["id"]);
            let path = format!("/api/v1/cities/{city}/movies/{movie}/shows?date={date}");
            let shows = get_json(base, &path).await;
            let first = &shows["items"][0];
            if first["shows"][0]["id"].is_string() {
                return vec![
                    ("city_id", city),
                    ("movie_id", movie),
                    ("theatre_id", id(&first["theatre"]["id"])),
                    ("show_id", id(&first["shows"][0]["id"])),
                ];
            }
        }
    }
    panic!("the demo data has no show tomorrow");
}

/// One schemathesis run; its report when it found anything.
async fn fuzz(
    program: &str,
    base: &str,
    token: Option<&str>,
    ids: &[(&str, String)],
) -> Result<(), String> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = dir.path().join("schemathesis.toml");
    let parameters: String = ids
        .iter()
        .map(|(name, value)| format!("{name} = \"{value}\"\n"))
        .collect();
    std::fs::write(&config, format!("[parameters]\n{parameters}")).expect("write config");
    let mut command = tokio::process::Command::new(program);
    command
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .arg("--config-file")
        .arg(&config)
        .args(["run", &format!("{base}/openapi.json")])
        .args(["--checks", CHECKS])
        .args(["--max-examples", EXAMPLES])
        .arg("--generation-deterministic")
        .args(["--request-timeout", "20"])
        // One worker: with several, schemathesis parses hypothesis lambdas on threads at
        // once, which trips CPython 3.11's "AST constructor recursion depth mismatch".
        .args(["--workers", "1"])
        .arg("--no-color");
    if let Some(token) = token {
        command.args(["--header", &format!("Authorization: Bearer {token}")]);
    }
    let output = command.output().await.expect("run schemathesis");
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    let summary = report
        .lines()
        .rev()
        .find(|line| line.starts_with('='))
        .unwrap_or("")
        .trim_matches('=')
        .trim()
        .to_owned();
    eprintln!(
        "schemathesis ({}): {summary}",
        if token.is_some() {
            "customer"
        } else {
            "anonymous"
        }
    );
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{report}\n{}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

async fn run_against(database_url: &str) {
    let Some(program) = schemathesis() else {
        return;
    };
    let server = start(database_url);
    let token = demo_customer_token(&server.base).await;
    let ids = demo_ids(&server.base).await;
    let mut failures = Vec::new();
    for (token, ids) in [(None, &[][..]), (Some(token.as_str()), &ids[..])] {
        if let Err(report) = fuzz(&program, &server.base, token, ids).await {
            failures.push(report);
        }
    }
    let errors = server.errors.lock().unwrap().clone();
    assert!(
        failures.is_empty() && errors.is_empty(),
        "schemathesis found problems:\n{}\nserver errors:\n{}",
        failures.join("\n"),
        errors.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_or_undocumented_response_on_sqlite() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("fuzz.db").display());
    run_against(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_or_undocumented_response_on_postgres() {
    let admin_url = std::env::var("MARQUEE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| DEFAULT_PG_ADMIN_URL.to_owned());
    let mut admin = match PgConnection::connect(&admin_url).await {
        Ok(admin) => admin,
        Err(error) => {
            assert!(
                !in_ci(),
                "PostgreSQL at {admin_url} is required under CI=true: {error}"
            );
            eprintln!("skipping: cannot reach {admin_url}: {error}");
            return;
        }
    };
    let name = format!(
        "marquee_fuzz_{}",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create database");
    let mut url = url::Url::parse(&admin_url).expect("admin URL");
    url.set_path(&name);
    let outcome = tokio::spawn(async move { run_against(url.as_str()).await }).await;
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic.into_panic());
    }
}
