//! A `marquee serve --demo` process is SIGKILLed three times in the middle of booking
//! traffic and restarted on the same database (the same SQLite file, the same PostgreSQL
//! database) and port each time. Whatever a customer was told must still be true
//! afterwards, and everything that was in flight must come to an end:
//!
//! - a booking a customer saw `confirmed` is still confirmed;
//! - no seat is in two live bookings, and each show's seat map shows as `booked` exactly
//!   the seats of its confirmed bookings;
//! - holds that were live at a restart survive it and lapse on time after it;
//! - every payment ends `succeeded` (with its booking confirmed), `failed` or `refunded`:
//!   none stays `pending` (or `refunding`) for good.
//!
//! The load: a few dozen customers, each on seats of its own, holding one or two seats at a
//! time and paying with `tok_visa`, `tok_delayed` or `tok_chargeDeclined` (then paying
//! again or walking away), or not paying at all. Every creating POST carries an
//! `Idempotency-Key`, so a customer whose request died with the process simply sends it
//! again. The server is killed once each phase has created enough holds and payments,
//! not after a fixed time, so the kills land mid-load however slow the machine is.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Write as _,
    future::Future,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use marquee::db::Engine;
use rand::{Rng, SeedableRng, rngs::StdRng};
use reqwest::StatusCode;
use serde_json::Value;

use crate::serve::{Answer, Api, ProcessDatabase, ServeOptions, ServeProcess, seats_in_state};

const CUSTOMERS: usize = 32;
/// Seats reserved for each customer; a customer whose seats are used up stops.
const SEATS_PER_CUSTOMER: usize = 24;
const KILLS: usize = 3;
/// Holds and payments each phase creates before the server is killed (and the last phase
/// before the load stops).
const HOLDS_PER_PHASE: usize = 50;
const PAYMENTS_PER_PHASE: usize = 25;
/// Longest a phase may take to create them: the load is stuck otherwise.
const PHASE_TIMEOUT: Duration = Duration::from_secs(60);
/// Short holds, so the ones left unpaid lapse within the test.
const HOLD_SECS: i64 = 10;
/// How late `tok_delayed` answers.
const DELAYED_MS: u64 = 1_500;
/// How long after `expires_at` the sweeper may take to mark a lapsed hold `expired`
/// (it runs every second by default).
const EXPIRY_GRACE: Duration = Duration::from_secs(4);
/// How long a customer keeps retrying one request across a restart.
const RETRY_FOR: Duration = Duration::from_secs(60);
/// How long a customer watches a payment before moving on.
const WATCH_FOR: Duration = Duration::from_secs(8);
/// How long a payment may stay pending before the server asks the gateway about it.
const RECONCILE_AFTER_MS: u64 = 3_000;
/// How long, after the last hold lapsed, payments and bookings get to settle.
const SETTLE_FOR: Duration = Duration::from_secs(15);

mod sigkill_mid_load_keeps_promises_and_settles_payments {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        run(Engine::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        run(Engine::Postgres).await;
    }
}

/// What a customer does with a hold.
#[derive(Clone, Copy, Debug)]
enum Plan {
    Visa,
    Delayed,
    DeclinedThenVisa,
    DeclinedThenLapse,
    Lapse,
}

impl Plan {
    fn pick(rng: &mut StdRng) -> Self {
        match rng.random_range(0..100) {
            0..40 => Plan::Visa,
            40..60 => Plan::Delayed,
            60..70 => Plan::DeclinedThenVisa,
            70..80 => Plan::DeclinedThenLapse,
            _ => Plan::Lapse,
        }
    }
}

/// A booking as its customer saw it.
#[derive(Debug, Clone)]
struct Seen {
    customer: usize,
    show: String,
    seats: Vec<String>,
    plan: Plan,
    expires_at: DateTime<Utc>,
    /// Every status the customer was shown, in order (repeats collapsed).
    statuses: Vec<String>,
    /// Payments the customer started: id and card token.
    payments: Vec<(String, &'static str)>,
}

impl Seen {
    fn saw(&mut self, status: &str) {
        if self.statuses.last().map(String::as_str) != Some(status) {
            self.statuses.push(status.to_owned());
        }
    }

