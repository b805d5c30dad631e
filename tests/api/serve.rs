//! Real `marquee serve` processes for the tests about the deployed shape: several nodes on
//! one database, a node killed and restarted, a database that goes away. The processes are
//! the built binary with the real clock, so these tests talk to them over HTTP only.
//!
//! A process is killed (SIGKILL) when its handle is dropped, also when a test panics; a
//! database created here is dropped with its handle.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use marquee::db::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    process::{Child, Command},
    sync::oneshot,
};

use crate::helpers::{create_test_database, database_url, drop_database_blocking};

pub const PASSWORD: &str = "correct horse battery";

/// How long a process may take from spawn to "serving" (migrations and demo seeding
/// included) on a loaded machine.
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// Log lines kept per process for failure messages: the last ones, and the last warnings
/// and errors.
const LOG_TAIL: usize = 200;
const COMPLAINTS_KEPT: usize = 5_000;

/// Tests that start their own `marquee serve` processes take this lock, so that under
/// `cargo test` (one process, tests in parallel) they do not load the machine together.
/// Under nextest each test is its own process; `.config/nextest.toml` groups them instead.
pub async fn exclusive() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

/// A database that outlives the processes using it: a SQLite file in a temporary directory
/// or a fresh PostgreSQL database on the test server (dropped on drop).
pub struct ProcessDatabase {
    pub url: String,
    pg_database: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl ProcessDatabase {
    /// `None` when PostgreSQL is wanted but cannot be reached outside CI (after a message).
    pub async fn create(engine: Engine) -> Option<Self> {
        Some(match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}", dir.path().join("marquee.db").display());
                Self {
                    url,
                    pg_database: None,
                    _dir: Some(dir),
                }
            }
            Engine::Postgres => {
                let (admin_url, name) = create_test_database("marquee_proc").await?;
                Self {
                    url: database_url(&admin_url, &name),
                    pg_database: Some((admin_url, name)),
                    _dir: None,
                }
            }
        })
    }
}

impl Drop for ProcessDatabase {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.pg_database.take() {
            drop_database_blocking(admin_url, name);
        }
    }
}

/// `marquee` with a clean environment pointed at `database_url`.
pub fn marquee(database_url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_marquee"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_BACKTRACE", "1")
        .env("MARQUEE_DATABASE_URL", database_url)
        .env("MARQUEE_LOG__FILTER", "info")
        .env("MARQUEE_DATABASE__MAX_CONNECTIONS", "8")
        // Every simulated customer comes from 127.0.0.1: the per-address and per-account
        // rate limits would stop the load, which is not what these tests are about.
        .env(
            "MARQUEE_LIMITS__REGISTRATIONS_PER_CLIENT_PER_MINUTE",
            "100000",
        )
        .env("MARQUEE_LIMITS__QUOTES_PER_CLIENT_PER_MINUTE", "100000")
        .env("MARQUEE_LIMITS__HOLDS_PER_ACCOUNT_PER_MINUTE", "100000")
        .env("MARQUEE_LIMITS__PAYMENTS_PER_BOOKING_PER_MINUTE", "100000")
        .env("MARQUEE_LIMITS__PAYMENTS_PER_ACCOUNT_PER_MINUTE", "100000")
        .kill_on_drop(true);
    command
}

/// Runs `marquee seed --demo` to completion.
pub async fn seed_demo(database_url: &str) {
    let status = marquee(database_url)
        .args(["seed", "--demo"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .expect("run marquee seed");
    assert!(status.success(), "marquee seed --demo failed: {status}");
}

/// How to start `marquee serve`.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// `127.0.0.1:0` picks a free port; a restart passes the port it had.
    pub addr: SocketAddr,
    /// `serve --demo`: seed the demo data (idempotently) before serving.
    pub demo: bool,
    /// Further `MARQUEE_*` settings.
    pub env: Vec<(String, String)>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:0".parse().unwrap(),
            demo: false,
            env: Vec::new(),
        }
    }
}

