//! The customer web app in a real browser: `tests/browser/suite.mjs` (Node's test runner,
//! playwright-core driving Debian's Chromium headless, axe-core) against `marquee serve
//! --demo`, on SQLite and on PostgreSQL. Screenshots of every step land in
//! `target/browser-screenshots/<engine>/`.
//!
//! Needs `node`, `tests/browser/node_modules` (`npm ci --prefix tests/browser`) and
//! Chromium (`/usr/bin/chromium`, or `CHROMIUM`); `.ci/run` installs them. Without them the
//! test skips, except under `CI=true`.

use std::{path::PathBuf, process::Stdio, time::Duration};

use marquee::db::Engine;

use crate::{
    helpers::skip_unless_ci,
    serve::{ProcessDatabase, ServeOptions, ServeProcess, exclusive},
};

/// The suite takes about 35 s on a quiet machine.
const SUITE_TIMEOUT: Duration = Duration::from_secs(600);

fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// What is missing to run the suite, if anything.
fn missing() -> Option<String> {
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if !node {
        return Some("node is not installed".into());
    }
    if !browser_dir().join("node_modules/playwright-core").is_dir()
        || !browser_dir().join("node_modules/axe-core").is_dir()
    {
        return Some(
            "tests/browser/node_modules is missing (npm ci --prefix tests/browser)".into(),
        );
    }
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !PathBuf::from(&chromium).exists() {
        return Some(format!("{chromium} is missing (apt-get install chromium)"));
    }
    None
}

async fn run_suite(engine: Engine) {
    if let Some(missing) = missing() {
        skip_unless_ci(&format!("the browser suite: {missing}"));
        return;
    }
    let _one_at_a_time = exclusive().await;
    let Some(database) = ProcessDatabase::create(engine).await else {
        return;
    };
    let server = ServeProcess::start(
        &database.url,
        &ServeOptions {
            demo: true,
            ..ServeOptions::default()
        }
        .env("MARQUEE_LOG__FILTER", "warn,marquee::app=info")
        // The waiting room test watches one buyer admitted at a time.
        .env("MARQUEE_WAITING_ROOM__INITIAL_WINDOW", "1")
        .env("MARQUEE_WAITING_ROOM__MAX_WINDOW", "1"),
    )
    .await
    .expect("marquee serve --demo");
    let screenshots = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/browser-screenshots")
        .join(engine.name());
    let _ = std::fs::remove_dir_all(&screenshots);
    std::fs::create_dir_all(&screenshots).expect("screenshot directory");
    let suite = tokio::process::Command::new("node")
        .args(["--test", "--test-reporter=spec", "suite.mjs"])
        .current_dir(browser_dir())
        .env("MARQUEE_URL", &server.base)
        .env("MARQUEE_SCREENSHOTS", &screenshots)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(SUITE_TIMEOUT, suite)
        .await
        .expect("the browser suite finishes within 10 minutes")
        .expect("run node");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{report}");
    assert!(
        output.status.success(),
        "the browser suite failed on {}:\n{report}\nserver complaints:\n{}",
        engine.name(),
        server.complaints().join("\n")
    );
    assert!(
        server
            .complaints()
            .iter()
            .all(|line| !line.contains("panicked")),
        "the server panicked: {:?}",
        server.complaints()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_books_in_a_real_browser_on_sqlite() {
    run_suite(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_books_in_a_real_browser_on_postgres() {
    run_suite(Engine::Postgres).await;
}
