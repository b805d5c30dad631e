//! The operator's dashboard (`ops/grafana/`) and alert rules (`ops/prometheus/`) query only
//! what Marquee exports: after a booking's whole life (held, paid, confirmed, cancelled and
//! refunded, and another hold left to lapse), every `marquee_*` name in a panel or an alert
//! is in `/metrics`, and the funnel counters moved.
//!
//! The metrics recorder is process-wide: under `cargo test` other tests count into the
//! same counters, so this file asserts presence and increases, never exact values.

use std::{collections::BTreeSet, path::PathBuf, process::Command};

use reqwest::StatusCode;
use serde_json::Value;

use crate::{
    booking::{cancel, confirmed, customer, hold_ok, id_of, wait_for_payment},
    db_test, fixtures,
    helpers::TestApp,
};

fn ops_file(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("ops")
        .join(path)
}

fn dashboard() -> Value {
    let text = std::fs::read_to_string(ops_file("grafana/marquee-dashboard.json")).unwrap();
    serde_json::from_str(&text).expect("the dashboard is JSON")
}

fn alerts() -> String {
    std::fs::read_to_string(ops_file("prometheus/alerts.yml")).unwrap()
}

/// Every panel that queries (rows only group panels), with its title and target exprs.
fn panel_queries(dashboard: &Value) -> Vec<(String, Vec<String>)> {
    let mut panels = Vec::new();
    let mut queue: Vec<&Value> = dashboard["panels"].as_array().unwrap().iter().collect();
    while let Some(panel) = queue.pop() {
        if panel["type"] == "row" {
            queue.extend(panel["panels"].as_array().into_iter().flatten());
            continue;
        }
        let exprs = panel["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["expr"].as_str().map(str::to_owned))
            .collect();
        panels.push((panel["title"].as_str().unwrap_or("?").to_owned(), exprs));
    }
    panels
}

/// The `expr:` of every rule in a Prometheus rule file: one line, or the indented block
/// after `expr: |` (a line scan: the repository has no YAML parser, and the file is ours).
fn rule_exprs(yaml: &str) -> Vec<String> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut exprs = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let indent = line.len() - line.trim_start().len();
        i += 1;
        let Some(rest) = line.trim_start().strip_prefix("expr:") else {
            continue;
        };
        let rest = rest.trim();
        if !rest.starts_with(['|', '>']) {
            exprs.push(rest.to_owned());
            continue;
        }
        let mut block = Vec::new();
        while i < lines.len() {
            let next = lines[i];
            let next_indent = next.len() - next.trim_start().len();
            if !next.trim().is_empty() && next_indent <= indent {
                break;
            }
            block.push(next.trim());
            i += 1;
        }
        exprs.push(block.join(" "));
    }
    exprs
}

/// The `marquee_*` metric names an expression reads.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut names = BTreeSet::new();
    let mut rest = expr;
    while let Some(at) = rest.find("marquee_") {
        let starts_name = !rest[..at].chars().next_back().is_some_and(is_name);
        let tail = &rest[at..];
        let end = tail.find(|c: char| !is_name(c)).unwrap_or(tail.len());
        if starts_name {
            names.insert(tail[..end].to_owned());
        }
        rest = &tail[end..];
    }
    names
}

/// The metric names in a Prometheus text exposition: each sample's name and each
/// `# TYPE` line's.
fn exported(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|line| match line.strip_prefix("# TYPE ") {
            Some(typed) => typed.split_whitespace().next(),
            None if line.starts_with('#') => None,
            None => line.split(['{', ' ']).next(),
        })
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The sum of the samples of `name` whose labels include every one of `labels`
/// (`by="customer"`); 0 when there are none.
fn sample_sum(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, label_text) = series.split_once('{').unwrap_or((series, ""));
            (metric == name && labels.iter().all(|l| label_text.contains(l)))
                .then(|| value.parse::<f64>().expect("a sample value"))
        })
        .sum()
}

