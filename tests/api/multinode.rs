//! Two `marquee serve` processes on one PostgreSQL database, racing for the same seats.
//! This is the scale-out deployment: nothing but the database is shared, so the seat
//! claim must hold across processes, not just across tasks of one process.
//!
//! The processes are the real binary with the real clock, on demo data seeded by the real
//! `marquee seed --demo`.

use std::{
    collections::{BTreeMap, BTreeSet},
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use rand::{Rng, SeedableRng, rngs::StdRng};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};

use crate::helpers::DEFAULT_PG_ADMIN_URL;

const PASSWORD: &str = "correct horse battery";

struct Node {
    child: Child,
    base: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn marquee(database_url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_marquee"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("MARQUEE_DATABASE_URL", database_url)
        .env("MARQUEE_LOG__FILTER", "info")
        .env("MARQUEE_DATABASE__MAX_CONNECTIONS", "8");
    command
}

/// Starts `marquee serve` on a free port and waits until it says it is serving.
fn start_node(database_url: &str) -> Node {
    let mut child = marquee(database_url)
        .env("MARQUEE_ADDR", "127.0.0.1:0")
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start marquee serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("marquee serve exited before serving")
            .expect("read log line");
        let Ok(entry) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if entry["fields"]["message"] == "serving" {
            break entry["fields"]["addr"].as_str().expect("addr").to_owned();
        }
    };
    // Keep draining the log so the process never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Node {
        child,
        base: format!("http://{addr}"),
    }
}

async fn post(client: &Client, url: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
    let mut request = client.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

async fn customer(client: &Client, node: &Node, email: &str) -> String {
    let (status, _) = post(
        client,
        &format!("{}/api/v1/auth/register", node.base),
        None,
        json!({"email": email, "password": PASSWORD, "display_name": "Racer"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "register {email}");
    let (status, body) = post(
        client,
        &format!("{}/api/v1/auth/login", node.base),
        None,
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "login {email}");
    body["access_token"].as_str().expect("token").to_owned()
}

/// A show of the demo data that starts tomorrow (UTC), found through the public API.
async fn tomorrows_show(client: &Client, node: &Node) -> String {
    let date = (chrono::Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let cities: Value = client
        .get(format!("{}/api/v1/cities", node.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for city in cities["items"].as_array().unwrap() {
        let city = city["id"].as_str().unwrap();
        let movies: Value = client
            .get(format!(
                "{}/api/v1/cities/{city}/movies?date={date}",
                node.base
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for movie in movies["items"].as_array().unwrap() {
            let movie = movie["id"].as_str().unwrap();
            let shows: Value = client
                .get(format!(
                    "{}/api/v1/cities/{city}/movies/{movie}/shows?date={date}",
                    node.base
                ))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if let Some(show) = shows["items"][0]["shows"][0]["id"].as_str() {
                return show.to_owned();
            }
        }
    }
    panic!("the demo data has no show tomorrow");
}

#[tokio::test]
async fn two_processes_on_one_postgres_never_sell_a_seat_twice() {
    let admin_url = std::env::var("MARQUEE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| DEFAULT_PG_ADMIN_URL.to_owned());
    let mut admin = match PgConnection::connect(&admin_url).await {
        Ok(admin) => admin,
        Err(error) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("PostgreSQL at {admin_url} is required under CI=true: {error}");
            }
            eprintln!("skipping: cannot reach {admin_url}: {error}");
            return;
        }
    };
    let name = format!(
        "marquee_nodes_{}",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&name);
    let database_url = url.to_string();

    let seeded = marquee(&database_url)
        .args(["seed", "--demo"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run marquee seed");
    assert!(seeded.success(), "marquee seed --demo failed");

    let outcome = tokio::spawn(race(database_url.clone())).await;

    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic.into_panic());
    }
}

async fn race(database_url: String) {
    let nodes = [start_node(&database_url), start_node(&database_url)];
    let client = Client::builder()
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let run = ulid::Ulid::new().to_string().to_lowercase();
    let mut tokens = Vec::new();
    for i in 0..6 {
        let node = &nodes[i % 2];
        tokens.push(customer(&client, node, &format!("racer{i}-{run}@example.com")).await);
    }
    let show = tomorrows_show(&client, &nodes[0]).await;

    // 200 requests for one seat, alternating between the processes.
    let mut tasks = Vec::new();
    for i in 0..200 {
        let url = format!("{}/api/v1/bookings", nodes[i % 2].base);
        let (client, token, show) = (
            client.clone(),
            tokens[i % tokens.len()].clone(),
            show.clone(),
        );
        tasks.push(tokio::spawn(async move {
            post(
                &client,
                &url,
                Some(&token),
                json!({"show_id": show, "seats": ["A1"]}),
            )
            .await
        }));
    }
    let mut won = 0;
    let mut lost = 0;
    for task in tasks {
        match task.await.unwrap() {
            (StatusCode::CREATED, _) => won += 1,
            (StatusCode::CONFLICT, body) => {
                assert_eq!(body["seats"], json!(["A1"]));
                lost += 1;
            }
            (status, body) => panic!("unexpected {status}: {body}"),
        }
    }
    assert_eq!(
        (won, lost),
        (1, 199),
        "exactly one hold of A1 across two processes"
    );

    // 100 requests for overlapping random sets of row B/C seats, on both processes.
    let pool: Vec<String> = ["B", "C"]
        .iter()
        .flat_map(|row| (1..=8).map(move |n| format!("{row}{n}")))
        .collect();
    let mut rng = StdRng::seed_from_u64(7);
    let mut tasks = Vec::new();
    for i in 0..100 {
        let n = rng.random_range(1..=4);
        let mut seats = BTreeSet::new();
        while seats.len() < n {
            seats.insert(pool[rng.random_range(0..pool.len())].clone());
        }
        let seats: Vec<String> = seats.into_iter().collect();
        let url = format!("{}/api/v1/bookings", nodes[i % 2].base);
        let (client, token, show) = (
            client.clone(),
            tokens[i % tokens.len()].clone(),
            show.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let (status, body) = post(
                &client,
                &url,
                Some(&token),
                json!({"show_id": show, "seats": seats}),
            )
            .await;
            (status, body, seats)
        }));
    }
    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    let mut winners = 0;
    for task in tasks {
        let (status, body, seats) = task.await.unwrap();
        match status {
            StatusCode::CREATED => {
                winners += 1;
                assert_eq!(body["status"], "pending_payment");
                let id = body["id"].as_str().unwrap().to_owned();
                for seat in seats {
                    if let Some(other) = owner.insert(seat.clone(), id.clone()) {
                        panic!("{seat} held by both {other} and {id}");
                    }
                }
            }
            StatusCode::CONFLICT => {}
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(winners >= 1);

    // The seat map agrees: exactly the seats won are held, by the bookings that won them.
    let map: Value = client
        .get(format!("{}/api/v1/shows/{show}/seats", nodes[1].base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let held: BTreeSet<String> = map["seats"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["state"] == "held")
        .map(|s| s["label"].as_str().unwrap().to_owned())
        .collect();
    let mut expected: BTreeSet<String> = owner.keys().cloned().collect();
    expected.insert("A1".into());
    assert_eq!(held, expected);
}