impl ServeOptions {
    pub fn env(mut self, key: &str, value: impl ToString) -> Self {
        self.env.push((key.to_owned(), value.to_string()));
        self
    }
}

/// A running `marquee serve`; SIGKILLed when dropped.
pub struct ServeProcess {
    child: Child,
    pub addr: SocketAddr,
    pub base: String,
    log: Arc<Mutex<ProcessLog>>,
}

/// What a process wrote, as much as failure messages need.
#[derive(Default)]
struct ProcessLog {
    tail: VecDeque<String>,
    complaints: VecDeque<String>,
    /// Every line (tests of what is never logged read them all).
    every: Vec<String>,
}

impl ProcessLog {
    fn push(&mut self, line: String) {
        self.every.push(line.clone());
        let entry = serde_json::from_str::<Value>(&line).ok();
        let level = entry.as_ref().map(|e| e["level"].as_str().unwrap_or(""));
        // Lines that are not JSON are panics and backtraces: always interesting.
        if matches!(level, None | Some("WARN") | Some("ERROR")) {
            if self.complaints.len() == COMPLAINTS_KEPT {
                self.complaints.pop_front();
            }
            self.complaints.push_back(line.clone());
        }
        if !matches!(level, Some("DEBUG") | Some("TRACE")) {
            if self.tail.len() == LOG_TAIL {
                self.tail.pop_front();
            }
            self.tail.push_back(line);
        }
    }
}

impl ServeProcess {
    /// Starts `marquee serve` on `database_url` and waits until it logs that it is serving.
    /// An error carries the process's last log lines (a port already taken, a failed
    /// migration...).
    pub async fn start(database_url: &str, options: &ServeOptions) -> Result<Self, String> {
        let mut command = marquee(database_url);
        command.env("MARQUEE_ADDR", options.addr.to_string());
        for (key, value) in &options.env {
            command.env(key, value);
        }
        command.arg("serve");
        if options.demo {
            command.arg("--demo");
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot spawn marquee serve: {e}"))?;
        let log = Arc::new(Mutex::new(ProcessLog::default()));
        let (serving_tx, serving_rx) = oneshot::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        tokio::spawn(follow_log(stdout, log.clone(), Some(serving_tx)));
        tokio::spawn(follow_log(stderr, log.clone(), None));
        let tail = |log: &Arc<Mutex<ProcessLog>>| {
            let log = log.lock().unwrap_or_else(|e| e.into_inner());
            log.tail.iter().cloned().collect::<Vec<_>>().join("\n")
        };
        match tokio::time::timeout(START_TIMEOUT, serving_rx).await {
            Ok(Ok(addr)) => Ok(Self {
                child,
                base: format!("http://{addr}"),
                addr,
                log,
            }),
            Ok(Err(_)) => {
                // The log ended before "serving": the process exited.
                let status = child.wait().await.ok();
                Err(format!(
                    "marquee serve exited before serving ({status:?}):\n{}",
                    tail(&log)
                ))
            }
            Err(_) => Err(format!(
                "marquee serve did not serve within {START_TIMEOUT:?}:\n{}",
                tail(&log)
            )),
        }
    }

    /// SIGKILL, as a crash or the OOM killer would: no graceful shutdown of any kind.
    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    /// `Some(status)` once the process has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The process's log lines at `WARN` or above, panics and anything not JSON; for
    /// failure messages.
    pub fn complaints(&self) -> Vec<String> {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.complaints.iter().cloned().collect()
    }

    /// How many lines the process wrote, and those that contain `needle`.
    pub fn lines_containing(&self, needle: &str) -> (usize, Vec<String>) {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let found = log
            .every
            .iter()
            .filter(|line| line.contains(needle))
            .cloned()
            .collect();
        (log.every.len(), found)
    }

    /// The warnings and errors the process logged while serving the request `request_id`.
    pub fn complaints_about(&self, request_id: &str) -> Vec<String> {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.complaints
            .iter()
            .filter(|line| line.contains(request_id))
            .cloned()
            .collect()
    }
}

/// Reads a process's output to its end (so it never blocks on a full pipe), keeps the
/// interesting lines, and reports the address once it logs "serving".
async fn follow_log(
    output: impl AsyncRead + Unpin,
    log: Arc<Mutex<ProcessLog>>,
    mut serving: Option<oneshot::Sender<SocketAddr>>,
) {
    let mut lines = BufReader::new(output).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if serving.is_some()
            && let Ok(entry) = serde_json::from_str::<Value>(&line)
            && entry["fields"]["message"] == "serving"
            && let Some(addr) = entry["fields"]["addr"]
                .as_str()
                .and_then(|a| a.parse().ok())
            && let Some(serving) = serving.take()
        {
            let _ = serving.send(addr);
        }
        log.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }
}

