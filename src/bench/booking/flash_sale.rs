//! `flash-sale`: `--buyers` customers, each on its own connection, are released at once on
//! one show and race for its seats, re-reading the seat map after every refusal. Afterwards
//! no seat may be in two bookings and the seat map must show exactly the seats sold as taken.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use bytes::Bytes;
use hdrhistogram::Histogram;
use hyper::StatusCode;
use rand::{Rng, SeedableRng, rngs::SmallRng, seq::IndexedRandom};
use serde_json::{Value, json};
use tokio::sync::{Barrier, Mutex};

use super::{
    CONFIRM_TIMEOUT, Customer, ErrorCounts, POLL_INTERVAL, count, micros_since, new_run_id,
    print_errors, refusal, sign_up_customers,
};
use crate::bench::{
    BenchArgs, Connection, SeatPolicy, Target, discover, new_histogram, print_latencies,
};

/// The sale is on a screen of this size when the data has one (the demo's medium screens).
const SALE_SEATS: usize = 300;
/// Holds a buyer tries before giving up.
const MAX_ATTEMPTS: u32 = 20;
/// A buyer wants 1 to this many seats.
const MAX_WANTED: usize = 4;
/// Sockets left free when the client cannot open one connection per buyer.
const SPARE_SOCKETS: usize = 32;

/// The show on sale and its seat counts before the sale.
struct SaleShow {
    id: String,
    seats: usize,
    available: usize,
    held: usize,
    booked: usize,
}

impl SaleShow {
    fn from_seat_map(id: &str, seat_map: &Value) -> Self {
        let states: Vec<&str> = seat_map["seats"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|seat| seat["state"].as_str().unwrap_or(""))
            .collect();
        let in_state = |state: &str| states.iter().filter(|s| **s == state).count();
        Self {
            id: id.to_owned(),
            seats: states.len(),
            available: in_state("available"),
            held: in_state("held"),
            booked: in_state("booked"),
        }
    }
}

/// A show on its city's local tomorrow with exactly `SALE_SEATS` seats, preferring one
/// nobody has bought from yet; without such a show, the largest with seats left.
async fn pick_show(target: &Target) -> anyhow::Result<SaleShow> {
    let plan = discover(target, 1).await?;
    let mut connection = Connection::open(target).await?;
    let mut candidates = Vec::new();
    for id in plan.show_ids() {
        let seat_map = connection
            .get_json(target, &format!("/api/v1/shows/{id}/seats"))
            .await?;
        if seat_map["on_sale"] != true {
            continue;
        }
        let show = SaleShow::from_seat_map(id, &seat_map);
        if show.seats == SALE_SEATS && show.available == SALE_SEATS {
            return Ok(show);
        }
        if show.available > 0 {
            candidates.push(show);
        }
    }
    candidates
        .into_iter()
        .max_by_key(|show| {
            let right_size = show.seats == SALE_SEATS;
            let size = if right_size {
                show.available
            } else {
                show.seats
            };
            (right_size, size, show.available)
        })
        .context("no show tomorrow has seats left; reseed the database")
}

