//! PostgreSQL goes away for about five seconds under a light booking load, then comes back
//! on the same port and data. Meanwhile the service answers every request with a success
//! or a `503 unavailable` problem (never a 500, never a request hanging past the request
//! timeout), `/readyz` says 503, and afterwards it recovers by itself: `/readyz` is 200 and
//! bookings go through again, with the same `marquee serve` process.
//!
//! The database is a throwaway cluster of the test's own (`pg_cluster`), so stopping it
//! disturbs no other test. Concurrent reads run back to back while it is being stopped,
//! so requests are in flight at the moment it goes away. SQLite is embedded in the process: it has no outage of this kind.

use std::{
    collections::BTreeMap,
    future::Future,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::{
    pg_cluster::PgCluster,
    serve::{Answer, Api, ServeOptions, ServeProcess},
};

const CUSTOMERS: usize = 4;
const SEATS_PER_CUSTOMER: usize = 60;
/// How long the database stays down.
const OUTAGE: Duration = Duration::from_secs(5);
/// `http.request_timeout_ms` of the server: no request may take (much) longer.
const REQUEST_TIMEOUT_MS: u64 = 5_000;
/// `database.acquire_timeout_ms`: how long a request waits for a connection before 503.
const ACQUIRE_TIMEOUT_MS: u64 = 2_000;
/// Scheduling slack on a loaded machine on top of the request timeout.
const SLACK: Duration = Duration::from_secs(2);
/// Concurrent reads sent while the database is being stopped.
const READS_IN_FLIGHT: usize = 16;
/// How long after the database is back the service may take to serve again.
const RECOVERY: Duration = Duration::from_secs(30);

/// One request and what came of it.
struct Exchange {
    what: String,
    sent: Instant,
    elapsed: Duration,
    outcome: Result<Answer, String>,
}

type Log = Arc<Mutex<Vec<Exchange>>>;

fn log(log: &Log) -> std::sync::MutexGuard<'_, Vec<Exchange>> {
    log.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sends a request and records it; returns the answer, if there was one.
async fn observe(
    log_: &Log,
    what: String,
    call: impl Future<Output = Result<Answer, reqwest::Error>>,
) -> Option<Answer> {
    let sent = Instant::now();
    let outcome = call.await.map_err(|e| format!("no answer: {e}"));
    let elapsed = sent.elapsed();
    let answer = outcome.as_ref().ok().cloned();
    log(log_).push(Exchange {
        what,
        sent,
        elapsed,
        outcome,
    });
    answer
}

/// A payment the customers started: customer, booking, payment.
type Started = Arc<Mutex<Vec<(usize, String, String)>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_answers_503_and_recovers_without_restart() {
    let _machine = crate::serve::exclusive().await;
    let test_started = Instant::now();
    let Some(cluster) = PgCluster::start_new().await else {
        return;
    };
    let options = ServeOptions {
        demo: true,
        ..ServeOptions::default()
    }
    .env("MARQUEE_HTTP__REQUEST_TIMEOUT_MS", REQUEST_TIMEOUT_MS)
    .env("MARQUEE_DATABASE__ACQUIRE_TIMEOUT_MS", ACQUIRE_TIMEOUT_MS)
    .env("MARQUEE_AUTH__LOGIN_ATTEMPTS_PER_CLIENT_PER_MINUTE", 10_000);
    let mut server = ServeProcess::start(&cluster.url("postgres"), &options)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The client waits longer than the server's timeout, so a hung request shows as slow.
    let api = Api::new(
        &server.base,
        Duration::from_millis(REQUEST_TIMEOUT_MS) + Duration::from_secs(20),
    );
    let run_id = ulid::Ulid::new().to_string().to_lowercase();
    let mut tokens = Vec::new();
    for c in 0..CUSTOMERS {
        tokens.push(
            api.customer(&format!("outage{c}-{run_id}@example.com"))
                .await,
        );
    }
    let seats = api
        .available_seats((CUSTOMERS + 1) * SEATS_PER_CUSTOMER)
        .await;
    let mut pools: Vec<Vec<(String, String)>> = seats
        .chunks(SEATS_PER_CUSTOMER)
        .map(<[_]>::to_vec)
        .collect();
    // The last pool is for the bookings that prove the service works, before and after.
    let mut proof_seats = pools.pop().expect("a pool for the proofs").into_iter();
    let proof_token = tokens[0].clone();
    book_once(&api, &proof_token, proof_seats.next().expect("a seat"))
        .await
        .unwrap_or_else(|e| panic!("before the outage, a booking must go through: {e}"));
    let setup = test_started.elapsed();

    let exchanges: Log = Arc::default();
    let started: Started = Arc::default();
    let confirmed = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (c, pool) in pools.into_iter().enumerate() {
        tasks.push(tokio::spawn(customer(
            c,
            api.clone(),
            tokens[c].clone(),
            pool,
            exchanges.clone(),
            started.clone(),
            confirmed.clone(),
            stop.clone(),
        )));
    }
    let history = "/api/v1/bookings?limit=20";
    let probes = [
        ("GET /readyz", "/readyz".to_owned(), None),
        (
            "GET /api/v1/shows/{id}/seats",
            format!("/api/v1/shows/{}/seats", seats[0].0),
            None,
        ),
        (
            "GET /api/v1/bookings?limit=20",
            history.to_owned(),
            Some(tokens[1].clone()),
        ),
        (
            "GET /api/v1/bookings?limit=20",
            history.to_owned(),
            Some(tokens[2].clone()),
        ),
    ];
    for (what, path, token) in probes {
        tasks.push(tokio::spawn(probe(
            api.clone(),
            what,
            path,
            token,
            exchanges.clone(),
            stop.clone(),
        )));
    }

    // Some bookings complete before the database goes away.
    let deadline = Instant::now() + Duration::from_secs(30);
    while confirmed.load(Ordering::SeqCst) < 3 {
        assert!(
            Instant::now() < deadline,
            "the load confirmed {} bookings in 30 s before the outage",
            confirmed.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Reads in flight at the moment the database goes away, whatever the machine's speed:
    // concurrent history reads, back to back, from just before the stop until it happened.
    let stopping = Arc::new(AtomicBool::new(false));
    let burst = tokio::spawn(reads_in_flight(
        api.clone(),
        tokens.clone(),
        exchanges.clone(),
        stopping.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let stop_began = Instant::now();
    cluster
        .stop_fast()
        .await
        .unwrap_or_else(|e| panic!("stop the cluster: {e}"));
    let stopped = Instant::now();
    stopping.store(true, Ordering::SeqCst);
    tokio::time::sleep(OUTAGE).await;
    burst.await.expect("reads in flight");
    let start_began = Instant::now();
    cluster
        .start()
        .await
        .unwrap_or_else(|e| panic!("start the cluster again: {e}"));
    let restarted = Instant::now();

    // Recovery, by the same process: ready, and a booking goes through.
    let mut broken = Vec::new();
    let ready_after = wait_until_ready(&api, restarted).await;
    if ready_after.is_none() {
        broken.push(format!(
            "[recovers] /readyz did not answer 200 within {RECOVERY:?} after the database was back"
        ));
    }
    let mut booked_after = None;
    let mut last_error = String::new();
    while restarted.elapsed() < RECOVERY {
        match book_once(&api, &proof_token, proof_seats.next().expect("a seat")).await {
            Ok(()) => {
                booked_after = Some(restarted.elapsed());
                break;
            }
            Err(error) => last_error = error,
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if booked_after.is_none() {
        broken.push(format!(
            "[recovers] no booking went through within {RECOVERY:?} after the database was \
             back; last attempt: {last_error}"
        ));
    }
    // Let the load run on the recovered service for a moment too.
    let settled = confirmed.load(Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(10);
    while confirmed.load(Ordering::SeqCst) < settled + 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for task in tasks {
        task.await.expect("load task");
    }
    if let Some(status) = server.exited() {
        broken.push(format!(
            "[recovers] marquee serve exited during the test ({status}); last warnings: {:#?}",
            server.complaints()
        ));
    }

    // Every payment started before, during or after the outage comes to an end.
    let payments_unsettled = payments_settle(&api, &tokens, &started, restarted).await;
    broken.extend(payments_unsettled);

    let exchanges = std::mem::take(&mut *log(&exchanges));
    let at = |t: Instant| {
        if t >= stop_began {
            format!("+{:.2} s", (t - stop_began).as_secs_f64())
        } else {
            format!("-{:.2} s", (stop_began - t).as_secs_f64())
        }
    };
    let phase = |e: &Exchange| {
        let end = e.sent + e.elapsed;
        if end < stop_began {
            "before the outage"
        } else if e.sent > restarted {
            "after the outage"
        } else {
            "during the outage"
        }
    };
    let limit = Duration::from_millis(REQUEST_TIMEOUT_MS) + SLACK;
    let mut readyz_in_outage = 0;
    let mut by_answer: BTreeMap<String, usize> = BTreeMap::new();
    for e in &exchanges {
        let described = match &e.outcome {
            Ok(a) => format!("{} {}", a.status.as_u16(), a.problem().unwrap_or("")),
            Err(_) => "no answer".to_owned(),
        };
        *by_answer
            .entry(format!("{}: {} → {}", phase(e), e.what, described.trim()))
            .or_default() += 1;
        let context = format!(
            "{} sent at {} (relative to the stop), {}, took {:.2} s",
            e.what,
            at(e.sent),
            phase(e),
            e.elapsed.as_secs_f64()
        );
        match &e.outcome {
            Ok(a) if a.status.is_success() => {}
            Ok(a)
                if a.status == StatusCode::SERVICE_UNAVAILABLE
                    && a.content_type == "application/problem+json"
                    && a.problem() == Some("unavailable") => {}
            Ok(a) => broken.push(format!(
                "[only-503-or-success] {context}: answered {} {} {}; expected a success or 503 \
                 application/problem+json of type https://marquee.example/problems/unavailable; \
                 the server logged: {:?}",
                a.status,
                a.content_type,
                a.text,
                server.complaints_about(&a.request_id)
            )),
            Err(error) => broken.push(format!(
                "[only-503-or-success] {context}: {error}; expected a success or a 503"
            )),
        }
        if e.elapsed > limit {
            broken.push(format!(
                "[no-hung-request] {context}: longer than the request timeout \
                 ({REQUEST_TIMEOUT_MS} ms) + {SLACK:?}"
            ));
        }
        // Readiness asked and answered while the database was certainly down.
        if e.what == "GET /readyz" && e.sent >= stopped && e.sent + e.elapsed <= start_began {
            readyz_in_outage += 1;
            let unavailable = e.outcome.as_ref().is_ok_and(|a| {
                a.status == StatusCode::SERVICE_UNAVAILABLE && a.problem() == Some("unavailable")
            });
            if !unavailable {
                let seen = match &e.outcome {
                    Ok(a) => format!("{} {}", a.status, a.text),
                    Err(error) => error.clone(),
                };
                broken.push(format!(
                    "[readyz-503-during-outage] {context}: answered {seen}; expected 503 unavailable"
                ));
            }
        }
    }
    if readyz_in_outage == 0 {
        broken.push(
            "[readyz-503-during-outage] no /readyz request was both sent and answered while the \
             database was down"
                .to_owned(),
        );
    }
    let report = format!(
        "outage test: setup {:.1} s, stop took {:.2} s, down {:.2} s, start took {:.2} s, \
         ready {:?} and booking through {:?} after the database was back, total {:.1} s; \
         {} requests, {} payments started; answers: {by_answer:#?}",
        setup.as_secs_f64(),
        (stopped - stop_began).as_secs_f64(),
        (restarted - stopped).as_secs_f64(),
        (restarted - start_began).as_secs_f64(),
        ready_after,
        booked_after,
        test_started.elapsed().as_secs_f64(),
        exchanges.len(),
        started.lock().unwrap_or_else(|e| e.into_inner()).len(),
    );
    let complaints = server.complaints();
    let complaints = &complaints[complaints.len().saturating_sub(10)..];
    assert!(
        broken.is_empty(),
        "{} broken promises around a {OUTAGE:?} PostgreSQL outage:\n{}\n\n{report}\n\
         last warnings and errors of the server: {complaints:#?}",
        broken.len(),
        broken.join("\n")
    );
    eprintln!("{report}");
    server.kill().await;
}

/// Holds one seat, pays with `tok_visa` and waits for the confirmation.
async fn book_once(api: &Api, token: &str, (show, seat): (String, String)) -> Result<(), String> {
    let describe = |what: &str, r: Result<Answer, reqwest::Error>| match r {
        Ok(a) => format!("{what}: {} {}", a.status, a.text),
        Err(e) => format!("{what}: {e}"),
    };
    let hold = api.hold(token, &show, &[seat], None).await;
    let booking = match hold {
        Ok(a) if a.status == StatusCode::CREATED => a.body["id"].as_str().unwrap_or("").to_owned(),
        other => return Err(describe("hold", other)),
    };
    match api.pay(token, &booking, "tok_visa", None).await {
        Ok(a) if a.status == StatusCode::CREATED => {}
        other => return Err(describe("pay", other)),
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match api.booking(token, &booking, 2_000).await {
            Ok(a) if a.body["status"] == "confirmed" => return Ok(()),
            other if Instant::now() >= deadline => {
                return Err(describe(&format!("booking {booking} not confirmed"), other));
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// One customer booking seat after seat: hold, pay `tok_visa`, wait for the confirmation.
/// A refused step abandons that booking and goes on with the next seat.
#[allow(clippy::too_many_arguments)]
async fn customer(
    c: usize,
    api: Api,
    token: String,
    pool: Vec<(String, String)>,
    exchanges: Log,
    started: Started,
    confirmed: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) {
    let mut pool = pool.into_iter();
    while !stop.load(Ordering::SeqCst) {
        let Some((show, seat)) = pool.next() else {
            return;
        };
        let seats = [seat];
        let hold = observe(
            &exchanges,
            "POST /api/v1/bookings".into(),
            api.hold(&token, &show, &seats, None),
        )
        .await;
        let Some(booking) = hold
            .filter(|a| a.status == StatusCode::CREATED)
            .and_then(|a| a.body["id"].as_str().map(str::to_owned))
        else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let pay = observe(
            &exchanges,
            "POST /api/v1/bookings/{id}/payments".into(),
            api.pay(&token, &booking, "tok_visa", None),
        )
        .await;
        let Some(payment) = pay
            .filter(|a| a.status == StatusCode::CREATED)
            .and_then(|a| a.body["id"].as_str().map(str::to_owned))
        else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        started.lock().unwrap_or_else(|e| e.into_inner()).push((
            c,
            booking.clone(),
            payment.clone(),
        ));
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            let read = observe(
                &exchanges,
                "GET /api/v1/bookings/{id}?wait_ms=2000".into(),
                api.booking(&token, &booking, 2_000),
            )
            .await;
            let Some(read) = read.filter(|a| a.status == StatusCode::OK) else {
                break;
            };
            if read.body["status"] == "confirmed" {
                confirmed.fetch_add(1, Ordering::SeqCst);
                break;
            }
            if payment_status(&read.body, &payment) != Some("pending") {
                break;
            }
        }
    }
}

/// Sends `GET path` (with `token`, if any) every 100 ms until the load stops: `/readyz`,
/// a seat map (a browse read, which the cache may serve), a customer's booking history (a
/// read that always reaches the database).
async fn probe(
    api: Api,
    what: &'static str,
    path: String,
    token: Option<String>,
    exchanges: Log,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::SeqCst) {
        observe(
            &exchanges,
            what.to_owned(),
            api.call(Method::GET, &path, token.as_deref(), None, None),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `READS_IN_FLIGHT` clients each reading a booking history (which always reaches the
/// database) back to back, until `done`.
async fn reads_in_flight(api: Api, tokens: Vec<String>, exchanges: Log, done: Arc<AtomicBool>) {
    let readers = (0..READS_IN_FLIGHT).map(|i| {
        let (api, exchanges, done) = (&api, &exchanges, &done);
        let token = &tokens[i % tokens.len()];
        async move {
            while !done.load(Ordering::SeqCst) {
                observe(
                    exchanges,
                    "GET /api/v1/bookings?limit=20".into(),
                    api.call(
                        Method::GET,
                        "/api/v1/bookings?limit=20",
                        Some(token),
                        None,
                        None,
                    ),
                )
                .await;
            }
        }
    });
    futures::future::join_all(readers).await;
}

/// `/readyz` polled until 200; how long after `since` that was.
async fn wait_until_ready(api: &Api, since: Instant) -> Option<Duration> {
    while since.elapsed() < RECOVERY {
        if let Ok(answer) = api.call(Method::GET, "/readyz", None, None, None).await
            && answer.status == StatusCode::OK
        {
            return Some(since.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

fn payment_status<'a>(booking: &'a Value, payment: &str) -> Option<&'a str> {
    booking["payments"]
        .as_array()?
        .iter()
        .find(|p| p["id"] == payment)?["status"]
        .as_str()
}

/// Every payment the customers started ends `succeeded` or `failed`, at the latest
/// `RECOVERY` after the load stopped.
async fn payments_settle(
    api: &Api,
    tokens: &[String],
    started: &Started,
    restarted: Instant,
) -> Vec<String> {
    let started = started.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let deadline = Instant::now() + RECOVERY;
    let mut broken = Vec::new();
    for (c, booking, payment) in started {
        loop {
            let read = api.booking(&tokens[c], &booking, 2_000).await;
            let status = match &read {
                Ok(a) if a.status == StatusCode::OK => payment_status(&a.body, &payment)
                    .unwrap_or("missing")
                    .to_owned(),
                Ok(a) => format!("unreadable ({} {})", a.status, a.text),
                Err(e) => format!("unreadable ({e})"),
            };
            if status == "succeeded" || status == "failed" {
                break;
            }
            if Instant::now() >= deadline {
                broken.push(format!(
                    "[payments-settle] payment {payment} (tok_visa) of booking {booking} is \
                     {status} {:.1} s after the database was back; expected succeeded or failed",
                    restarted.elapsed().as_secs_f64()
                ));
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    broken
}