/// What one HTTP request got back.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    /// The JSON body, or `Null`.
    pub body: Value,
    /// The body as text (for messages).
    pub text: String,
    /// `x-request-id`, to find the server's log lines about the request.
    pub request_id: String,
}

impl Answer {
    /// The problem `type` code (`unavailable` for `…/problems/unavailable`), if any.
    pub fn problem(&self) -> Option<&str> {
        self.body["type"]
            .as_str()
            .and_then(|t| t.strip_prefix("https://marquee.example/problems/"))
    }
}

/// An HTTP client for one server address, with the customer calls of the booking flow.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
}

impl Api {
    /// `timeout` bounds every request (a request that hangs longer is a transport error).
    pub fn new(base: &str, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .timeout(timeout)
            .build()
            .expect("HTTP client");
        Self {
            http,
            base: base.to_owned(),
        }
    }

    /// One request; a transport failure (refused, reset, timed out) is an `Err`.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Answer, reqwest::Error> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        let response = request.send().await?;
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let content_type = header("content-type");
        let request_id = header("x-request-id");
        let text = response.text().await?;
        Ok(Answer {
            status,
            content_type,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
            request_id,
        })
    }

    /// A request that must get an answer with `expected` status; returns its JSON body.
    pub async fn expect(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        expected: StatusCode,
    ) -> Value {
        let what = format!("{method} {path}");
        let answer = self
            .call(method, path, token, body, None)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(
            answer.status, expected,
            "{what} answered {}: {}",
            answer.status, answer.text
        );
        answer.body
    }

    /// Registers a customer through the public API and logs in; returns the access token.
    pub async fn customer(&self, email: &str) -> String {
        let account = json!({"email": email, "password": PASSWORD, "display_name": "Customer"});
        self.expect(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(&account),
            StatusCode::CREATED,
        )
        .await;
        let credentials = json!({"email": email, "password": PASSWORD});
        let tokens = self
            .expect(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(&credentials),
                StatusCode::OK,
            )
            .await;
        tokens["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// `POST /api/v1/bookings`.
    pub async fn hold(
        &self,
        token: &str,
        show: &str,
        seats: &[String],
        key: Option<&str>,
    ) -> Result<Answer, reqwest::Error> {
        let body = json!({"show_id": show, "seats": seats});
        self.call(
            Method::POST,
            "/api/v1/bookings",
            Some(token),
            Some(&body),
            key,
        )
        .await
    }

    /// `POST /api/v1/bookings/{id}/payments`.
    pub async fn pay(
        &self,
        token: &str,
        booking: &str,
        card_token: &str,
        key: Option<&str>,
    ) -> Result<Answer, reqwest::Error> {
        let body = json!({"card_token": card_token});
        let path = format!("/api/v1/bookings/{booking}/payments");
        self.call(Method::POST, &path, Some(token), Some(&body), key)
            .await
    }

    /// `GET /api/v1/bookings/{id}?wait_ms=`: with a payment pending, answers when the
    /// booking changes or the wait is over.
    pub async fn booking(
        &self,
        token: &str,
        booking: &str,
        wait_ms: u64,
    ) -> Result<Answer, reqwest::Error> {
        let path = format!("/api/v1/bookings/{booking}?wait_ms={wait_ms}");
        self.call(Method::GET, &path, Some(token), None, None).await
    }

    /// Every booking of the customer (`GET /api/v1/bookings`, all pages).
    pub async fn history(&self, token: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(cursor) => format!("/api/v1/bookings?limit=100&cursor={cursor}"),
                None => "/api/v1/bookings?limit=100".to_owned(),
            };
            let page = self
                .expect(Method::GET, &path, Some(token), None, StatusCode::OK)
                .await;
            items.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return items,
            }
        }
    }

    /// `GET /api/v1/shows/{id}/seats`.
    pub async fn seat_map(&self, show: &str) -> Value {
        let path = format!("/api/v1/shows/{show}/seats");
        self.expect(Method::GET, &path, None, None, StatusCode::OK)
            .await
    }

    /// At least `want` shows of the demo data on `date` (a city's local date), if there are
    /// so many, found through the public browse API: city by city, movie by movie, in the
    /// order the API lists them. Only shows starting an hour or more from now, so none
    /// goes off sale while a test uses it.
    pub async fn shows_on(&self, date: chrono::NaiveDate, want: usize) -> Vec<String> {
        let not_before = chrono::Utc::now() + chrono::Duration::hours(1);
        let get = |path: String| async move {
            self.expect(Method::GET, &path, None, None, StatusCode::OK)
                .await
        };
        let mut shows = Vec::new();
        let cities = get("/api/v1/cities?limit=100".into()).await;
        for city in cities["items"].as_array().expect("cities") {
            let city = city["id"].as_str().expect("city id");
            let movies = get(format!(
                "/api/v1/cities/{city}/movies?date={date}&limit=100"
            ))
            .await;
            for movie in movies["items"].as_array().expect("movies") {
                let movie = movie["id"].as_str().expect("movie id");
                let theatres = get(format!(
                    "/api/v1/cities/{city}/movies/{movie}/shows?date={date}"
                ))
                .await;
                for theatre in theatres["items"].as_array().expect("theatres") {
                    for show in theatre["shows"].as_array().expect("shows") {
                        let starts_at = show["starts_at"]
                            .as_str()
                            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                            .expect("starts_at");
                        if starts_at >= not_before {
                            shows.push(show["id"].as_str().expect("show id").to_owned());
                        }
                    }
                }
                if shows.len() >= want {
                    return shows;
                }
            }
        }
        shows
    }
}