pub(in crate::bench) async fn run_flash_sale(
    args: &BenchArgs,
    target: Target,
) -> anyhow::Result<()> {
    if args.buyers == 0 {
        bail!("--buyers must be at least 1");
    }
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    let target = Arc::new(target);
    let run_id = new_run_id();
    let show = pick_show(&target).await?;
    let policy = args.seats.unwrap_or(if args.queue {
        SeatPolicy::Best
    } else {
        SeatPolicy::Pick
    });
    let spread =
        Duration::from_millis(
            args.arrival_spread_ms
                .unwrap_or(if args.queue { 3_000 } else { 0 }),
        );
    println!(
        "marquee bench: flash sale against {}: show {} ({} seats, {} available), {} buyers wanting 1–{MAX_WANTED} seats, at most {MAX_ATTEMPTS} holds each",
        args.url, show.id, show.seats, show.available, args.buyers
    );
    println!(
        "seats: {}; arrivals {}; {}",
        match policy {
            SeatPolicy::Pick => "each buyer picks a block from the seat map",
            SeatPolicy::Best => "each buyer holds the best available (the server chooses)",
        },
        if spread.is_zero() {
            "all at the release".to_owned()
        } else {
            format!(
                "spread evenly over {} ms after the release",
                spread.as_millis()
            )
        },
        if args.queue {
            "through a waiting room"
        } else {
            "no waiting room"
        }
    );
    // Through a waiting room, one entry per account: every buyer signs up.
    let accounts = if args.queue {
        args.customers.max(args.buyers)
    } else {
        args.customers
    };
    let tokens = Arc::new(sign_up_customers(&target, accounts, &run_id, deadline).await?);
    let on_sale = if args.queue {
        Some(set_up_waiting_room(&target, &show.id).await?)
    } else {
        None
    };

    let mut connections = Vec::with_capacity(args.buyers);
    for _ in 0..args.buyers {
        match Connection::open(&target).await {
            Ok(connection) => connections.push(Arc::new(Mutex::new(connection))),
            Err(error) if connections.len() > SPARE_SOCKETS => {
                // Reconnects and the checks after the sale need sockets too.
                connections.truncate(connections.len() - SPARE_SOCKETS);
                println!(
                    "could open no more connections ({error:#}); buyers share {}",
                    connections.len()
                );
                break;
            }
            Err(error) => return Err(error),
        }
    }
    println!(
        "{} buyers on {} connections, client and server on this machine ({} cores)",
        args.buyers,
        connections.len(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let barrier = Arc::new(Barrier::new(args.buyers + 1));
    let show_id: Arc<str> = show.id.as_str().into();
    let mut tasks = Vec::with_capacity(args.buyers);
    for index in 0..args.buyers {
        let buyer = Buyer {
            index,
            target: target.clone(),
            tokens: tokens.clone(),
            connection: connections[index % connections.len()].clone(),
            show_id: show_id.clone(),
            run_id: run_id.clone(),
            barrier: barrier.clone(),
            deadline,
            queue: args.queue,
            best: policy == SeatPolicy::Best,
            arrives_after: spread.mul_f64(index as f64 / args.buyers as f64),
        };
        tasks.push(tokio::spawn(buyer.buy()));
    }
    if let Some(on_sale) = on_sale {
        // Released at the on-sale, like a crowd watching the clock.
        tokio::time::sleep_until(on_sale.into()).await;
    }
    barrier.wait().await;
    let released = Instant::now();
    let mut outcomes = Vec::with_capacity(tasks.len());
    for task in tasks {
        outcomes.push(task.await.context("buyer panicked")??);
    }
    let race_seconds = released.elapsed().as_secs_f64();
    drop(connections);

    let confirmed = confirm_winners(&target, &tokens, &outcomes).await?;
    let mut connection = Connection::open(&target).await?;
    let after = SaleShow::from_seat_map(
        &show.id,
        &connection
            .get_json(&target, &format!("/api/v1/shows/{}/seats", show.id))
            .await?,
    );
    report(&show, &after, &outcomes, &confirmed, released, race_seconds)?;
    if args.queue {
        report_queue(&outcomes, released)?;
    }
    Ok(())
}

/// Gives the show a waiting room on sale two seconds from now (as the demo partner);
/// returns when that is.
async fn set_up_waiting_room(target: &Target, show_id: &str) -> anyhow::Result<Instant> {
    let mut connection = Connection::open(target).await?;
    let token = crate::bench::slow_endpoint::demo_partner_token(&mut connection, target).await?;
    let lead = Duration::from_secs(2);
    let on_sale_at = chrono::Utc::now() + chrono::Duration::from_std(lead)?;
    let room = json!({
        "on_sale_at": on_sale_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "seats_per_account": MAX_WANTED,
    });
    let path = format!("/api/v1/partner/shows/{show_id}/waiting-room");
    let (status, body) = connection.put(target, &path, &token, &room).await?;
    if status != StatusCode::OK {
        bail!(
            "setting the waiting room up answered {}",
            refusal(status, &body)
        );
    }
    println!("waiting room: on sale at {on_sale_at}; buyers arrive from then on");
    // A little after the on-sale, so the room is open when the crowd arrives.
    Ok(Instant::now() + lead + Duration::from_millis(50))
}

/// Average ranks (ties share the mean of their ranks). Pure.
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|a, b| values[*a].total_cmp(&values[*b]));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for k in &order[i..=j] {
            ranks[*k] = rank;
        }
        i = j + 1;
    }
    ranks
}

