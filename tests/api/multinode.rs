//! Two `marquee serve` processes on one PostgreSQL database, racing for the same seats.
//! This is the scale-out deployment: nothing but the database is shared, so the seat
//! claim must hold across processes, not just across tasks of one process.
//!
//! The processes are the real binary with the real clock, on demo data seeded by the real
//! `marquee seed --demo`.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use marquee::db::Engine;
use rand::{Rng, SeedableRng, rngs::StdRng};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::serve::{Api, ProcessDatabase, ServeOptions, ServeProcess, seed_demo, tomorrow};

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

#[tokio::test]
async fn two_processes_on_one_postgres_never_sell_a_seat_twice() {
    let _machine = crate::serve::exclusive().await;
    let Some(database) = ProcessDatabase::create(Engine::Postgres).await else {
        return;
    };
    seed_demo(&database.url).await;
    race(&database.url).await;
}

async fn race(database_url: &str) {
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let node = ServeProcess::start(database_url, &ServeOptions::default()).await;
        nodes.push(node.unwrap_or_else(|e| panic!("{e}")));
    }
    let apis: Vec<Api> = nodes
        .iter()
        .map(|node| Api::new(&node.base, Duration::from_secs(30)))
        .collect();
    let client = apis[0].http.clone();
    let run = ulid::Ulid::new().to_string().to_lowercase();
    let mut tokens = Vec::new();
    for i in 0..6 {
        let api = &apis[i % 2];
        tokens.push(api.customer(&format!("racer{i}-{run}@example.com")).await);
    }
    let show = apis[0]
        .shows_on(tomorrow(), 1)
        .await
        .into_iter()
        .next()
        .expect("the demo data has a show tomorrow");

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

/// A seat map open on one node sees a hold made through the other within a second: the
/// streams follow the shared outbox, not the node's own writes.
#[tokio::test]
async fn a_live_seat_map_on_one_node_sees_a_hold_made_through_another() {
    let _machine = crate::serve::exclusive().await;
    let Some(database) = ProcessDatabase::create(Engine::Postgres).await else {
        return;
    };
    seed_demo(&database.url).await;
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let node = ServeProcess::start(&database.url, &ServeOptions::default()).await;
        nodes.push(node.unwrap_or_else(|e| panic!("{e}")));
    }
    let writer = Api::new(&nodes[1].base, Duration::from_secs(30));
    let run = ulid::Ulid::new().to_string().to_lowercase();
    let token = writer.customer(&format!("live-{run}@example.com")).await;
    let (show, seat) = writer.available_seats(1).await.remove(0);

    let mut stream = Client::new()
        .get(format!(
            "{}/api/v1/shows/{show}/seats/stream",
            nodes[0].base
        ))
        .send()
        .await
        .expect("open the stream on node 0");
    assert_eq!(stream.status(), StatusCode::OK);
    let mut text = String::new();
    let mut read_until = async |stream: &mut reqwest::Response, needle: &str, limit: Duration| {
        let deadline = std::time::Instant::now() + limit;
        while !text.contains(needle) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match tokio::time::timeout(left, stream.chunk()).await {
                Ok(Ok(Some(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
                other => panic!("no {needle:?} within {limit:?} ({other:?}); got:\n{text}"),
            }
        }
    };
    read_until(&mut stream, "event: snapshot", Duration::from_secs(10)).await;

    let held = writer
        .hold(&token, &show, std::slice::from_ref(&seat), None)
        .await
        .expect("hold through node 1");
    assert_eq!(held.status, StatusCode::CREATED, "{:?}", held.body);
    let delta = format!(r#""state":"held","seats":["{seat}"]"#);
    read_until(&mut stream, &delta, Duration::from_secs(1)).await;
}
