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

/// The deployment the README describes for several nodes: two `marquee serve` processes
/// and a `marquee relay` on one PostgreSQL database and NATS JetStream, each node
/// following the events through NATS (`events.follow = "nats"`: no node reads the outbox
/// table for other nodes' writes).
mod on_nats {
    use std::{
        collections::BTreeMap,
        process::Stdio,
        sync::{
            Arc, Mutex,
            atomic::{AtomicBool, AtomicUsize, Ordering},
        },
        time::{Duration, Instant},
    };

    use marquee::{db::Engine, waiting_room::shuffle};
    use reqwest::{Method, StatusCode};
    use serde_json::{Value, json};
    use sha2::{Digest, Sha256};

    use crate::{
        relay::{jetstream, nats_url},
        serve::{Api, ProcessDatabase, ServeOptions, ServeProcess, marquee, seed_demo, tomorrow},
    };

    /// What every process of the deployment shares: the database, NATS and a stream of
    /// this test's own.
    struct Deployment {
        database: ProcessDatabase,
        env: Vec<(String, String)>,
        stream: String,
    }

    impl Deployment {
        async fn create() -> Option<(Self, async_nats::jetstream::Context)> {
            let js = jetstream().await?;
            let database = ProcessDatabase::create(Engine::Postgres).await?;
            seed_demo(&database.url).await;
            let tag = ulid::Ulid::new().to_string();
            let stream = format!("MARQUEE_TEST_{tag}");
            let env = vec![
                ("MARQUEE_NATS_URL".into(), nats_url()),
                ("MARQUEE_EVENTS__NATS_STREAM".into(), stream.clone()),
                (
                    "MARQUEE_EVENTS__NATS_SUBJECT_PREFIX".into(),
                    format!("test.{}", tag.to_lowercase()),
                ),
                ("MARQUEE_EVENTS__FOLLOW".into(), "nats".into()),
                // Cached seat maps would stay 30 s: only the events can make them fresh.
                ("MARQUEE_CACHE__SHOW_MAX_AGE_MS".into(), "30000".into()),
                (
                    "MARQUEE_AUTH__LOGIN_ATTEMPTS_PER_CLIENT_PER_MINUTE".into(),
                    "100000".into(),
                ),
                // One admitted buyer deciding at a time: admissions come one per round,
                // from whichever node runs the round.
                ("MARQUEE_WAITING_ROOM__INITIAL_WINDOW".into(), "1".into()),
                ("MARQUEE_WAITING_ROOM__MAX_WINDOW".into(), "1".into()),
                ("MARQUEE_WAITING_ROOM__TICK_MS".into(), "100".into()),
            ];
            Some((
                Self {
                    database,
                    env,
                    stream,
                },
                js,
            ))
        }

        async fn node(&self) -> ServeProcess {
            let mut options = ServeOptions::default();
            for (key, value) in &self.env {
                options = options.env(key, value);
            }
            ServeProcess::start(&self.database.url, &options)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        }

        fn relay(&self) -> tokio::process::Child {
            let mut command = marquee(&self.database.url);
            for (key, value) in &self.env {
                command.env(key, value);
            }
            command
                .arg("relay")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start marquee relay")
        }
    }

    #[tokio::test]
    async fn two_nodes_and_a_relay_stay_correct_and_coherent_through_nats() {
        let _machine = crate::serve::exclusive().await;
        let Some((deployment, js)) = Deployment::create().await else {
            return;
        };
        let _relay = deployment.relay();
        let mut nodes = vec![deployment.node().await, deployment.node().await];
        let apis: Vec<Api> = nodes
            .iter()
            .map(|node| Api::new(&node.base, Duration::from_secs(30)))
            .collect();
        let outcome = tokio::spawn({
            let apis = apis.clone();
            async move {
                let shows = apis[0].shows_on(tomorrow(), 3).await;
                assert!(shows.len() >= 3, "three shows tomorrow: {shows:?}");
                seat_taken_on_a_shows_on_b_within_a_second(&apis, &shows[0]).await;
                waiting_room_admits_in_one_order_across_nodes(&apis, &shows[1]).await;
            }
        })
        .await;
        if outcome.is_ok() {
            killing_a_node_loses_no_acknowledged_booking(&mut nodes, &apis).await;
            a_rush_through_a_dying_node_loses_and_doubles_no_queue_entry(&deployment, &apis[1])
                .await;
        }
        let _ = js.delete_stream(&deployment.stream).await;
        if let Err(error) = outcome {
            std::panic::resume_unwind(error.into_panic());
        }
    }

