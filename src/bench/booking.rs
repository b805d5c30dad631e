//! The write-path scenarios, driven as signed-in customers through the public API.
//! `booking`: every worker owns seats no other worker touches and repeats hold → pay
//! (`tok_visa`) → wait (`?wait_ms=`) until the gateway's webhook has confirmed the booking. `flash-sale`
//! (in `flash_sale`): buyers released at once race for one show's seats.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow, bail};
use bytes::Bytes;
use hdrhistogram::Histogram;
use hyper::{StatusCode, header};
use rand::{Rng, SeedableRng, rngs::SmallRng};
use serde_json::{Value, json};

use super::{BenchArgs, Connection, Target, discover, new_histogram, print_latencies};

mod flash_sale;

pub(super) use flash_sale::run_flash_sale;

/// Bookings measured when `--requests` is not given.
const DEFAULT_BOOKINGS: u64 = 20_000;
/// The booking steps; the last is the whole booking, from hold request to confirmed.
const STEPS: [&str; 4] = ["hold", "pay", "confirm-wait", "booking"];
/// Pause between two reads of a booking that is not confirmed yet.
const POLL_INTERVAL: Duration = Duration::from_millis(2);
/// A paid booking still pending after this counts as an error.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);
/// How far ahead the booking scenario looks for free seats once tomorrow is used up.
const MAX_DAYS_AHEAD: u64 = 6;
/// Accounts registered at once: Argon2 runs on the server's few cores.
const SIGN_UP_CONCURRENCY: usize = 8;

/// Status and problem code of refused requests (`409 seat-unavailable`), or what went wrong
/// on the client's side, with how often each happened.
type ErrorCounts = BTreeMap<String, u64>;

/// A customer's access token, for requests made on any connection.
struct Customer<'a> {
    target: &'a Target,
    token: &'a str,
}

impl Customer<'_> {
    /// A GET (`body` `None`) or JSON POST. `None` when the exchange itself failed: the
    /// connection is then replaced (a failed reconnect ends the run).
    async fn call(
        &self,
        connection: &mut Connection,
        path: &str,
        idempotency_key: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<Option<(StatusCode, Bytes)>> {
        match connection
            .call(self.target, path, self.token, idempotency_key, body)
            .await
        {
            Ok(answer) => Ok(Some(answer)),
            Err(_) => {
                *connection = Connection::open(self.target).await?;
                Ok(None)
            }
        }
    }
}