/// Spearman's rank correlation of two equally long samples. Pure.
fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 2 {
        return None;
    }
    let (rx, ry) = (ranks(x), ranks(y));
    let n = rx.len() as f64;
    let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
    let cov: f64 = rx.iter().zip(&ry).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = rx.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = ry.iter().map(|b| (b - my).powi(2)).sum();
    (vx > 0.0 && vy > 0.0).then(|| cov / (vx * vy).sqrt())
}

/// The waiting room's figures: admissions, refusals per admitted buyer, and fairness: the
/// rank correlation between the order buyers arrived in (their first request) and the
/// order the room admitted them in (admission time, and position within one round, which
/// admits positions in order).
fn report_queue(outcomes: &[BuyerOutcome], released: Instant) -> anyhow::Result<()> {
    let admitted: Vec<&BuyerOutcome> = outcomes
        .iter()
        .filter(|o| o.admitted_after.is_some())
        .collect();
    let conflicts: u64 = admitted.iter().map(|o| o.conflicts).sum();
    let too_few: u64 = admitted.iter().map(|o| o.too_few).sum();
    let refused_buyers = admitted
        .iter()
        .filter(|o| o.conflicts + o.too_few > 0)
        .count();
    let empty_handed = admitted.iter().filter(|o| o.won.is_none()).count();
    let told_sold_out = outcomes.iter().filter(|o| o.told_sold_out).count();
    let arrival = |o: &BuyerOutcome| {
        o.arrived
            .map(|at| at.saturating_duration_since(released).as_secs_f64())
    };
    let pre_queued = outcomes.iter().filter(|o| o.pre_queued).count();
    // Admission time first, then position (one round admits positions in order); from the
    // first admission, so the key stays exact in an f64.
    let first = admitted
        .iter()
        .filter_map(|o| o.admitted_at)
        .min()
        .unwrap_or(0);
    let (arrived, admission_order): (Vec<f64>, Vec<f64>) = admitted
        .iter()
        .filter(|o| !o.pre_queued)
        .filter_map(|o| {
            let key = (o.admitted_at? - first) as f64 * 1e6 + o.position? as f64;
            Some((arrival(o)?, key))
        })
        .unzip();
    let (all_arrived, positions): (Vec<f64>, Vec<f64>) = outcomes
        .iter()
        .filter(|o| !o.pre_queued)
        .filter_map(|o| Some((arrival(o)?, o.position? as f64)))
        .unzip();
    let seen_after: Vec<f64> = admitted
        .iter()
        .filter_map(|o| o.admitted_after.map(|d| d.as_secs_f64() * 1000.0))
        .collect();
    let seen = histogram_of(seen_after.iter().map(|ms| (*ms * 1000.0) as u64))?;
    let show = |r: Option<f64>| r.map_or("n/a".to_owned(), |r| format!("{r:.4}"));
    println!(
        "waiting room: admitted {}, told sold out {told_sold_out}; admitted buyers refused with \
         a 409: {refused_buyers} ({:.1}%; 409 seat-unavailable {conflicts}, 409 \
         no-seats-to-propose {too_few}); admitted and left without seats {empty_handed}",
        admitted.len(),
        100.0 * refused_buyers as f64 / admitted.len().max(1) as f64,
    );
    println!(
        "fairness (Spearman, arrivals after the on-sale): arrival order vs admission order {} \
         ({} admitted buyers); arrival order vs queue position {} ({} queued); {pre_queued} \
         joined the pre-queue (shuffled)",
        show(spearman(&arrived, &admission_order)),
        arrived.len(),
        show(spearman(&all_arrived, &positions)),
        positions.len()
    );
    println!(
        "admitted buyers saw their admission {:.0} ms (p50) / {:.0} ms (p99) after arriving",
        seen.value_at_quantile(0.5) as f64 / 1000.0,
        seen.value_at_quantile(0.99) as f64 / 1000.0
    );
    Ok(())
}

