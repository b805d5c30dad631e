//! `marquee bench`: drives a running server over real HTTP on loopback with a bounded number
//! of requests and prints throughput and latency. Not a test: it measures, it does not judge.
//!
//! The browse scenario first discovers real ids through the API (cities, movies showing on
//! each city's local tomorrow, their shows), then every connection repeats the customer's
//! path: city list → movies in a city → theatres and showtimes of a movie → a seat map.
//! The booking and flash-sale scenarios (in `booking`) drive the write path as signed-in
//! customers.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow, bail};
use bytes::Bytes;
use chrono::{Days, Utc};
use clap::{Args, ValueEnum};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Method, Request, StatusCode, client::conn::http1, header};
use hyper_util::rt::TokioIo;
use rand::{Rng, SeedableRng, rngs::SmallRng};
use serde_json::Value;
use tokio::net::TcpStream;

mod best_available;
mod booking;
mod demand_rule;
mod slow_endpoint;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Base URL of a running server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// `booking`: further nodes of the same deployment (repeat the option); the workers'
    /// connections are spread over `--url` and these in turn, and figures are printed per
    /// node and in total.
    #[arg(long = "node-url")]
    node_urls: Vec<String>,
    /// Concurrent keep-alive connections (flash-sale: one per buyer instead).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Requests to measure (after the warm-up); for `booking`, complete bookings.
    /// Default: 200,000 requests (browse), 20,000 bookings (booking).
    #[arg(long)]
    requests: Option<u64>,
    /// Requests sent first and not measured (fills caches and connection pools). Browse only.
    #[arg(long, default_value_t = 10_000)]
    warmup: u64,
    /// What to drive.
    #[arg(long, value_enum, default_value_t = Scenario::Browse)]
    scenario: Scenario,
    /// Send `Accept-Encoding: identity` instead of `gzip` (browsers and apps send gzip).
    #[arg(long)]
    identity: bool,
    /// Give up on the run after this many seconds.
    #[arg(long, default_value_t = 300)]
    max_seconds: u64,
    /// Customer accounts registered for `booking` and `flash-sale` (Argon2 makes each one
    /// cost tens of milliseconds of server CPU); virtual customers share their tokens.
    #[arg(long, default_value_t = 64)]
    customers: usize,
    /// Buyers released at once in `flash-sale`, each on its own connection.
    #[arg(long, default_value_t = 2_000)]
    buyers: usize,
    /// `booking`: attach a webhook endpoint for the demo partner that takes this long to
    /// answer each delivery (the server must run with
    /// `MARQUEE_WEBHOOKS__ALLOW_PRIVATE_TARGETS=true`).
    #[arg(long)]
    webhook_delay_ms: Option<u64>,
    /// `booking`: a demand price rule on every demo show for the run (the demo partner adds
    /// it first and deletes it at the end), so every quote and hold reads the show's
    /// occupancy; compare with a run without it.
    #[arg(long)]
    demand_rule: bool,
    /// `flash-sale`: put the show behind a waiting room (on sale two seconds after the
    /// set-up); every buyer joins it at the release, waits to be admitted and holds with
    /// the admission. Each buyer gets an account of its own.
    #[arg(long)]
    queue: bool,
    /// `flash-sale`: how buyers choose seats: `pick` a block from the seat map (re-reading
    /// it after a refusal) or let the server choose the `best` available as it holds them.
    /// Default: `best` through the waiting room (what its page offers), `pick` without.
    #[arg(long, value_enum)]
    seats: Option<SeatPolicy>,
    /// `flash-sale`: buyers arrive spread evenly over this many milliseconds after the
    /// release instead of all at once. Default: 3,000 through the waiting room, 0 without.
    #[arg(long)]
    arrival_spread_ms: Option<u64>,
}

/// How flash-sale buyers choose their seats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SeatPolicy {
    /// A random block of neighbours from the seat map.
    Pick,
    /// `best_available` in the hold: the server chooses.
    Best,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// cities → movies in a city → showtimes of a movie → seat map.
    Browse,
    /// hold seats → pay with tok_visa → poll until confirmed; workers own disjoint seats.
    Booking,
    /// `--buyers` customers released at once on one 300-seat show; checks for double booking.
    FlashSale,
    /// `POST /shows/{id}/best-available` on the largest seat map, over and over.
    BestAvailable,
}

