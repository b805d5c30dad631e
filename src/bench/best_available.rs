//! `best-available`: `--connections` workers ask one show's largest seat map for its best
//! seats over and over (1–6 seats, some of one category, some accessible), and the
//! latency of each proposal is printed. Nothing is held, so the map stays as it is.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use hyper::StatusCode;
use serde_json::{Value, json};

use super::{BenchArgs, Connection, Target, discover, new_histogram, print_latencies};

/// What the workers ask for, in turn.
fn request(n: u64) -> Value {
    let count = 1 + n % 6;
    match n % 8 {
        0 => json!({"count": count, "category": "premium"}),
        1 => json!({"count": count.min(2), "accessible": true}),
        _ => json!({"count": count}),
    }
}

pub(super) async fn run_best_available(args: &BenchArgs, target: Target) -> anyhow::Result<()> {
    let requests = args.requests.unwrap_or(20_000);
    let plan = discover(&target, 1).await?;
    let mut connection = Connection::open(&target).await?;
    let mut largest: Option<(usize, usize, String)> = None;
    for id in plan.show_ids() {
        let map = connection
            .get_json(&target, &format!("/api/v1/shows/{id}/seats"))
            .await?;
        if map["on_sale"] != true {
            continue;
        }
        let seats = map["seats"].as_array().map_or(0, Vec::len);
        let free = map["seats"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["state"] == "available")
            .count();
        if largest.as_ref().is_none_or(|(most, _, _)| seats > *most) {
            largest = Some((seats, free, id.to_owned()));
        }
    }
    let (seats, free, show) =
        largest.context("no show tomorrow is on sale; reseed the database")?;
    println!(
        "marquee bench: best available against {}: show {show} ({seats} seats, {free} free), {} connections, {requests} proposals, client and server on this machine ({} cores)",
        args.url,
        args.connections,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let path: Arc<str> = format!("/api/v1/shows/{show}/best-available").into();
    let target = Arc::new(target);
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..args.connections as u64 {
        let share = requests / args.connections as u64
            + u64::from(worker < requests % args.connections as u64);
        let (target, path) = (target.clone(), path.clone());
        workers.push(tokio::spawn(async move {
            let mut connection = Connection::open(&target).await?;
            let mut latencies = new_histogram()?;
            let (mut refused, mut failed) = (0u64, 0u64);
            for i in 0..share {
                if Instant::now() >= deadline {
                    break;
                }
                let body = request(worker * 7919 + i);
                let sent = Instant::now();
                let (status, _, _) = connection.post_json(&target, &path, &body).await?;
                latencies.saturating_record(sent.elapsed().as_micros() as u64);
                match status {
                    StatusCode::OK => {}
                    StatusCode::CONFLICT => refused += 1,
                    _ => failed += 1,
                }
            }
            anyhow::Ok((latencies, refused, failed))
        }));
    }
    let mut all = new_histogram()?;
    let (mut refused, mut failed) = (0, 0);
    for worker in workers {
        let (latencies, r, f) = worker.await.context("worker panicked")??;
        all.add(&latencies)?;
        refused += r;
        failed += f;
    }
    let seconds = started.elapsed().as_secs_f64();
    print_latencies(("requests", "req/s"), &[("proposal", &all)], seconds);
    println!("elapsed {seconds:.2} s, 409 no-seats-to-propose {refused}, errors {failed}");
    if failed > 0 {
        bail!("{failed} requests failed");
    }
    Ok(())
}
