//! Connection limits, over raw TCP: a header that dribbles in and a keep-alive connection
//! that idles are closed on time, a connection over the cap gets a fast 503 while open
//! ones keep answering, and a shutdown lets the request in flight finish. Connection
//! handling does not depend on the database, so these run on SQLite only.

use std::time::{Duration, Instant};

use marquee::{config::Config, db::Engine};
use serde_json::Value;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::helpers::TestApp;

async fn spawn(configure: impl FnOnce(&mut Config)) -> TestApp {
    TestApp::spawn_with(Engine::Sqlite, configure)
        .await
        .expect("SQLite app")
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .expect("connect")
}

/// Sends a GET on an open connection and reads its response.
async fn get(stream: &mut TcpStream, path: &str) -> (u16, String) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: marquee\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    read_response(stream).await
}

/// Reads one response (head and `Content-Length` body): status and body.
async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&received[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .map_or(0, |value| value.trim().parse::<usize>().expect("length"));
            if received.len() >= end + 4 + length {
                let status = head[9..12].parse().expect("status");
                let body = String::from_utf8_lossy(&received[end + 4..end + 4 + length]);
                return (status, body.into_owned());
            }
        }
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk))
            .await
            .expect("a response within 5 s")
            .expect("read");
        assert!(
            read > 0,
            "closed before a whole response: {:?}",
            String::from_utf8_lossy(&received)
        );
        received.extend_from_slice(&chunk[..read]);
    }
}

/// Whether the server closes the connection within `within`, sending nothing.
async fn closes_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut chunk = [0u8; 1024];
    match tokio::time::timeout(within, stream.read(&mut chunk)).await {
        Err(_) => false,
        Ok(Ok(0) | Err(_)) => true,
        Ok(Ok(read)) => panic!(
            "unexpected bytes: {:?}",
            String::from_utf8_lossy(&chunk[..read])
        ),
    }
}

#[tokio::test]
async fn a_header_that_dribbles_in_is_cut_off_at_the_header_read_timeout() {
    let app = spawn(|config| config.http.header_read_timeout_ms = 2_500).await;
    // A connection that never sends a byte owes its first header just the same.
    let mut silent = connect(&app).await;

    // One header line a second, never the blank line that ends the header: each line is
    // progress, but the clock runs from the connection's start.
    let mut stream = connect(&app).await;
    let started = Instant::now();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\n")
        .await
        .unwrap();
    let mut lines = 0;
    let closed_after = loop {
        if closes_within(&mut stream, Duration::from_secs(1)).await {
            break started.elapsed();
        }
        let line = format!("X-Slow-{lines}: still coming\r\n");
        if stream.write_all(line.as_bytes()).await.is_err() {
            break started.elapsed();
        }
        lines += 1;
        assert!(lines < 10, "still open after {lines} header lines");
    };
    assert!(
        closed_after >= Duration::from_millis(2_400) && closed_after < Duration::from_millis(4_500),
        "closed after {closed_after:?} and {lines} lines"
    );
    assert!(closes_within(&mut silent, Duration::from_millis(500)).await);

    // A header that arrives in time is served.
    let mut prompt = connect(&app).await;
    assert_eq!(get(&mut prompt, "/healthz").await.0, 200);
    app.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let app = spawn(|config| {
        config.http.header_read_timeout_ms = 200;
        config.http.idle_timeout_ms = 1_000;
    })
    .await;
    let mut stream = connect(&app).await;
    assert_eq!(get(&mut stream, "/healthz").await.0, 200);
    // Waiting between requests longer than the header timeout (which counts from a
    // request's first byte, not from the end of the last response) but shorter than the
    // idle timeout keeps the connection, and so does being used for longer than it.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(get(&mut stream, "/healthz").await.0, 200);
    }
    let started = Instant::now();
    assert!(
        closes_within(&mut stream, Duration::from_secs(3)).await,
        "still open 3 s after its last response"
    );
    let idle = started.elapsed();
    assert!(
        idle >= Duration::from_millis(900) && idle < Duration::from_millis(2_500),
        "closed after {idle:?} idle"
    );
    app.stop().await;
}

#[tokio::test]
async fn beyond_the_connection_cap_a_new_connection_gets_a_fast_503_and_open_ones_still_answer() {
    let app = spawn(|config| config.http.max_connections = 3).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut stream = connect(&app).await;
        assert_eq!(get(&mut stream, "/healthz").await.0, 200);
        open.push(stream);
    }

    let started = Instant::now();
    let mut extra = connect(&app).await;
    let (status, body) = get(&mut extra, "/healthz").await;
    let answered = started.elapsed();
    assert_eq!(status, 503, "{body}");
    let problem: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        problem["type"],
        "https://marquee.example/problems/overloaded"
    );
    assert!(
        answered < Duration::from_millis(500),
        "503 after {answered:?}"
    );
    assert!(closes_within(&mut extra, Duration::from_secs(2)).await);

    // The open connections are unaffected.
    for stream in &mut open {
        assert_eq!(get(stream, "/healthz").await.0, 200);
    }

    // A closed connection frees its place.
    drop(open.pop());
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let mut stream = connect(&app).await;
        let (status, _) = get(&mut stream, "/healthz").await;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the freed place was not reused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn shutdown_lets_the_request_in_flight_finish_and_accepts_no_more() {
    let mut app = spawn(|_| {}).await;
    let body = br#"{"email": "nobody@example.test", "password": "correct horse battery"}"#;
    let mut stream = connect(&app).await;
    let head = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: marquee\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..10]).await.unwrap();
    // The handler now waits for the rest of its body.
    tokio::time::sleep(Duration::from_millis(200)).await;

    app.begin_shutdown();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        TcpStream::connect(app.base.trim_start_matches("http://"))
            .await
            .is_err(),
        "a new connection was accepted after the shutdown signal"
    );

    stream.write_all(&body[10..]).await.unwrap();
    let (status, problem) = read_response(&mut stream).await;
    assert_eq!(status, 401, "{problem}");
    assert!(problem.contains("invalid-credentials"), "{problem}");
    assert!(closes_within(&mut stream, Duration::from_secs(2)).await);
    app.stop().await;
}