    fn metric(text: &str, name: &str) -> f64 {
        text.lines()
            .filter(|line| line.starts_with(name))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// A hold through node B reaches node A's live seat map and its (long-lived) cached
    /// seat map within a second, carried by NATS.
    async fn seat_taken_on_a_shows_on_b_within_a_second(apis: &[Api], show: &str) {
        let (a, b) = (&apis[0], &apis[1]);
        let run = ulid::Ulid::new().to_string().to_lowercase();
        let token = b.customer(&format!("coherent-{run}@example.com")).await;
        let seat = crate::serve::seats_in_state(&a.seat_map(show).await, "available").remove(0);
        let mut stream = a
            .http
            .get(format!("{}/api/v1/shows/{show}/seats/stream", a.base))
            .send()
            .await
            .expect("open the stream on node A");
        assert_eq!(stream.status(), StatusCode::OK);
        let mut text = String::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !text.contains("event: snapshot") {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, stream.chunk()).await {
                Ok(Ok(Some(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
                other => panic!("no snapshot: {other:?}"),
            }
        }
        // Node A's cache holds the map now.
        assert_eq!(seat_state(&a.seat_map(show).await, &seat), "available");

        let held = b
            .hold(&token, show, std::slice::from_ref(&seat), None)
            .await
            .expect("hold through node B");
        assert_eq!(held.status, StatusCode::CREATED, "{}", held.text);
        let since = Instant::now();
        let delta = format!(r#""state":"held","seats":["{seat}"]"#);
        while !text.contains(&delta) {
            let left = Duration::from_secs(1).saturating_sub(since.elapsed());
            match tokio::time::timeout(left, stream.chunk()).await {
                Ok(Ok(Some(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
                other => panic!(
                    "node A's stream did not show {seat} held within 1 s ({other:?}):\n{text}"
                ),
            }
        }
        loop {
            if seat_state(&a.seat_map(show).await, &seat) == "held" {
                break;
            }
            assert!(
                since.elapsed() < Duration::from_secs(1),
                "node A's seat map still shows {seat} available after 1 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let metrics = a
            .http
            .get(format!("{}/metrics", a.base))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text");
        assert!(
            metric(&metrics, "marquee_events_followed_total") >= 1.0,
            "node A followed no event through NATS"
        );
    }

    fn seat_state(map: &Value, seat: &str) -> String {
        map["seats"]
            .as_array()
            .expect("seats")
            .iter()
            .find(|s| s["label"] == seat)
            .and_then(|s| s["state"].as_str())
            .expect("seat in the map")
            .to_owned()
    }

    /// Six customers join before the on-sale and six after, alternating nodes; every one
    /// polls and holds through its own node. The room admits exactly the committed shuffle
    /// of the pre-queue, then the later arrivals in the order they came, one at a time.
    /// The demo partner's access token, signed in through `api`.
    async fn demo_partner(api: &Api) -> String {
        let credentials =
            json!({"email": "partner@demo.test", "password": marquee::seed::DEMO_PASSWORD});
        api.expect(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(&credentials),
            StatusCode::OK,
        )
        .await["access_token"]
            .as_str()
            .expect("partner token")
            .to_owned()
    }

    async fn waiting_room_admits_in_one_order_across_nodes(apis: &[Api], show: &str) {
        let partner = demo_partner(&apis[0]).await;
        let run = ulid::Ulid::new().to_string().to_lowercase();
        let mut tokens = Vec::new();
        for i in 0..12 {
            tokens.push(
                apis[i % 2]
                    .customer(&format!("queue{i}-{run}@example.com"))
                    .await,
            );
        }
        let on_sale = chrono::Utc::now() + chrono::Duration::seconds(3);
        let room = apis[1]
            .expect(
                Method::PUT,
                &format!("/api/v1/partner/shows/{show}/waiting-room"),
                Some(&partner),
                Some(&json!({"on_sale_at": on_sale.to_rfc3339(), "seats_per_account": 2})),
                StatusCode::OK,
            )
            .await;
        let entries = format!("/api/v1/shows/{show}/waiting-room/entries");
        let join = async |i: usize| -> Value {
            let answer = apis[i % 2]
                .call(
                    Method::POST,
                    &entries,
                    Some(&tokens[i]),
                    Some(&json!({})),
                    None,
                )
                .await
                .expect("join");
            assert!(answer.status.is_success(), "join: {}", answer.text);
            answer.body
        };
        for i in 0..6 {
            assert_eq!(join(i).await["state"], "pre-queue");
        }
        let wait = (on_sale - chrono::Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(wait + Duration::from_millis(200)).await;
        let mut late = Vec::new();
        for i in 6..12 {
            let entry = join(i).await;
            assert!(entry["position"].as_i64().is_some(), "{entry}");
            late.push(entry["id"].as_str().expect("entry id").to_owned());
        }

        // Everyone waits on its own node and holds one seat as soon as admitted.
        let mut waiting = Vec::new();
        for (i, token) in tokens.iter().enumerate() {
            let (api, token, show) = (apis[i % 2].clone(), token.clone(), show.to_owned());
            let mine = format!("{entries}/me");
            waiting.push(tokio::spawn(async move {
                let deadline = Instant::now() + Duration::from_secs(60);
                loop {
                    let entry = api
                        .expect(Method::GET, &mine, Some(&token), None, StatusCode::OK)
                        .await;
                    if entry["state"] == "admitted" {
                        let hold = json!({
                            "show_id": show,
                            "best_available": {"count": 1},
                            "admission_token": entry["admission_token"],
                        });
                        api.expect(
                            Method::POST,
                            "/api/v1/bookings",
                            Some(&token),
                            Some(&hold),
                            StatusCode::CREATED,
                        )
                        .await;
                        return entry;
                    }
                    assert_eq!(entry["state"], "waiting", "{entry}");
                    assert!(Instant::now() < deadline, "never admitted: {entry}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }));
        }
        let mut admitted = Vec::new();
        for task in waiting {
            admitted.push(task.await.expect("customer"));
        }
        let audit = apis[0]
            .expect(
                Method::GET,
                &format!("/api/v1/shows/{show}/waiting-room/audit"),
                None,
                None,
                StatusCode::OK,
            )
            .await;
        let seed = audit["seed"].as_str().expect("seed");
        assert_eq!(
            hex::encode(Sha256::digest(hex::decode(seed).expect("hex seed"))),
            room["seed_hash"]
                .as_str()
                .expect("seed hash published before the on-sale")
        );
        let pre_queue: Vec<String> = serde_json::from_value(audit["pre_queue"].clone()).unwrap();
        let mut expected = shuffle::order(seed, &pre_queue);
        expected.extend(late);
        let order: Vec<String> = serde_json::from_value(audit["order"].clone()).unwrap();
        assert_eq!(
            order, expected,
            "the shuffled pre-queue, then arrivals in order"
        );

        // Admitted one at a time, in exactly that order.
        admitted.sort_by_key(|entry| entry["admitted_at"].as_str().unwrap_or("").to_owned());
        let by_admission: Vec<&str> = admitted
            .iter()
            .map(|entry| entry["id"].as_str().expect("id"))
            .collect();
        assert_eq!(
            by_admission,
            expected.iter().map(String::as_str).collect::<Vec<_>>()
        );
        let times: std::collections::BTreeSet<&str> = admitted
            .iter()
            .map(|entry| entry["admitted_at"].as_str().expect("admitted_at"))
            .collect();
        assert_eq!(times.len(), 12, "one admission per round");
    }

    /// Customers join an open waiting room through a new node C and node B; node C is
    /// SIGKILLed mid-rush (its joins are written in batches by a task of their own) and its
    /// customers join again through node B. Every customer then has exactly one entry
    /// (the one they were answered, if they were), and the entries hold distinct places.
    async fn a_rush_through_a_dying_node_loses_and_doubles_no_queue_entry(
        deployment: &Deployment,
        b: &Api,
    ) {
        const CUSTOMERS: usize = 24;
        let mut c = deployment.node().await;
        let apis = vec![Api::new(&c.base, Duration::from_secs(30)), b.clone()];
        let shows = b.shows_on(tomorrow(), 4).await;
        let show = shows.last().expect("a show tomorrow").clone();
        let partner = demo_partner(b).await;
        let run = ulid::Ulid::new().to_string().to_lowercase();
        let mut tokens = Vec::new();
        for i in 0..CUSTOMERS {
            tokens.push(b.customer(&format!("rush{i}-{run}@example.com")).await);
        }
        let on_sale = chrono::Utc::now() + chrono::Duration::seconds(2);
        b.expect(
            Method::PUT,
            &format!("/api/v1/partner/shows/{show}/waiting-room"),
            Some(&partner),
            Some(&json!({"on_sale_at": on_sale.to_rfc3339()})),
            StatusCode::OK,
        )
        .await;
        tokio::time::sleep(Duration::from_millis(2_300)).await;

        let entries = format!("/api/v1/shows/{show}/waiting-room/entries");
        let node_c_down = Arc::new(AtomicBool::new(false));
        let joined = Arc::new(AtomicUsize::new(0));
        let moved_to_b = Arc::new(AtomicUsize::new(0));
        let answered: Arc<Mutex<BTreeMap<usize, String>>> = Arc::default();
        let mut joiners = Vec::new();
        for (i, token) in tokens.iter().cloned().enumerate() {
            let (apis, down, joined, moved_to_b, answered, entries) = (
                apis.clone(),
                node_c_down.clone(),
                joined.clone(),
                moved_to_b.clone(),
                answered.clone(),
                entries.clone(),
            );
            joiners.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(i as u64 * 40)).await;
                for _ in 0..200 {
                    let node = usize::from(i % 2 == 1 || down.load(Ordering::SeqCst));
                    match apis[node]
                        .call(Method::POST, &entries, Some(&token), None, None)
                        .await
                    {
                        Ok(answer) if answer.status.is_server_error() && node == 0 => {}
                        Ok(answer) => {
                            assert!(
                                [StatusCode::CREATED, StatusCode::OK].contains(&answer.status),
                                "join: {}",
                                answer.text
                            );
                            let id = answer.body["id"].as_str().expect("entry id").to_owned();
                            answered.lock().unwrap().insert(i, id);
                            joined.fetch_add(1, Ordering::SeqCst);
                            if i % 2 == 0 && node == 1 {
                                moved_to_b.fetch_add(1, Ordering::SeqCst);
                            }
                            return;
                        }
                        Err(error) => assert_eq!(node, 0, "node B failed a join: {error}"),
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                panic!("customer {i} could not join");
            }));
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while joined.load(Ordering::SeqCst) < CUSTOMERS / 3 {
            assert!(Instant::now() < deadline, "the joins made no progress");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        c.kill().await;
        node_c_down.store(true, Ordering::SeqCst);
        for joiner in joiners {
            joiner.await.expect("joiner");
        }

        assert!(
            moved_to_b.load(Ordering::SeqCst) > 0,
            "node C's customers joined through B after it died"
        );
        let answered = answered.lock().unwrap().clone();
        assert_eq!(answered.len(), CUSTOMERS, "every customer was answered");
        let mut positions = std::collections::BTreeSet::new();
        for (i, token) in tokens.iter().enumerate() {
            let entry = b
                .expect(
                    Method::GET,
                    &format!("{entries}/me"),
                    Some(token),
                    None,
                    StatusCode::OK,
                )
                .await;
            assert_eq!(entry["id"], answered[&i].as_str(), "the entry answered");
            let position = entry["position"].as_i64().expect("a place");
            assert!(positions.insert(position), "place {position} given twice");
        }
        let audit = b
            .expect(
                Method::GET,
                &format!("/api/v1/shows/{show}/waiting-room/audit"),
                None,
                None,
                StatusCode::OK,
            )
            .await;
        assert_eq!(
            audit["order"].as_array().map(Vec::len),
            Some(CUSTOMERS),
            "one entry per customer: {audit}"
        );
    }

    /// Customers book (hold, pay, wait for the confirmation) through both nodes; node A is
    /// SIGKILLed mid-load and its customers carry on through node B, resending what died
    /// with their idempotency keys. Every hold a customer was answered, and every
    /// confirmation it saw, is still there afterwards, and node B answered throughout.
    async fn killing_a_node_loses_no_acknowledged_booking(
        nodes: &mut [ServeProcess],
        apis: &[Api],
    ) {
        const CUSTOMERS: usize = 8;
        const SEATS_EACH: usize = 5;
        let run = ulid::Ulid::new().to_string().to_lowercase();
        let mut tokens = Vec::new();
        for i in 0..CUSTOMERS {
            tokens.push(
                apis[1]
                    .customer(&format!("kill{i}-{run}@example.com"))
                    .await,
            );
        }
        let seats = apis[1].available_seats(CUSTOMERS * SEATS_EACH).await;
        let node_a_down = Arc::new(AtomicBool::new(false));
        let holds_done = Arc::new(AtomicUsize::new(0));
        let answered_by_b_after_kill = Arc::new(AtomicUsize::new(0));
        let acknowledged: Arc<Mutex<BTreeMap<String, (String, bool)>>> = Arc::default();
        let mut customers = Vec::new();
        for (i, token) in tokens.into_iter().enumerate() {
            let mine: Vec<(String, String)> = seats[i * SEATS_EACH..(i + 1) * SEATS_EACH].to_vec();
            let (apis, down, done, after_kill, acknowledged, run) = (
                apis.to_vec(),
                node_a_down.clone(),
                holds_done.clone(),
                answered_by_b_after_kill.clone(),
                acknowledged.clone(),
                run.clone(),
            );
            customers.push(tokio::spawn(async move {
                // Sends a request to this customer's node; once that node is gone, to the
                // other one, with the same idempotency key.
                let send = async |method: Method,
                                  path: String,
                                  body: Option<Value>,
                                  key: Option<String>| {
                    for _ in 0..200 {
                        let node = if i % 2 == 0 && !down.load(Ordering::SeqCst) {
                            0
                        } else {
                            1
                        };
                        match apis[node]
                            .call(
                                method.clone(),
                                &path,
                                Some(&token),
                                body.as_ref(),
                                key.as_deref(),
                            )
                            .await
                        {
                            Ok(answer) if answer.status.is_server_error() && node == 0 => {}
                            Ok(answer) => {
                                if node == 1 && down.load(Ordering::SeqCst) {
                                    after_kill.fetch_add(1, Ordering::SeqCst);
                                }
                                return answer;
                            }
                            Err(error) => {
                                assert_eq!(node, 0, "node B failed a request: {error}");
                            }
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    panic!("{path}: no answer");
                };
                for (n, (show, seat)) in mine.into_iter().enumerate() {
                    let hold = send(
                        Method::POST,
                        "/api/v1/bookings".into(),
                        Some(json!({"show_id": show, "seats": [seat]})),
                        Some(format!("hold-{run}-{i}-{n}")),
                    )
                    .await;
                    assert_eq!(hold.status, StatusCode::CREATED, "{}", hold.text);
                    let id = hold.body["id"].as_str().expect("booking id").to_owned();
                    acknowledged
                        .lock()
                        .unwrap()
                        .insert(id.clone(), (token.clone(), false));
                    done.fetch_add(1, Ordering::SeqCst);
                    let paid = send(
                        Method::POST,
                        format!("/api/v1/bookings/{id}/payments"),
                        Some(json!({"card_token": "tok_visa"})),
                        Some(format!("pay-{run}-{i}-{n}")),
                    )
                    .await;
                    assert!(paid.status.is_success(), "{}", paid.text);
                    let seen = send(
                        Method::GET,
                        format!("/api/v1/bookings/{id}?wait_ms=3000"),
                        None,
                        None,
                    )
                    .await;
                    if seen.body["status"] == "confirmed" {
                        acknowledged
                            .lock()
                            .unwrap()
                            .insert(id, (token.clone(), true));
                    }
                }
            }));
        }
        // Kill node A once a third of the holds are in.
        let deadline = Instant::now() + Duration::from_secs(60);
        while holds_done.load(Ordering::SeqCst) < CUSTOMERS * SEATS_EACH / 3 {
            assert!(Instant::now() < deadline, "the load made no progress");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        nodes[0].kill().await;
        node_a_down.store(true, Ordering::SeqCst);
        for customer in customers {
            customer.await.expect("customer");
        }
        assert!(
            answered_by_b_after_kill.load(Ordering::SeqCst) > 0,
            "node B answered nothing after node A died"
        );
        let acknowledged = acknowledged.lock().unwrap().clone();
        assert_eq!(
            acknowledged.len(),
            CUSTOMERS * SEATS_EACH,
            "every hold answered"
        );
        for (id, (token, confirmed)) in &acknowledged {
            let booking = apis[1]
                .expect(
                    Method::GET,
                    &format!("/api/v1/bookings/{id}"),
                    Some(token),
                    None,
                    StatusCode::OK,
                )
                .await;
            if *confirmed {
                assert_eq!(
                    booking["status"], "confirmed",
                    "{id} was confirmed: {booking}"
                );
            } else {
                assert!(
                    ["pending_payment", "confirmed"]
                        .contains(&booking["status"].as_str().unwrap_or("")),
                    "{id} was held: {booking}"
                );
            }
        }
    }
}