impl Api {
    /// `count` available seats of tomorrow's demo shows, as (show, seat label), show after
    /// show.
    pub async fn available_seats(&self, count: usize) -> Vec<(String, String)> {
        let mut seats = Vec::new();
        // The smallest demo screen has 114 seats.
        for show in self.shows_on(tomorrow(), count / 114 + 1).await {
            let map = self.seat_map(&show).await;
            seats.extend(
                seats_in_state(&map, "available")
                    .into_iter()
                    .map(|label| (show.clone(), label)),
            );
            if seats.len() >= count {
                seats.truncate(count);
                return seats;
            }
        }
        panic!(
            "tomorrow's demo shows have only {} available seats; the test needs {count}",
            seats.len()
        );
    }
}

/// Seat labels of a seat map in the given state.
pub fn seats_in_state(map: &Value, state: &str) -> Vec<String> {
    map["seats"]
        .as_array()
        .expect("seats")
        .iter()
        .filter(|s| s["state"] == state)
        .map(|s| s["label"].as_str().expect("label").to_owned())
        .collect()
}

/// Tomorrow's date in UTC: every demo city has shows then that have not started.
pub fn tomorrow() -> chrono::NaiveDate {
    (chrono::Utc::now() + chrono::Duration::days(1)).date_naive()
}