/// The browse steps, in the order a customer takes them.
const STEPS: [&str; 4] = ["cities", "movies", "showtimes", "seat map"];

struct Target {
    host: String,
    addr: String,
    /// Value of the Accept-Encoding header sent with measured requests.
    accept_encoding: &'static str,
}

/// Paths discovered through the API.
struct BrowsePlan {
    cities: Vec<CityPlan>,
}

struct CityPlan {
    movies_path: String,
    movies: Vec<MoviePlan>,
}

struct MoviePlan {
    showtimes_path: String,
    show_ids: Vec<String>,
    seat_map_paths: Vec<String>,
}

impl BrowsePlan {
    fn show_ids(&self) -> impl Iterator<Item = &str> {
        self.cities
            .iter()
            .flat_map(|c| &c.movies)
            .flat_map(|m| &m.show_ids)
            .map(String::as_str)
    }
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let mut target = parse_target(&args.url)?;
    target.accept_encoding = if args.identity { "identity" } else { "gzip" };
    if args.connections == 0 {
        bail!("--connections must be at least 1");
    }
    match args.scenario {
        Scenario::Browse => run_browse(&args, target).await,
        Scenario::Booking => booking::run_booking(&args, target).await,
        Scenario::FlashSale => booking::run_flash_sale(&args, target).await,
        Scenario::BestAvailable => best_available::run_best_available(&args, target).await,
    }
}

async fn run_browse(args: &BenchArgs, target: Target) -> anyhow::Result<()> {
    let requests = args.requests.unwrap_or(200_000);
    let plan = discover(&target, 1).await?;
    let shows: usize = plan
        .cities
        .iter()
        .flat_map(|c| &c.movies)
        .map(|m| m.seat_map_paths.len())
        .sum();
    let movies: usize = plan.cities.iter().map(|c| c.movies.len()).sum();
    println!(
        "marquee bench: browse mix against {} ({} cities, {} movie listings, {} shows)",
        args.url,
        plan.cities.len(),
        movies,
        shows
    );
    println!(
        "connections {}, requests {} after {} warm-up, accept-encoding {}, client and server on this machine ({} cores)",
        args.connections,
        requests,
        args.warmup,
        target.accept_encoding,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let plan = Arc::new(plan);
    let target = Arc::new(target);
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    if args.warmup > 0 {
        drive(&target, &plan, args.connections, args.warmup, deadline).await?;
    }
    let started = Instant::now();
    let result = drive(&target, &plan, args.connections, requests, deadline).await?;
    let elapsed = started.elapsed();
    report(&result, elapsed)?;
    if result.errors > 0 {
        bail!("{} requests failed", result.errors);
    }
    Ok(())
}

fn parse_target(url: &str) -> anyhow::Result<Target> {
    let parsed = url::Url::parse(url).context("--url is not a URL")?;
    if parsed.scheme() != "http" {
        bail!("only http:// is supported");
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| anyhow!("--url has no host"))?;
    let port = parsed.port_or_known_default().unwrap_or(80);
    Ok(Target {
        host: format!("{host}:{port}"),
        addr: format!("{host}:{port}"),
        accept_encoding: "gzip",
    })
}

struct Connection {
    sender: http1::SendRequest<Full<Bytes>>,
}

impl Connection {
    async fn open(target: &Target) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(&target.addr)
            .await
            .with_context(|| format!("cannot connect to {}", target.addr))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Self { sender })
    }

    async fn get(
        &mut self,
        target: &Target,
        path: &str,
        accept_encoding: &str,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let request = Request::get(path)
            .header(header::HOST, &target.host)
            .header(header::ACCEPT_ENCODING, accept_encoding)
            .body(Full::default())?;
        self.send(request).await
    }

    /// A signed-in customer's request: a GET when `body` is `None`, else a JSON POST.
    /// Uncompressed; `idempotency_key` goes in the `Idempotency-Key` header.
    async fn call(
        &mut self,
        target: &Target,
        path: &str,
        token: &str,
        idempotency_key: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let method = if body.is_some() {
            Method::POST
        } else {
            Method::GET
        };
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &target.host)
            .header(header::ACCEPT_ENCODING, "identity")
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        let body = match body {
            Some(json) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Full::new(Bytes::from(serde_json::to_vec(json)?))
            }
            None => Full::default(),
        };
        self.send(request.body(body)?).await
    }

    /// A signed-in JSON PUT (setting a waiting room up).
    async fn put(
        &mut self,
        target: &Target,
        path: &str,
        token: &str,
        body: &Value,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let request = Request::put(path)
            .header(header::HOST, &target.host)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Full::new(Bytes::from(serde_json::to_vec(body)?)))?;
        self.send(request).await
    }

    /// A signed-in DELETE (clearing up after a run).
    async fn delete(
        &mut self,
        target: &Target,
        path: &str,
        token: &str,
    ) -> anyhow::Result<StatusCode> {
        let request = Request::delete(path)
            .header(header::HOST, &target.host)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Full::default())?;
        Ok(self.send(request).await?.0)
    }

    /// An anonymous JSON POST (registration and login), with the response headers.
    async fn post_json(
        &mut self,
        target: &Target,
        path: &str,
        body: &Value,
    ) -> anyhow::Result<(StatusCode, HeaderMap, Bytes)> {
        let request = Request::post(path)
            .header(header::HOST, &target.host)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(serde_json::to_vec(body)?)))?;
        self.exchange(request).await
    }

    async fn send(&mut self, request: Request<Full<Bytes>>) -> anyhow::Result<(StatusCode, Bytes)> {
        let (status, _, body) = self.exchange(request).await?;
        Ok((status, body))
    }

    async fn exchange(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> anyhow::Result<(StatusCode, HeaderMap, Bytes)> {
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok((parts.status, parts.headers, body))
    }

    /// An uncompressed JSON GET (discovery only).
    async fn get_json(&mut self, target: &Target, path: &str) -> anyhow::Result<Value> {
        let (status, body) = self.get(target, path, "identity").await?;
        if status != StatusCode::OK {
            bail!("GET {path} answered {status}");
        }
        Ok(serde_json::from_slice(&body)?)
    }
}