async fn scrape(app: &TestApp) -> String {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

db_test!(
    every_metric_the_dashboard_and_alerts_query_is_exported_after_a_booking,
    |app| {
        let f = fixtures::load(app).await;
        let before = scrape(app).await;

        // A booking's life: held, paid, confirmed; cancelled in time and refunded.
        let ana = customer(app, "ana@example.com").await;
        let booking = confirmed(app, &ana, &f.noon, &["A1"]).await;
        let id = id_of(&booking);
        let payment = booking["payments"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(cancel(app, &ana, &id).await.status(), StatusCode::OK);
        wait_for_payment(app, &ana, &id, &payment, "refunded").await;
        // Another hold lapses unpaid and is swept.
        hold_ok(app, &ana, &f.noon, &["B1"]).await;
        app.clock.advance(chrono::Duration::seconds(301));
        marquee::booking::sweeper::sweep_once(&app.state)
            .await
            .unwrap();

        let text = scrape(app).await;
        let names = exported(&text);
        let mut missing = Vec::new();
        let panels = panel_queries(&dashboard());
        for (title, exprs) in &panels {
            for name in exprs.iter().flat_map(|e| metric_names(e)) {
                if !names.contains(&name) {
                    missing.push(format!("panel {title:?}: {name}"));
                }
            }
        }
        let rules = rule_exprs(&alerts());
        for expr in &rules {
            for name in metric_names(expr) {
                if !names.contains(&name) {
                    missing.push(format!("alert expr {expr:?}: {name}"));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "queried but not exported:\n{}\n\n/metrics:\n{text}",
            missing.join("\n")
        );
        // The scan found something to check (a broken scan would pass vacuously).
        let queried: BTreeSet<String> = panels
            .iter()
            .flat_map(|(_, exprs)| exprs.iter().flat_map(|e| metric_names(e)))
            .chain(rules.iter().flat_map(|e| metric_names(e)))
            .collect();
        for name in [
            "marquee_holds_total",
            "marquee_bookings_confirmed_total",
            "marquee_outbox_lag_seconds",
            "marquee_http_request_duration_seconds_bucket",
            "marquee_db_pool_max_connections",
        ] {
            assert!(queried.contains(name), "{name} is on no panel or alert");
        }

        // The funnel moved with this booking (other tests may add to it too).
        let increased = |name: &str, labels: &[&str]| {
            let (was, is) = (
                sample_sum(&before, name, labels),
                sample_sum(&text, name, labels),
            );
            assert!(is > was, "{name}{labels:?} went from {was} to {is}");
        };
        increased("marquee_holds_total", &[]);
        increased("marquee_bookings_confirmed_total", &[]);
        increased("marquee_bookings_cancelled_total", &["by=\"customer\""]);
        increased("marquee_refunds_total", &[]);
        increased("marquee_refunded_amount_minor_total", &["currency=\"INR\""]);
        increased("marquee_bookings_expired_total", &[]);

        // Registered at zero before their first event: a quiet node still exports them.
        for name in [
            "marquee_webhook_attempts_total",
            "marquee_outbox_pending_events",
        ] {
            assert!(exported(&before).contains(name), "{name} before any event");
        }
        for name in ["marquee_holds_total", "marquee_outbox_lag_seconds"] {
            assert!(
                text.contains(&format!("# HELP {name} ")),
                "{name} is described"
            );
        }

        // The gauges' query runs on this engine (a failing one would leave them at 0).
        let backlog = marquee::integration::outbox::backlog(&app.db)
            .await
            .unwrap();
        assert!(backlog.pending >= 0);
        assert_eq!(backlog.pending == 0, backlog.oldest_created_at.is_none());
        let lag = sample_sum(&text, "marquee_outbox_lag_seconds", &[]);
        assert!(lag.is_finite() && lag >= 0.0, "outbox lag {lag}");
        let pending = sample_sum(&text, "marquee_outbox_pending_events", &[]);
        assert!(pending.is_finite() && pending >= 0.0, "pending {pending}");
        if app.engine == marquee::db::Engine::Postgres {
            // Any PostgreSQL app in this process sets it from its pool (SQLite has none).
            assert!(sample_sum(&text, "marquee_db_pool_max_connections", &[]) > 0.0);
        }
    }
);

/// With nothing publishing the outbox (the dispatcher off: a stuck or absent publisher),
/// the lag gauge is the age of the oldest waiting event by the application clock, and it
/// grows as time moves: measured at the scrape, not reported by the publisher.
async fn outbox_lag_grows_while_nothing_publishes(engine: marquee::db::Engine) {
    let Some(app) = TestApp::spawn_with(engine, |config| {
        config.events.dispatch_interval_ms = 0;
    })
    .await
    else {
        return;
    };
    let f = fixtures::load(&app).await;
    let ana = customer(&app, "ana@example.com").await;
    hold_ok(&app, &ana, &f.noon, &["A1"]).await;
    let text = scrape(&app).await;
    assert!(sample_sum(&text, "marquee_outbox_pending_events", &[]) >= 1.0);
    app.clock.advance(chrono::Duration::seconds(90));
    let text = scrape(&app).await;
    // Everything was written at the test's first instant. (At least: the gauge is set
    // just before it is rendered, and only another app's scrape could slip in between.)
    let lag = sample_sum(&text, "marquee_outbox_lag_seconds", &[]);
    assert!(lag >= 90.0, "outbox lag {lag}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_lag_grows_while_nothing_publishes_sqlite() {
    outbox_lag_grows_while_nothing_publishes(marquee::db::Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_lag_grows_while_nothing_publishes_postgres() {
    outbox_lag_grows_while_nothing_publishes(marquee::db::Engine::Postgres).await;
}

/// Each panel queries something; each alert waits (`for:`), has a severity and says what
/// is wrong and what to look at.
#[test]
fn the_dashboard_and_alert_rules_are_complete() {
    let dashboard = dashboard();
    assert_eq!(dashboard["schemaVersion"], 39);
    let variables: Vec<&str> = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(variables, ["datasource", "job", "instance"]);
    let panels = panel_queries(&dashboard);
    assert!(panels.len() >= 10, "{} panels", panels.len());
    for (title, exprs) in &panels {
        assert!(!exprs.is_empty(), "panel {title:?} has no target");
        for expr in exprs {
            assert!(!metric_names(expr).is_empty(), "{title:?}: {expr}");
        }
    }

    let alerts = alerts();
    let count = |key: &str| {
        alerts
            .lines()
            .filter(|l| l.trim_start().starts_with(key))
            .count()
    };
    let rules = count("- alert:");
    assert!(rules >= 5, "{rules} alerts");
    assert_eq!(rule_exprs(&alerts).len(), rules);
    for key in ["for:", "severity:", "summary:", "description:"] {
        assert_eq!(count(key), rules, "every alert has {key}");
    }
}

/// `promtool` (Debian's `prometheus` package) checks the alert rules and every dashboard
/// query as PromQL, where it is installed; elsewhere this says so and passes.
#[test]
fn promtool_accepts_the_alert_rules_and_the_dashboard_queries() {
    if Command::new("promtool").arg("--version").output().is_err() {
        eprintln!("promtool not installed: alert rules and dashboard queries not checked");
        return;
    }
    let check = |path: &std::path::Path| {
        let out = Command::new("promtool")
            .args(["check", "rules"])
            .arg(path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool check rules {}:\n{}{}",
            path.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    check(&ops_file("prometheus/alerts.yml"));
    // The dashboard's queries as recording rules, Grafana's variables given values.
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (n, expr) in panel_queries(&dashboard())
        .into_iter()
        .flat_map(|(_, exprs)| exprs)
        .enumerate()
    {
        let expr = expr
            .replace("$__rate_interval", "1m")
            .replace("$job", ".*")
            .replace("$instance", ".*");
        rules.push_str(&format!(
            "      - record: dashboard:query_{n}\n        expr: {}\n",
            serde_json::to_string(&expr).unwrap()
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dashboard-rules.yml");
    std::fs::write(&path, rules).unwrap();
    check(&path);
}