/// One virtual customer of the sale.
struct Buyer {
    index: usize,
    target: Arc<Target>,
    tokens: Arc<Vec<String>>,
    /// Its own connection, unless the client ran out of sockets.
    connection: Arc<Mutex<Connection>>,
    show_id: Arc<str>,
    run_id: String,
    barrier: Arc<Barrier>,
    deadline: Instant,
    /// Join the show's waiting room and hold with the admission.
    queue: bool,
    /// Hold the best available instead of picking from the seat map.
    best: bool,
    /// How long after the release this buyer arrives.
    arrives_after: Duration,
}

/// A successful hold.
struct Won {
    booking_id: String,
    /// As the server answered them.
    seats: Vec<String>,
    /// The server answered with seats other than those asked for.
    other_seats: bool,
    held_at: Instant,
}

#[derive(Default)]
struct BuyerOutcome {
    token: usize,
    won: Option<Won>,
    paid: bool,
    holds: u64,
    conflicts: u64,
    /// 409 `no-seats-to-propose`: fewer seats left than wanted.
    too_few: u64,
    /// The seat map showed nothing left.
    found_sold_out: bool,
    errors: ErrorCounts,
    /// Microseconds.
    seat_map: Vec<u64>,
    hold_won: Vec<u64>,
    hold_refused: Vec<u64>,
    pay: Vec<u64>,
    /// Through the waiting room: the position given at joining, how long after the
    /// release the buyer saw its admission, and whether it was told the show sold out.
    position: Option<i64>,
    admitted_after: Option<Duration>,
    /// The server's admission time (ms), the admission order's key.
    admitted_at: Option<i64>,
    told_sold_out: bool,
    /// When the buyer sent its first request (its place in the arrival order).
    arrived: Option<Instant>,
    /// Joined before the on-sale instant: its place is the shuffle's, not its arrival's.
    pre_queued: bool,
}