/// Finds, per city, the movies showing `days_ahead` days after the city's local today
/// (browse takes tomorrow, so the set does not shrink while the bench runs) and their shows.
async fn discover(target: &Target, days_ahead: u64) -> anyhow::Result<BrowsePlan> {
    let mut connection = Connection::open(target).await?;
    let cities = connection
        .get_json(target, "/api/v1/cities?limit=100")
        .await?;
    let mut plan = BrowsePlan { cities: Vec::new() };
    for city in cities["items"].as_array().into_iter().flatten() {
        let (Some(id), Some(tz)) = (city["id"].as_str(), city["timezone"].as_str()) else {
            continue;
        };
        let tz: chrono_tz::Tz = tz.parse().unwrap_or(chrono_tz::UTC);
        let date = Utc::now()
            .with_timezone(&tz)
            .date_naive()
            .checked_add_days(Days::new(days_ahead))
            .ok_or_else(|| anyhow!("date overflow"))?;
        let movies_path = format!("/api/v1/cities/{id}/movies?date={date}&limit=50");
        let movies = connection.get_json(target, &movies_path).await?;
        let mut city_plan = CityPlan {
            movies_path,
            movies: Vec::new(),
        };
        for movie in movies["items"].as_array().into_iter().flatten() {
            let Some(movie_id) = movie["id"].as_str() else {
                continue;
            };
            let showtimes_path = format!("/api/v1/cities/{id}/movies/{movie_id}/shows?date={date}");
            let showtimes = connection.get_json(target, &showtimes_path).await?;
            let show_ids: Vec<String> = showtimes["items"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|t| t["shows"].as_array().cloned().unwrap_or_default())
                .filter_map(|s| s["id"].as_str().map(str::to_owned))
                .collect();
            if !show_ids.is_empty() {
                city_plan.movies.push(MoviePlan {
                    showtimes_path,
                    seat_map_paths: show_ids
                        .iter()
                        .map(|id| format!("/api/v1/shows/{id}/seats"))
                        .collect(),
                    show_ids,
                });
            }
        }
        if !city_plan.movies.is_empty() {
            plan.cities.push(city_plan);
        }
    }
    if plan.cities.is_empty() {
        bail!(
            "the server has no shows on day +{days_ahead}; load data first (marquee seed --demo)"
        );
    }
    Ok(plan)
}