/// `409 seat-unavailable`: the status and the last segment of the problem type.
fn refusal(status: StatusCode, body: &[u8]) -> String {
    let code = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|problem| {
            problem["type"]
                .as_str()
                .map(|t| t.rsplit('/').next().unwrap_or(t).to_owned())
        });
    match code {
        Some(code) => format!("{} {code}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

fn count(errors: &mut ErrorCounts, key: impl Into<String>) {
    *errors.entry(key.into()).or_default() += 1;
}

fn print_errors(errors: &ErrorCounts) {
    for (key, n) in errors {
        println!("  {n:>7}  {key}");
    }
    if errors.keys().any(|key| key.contains("429")) {
        println!(
            "  (429: the server's per-account limits on holds and payments stopped part of \
             the load; for a benchmark start it with \
             MARQUEE_LIMITS__HOLDS_PER_ACCOUNT_PER_MINUTE=1000000 \
             MARQUEE_LIMITS__PAYMENTS_PER_ACCOUNT_PER_MINUTE=1000000)"
        );
    }
}

/// Makes the addresses of this run's accounts unique, so runs can repeat on one database.
fn new_run_id() -> String {
    format!("{:08x}", rand::random::<u32>())
}

/// Registers `count` customer accounts and signs each in; returns their access tokens.
async fn sign_up_customers(
    target: &Arc<Target>,
    count: usize,
    run_id: &str,
    deadline: Instant,
) -> anyhow::Result<Vec<String>> {
    if count == 0 {
        bail!("--customers must be at least 1");
    }
    let started = Instant::now();
    let warned = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for lane in 0..SIGN_UP_CONCURRENCY.min(count) {
        let (target, run_id, warned) = (target.clone(), run_id.to_owned(), warned.clone());
        tasks.push(tokio::spawn(async move {
            let mut connection = Connection::open(&target).await?;
            let mut tokens = Vec::new();
            for n in (lane..count).step_by(SIGN_UP_CONCURRENCY) {
                let email = format!("bench-{run_id}-{n}@example.com");
                let token = sign_up(&mut connection, &target, &email, n, &warned, deadline).await?;
                tokens.push(token);
            }
            anyhow::Ok(tokens)
        }));
    }
    let mut tokens = Vec::with_capacity(count);
    for task in tasks {
        tokens.extend(task.await.context("sign-up task panicked")??);
    }
    println!(
        "{count} customer accounts registered and signed in ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
    Ok(tokens)
}

/// Registers one account (an address already taken by an earlier try is fine) and logs in,
/// waiting out the server's rate limits on both.
async fn sign_up(
    connection: &mut Connection,
    target: &Target,
    email: &str,
    n: usize,
    warned: &AtomicBool,
    deadline: Instant,
) -> anyhow::Result<String> {
    let password = format!("{email}-password");
    let registration = json!({
        "email": email,
        "password": password,
        "display_name": format!("Bench customer {n}"),
    });
    let (status, body) = post_waiting_out_limits(
        connection,
        target,
        "/api/v1/auth/register",
        &registration,
        "MARQUEE_LIMITS__REGISTRATIONS_PER_CLIENT_PER_MINUTE=100000",
        warned,
        deadline,
    )
    .await?;
    if status != StatusCode::CREATED && status != StatusCode::CONFLICT {
        bail!(
            "POST /api/v1/auth/register answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let credentials = json!({"email": email, "password": password});
    let (status, body) = post_waiting_out_limits(
        connection,
        target,
        "/api/v1/auth/login",
        &credentials,
        "MARQUEE_AUTH__LOGIN_ATTEMPTS_PER_CLIENT_PER_MINUTE=100000",
        warned,
        deadline,
    )
    .await?;
    if status != StatusCode::OK {
        bail!(
            "POST /api/v1/auth/login answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let pair: Value = serde_json::from_slice(&body)?;
    pair["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("login answered no access_token"))
}

/// POSTs `body`, and while the server answers 429, waits as its `Retry-After` says (once
/// saying how to start the server without the limit) and tries again.
async fn post_waiting_out_limits(
    connection: &mut Connection,
    target: &Target,
    path: &str,
    body: &Value,
    setting: &str,
    warned: &AtomicBool,
    deadline: Instant,
) -> anyhow::Result<(StatusCode, bytes::Bytes)> {
    loop {
        let (status, headers, answer) = connection.post_json(target, path, body).await?;
        if status != StatusCode::TOO_MANY_REQUESTS {
            return Ok((status, answer));
        }
        let wait = headers
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(1);
        let wait = Duration::from_secs(wait.max(1));
        if Instant::now() + wait > deadline {
            bail!("POST {path} still rate-limited when --max-seconds ran out");
        }
        if !warned.swap(true, Ordering::Relaxed) {
            eprintln!(
                "the server rate-limits POST {path} from one address; waiting it out (start \
                 the server with {setting} to skip this)"
            );
        }
        tokio::time::sleep(wait).await;
    }
}

/// Labels of the seats on a seat map that are available now, in the server's grid order.
fn available_labels(seat_map: &Value) -> impl Iterator<Item = &str> {
    seat_map["seats"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|seat| seat["state"] == "available")
        .filter_map(|seat| seat["label"].as_str())
}

/// Available seats of shows on sale, show by show.
struct FreeSeats {
    show_ids: Vec<String>,
    /// (index into `show_ids`, seat label), in grid order within each show.
    seats: Vec<(usize, String)>,
    days: u64,
}

/// Collects free seats from tomorrow's shows, then from the following days' until there
/// are `wanted` (earlier runs leave their bookings behind).
async fn find_free_seats(target: &Target, wanted: usize) -> anyhow::Result<FreeSeats> {
    let mut connection = Connection::open(target).await?;
    let mut free = FreeSeats {
        show_ids: Vec::new(),
        seats: Vec::new(),
        days: 0,
    };
    for day in 1..=MAX_DAYS_AHEAD {
        let plan = match discover(target, day).await {
            Ok(plan) => plan,
            Err(_) if day > 1 => break,
            Err(error) => return Err(error),
        };
        free.days = day;
        for id in plan.show_ids() {
            let seat_map = connection
                .get_json(target, &format!("/api/v1/shows/{id}/seats"))
                .await?;
            if seat_map["on_sale"] != true {
                continue;
            }
            let show = free.show_ids.len();
            free.show_ids.push(id.to_owned());
            free.seats
                .extend(available_labels(&seat_map).map(|label| (show, label.to_owned())));
        }
        if free.seats.len() >= wanted {
            break;
        }
    }
    if free.seats.is_empty() {
        bail!("no free seats in the next {MAX_DAYS_AHEAD} days; reseed the database");
    }
    Ok(free)
}

pub(super) async fn run_booking(args: &BenchArgs, target: Target) -> anyhow::Result<()> {
    let bookings = args.requests.unwrap_or(DEFAULT_BOOKINGS);
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    let encoding = target.accept_encoding;
    let target = Arc::new(target);
    // The nodes the workers' connections are spread over, `--url` first.
    let mut nodes = vec![(args.url.clone(), target.clone())];
    for url in &args.node_urls {
        let mut node = super::parse_target(url)?;
        node.accept_encoding = encoding;
        nodes.push((url.clone(), Arc::new(node)));
    }
    let run_id = new_run_id();
    // Each booking takes one or two seats.
    let wanted = usize::try_from(bookings.saturating_mul(2)).unwrap_or(usize::MAX);
    let free = find_free_seats(&target, wanted).await?;
    println!(
        "marquee bench: booking flow against {} ({} shows on sale over the next {} day(s), {} free seats)",
        args.url,
        free.show_ids.len(),
        free.days,
        free.seats.len()
    );
    if free.seats.len() < wanted {
        println!(
            "fewer free seats than {bookings} bookings may need; workers stop when theirs run out"
        );
    }
    let tokens = Arc::new(sign_up_customers(&target, args.customers, &run_id, deadline).await?);
    let demand_rule = if args.demand_rule {
        Some(super::demand_rule::attach(&target, &run_id).await?)
    } else {
        None
    };
    let slow_endpoint = match args.webhook_delay_ms {
        Some(ms) => Some(super::slow_endpoint::attach(&target, Duration::from_millis(ms)).await?),
        None => None,
    };
    println!(
        "connections {}, bookings {bookings} (hold 1–2 seats → pay tok_visa → GET ?wait_ms=5000 until confirmed, {} ms between asks), client and server on this machine ({} cores)",
        args.connections,
        POLL_INTERVAL.as_millis(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // Contiguous slices of the seat list: a worker's seats are its own, and neighbours in a
    // row stay together for two-seat bookings.
    let show_ids = Arc::new(free.show_ids);
    let per_worker = free.seats.len().div_ceil(args.connections);
    let mut seats = free.seats.into_iter();
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(args.connections);
    for worker in 0..args.connections {
        let own: Vec<(usize, String)> = seats.by_ref().take(per_worker).collect();
        let context = WorkerContext {
            worker,
            target: nodes[worker % nodes.len()].1.clone(),
            token: tokens[worker % tokens.len()].clone(),
            run_id: run_id.clone(),
            show_ids: show_ids.clone(),
            issued: issued.clone(),
            budget: bookings,
            deadline,
        };
        tasks.push(tokio::spawn(
            async move { booking_worker(context, own).await },
        ));
    }
    let mut per_node = Vec::with_capacity(nodes.len());
    for _ in &nodes {
        per_node.push(WorkerResult::new()?);
    }
    for (worker, task) in tasks.into_iter().enumerate() {
        per_node[worker % nodes.len()].merge(task.await.context("bench worker panicked")??)?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut total = WorkerResult::new()?;
    if nodes.len() > 1 {
        for ((url, _), result) in nodes.iter().zip(&per_node) {
            let hold = &result.steps[0];
            println!(
                "node {url}: complete bookings {} ({:.0}/s), hold p50 {:.1} ms p99 {:.1} ms",
                result.completed,
                result.completed as f64 / elapsed,
                hold.value_at_quantile(0.5) as f64 / 1000.0,
                hold.value_at_quantile(0.99) as f64 / 1000.0,
            );
        }
    }
    for result in per_node {
        total.merge(result)?;
    }

    let rows: Vec<(&str, &Histogram<u64>)> = STEPS.iter().copied().zip(&total.steps).collect();
    print_latencies(("count", "per s"), &rows, elapsed);
    let failed: u64 = total.errors.values().sum();
    println!(
        "complete bookings {} in {elapsed:.2} s: {:.0} bookings/s; polls per booking {:.2}; errors {failed}",
        total.completed,
        total.completed as f64 / elapsed,
        total.polls as f64 / total.completed.max(1) as f64,
    );
    if let Some(endpoint) = &slow_endpoint {
        println!(
            "webhook deliveries the slow endpoint had answered by the end: {}",
            endpoint.received()
        );
    }
    if let Some(rule) = demand_rule {
        rule.remove(&target).await?;
    }
    if total.workers_out_of_seats > 0 {
        println!(
            "{} worker(s) ran out of seats before the end",
            total.workers_out_of_seats
        );
    }
    if failed > 0 {
        println!("errors by status:");
        print_errors(&total.errors);
        bail!("{failed} bookings failed");
    }
    Ok(())
}

struct WorkerContext {
    worker: usize,
    target: Arc<Target>,
    token: String,
    run_id: String,
    show_ids: Arc<Vec<String>>,
    issued: Arc<AtomicU64>,
    budget: u64,
    deadline: Instant,
}

struct WorkerResult {
    /// One histogram per entry of `STEPS`, in microseconds.
    steps: Vec<Histogram<u64>>,
    completed: u64,
    /// Reads of completed bookings until each was seen confirmed.
    polls: u64,
    errors: ErrorCounts,
    workers_out_of_seats: u64,
}

impl WorkerResult {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            steps: STEPS
                .iter()
                .map(|_| new_histogram())
                .collect::<anyhow::Result<_>>()?,
            completed: 0,
            polls: 0,
            errors: ErrorCounts::new(),
            workers_out_of_seats: 0,
        })
    }

    fn merge(&mut self, other: WorkerResult) -> anyhow::Result<()> {
        for (into, from) in self.steps.iter_mut().zip(&other.steps) {
            into.add(from).context("merging histograms")?;
        }
        self.completed += other.completed;
        self.polls += other.polls;
        for (key, n) in other.errors {
            *self.errors.entry(key).or_default() += n;
        }
        self.workers_out_of_seats += other.workers_out_of_seats;
        Ok(())
    }
}

/// Microseconds since `since`, at least 1 (the histograms start at 1 µs).
fn micros_since(since: Instant) -> u64 {
    since.elapsed().as_micros().max(1) as u64
}

/// Books from `seats` (this worker's alone) until the shared budget, the deadline or the
/// seats run out.
async fn booking_worker(
    context: WorkerContext,
    seats: Vec<(usize, String)>,
) -> anyhow::Result<WorkerResult> {
    let mut rng = SmallRng::seed_from_u64(0x626f_6f6b_696e_6700 ^ context.worker as u64);
    let customer = Customer {
        target: &context.target,
        token: &context.token,
    };
    let mut connection = Connection::open(&context.target).await?;
    let mut result = WorkerResult::new()?;
    let mut next = 0;
    for attempt in 0u64.. {
        if next >= seats.len() {
            result.workers_out_of_seats = 1;
            break;
        }
        // A slot of the budget per booking started; a failed booking gives its slot back,
        // so the budget counts complete bookings.
        let claimed = context
            .issued
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < context.budget).then_some(n + 1)
            })
            .is_ok();
        if !claimed || Instant::now() >= context.deadline {
            break;
        }
        let (show, first) = &seats[next];
        let mut labels = vec![first.as_str()];
        next += 1;
        if rng.random_bool(0.5)
            && let Some((same_show, second)) = seats.get(next)
            && same_show == show
        {
            labels.push(second.as_str());
            next += 1;
        }
        let key = format!("bench-{}-{}-{attempt}", context.run_id, context.worker);
        let request = json!({"show_id": context.show_ids[*show], "seats": labels});
        match book_once(&customer, &mut connection, &key, &request, &mut result).await? {
            Ok(()) => result.completed += 1,
            Err(error) => {
                context.issued.fetch_sub(1, Ordering::Relaxed);
                count(&mut result.errors, error);
            }
        }
    }
    Ok(result)
}

/// One booking: hold → pay → poll until confirmed, recording each step. The inner error
/// says why the booking did not complete.
async fn book_once(
    customer: &Customer<'_>,
    connection: &mut Connection,
    key: &str,
    request: &Value,
    result: &mut WorkerResult,
) -> anyhow::Result<Result<(), String>> {
    let started = Instant::now();
    let hold_key = format!("{key}-hold");
    let Some((status, body)) = customer
        .call(
            connection,
            "/api/v1/bookings",
            Some(&hold_key),
            Some(request),
        )
        .await?
    else {
        return Ok(Err("hold: connection failed".into()));
    };
    if status != StatusCode::CREATED {
        return Ok(Err(format!("hold: {}", refusal(status, &body))));
    }
    result.steps[0].saturating_record(micros_since(started));
    let booking: Value = serde_json::from_slice(&body).context("booking response")?;
    let Some(id) = booking["id"].as_str() else {
        return Ok(Err("hold: no booking id".into()));
    };

    let paying = Instant::now();
    let pay_key = format!("{key}-pay");
    let pay_path = format!("/api/v1/bookings/{id}/payments");
    let card = json!({"card_token": "tok_visa"});
    let Some((status, body)) = customer
        .call(connection, &pay_path, Some(&pay_key), Some(&card))
        .await?
    else {
        return Ok(Err("pay: connection failed".into()));
    };
    if status != StatusCode::CREATED {
        return Ok(Err(format!("pay: {}", refusal(status, &body))));
    }
    let paid = Instant::now();
    result.steps[1].saturating_record(micros_since(paying));

    // The server answers when the webhook has landed (or after 5 s), so one request
    // usually suffices; the short sleep only paces a retry.
    let booking_path = format!("/api/v1/bookings/{id}?wait_ms=5000");
    let mut polls = 0;
    loop {
        let Some((status, body)) = customer.call(connection, &booking_path, None, None).await?
        else {
            return Ok(Err("poll: connection failed".into()));
        };
        polls += 1;
        if status != StatusCode::OK {
            return Ok(Err(format!("poll: {}", refusal(status, &body))));
        }
        let booking: Value = serde_json::from_slice(&body).context("booking response")?;
        match booking["status"].as_str() {
            Some("confirmed") => break,
            Some("pending_payment") => {
                let failed = booking["payments"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|payment| payment["status"] == "failed");
                if failed {
                    return Ok(Err("poll: payment failed".into()));
                }
            }
            other => return Ok(Err(format!("poll: booking {}", other.unwrap_or("?")))),
        }
        if paid.elapsed() > CONFIRM_TIMEOUT {
            return Ok(Err(format!(
                "poll: not confirmed within {} s",
                CONFIRM_TIMEOUT.as_secs()
            )));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    result.steps[2].saturating_record(micros_since(paid));
    result.steps[3].saturating_record(micros_since(started));
    result.polls += polls;
    Ok(Ok(()))
}