    fn describe(&self, id: &str) -> String {
        format!(
            "booking {id} (customer {}, show {}, seats {:?}, plan {:?}, held until {}, \
             statuses seen {:?})",
            self.customer,
            self.show,
            self.seats,
            self.plan,
            self.expires_at.to_rfc3339(),
            self.statuses
        )
    }
}

/// Everything the customers were told, shared by their tasks.
#[derive(Default)]
struct Ledger {
    bookings: BTreeMap<String, Seen>,
    holds: usize,
    payments: usize,
    /// Answers outside the contract (a 500, an unexpected refusal), for the report.
    odd_answers: Vec<String>,
    /// Transport failures and 503s retried through.
    retried: usize,
}

type Shared = Arc<Mutex<Ledger>>;

fn ledger(shared: &Shared) -> std::sync::MutexGuard<'_, Ledger> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

async fn run(engine: Engine) {
    let _machine = crate::serve::exclusive().await;
    let Some(database) = ProcessDatabase::create(engine).await else {
        return;
    };
    let test_started = Instant::now();
    let mut options = ServeOptions {
        demo: true,
        ..ServeOptions::default()
    }
    .env("MARQUEE_BOOKING__HOLD_SECS", HOLD_SECS)
    // Reminders must come before the (short) hold lapses.
    .env("MARQUEE_BOOKING__HOLD_REMINDER_LEAD_SECS", HOLD_SECS / 2)
    .env("MARQUEE_PAYMENT__MOCK_DELAY_MS", DELAYED_MS)
    // A payment whose intent died with the process before it was confirmed is settled by
    // asking the gateway; soon, so it happens within the settle window.
    .env("MARQUEE_PAYMENT__RECONCILE_AFTER_MS", RECONCILE_AFTER_MS)
    .env(
        "MARQUEE_AUTH__LOGIN_ATTEMPTS_PER_CLIENT_PER_MINUTE",
        100_000,
    )
    .env(
        "MARQUEE_AUTH__LOGIN_ATTEMPTS_PER_ACCOUNT_PER_MINUTE",
        100_000,
    );
    let mut server = ServeProcess::start(&database.url, &options)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Restarts take the same port, so customers keep their address, as behind a fixed
    // service address.
    options.addr = server.addr;
    let api = Api::new(&server.base, Duration::from_secs(30));

    let run_id = ulid::Ulid::new().to_string().to_lowercase();
    let tokens: Vec<String> = futures::future::join_all((0..CUSTOMERS).map(|c| {
        let (api, run_id) = (&api, &run_id);
        async move {
            api.customer(&format!("crash{c}-{run_id}@example.com"))
                .await
        }
    }))
    .await;
    let pools = seat_pools(&api).await;
    let shows: BTreeSet<String> = pools.iter().flatten().map(|(s, _)| s.clone()).collect();
    let setup = test_started.elapsed();

    let shared: Shared = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let customers: Vec<_> = pools
        .into_iter()
        .enumerate()
        .map(|(c, pool)| {
            tokio::spawn(customer(
                c,
                api.clone(),
                tokens[c].clone(),
                pool,
                shared.clone(),
                stop.clone(),
            ))
        })
        .collect();

    let mut restarts: Vec<Restart> = Vec::new();
    for _ in 0..KILLS {
        wait_for_progress(&shared, &restarts).await;
        let before = snapshot(&shared);
        server.kill().await;
        let killed = Instant::now();
        let killed_at = Utc::now();
        server = restart(&database.url, &options).await;
        let down_for = killed.elapsed();
        // Right after the restart: the holds that were live at the kill are still there.
        let (holds_checked, broken) = holds_survive(&api, &shared, &shows).await;
        restarts.push(Restart {
            holds: before.0,
            payments: before.1,
            killed_at,
            down_for,
            holds_checked,
            broken,
        });
    }
    wait_for_progress(&shared, &restarts).await;
    stop.store(true, Ordering::SeqCst);
    let load_ended = Instant::now();
    for task in customers {
        tokio::time::timeout(RETRY_FOR + WATCH_FOR * 2, task)
            .await
            .expect("a customer did not finish after the load stopped")
            .expect("customer task");
    }
    let load_time = load_ended.duration_since(test_started) - setup;

    let mut broken: Vec<String> = Vec::new();
    for restart in &restarts {
        broken.extend(restart.broken.iter().cloned());
    }
    let last_kill = restarts
        .last()
        .map(|r| r.killed_at)
        .unwrap_or_else(Utc::now);
    let lapses = holds_lapse_on_time(&api, &shared, &tokens, last_kill).await;
    broken.extend(lapses.broken.iter().cloned());
    let settled_in = Instant::now();
    let (finals, maps) = settle(&api, &tokens, &shows).await;
    let settle_time = settled_in.elapsed();
    broken.extend(check_final_state(&shared, &finals, &maps));

    let ledger = ledger(&shared);
    let mut report = String::new();
    let _ = writeln!(
        report,
        "crash test on {}: {} holds, {} payments by {CUSTOMERS} customers; setup {:.1} s, \
         load {:.1} s, settle {:.1} s, total {:.1} s; restarts down for {:?}; \
         {} requests retried through restarts",
        engine.name(),
        ledger.holds,
        ledger.payments,
        setup.as_secs_f64(),
        load_time.as_secs_f64(),
        settle_time.as_secs_f64(),
        test_started.elapsed().as_secs_f64(),
        restarts.iter().map(|r| r.down_for).collect::<Vec<_>>(),
        ledger.retried,
    );
    let _ = writeln!(
        report,
        "final booking states: {}",
        tally(&finals, |b| b["status"].as_str())
    );
    let _ = writeln!(report, "final payment states: {}", tally_payments(&finals));
    for (i, r) in restarts.iter().enumerate() {
        let _ = writeln!(
            report,
            "kill {}: after {} holds and {} payments; {} live holds checked on the seat map \
             right after the restart",
            i + 1,
            r.holds,
            r.payments,
            r.holds_checked
        );
    }
    let _ = writeln!(
        report,
        "{} unpaid holds checked at expires_at + {EXPIRY_GRACE:?}, {} of them live across the \
         last kill",
        lapses.checked, lapses.across_last_kill
    );
    if !ledger.odd_answers.is_empty() {
        let _ = writeln!(
            report,
            "{} answers outside the contract (not asserted), first ones:",
            ledger.odd_answers.len()
        );
        for line in ledger.odd_answers.iter().take(10) {
            let _ = writeln!(report, "  {line}");
        }
    }
    let complaints = server.complaints();
    let complaints = &complaints[complaints.len().saturating_sub(10)..];
    assert!(
        broken.is_empty(),
        "{} broken promises after {KILLS} SIGKILLs and restarts on {} {}:\n{}\n\n{report}\
         last warnings and errors of the running server: {complaints:#?}",
        broken.len(),
        engine.name(),
        per_check(&broken),
        broken.join("\n"),
    );
    assert!(
        lapses.across_last_kill > 0,
        "the test proved nothing about holds lapsing after a restart: no unpaid hold was live \
         across the last kill"
    );
    eprint!("{report}");
    drop(server);
    drop(database);
}

struct Restart {
    holds: usize,
    payments: usize,
    killed_at: DateTime<Utc>,
    down_for: Duration,
    /// Live holds whose seats were checked right after the restart.
    holds_checked: usize,
    /// Broken promises found right after the restart.
    broken: Vec<String>,
}

fn snapshot(shared: &Shared) -> (usize, usize) {
    let ledger = ledger(shared);
    (ledger.holds, ledger.payments)
}

/// Waits until the load has created another `HOLDS_PER_PHASE` holds and
/// `PAYMENTS_PER_PHASE` payments.
async fn wait_for_progress(shared: &Shared, restarts: &[Restart]) {
    let (holds, payments) = snapshot(shared);
    let deadline = Instant::now() + PHASE_TIMEOUT;
    loop {
        let (h, p) = snapshot(shared);
        if h >= holds + HOLDS_PER_PHASE && p >= payments + PAYMENTS_PER_PHASE {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the load is stuck: {} holds and {} payments in {PHASE_TIMEOUT:?} after restart {} \
             (wanted {HOLDS_PER_PHASE} and {PAYMENTS_PER_PHASE}); odd answers: {:?}",
            h - holds,
            p - payments,
            restarts.len(),
            ledger(shared)
                .odd_answers
                .iter()
                .take(5)
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Starts the server again on the same database and port; a port not free yet is retried.
async fn restart(database_url: &str, options: &ServeOptions) -> ServeProcess {
    let mut last = String::new();
    for _ in 0..10 {
        match ServeProcess::start(database_url, options).await {
            Ok(server) => return server,
            Err(error) => last = error,
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    panic!("marquee serve did not restart on {}: {last}", options.addr);
}

/// Seats for each customer: available seats of tomorrow's demo shows, in disjoint runs.
async fn seat_pools(api: &Api) -> Vec<Vec<(String, String)>> {
    api.available_seats(CUSTOMERS * SEATS_PER_CUSTOMER)
        .await
        .chunks(SEATS_PER_CUSTOMER)
        .map(<[_]>::to_vec)
        .collect()
}

/// Sends a request until it gets an answer that is not a 503 (or a duplicate still running
/// under the same idempotency key): through a killed connection, a refused one while the
/// server is down, and the restart. `None` after `RETRY_FOR`.
async fn persist<F, Fut>(shared: &Shared, what: &str, call: F) -> Option<Answer>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Answer, reqwest::Error>>,
{
    let deadline = Instant::now() + RETRY_FOR;
    loop {
        let last = match call().await {
            Ok(answer)
                if answer.status == StatusCode::SERVICE_UNAVAILABLE
                    || answer.problem() == Some("idempotency-in-progress") =>
            {
                format!("{} {}", answer.status, answer.text)
            }
            Ok(answer) if answer.status.is_server_error() => {
                let last = format!("{} {}", answer.status, answer.text);
                ledger(shared).odd_answers.push(format!("{what}: {last}"));
                last
            }
            Ok(answer) => return Some(answer),
            Err(error) => error.to_string(),
        };
        ledger(shared).retried += 1;
        if Instant::now() >= deadline {
            ledger(shared)
                .odd_answers
                .push(format!("{what}: gave up after {RETRY_FOR:?}; last: {last}"));
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One customer: hold, then pay (or not) according to a plan, on its own seats, until the
/// load stops or its seats are used up.
async fn customer(
    c: usize,
    api: Api,
    token: String,
    pool: Vec<(String, String)>,
    shared: Shared,
    stop: Arc<AtomicBool>,
) {
    let mut rng = StdRng::seed_from_u64(c as u64);
    let mut pool = pool.into_iter().peekable();
    let mut round = 0;
    while !stop.load(Ordering::SeqCst) {
        let Some((show, first)) = pool.next() else {
            break;
        };
        let mut seats = vec![first];
        if rng.random_bool(0.4)
            && let Some((next_show, _)) = pool.peek()
            && *next_show == show
        {
            seats.extend(pool.next().map(|(_, label)| label));
        }
        let plan = Plan::pick(&mut rng);
        let key = format!("hold-{c}-{round}");
        round += 1;
        let what = format!("customer {c} hold {seats:?} of {show}");
        let Some(answer) = persist(&shared, &what, || {
            api.hold(&token, &show, &seats, Some(&key))
        })
        .await
        else {
            return;
        };
        if answer.status != StatusCode::CREATED {
            ledger(&shared)
                .odd_answers
                .push(format!("{what}: {} {}", answer.status, answer.text));
            continue;
        }
        let id = answer.body["id"].as_str().expect("booking id").to_owned();
        let expires_at = answer.body["expires_at"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .expect("expires_at")
            .with_timezone(&Utc);
        {
            let mut ledger = ledger(&shared);
            ledger.holds += 1;
            let mut seen = Seen {
                customer: c,
                show: show.clone(),
                seats: seats.clone(),
                plan,
                expires_at,
                statuses: Vec::new(),
                payments: Vec::new(),
            };
            seen.saw(answer.body["status"].as_str().unwrap_or("?"));
            ledger.bookings.insert(id.clone(), seen);
        }
        let first_card = match plan {
            Plan::Lapse => None,
            Plan::Visa => Some("tok_visa"),
            Plan::Delayed => Some("tok_delayed"),
            Plan::DeclinedThenVisa | Plan::DeclinedThenLapse => Some("tok_chargeDeclined"),
        };
        if let Some(card) = first_card {
            let outcome = pay_and_watch(&api, &token, &id, card, &shared, 1).await;
            if matches!(plan, Plan::DeclinedThenVisa) && outcome.as_deref() == Some("failed") {
                pay_and_watch(&api, &token, &id, "tok_visa", &shared, 2).await;
            }
        }
        let pause = rng.random_range(20..150);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

/// Pays and watches the booking until the payment is no longer pending (or `WATCH_FOR` is
/// over); returns the payment's last status seen.
async fn pay_and_watch(
    api: &Api,
    token: &str,
    booking: &str,
    card: &'static str,
    shared: &Shared,
    attempt: u32,
) -> Option<String> {
    let key = format!("pay-{booking}-{attempt}");
    let what = format!("pay {booking} with {card}");
    let answer = persist(shared, &what, || api.pay(token, booking, card, Some(&key))).await?;
    if answer.status != StatusCode::CREATED {
        // A hold that lapsed while the server was down is refused: booking-expired.
        if answer.problem() != Some("booking-expired") {
            ledger(shared)
                .odd_answers
                .push(format!("{what}: {} {}", answer.status, answer.text));
        }
        return None;
    }
    let payment = answer.body["id"].as_str().expect("payment id").to_owned();
    {
        let mut ledger = ledger(shared);
        ledger.payments += 1;
        if let Some(seen) = ledger.bookings.get_mut(booking) {
            seen.payments.push((payment.clone(), card));
        }
    }
    let until = Instant::now() + WATCH_FOR;
    loop {
        let what = format!("watch {booking}");
        let answer = persist(shared, &what, || api.booking(token, booking, 3_000)).await?;
        if answer.status != StatusCode::OK {
            ledger(shared)
                .odd_answers
                .push(format!("{what}: {} {}", answer.status, answer.text));
            return None;
        }
        let status = payment_status(&answer.body, &payment)
            .unwrap_or("missing")
            .to_owned();
        if let Some(seen) = ledger(shared).bookings.get_mut(booking) {
            seen.saw(answer.body["status"].as_str().unwrap_or("?"));
        }
        if status != "pending" || Instant::now() >= until {
            return Some(status);
        }
    }
}

fn payment_status<'a>(booking: &'a Value, payment: &str) -> Option<&'a str> {
    booking["payments"]
        .as_array()?
        .iter()
        .find(|p| p["id"] == payment)?["status"]
        .as_str()
}

/// Right after a restart: every seat of a hold that is live for at least another second
/// (as its customer last saw it) is still held, or booked if its payment went through.
/// Returns how many holds were checked and what was wrong.
async fn holds_survive(
    api: &Api,
    shared: &Shared,
    shows: &BTreeSet<String>,
) -> (usize, Vec<String>) {
    let margin = chrono::Duration::seconds(1);
    let live: Vec<(String, Seen)> = {
        let now = Utc::now();
        ledger(shared)
            .bookings
            .iter()
            .filter(|(_, b)| {
                b.statuses.last().map(String::as_str) == Some("pending_payment")
                    && b.expires_at > now + margin
            })
            .map(|(id, b)| (id.clone(), b.clone()))
            .collect()
    };
    let mut broken = Vec::new();
    let mut maps = BTreeMap::new();
    for show in shows {
        maps.insert(show.clone(), api.seat_map(show).await);
    }
    let checked_at = Utc::now();
    let mut checked = 0;
    for (id, seen) in live {
        if seen.expires_at <= checked_at + margin {
            continue;
        }
        checked += 1;
        let map = &maps[&seen.show];
        let held = seats_in_state(map, "held");
        let booked = seats_in_state(map, "booked");
        let lost: Vec<&String> = seen
            .seats
            .iter()
            .filter(|s| !held.contains(s) && !booked.contains(s))
            .collect();
        if !lost.is_empty() {
            broken.push(format!(
                "[holds-survive-restart] seats {lost:?} of {} are neither held nor booked on the \
                 seat map right after a restart at {}, though the hold lasts until {}",
                seen.describe(&id),
                checked_at.to_rfc3339(),
                seen.expires_at.to_rfc3339()
            ));
        }
    }
    (checked, broken)
}

/// What the on-time lapse check covered and found.
struct Lapses {
    checked: usize,
    /// Holds made before the last kill that lapsed after the restart.
    across_last_kill: usize,
    broken: Vec<String>,
}

/// Every booking its customer last saw `pending_payment` must be `expired` (or confirmed,
/// if a payment went through after all) by `expires_at + EXPIRY_GRACE`, and none of its
/// seats held any more. Checked at that instant for each booking.
async fn holds_lapse_on_time(
    api: &Api,
    shared: &Shared,
    tokens: &[String],
    last_kill: DateTime<Utc>,
) -> Lapses {
    let mut due: Vec<(String, Seen)> = ledger(shared)
        .bookings
        .iter()
        .filter(|(_, b)| b.statuses.last().map(String::as_str) == Some("pending_payment"))
        .map(|(id, b)| (id.clone(), b.clone()))
        .collect();
    due.sort_by_key(|(_, b)| b.expires_at);
    let hold = chrono::Duration::seconds(HOLD_SECS);
    let across_last_kill = due
        .iter()
        .filter(|(_, b)| b.expires_at - hold < last_kill && b.expires_at > last_kill)
        .count();
    let grace = chrono::Duration::from_std(EXPIRY_GRACE).unwrap();
    let mut broken = Vec::new();
    let mut next = 0;
    while next < due.len() {
        let check_at = due[next].1.expires_at + grace;
        if let Ok(wait) = (check_at - Utc::now()).to_std() {
            tokio::time::sleep(wait).await;
        }
        let now = Utc::now();
        let batch: Vec<&(String, Seen)> = due[next..]
            .iter()
            .take_while(|(_, b)| b.expires_at + grace <= now)
            .collect();
        next += batch.len();
        let mut maps: BTreeMap<&str, Value> = BTreeMap::new();
        for (id, seen) in batch {
            let what = format!("read {id}");
            let token = &tokens[seen.customer];
            let Some(answer) = persist(shared, &what, || api.booking(token, id, 0)).await else {
                broken.push(format!(
                    "[holds-lapse-on-time] cannot read {}",
                    seen.describe(id)
                ));
                continue;
            };
            let status = answer.body["status"].as_str().unwrap_or("?").to_owned();
            if status != "expired" && status != "confirmed" {
                broken.push(format!(
                    "[holds-lapse-on-time] {} is {status} at {}, {:.1} s after its hold lapsed \
                     (expected expired within {EXPIRY_GRACE:?}); payments: {}",
                    seen.describe(id),
                    now.to_rfc3339(),
                    (now - seen.expires_at).num_milliseconds() as f64 / 1000.0,
                    answer.body["payments"]
                ));
            }
            if status == "confirmed" {
                continue;
            }
            if !maps.contains_key(seen.show.as_str()) {
                maps.insert(&seen.show, api.seat_map(&seen.show).await);
            }
            let held = seats_in_state(&maps[seen.show.as_str()], "held");
            let still: Vec<&String> = seen.seats.iter().filter(|s| held.contains(s)).collect();
            if !still.is_empty() {
                broken.push(format!(
                    "[holds-lapse-on-time] seats {still:?} of {} (now {status}) are still held on \
                     the seat map at {}, {:.1} s after the hold lapsed",
                    seen.describe(id),
                    now.to_rfc3339(),
                    (now - seen.expires_at).num_milliseconds() as f64 / 1000.0
                ));
            }
        }
    }
    Lapses {
        checked: due.len(),
        across_last_kill,
        broken,
    }
}

/// Polls every customer's bookings until no payment is `pending` or `refunding` and no
/// booking `pending_payment`, for at most `SETTLE_FOR`; returns the bookings by id and the
/// seat maps of the shows as they were then.
async fn settle(
    api: &Api,
    tokens: &[String],
    shows: &BTreeSet<String>,
) -> (BTreeMap<String, Value>, BTreeMap<String, Value>) {
    let deadline = Instant::now() + SETTLE_FOR;
    loop {
        let mut finals = BTreeMap::new();
        for token in tokens {
            for booking in api.history(token).await {
                let id = booking["id"].as_str().expect("booking id").to_owned();
                finals.insert(id, booking);
            }
        }
        let unsettled = finals.values().any(|b| {
            b["status"] == "pending_payment"
                || b["payments"].as_array().is_some_and(|ps| {
                    ps.iter()
                        .any(|p| p["status"] == "pending" || p["status"] == "refunding")
                })
        });
        if !unsettled || Instant::now() >= deadline {
            let mut maps = BTreeMap::new();
            for show in shows {
                maps.insert(show.clone(), api.seat_map(show).await);
            }
            return (finals, maps);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The promises that must hold once everything settled.
fn check_final_state(
    shared: &Shared,
    finals: &BTreeMap<String, Value>,
    maps: &BTreeMap<String, Value>,
) -> Vec<String> {
    let ledger = ledger(shared);
    let now = Utc::now();
    let mut broken = Vec::new();
    let status_of = |id: &str| finals.get(id).and_then(|b| b["status"].as_str());

    // Nothing the customers were given is lost; what they saw confirmed stays confirmed.
    for (id, seen) in &ledger.bookings {
        match status_of(id) {
            None => broken.push(format!(
                "[booking-kept] {} is missing from its customer's bookings",
                seen.describe(id)
            )),
            Some(status)
                if seen.statuses.iter().any(|s| s == "confirmed") && status != "confirmed" =>
            {
                broken.push(format!(
                    "[confirmed-stays-confirmed] {} was seen confirmed and is now {status}",
                    seen.describe(id)
                ));
            }
            Some(_) => {}
        }
    }

    // No seat in two live bookings; what the seat maps should say.
    let mut live: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut confirmed: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut pending: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (id, booking) in finals {
        let show = booking["show_id"].as_str().unwrap_or("?").to_owned();
        let seats: Vec<String> = booking["seats"]
            .as_array()
            .map(|s| {
                s.iter()
                    .filter_map(|l| l.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let expires_at = booking["expires_at"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        let status = booking["status"].as_str().unwrap_or("?");
        let is_live = status == "confirmed"
            || (status == "pending_payment" && expires_at.is_some_and(|t| t > now));
        for seat in &seats {
            if is_live {
                live.entry((show.clone(), seat.clone()))
                    .or_default()
                    .push(format!("{id} ({status})"));
            }
            if status == "confirmed" {
                confirmed
                    .entry(show.clone())
                    .or_default()
                    .insert(seat.clone(), id.clone());
            }
            if is_live && status == "pending_payment" {
                pending
                    .entry(show.clone())
                    .or_default()
                    .insert(seat.clone());
            }
        }
    }
    for ((show, seat), owners) in &live {
        if owners.len() > 1 {
            broken.push(format!(
                "[seat-sold-once] seat {seat} of show {show} is in {} live bookings: {owners:?}",
                owners.len()
            ));
        }
    }
    for (show, map) in maps {
        let booked: BTreeSet<String> = seats_in_state(map, "booked").into_iter().collect();
        let sold = confirmed.get(show).cloned().unwrap_or_default();
        let sold_seats: BTreeSet<String> = sold.keys().cloned().collect();
        let stray: Vec<&String> = booked.difference(&sold_seats).collect();
        if !stray.is_empty() {
            broken.push(format!(
                "[seat-map-matches-bookings] show {show}: seats {stray:?} are booked on the seat \
                 map but in no confirmed booking"
            ));
        }
        for seat in sold_seats.difference(&booked) {
            let state = map["seats"]
                .as_array()
                .and_then(|s| s.iter().find(|s| s["label"] == seat.as_str()))
                .map(|s| s["state"].clone())
                .unwrap_or(Value::Null);
            broken.push(format!(
                "[seat-map-matches-bookings] show {show}: seat {seat} of confirmed booking {} is \
                 {state} on the seat map, expected booked",
                sold[seat]
            ));
        }
        let held: BTreeSet<String> = seats_in_state(map, "held").into_iter().collect();
        let holding = pending.get(show).cloned().unwrap_or_default();
        let orphans: Vec<&String> = held.difference(&holding).collect();
        if !orphans.is_empty() {
            broken.push(format!(
                "[seat-map-matches-bookings] show {show}: seats {orphans:?} are held on the seat \
                 map but in no live hold"
            ));
        }
    }

    // Every payment came to an end.
    let cards: BTreeMap<&str, &str> = ledger
        .bookings
        .values()
        .flat_map(|b| b.payments.iter().map(|(id, card)| (id.as_str(), *card)))
        .collect();
    for (id, booking) in finals {
        let status = booking["status"].as_str().unwrap_or("?");
        for payment in booking["payments"].as_array().into_iter().flatten() {
            let pay_id = payment["id"].as_str().unwrap_or("?");
            let card = cards.get(pay_id).copied().unwrap_or("unknown card");
            let age = payment["created_at"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| (now - t.with_timezone(&Utc)).num_milliseconds() as f64 / 1000.0)
                .unwrap_or(f64::NAN);
            let seen = ledger
                .bookings
                .get(id)
                .map(|s| s.describe(id))
                .unwrap_or_else(|| format!("booking {id}"));
            let problem = match payment["status"].as_str().unwrap_or("?") {
                "succeeded" if status == "confirmed" => None,
                "failed" | "refunded" => None,
                "succeeded" => Some(format!(
                    "succeeded but the booking is {status}, not confirmed (and no refund)"
                )),
                other => Some(format!("{other} {age:.1} s after it was created")),
            };
            if let Some(problem) = problem {
                broken.push(format!(
                    "[payment-settles] payment {pay_id} ({card}) is {problem}; expected succeeded \
                     with the booking confirmed, failed, or refunded; booking now {status}; {seen}"
                ));
            }
        }
    }
    broken
}

/// `{"payment-settles": 28, …}`: how many of each check's promises were broken.
fn per_check(broken: &[String]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for line in broken {
        let check = line
            .strip_prefix('[')
            .and_then(|l| l.split_once(']'))
            .map_or("?", |(check, _)| check);
        *counts.entry(check).or_default() += 1;
    }
    format!("{counts:?}")
}

fn tally(finals: &BTreeMap<String, Value>, key: impl Fn(&Value) -> Option<&str>) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for booking in finals.values() {
        *counts
            .entry(key(booking).unwrap_or("?").to_owned())
            .or_default() += 1;
    }
    format!("{counts:?}")
}

fn tally_payments(finals: &BTreeMap<String, Value>) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for payment in finals
        .values()
        .flat_map(|b| b["payments"].as_array().cloned().unwrap_or_default())
    {
        *counts
            .entry(payment["status"].as_str().unwrap_or("?").to_owned())
            .or_default() += 1;
    }
    format!("{counts:?}")
}