struct RunResult {
    per_step: Vec<Histogram<u64>>,
    errors: u64,
}

async fn drive(
    target: &Arc<Target>,
    plan: &Arc<BrowsePlan>,
    connections: usize,
    requests: u64,
    deadline: Instant,
) -> anyhow::Result<RunResult> {
    let issued = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(connections);
    for worker in 0..connections {
        let (target, plan, issued) = (target.clone(), plan.clone(), issued.clone());
        tasks.push(tokio::spawn(async move {
            browse_worker(worker as u64, &target, &plan, &issued, requests, deadline).await
        }));
    }
    let mut merged = RunResult {
        per_step: histograms()?,
        errors: 0,
    };
    for task in tasks {
        let result = task.await.context("bench worker panicked")??;
        for (into, from) in merged.per_step.iter_mut().zip(&result.per_step) {
            into.add(from).context("merging histograms")?;
        }
        merged.errors += result.errors;
    }
    Ok(merged)
}

/// Microseconds from 1 µs to 60 s with 3 significant digits.
fn new_histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 60_000_000, 3)?)
}

fn histograms() -> anyhow::Result<Vec<Histogram<u64>>> {
    (0..STEPS.len()).map(|_| new_histogram()).collect()
}

async fn browse_worker(
    worker: u64,
    target: &Target,
    plan: &BrowsePlan,
    issued: &AtomicU64,
    budget: u64,
    deadline: Instant,
) -> anyhow::Result<RunResult> {
    let mut rng = SmallRng::seed_from_u64(0x6d61_7271_7565_6500 ^ worker);
    let mut connection = Connection::open(target).await?;
    let mut result = RunResult {
        per_step: histograms()?,
        errors: 0,
    };
    'sessions: loop {
        let city = &plan.cities[rng.random_range(0..plan.cities.len())];
        let movie = &city.movies[rng.random_range(0..city.movies.len())];
        let seat_map = &movie.seat_map_paths[rng.random_range(0..movie.seat_map_paths.len())];
        let path_of = |step: usize| -> &str {
            match step {
                0 => "/api/v1/cities",
                1 => &city.movies_path,
                2 => &movie.showtimes_path,
                _ => seat_map,
            }
        };
        for step in 0..STEPS.len() {
            if issued.fetch_add(1, Ordering::Relaxed) >= budget || Instant::now() >= deadline {
                break 'sessions;
            }
            let started = Instant::now();
            let outcome = connection
                .get(target, path_of(step), target.accept_encoding)
                .await;
            let micros = started.elapsed().as_micros().max(1) as u64;
            match outcome {
                Ok((StatusCode::OK, _)) => {
                    let _ = result.per_step[step].record(micros);
                }
                Ok(_) => result.errors += 1,
                Err(_) => {
                    result.errors += 1;
                    connection = Connection::open(target).await?;
                }
            }
        }
    }
    Ok(result)
}

fn report(result: &RunResult, elapsed: Duration) -> anyhow::Result<()> {
    let mut total = new_histogram()?;
    for step in &result.per_step {
        total.add(step)?;
    }
    let seconds = elapsed.as_secs_f64();
    let mut rows: Vec<(&str, &Histogram<u64>)> =
        STEPS.iter().copied().zip(&result.per_step).collect();
    rows.push(("all", &total));
    print_latencies(("requests", "req/s"), &rows, seconds);
    println!("elapsed {:.2} s, errors {}", seconds, result.errors);
    Ok(())
}

/// One line per step: count, rate over `seconds`, p50, p90, p99 and max in milliseconds.
fn print_latencies(titles: (&str, &str), rows: &[(&str, &Histogram<u64>)], seconds: f64) {
    println!(
        "{:<12} {:>9} {:>12} {:>9} {:>9} {:>9} {:>9}",
        "step", titles.0, titles.1, "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    for (name, h) in rows {
        println!(
            "{:<12} {:>9} {:>12.0} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            name,
            h.len(),
            h.len() as f64 / seconds,
            h.value_at_quantile(0.50) as f64 / 1000.0,
            h.value_at_quantile(0.90) as f64 / 1000.0,
            h.value_at_quantile(0.99) as f64 / 1000.0,
            h.max() as f64 / 1000.0,
        );
    }
}
