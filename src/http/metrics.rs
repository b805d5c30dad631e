//! Prometheus metrics: request counts and latency histograms per matched route (a low
//! cardinality label), cache hits and misses, database pool use, and the facts the
//! operator's dashboard (`ops/grafana/`) and alerts (`ops/prometheus/`) read. Each fact
//! is counted where it happens; this module describes them and registers them at zero.

use std::{sync::OnceLock, time::Duration};

use axum::http::Method;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const REQUEST_DURATION: &str = "marquee_http_request_duration_seconds";
pub const REQUESTS: &str = "marquee_http_requests_total";

/// The process-wide recorder (metrics are global; several apps in one test process share it).
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(REQUEST_DURATION.to_owned()),
                    &[
                        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                        5.0,
                    ],
                )
                .unwrap_or_else(|_| PrometheusBuilder::new());
            match builder.install_recorder() {
                Ok(handle) => {
                    describe();
                    handle
                }
                // Another recorder is installed (cannot happen in our binary); keep a
                // detached one so /metrics still answers.
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            }
        })
        .clone()
}

/// The dashboard's and alerts' metrics, described and registered at zero (without
/// changing a value already recorded), so a quiet node exports them before the first
/// event and an alert sees 0 instead of "no data". Labels whose values are open-ended
/// (route, currency) appear with their first event.
fn describe() {
    use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge};
    describe_counter!(
        REQUESTS,
        "HTTP requests answered, by method, matched route and status"
    );
    describe_histogram!(
        REQUEST_DURATION,
        "Time to answer an HTTP request, by method and matched route (seconds)"
    );
    describe_gauge!("marquee_http_connections", "Open client connections");
    describe_gauge!(
        "marquee_http_max_connections",
        "Client connections allowed at once (http.max_connections); more are shed"
    );
    describe_counter!(
        "marquee_http_connections_shed_total",
        "Connections refused because http.max_connections were open"
    );
    describe_counter!(
        "marquee_holds_total",
        "Bookings held by customers (one per show of a bulk hold), counted after commit; \
         automatic waitlist holds are not counted"
    );
    describe_counter!(
        "marquee_bookings_confirmed_total",
        "Online bookings confirmed by a successful payment, counted after commit"
    );
    describe_counter!(
        "marquee_bookings_expired_total",
        "Holds that lapsed unpaid and were released by the sweeper"
    );
    describe_counter!(
        "marquee_hold_reminders_total",
        "Unpaid holds whose customer was reminded that they lapse soon (once per hold)"
    );
    describe_counter!(
        "marquee_bookings_cancelled_total",
        "Bookings cancelled, by who cancelled: the customer, or the show's cancellation"
    );
    describe_counter!(
        "marquee_refunds_total",
        "Refunds made through the gateway and recorded"
    );
    describe_counter!(
        "marquee_refunded_amount_minor_total",
        "Money refunded, in minor units of its currency"
    );
    describe_gauge!(
        "marquee_outbox_lag_seconds",
        "Age by the application clock of the oldest event not yet published (0 when none), \
         measured when metrics are scraped"
    );
    describe_gauge!(
        "marquee_outbox_pending_events",
        "Events in the outbox not yet published, measured when metrics are scraped"
    );
    describe_counter!(
        "marquee_events_dispatched_total",
        "Outbox events handed to this node's consumers and marked published"
    );
    describe_counter!(
        "marquee_webhook_attempts_total",
        "Partner webhook delivery attempts by verdict: delivered, retry (5xx, 408, 429, \
         timeout, connection failure) or rejected (other 4xx)"
    );
    describe_gauge!(
        "marquee_db_connections",
        "PostgreSQL read pool connections, open and idle (SQLite has no pool: 0)"
    );
    describe_gauge!(
        "marquee_db_pool_max_connections",
        "Size limit of the PostgreSQL read pool (SQLite has no pool: 0)"
    );
    describe_counter!(
        "marquee_cache_lookups_total",
        "Response cache lookups by result: hit or miss"
    );
    describe_counter!(
        "marquee_mail_failed_total",
        "Messages given up after notify.max_attempts, or refused for good by the mail server"
    );
    describe_gauge!(
        "marquee_mail_queued",
        "Messages in the mail outbox not sent yet (queued or being sent), measured when \
         metrics are scraped"
    );
    describe_counter!(
        "marquee_write_retries_total",
        "PostgreSQL units of work retried after a retryable failure (serialization, deadlock)"
    );
    for name in [
        "marquee_http_connections_shed_total",
        "marquee_holds_total",
        "marquee_bookings_confirmed_total",
        "marquee_bookings_expired_total",
        "marquee_hold_reminders_total",
        "marquee_refunds_total",
        "marquee_events_dispatched_total",
        "marquee_write_retries_total",
        "marquee_mail_failed_total",
    ] {
        counter!(name).increment(0);
    }
    for by in ["customer", "show"] {
        counter!("marquee_bookings_cancelled_total", "by" => by).increment(0);
    }
    for verdict in ["delivered", "retry", "rejected"] {
        counter!("marquee_webhook_attempts_total", "verdict" => verdict).increment(0);
    }
    for result in ["hit", "miss"] {
        counter!("marquee_cache_lookups_total", "result" => result).increment(0);
    }
    for state in ["open", "idle"] {
        gauge!("marquee_db_connections", "state" => state).increment(0.0);
    }
    for name in [
        "marquee_http_connections",
        "marquee_http_max_connections",
        "marquee_db_pool_max_connections",
        "marquee_outbox_lag_seconds",
        "marquee_outbox_pending_events",
        "marquee_mail_queued",
    ] {
        gauge!(name).increment(0.0);
    }
}

/// Counts one request and records its latency under its matched route.
pub fn record(method: &Method, route: String, status: u16, elapsed: Duration) {
    let method = method_label(method);
    metrics::counter!(REQUESTS, "method" => method, "route" => route.clone(), "status" => status_label(status))
        .increment(1);
    metrics::histogram!(REQUEST_DURATION, "method" => method, "route" => route)
        .record(elapsed.as_secs_f64());
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Labels for the statuses we answer, without formatting a string per request.
fn status_label(status: u16) -> std::borrow::Cow<'static, str> {
    const KNOWN: [(u16, &str); 16] = [
        (200, "200"),
        (201, "201"),
        (202, "202"),
        (204, "204"),
        (304, "304"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (405, "405"),
        (408, "408"),
        (409, "409"),
        (413, "413"),
        (422, "422"),
        (429, "429"),
        (500, "500"),
    ];
    match KNOWN.iter().find(|(code, _)| *code == status) {
        Some((_, label)) => std::borrow::Cow::Borrowed(label),
        None => std::borrow::Cow::Owned(status.to_string()),
    }
}