impl Buyer {
    /// A request on this buyer's connection, timed from when the connection is free.
    async fn call(
        &self,
        path: &str,
        idempotency_key: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<Option<(StatusCode, Bytes, u64)>> {
        let customer = Customer {
            target: &self.target,
            token: &self.tokens[self.index % self.tokens.len()],
        };
        let mut connection = self.connection.lock().await;
        let started = Instant::now();
        let answer = customer
            .call(&mut connection, path, idempotency_key, body)
            .await?;
        Ok(answer.map(|(status, body)| (status, body, micros_since(started))))
    }

    async fn buy(self) -> anyhow::Result<BuyerOutcome> {
        let mut rng = SmallRng::seed_from_u64(0x666c_6173_6800_0000 ^ self.index as u64);
        let mut wanted = rng.random_range(1..=MAX_WANTED);
        let seat_map_path = format!("/api/v1/shows/{}/seats", self.show_id);
        let mut outcome = BuyerOutcome {
            token: self.index % self.tokens.len(),
            ..BuyerOutcome::default()
        };
        self.barrier.wait().await;
        if !self.arrives_after.is_zero() {
            tokio::time::sleep(self.arrives_after).await;
        }
        let arrived = Instant::now();
        outcome.arrived = Some(arrived);
        let admission = if self.queue {
            match self.wait_in_room(&mut outcome, arrived).await? {
                Some(token) => Some(token),
                None => return Ok(outcome),
            }
        } else {
            None
        };
        for attempt in 0..MAX_ATTEMPTS {
            if Instant::now() >= self.deadline {
                count(&mut outcome.errors, "stopped at --max-seconds");
                break;
            }
            let mut request = if self.best {
                json!({"show_id": &*self.show_id, "best_available": {"count": wanted}})
            } else {
                let Some((status, body, micros)) = self.call(&seat_map_path, None, None).await?
                else {
                    count(&mut outcome.errors, "seat map: connection failed");
                    continue;
                };
                if status != StatusCode::OK {
                    count(
                        &mut outcome.errors,
                        format!("seat map: {}", refusal(status, &body)),
                    );
                    break;
                }
                outcome.seat_map.push(micros);
                let seat_map: Value = serde_json::from_slice(&body).context("seat map")?;
                let free = free_seats(&seat_map);
                if free.is_empty() {
                    outcome.found_sold_out = true;
                    break;
                }
                json!({"show_id": &*self.show_id, "seats": choose_seats(&free, wanted, &mut rng)})
            };
            let key = format!("bench-{}-b{}-{attempt}", self.run_id, self.index);
            if let Some(token) = &admission {
                request["admission_token"] = json!(token);
            }
            outcome.holds += 1;
            let Some((status, body, micros)) = self
                .call("/api/v1/bookings", Some(&key), Some(&request))
                .await?
            else {
                count(&mut outcome.errors, "hold: connection failed");
                continue;
            };
            if status == StatusCode::CREATED {
                outcome.hold_won.push(micros);
                let held_at = Instant::now();
                let booking: Value = serde_json::from_slice(&body).context("booking")?;
                let mut answered: Vec<String> = booking["seats"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect();
                let mut asked: Vec<String> = request["seats"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect();
                answered.sort();
                asked.sort();
                outcome.won = Some(Won {
                    booking_id: booking["id"].as_str().unwrap_or_default().to_owned(),
                    other_seats: !self.best && answered != asked,
                    seats: answered,
                    held_at,
                });
                break;
            }
            let refused = refusal(status, &body);
            if refused == "409 seat-unavailable" {
                outcome.hold_refused.push(micros);
                outcome.conflicts += 1;
            } else if refused == "409 no-seats-to-propose" && wanted > 1 {
                // Fewer seats left than wanted: a buyer settles for fewer.
                outcome.too_few += 1;
                wanted -= 1;
            } else if refused == "409 no-seats-to-propose" {
                outcome.too_few += 1;
                outcome.found_sold_out = true;
                break;
            } else {
                count(&mut outcome.errors, format!("hold: {refused}"));
                break;
            }
        }
        if let Some(won) = &outcome.won {
            let key = format!("bench-{}-b{}-pay", self.run_id, self.index);
            let path = format!("/api/v1/bookings/{}/payments", won.booking_id);
            let card = json!({"card_token": "tok_visa"});
            match self.call(&path, Some(&key), Some(&card)).await? {
                Some((StatusCode::CREATED, _, micros)) => {
                    outcome.paid = true;
                    outcome.pay.push(micros);
                }
                Some((status, body, _)) => {
                    count(
                        &mut outcome.errors,
                        format!("pay: {}", refusal(status, &body)),
                    );
                }
                None => count(&mut outcome.errors, "pay: connection failed"),
            }
        }
        Ok(outcome)
    }
}

impl Buyer {
    /// Joins the show's waiting room and waits (polling as often as the estimate makes
    /// sense) until admitted; the admission token, or `None` when told it sold out.
    async fn wait_in_room(
        &self,
        outcome: &mut BuyerOutcome,
        arrived: Instant,
    ) -> anyhow::Result<Option<String>> {
        let entries = format!("/api/v1/shows/{}/waiting-room/entries", self.show_id);
        // A buyer arriving late finds its connection closed by the server's idle limit (the
        // bench opened it at the start): the client reconnects and sends again, as any
        // HTTP client would (joining twice answers the same entry).
        let mut joined = None;
        for _ in 0..3 {
            joined = self.call(&entries, None, Some(&json!({}))).await?;
            if joined.is_some() {
                break;
            }
        }
        let mut entry: Value = match joined {
            Some((StatusCode::CREATED | StatusCode::OK, body, _)) => {
                serde_json::from_slice(&body).context("entry")?
            }
            Some((StatusCode::CONFLICT, _, _)) => {
                outcome.told_sold_out = true;
                outcome.found_sold_out = true;
                return Ok(None);
            }
            Some((status, body, _)) => {
                count(
                    &mut outcome.errors,
                    format!("join: {}", refusal(status, &body)),
                );
                return Ok(None);
            }
            None => {
                count(&mut outcome.errors, "join: connection failed");
                return Ok(None);
            }
        };
        outcome.position = entry["position"].as_i64();
        outcome.pre_queued = entry["state"] == "pre-queue";
        // A long poll: the server answers when the room moves for this buyer.
        let mine = format!("{entries}/me?wait_ms=10000");
        loop {
            match entry["state"].as_str() {
                Some("admitted") => {
                    outcome.admitted_after = Some(arrived.elapsed());
                    outcome.admitted_at = entry["admitted_at"]
                        .as_str()
                        .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
                        .map(|at| at.timestamp_millis());
                    return Ok(entry["admission_token"].as_str().map(str::to_owned));
                }
                Some("sold-out") => {
                    outcome.told_sold_out = true;
                    outcome.found_sold_out = true;
                    return Ok(None);
                }
                Some("waiting" | "pre-queue") => {}
                other => {
                    count(
                        &mut outcome.errors,
                        format!("waiting room: state {other:?}"),
                    );
                    return Ok(None);
                }
            }
            if Instant::now() >= self.deadline {
                count(&mut outcome.errors, "stopped at --max-seconds");
                return Ok(None);
            }
            match self.call(&mine, None, None).await? {
                Some((StatusCode::OK, body, _)) => {
                    entry = serde_json::from_slice(&body).context("entry")?;
                }
                Some((status, body, _)) => {
                    count(
                        &mut outcome.errors,
                        format!("entry: {}", refusal(status, &body)),
                    );
                    return Ok(None);
                }
                None => count(&mut outcome.errors, "entry: connection failed"),
            }
        }
    }
}

/// An available seat and its place on the grid.
#[derive(Debug)]
struct FreeSeat<'a> {
    label: &'a str,
    row: u64,
    col: u64,
}

/// The available seats of a seat map in grid order.
fn free_seats(seat_map: &Value) -> Vec<FreeSeat<'_>> {
    let mut free: Vec<FreeSeat<'_>> = seat_map["seats"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|seat| seat["state"] == "available")
        .filter_map(|seat| {
            Some(FreeSeat {
                label: seat["label"].as_str()?,
                row: seat["grid_row"].as_u64()?,
                col: seat["grid_col"].as_u64()?,
            })
        })
        .collect();
    free.sort_by_key(|seat| (seat.row, seat.col));
    free
}

/// What a buyer wanting `wanted` seats asks for: a random block of neighbours in one row
/// (aisles are empty grid cells, so a block never spans one), else any `wanted` seats,
/// else all that are left.
fn choose_seats(free: &[FreeSeat<'_>], wanted: usize, rng: &mut SmallRng) -> Vec<String> {
    if free.len() <= wanted {
        return labels(free.iter());
    }
    let mut block_starts = Vec::new();
    let mut run_start = 0;
    for (i, seat) in free.iter().enumerate() {
        if i > 0 && !(seat.row == free[i - 1].row && seat.col == free[i - 1].col + 1) {
            run_start = i;
        }
        if i + 1 - run_start >= wanted {
            block_starts.push(i + 1 - wanted);
        }
    }
    match block_starts.choose(rng) {
        Some(&start) => labels(free[start..start + wanted].iter()),
        None => labels(free.choose_multiple(rng, wanted)),
    }
}

fn labels<'a>(seats: impl Iterator<Item = &'a FreeSeat<'a>>) -> Vec<String> {
    seats.map(|seat| seat.label.to_owned()).collect()
}

/// Polls every paid booking until it is confirmed; returns the confirmed ones' ids.
async fn confirm_winners(
    target: &Target,
    tokens: &[String],
    outcomes: &[BuyerOutcome],
) -> anyhow::Result<Vec<String>> {
    let mut connection = Connection::open(target).await?;
    let mut confirmed = Vec::new();
    for outcome in outcomes.iter().filter(|o| o.paid) {
        let Some(won) = &outcome.won else { continue };
        let customer = Customer {
            target,
            token: &tokens[outcome.token],
        };
        let path = format!("/api/v1/bookings/{}", won.booking_id);
        let started = Instant::now();
        while started.elapsed() < CONFIRM_TIMEOUT {
            let Some((StatusCode::OK, body)) =
                customer.call(&mut connection, &path, None, None).await?
            else {
                break;
            };
            let booking: Value = serde_json::from_slice(&body).context("booking")?;
            if booking["status"] == "confirmed" {
                confirmed.push(won.booking_id.clone());
                break;
            }
            if booking["status"] != "pending_payment" {
                break;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
    Ok(confirmed)
}

fn histogram_of(samples: impl Iterator<Item = u64>) -> anyhow::Result<Histogram<u64>> {
    let mut histogram = new_histogram()?;
    for micros in samples {
        histogram.saturating_record(micros);
    }
    Ok(histogram)
}

/// Prints the sale and checks it; an error when a seat was sold twice or the seat map
/// disagrees with the bookings won.
fn report(
    before: &SaleShow,
    after: &SaleShow,
    outcomes: &[BuyerOutcome],
    confirmed: &[String],
    released: Instant,
    race_seconds: f64,
) -> anyhow::Result<()> {
    let winners: Vec<&Won> = outcomes.iter().filter_map(|o| o.won.as_ref()).collect();
    let seats_sold: usize = winners.iter().map(|won| won.seats.len()).sum();
    let holds: u64 = outcomes.iter().map(|o| o.holds).sum();
    let conflicts: u64 = outcomes.iter().map(|o| o.conflicts).sum();
    let paid = outcomes.iter().filter(|o| o.paid).count();
    let found_sold_out = outcomes
        .iter()
        .filter(|o| o.won.is_none() && o.found_sold_out)
        .count();
    let mut errors = ErrorCounts::new();
    for outcome in outcomes {
        for (key, n) in &outcome.errors {
            *errors.entry(key.clone()).or_default() += n;
        }
    }
    let other_seats = winners.iter().filter(|won| won.other_seats).count();
    if other_seats > 0 {
        errors.insert(
            "hold: answered other seats than asked".into(),
            other_seats as u64,
        );
    }
    let out_of_attempts = outcomes
        .iter()
        .filter(|o| o.won.is_none() && !o.found_sold_out && o.errors.is_empty())
        .count();

    match winners.iter().map(|won| won.held_at).max() {
        Some(last) if after.available == 0 => println!(
            "sold out in {:.3} s (release to the last successful hold)",
            (last - released).as_secs_f64()
        ),
        Some(last) => println!(
            "not sold out: {} seats left; last successful hold {:.3} s after release",
            after.available,
            (last - released).as_secs_f64()
        ),
        None => println!("no hold succeeded"),
    }
    println!(
        "holds won {}, seats sold {seats_sold}, hold attempts {holds}, 409 seat-unavailable {conflicts}",
        winners.len()
    );
    println!(
        "buyers who found it sold out {found_sold_out}, out of attempts {out_of_attempts}; \
         race {race_seconds:.2} s; payments accepted {paid}, confirmed {}",
        confirmed.len()
    );
    let seat_maps = histogram_of(outcomes.iter().flat_map(|o| o.seat_map.iter().copied()))?;
    let won = histogram_of(outcomes.iter().flat_map(|o| o.hold_won.iter().copied()))?;
    let refused = histogram_of(outcomes.iter().flat_map(|o| o.hold_refused.iter().copied()))?;
    let all_holds = histogram_of(
        outcomes
            .iter()
            .flat_map(|o| o.hold_won.iter().chain(&o.hold_refused).copied()),
    )?;
    let pay = histogram_of(outcomes.iter().flat_map(|o| o.pay.iter().copied()))?;
    print_latencies(
        ("count", "per s"),
        &[
            ("seat map", &seat_maps),
            ("hold", &all_holds),
            ("hold 201", &won),
            ("hold 409", &refused),
            ("pay", &pay),
        ],
        race_seconds,
    );
    let failed: u64 = errors.values().sum();
    if failed > 0 {
        println!("errors by status:");
        print_errors(&errors);
    }

    let mut holders: HashMap<&str, usize> = HashMap::new();
    for seat in winners.iter().flat_map(|won| &won.seats) {
        *holders.entry(seat.as_str()).or_default() += 1;
    }
    let double_booked = holders.values().filter(|n| **n > 1).count();
    println!("double-booked seats: {double_booked}");
    let taken_before = before.held + before.booked;
    let taken_after = after.held + after.booked;
    println!(
        "seat map after the sale: held {} + booked {} = {taken_after}; expected {} (seats sold {seats_sold} + {taken_before} taken before)",
        after.held,
        after.booked,
        taken_before + seats_sold
    );
    let confirmed_seats: usize = winners
        .iter()
        .filter(|won| confirmed.contains(&won.booking_id))
        .map(|won| won.seats.len())
        .sum();
    println!(
        "booked {} = {} seats of confirmed bookings + {} booked before",
        after.booked, confirmed_seats, before.booked
    );

    if double_booked > 0 {
        bail!("{double_booked} seats are in two bookings");
    }
    if taken_after != taken_before + seats_sold {
        bail!("the seat map shows {taken_after} seats taken, the bookings {seats_sold} sold");
    }
    if after.booked != before.booked + confirmed_seats {
        bail!(
            "the seat map shows {} seats booked, confirmed bookings hold {confirmed_seats}",
            after.booked.saturating_sub(before.booked)
        );
    }
    if failed > 0 {
        bail!("{failed} requests failed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seat(label: &'static str, row: u64, col: u64) -> FreeSeat<'static> {
        FreeSeat { label, row, col }
    }

    #[test]
    fn rank_correlation_is_one_for_the_same_order_and_handles_ties() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert!((spearman(&x, &[10.0, 20.0, 30.0, 40.0]).unwrap() - 1.0).abs() < 1e-12);
        assert!((spearman(&x, &[4.0, 3.0, 2.0, 1.0]).unwrap() + 1.0).abs() < 1e-12);
        assert_eq!(ranks(&[5.0, 1.0, 5.0]), [2.5, 1.0, 2.5]);
        // Admitted in batches (ties): still close to one.
        let batches = [0.1, 0.1, 0.3, 0.3];
        assert!(spearman(&x, &batches).unwrap() > 0.89);
        assert_eq!(spearman(&[1.0], &[1.0]), None);
    }

    #[test]
    fn a_block_of_neighbours_is_chosen_when_one_is_free() {
        // A1 A2 | aisle | A4 A5 A6 ; B1
        let free = [
            seat("A1", 0, 0),
            seat("A2", 0, 1),
            seat("A4", 0, 3),
            seat("A5", 0, 4),
            seat("A6", 0, 5),
            seat("B1", 1, 0),
        ];
        for n in 0..50 {
            let mut rng = SmallRng::seed_from_u64(n);
            let chosen = choose_seats(&free, 3, &mut rng);
            assert_eq!(chosen, ["A4", "A5", "A6"]);
        }
    }

    #[test]
    fn scattered_seats_are_taken_when_no_block_fits_and_the_rest_when_too_few() {
        let free = [seat("A1", 0, 0), seat("A3", 0, 2), seat("B2", 1, 1)];
        let mut rng = SmallRng::seed_from_u64(7);
        let mut chosen = choose_seats(&free, 2, &mut rng);
        chosen.sort();
        chosen.dedup();
        assert_eq!(chosen.len(), 2);
        assert_eq!(choose_seats(&free, 4, &mut rng), ["A1", "A3", "B2"]);
    }
}
