//! Customer notifications by email, received by a real SMTP listener on loopback (a small
//! server speaking the protocol over TCP, capturing what it is sent): a paid booking mails
//! its customer the booking id and ticket code, and a redelivered event mails nothing; an
//! SMTP outage delays mail (the mail outbox retries with backoff) but loses none, and a
//! message is given up after its last attempt; customers are written to in their
//! account's language, as text and HTML.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use marquee::{
    clock::Clock,
    db::Engine,
    integration::{
        dispatcher::{self, Consumer},
        events::{Envelope, Event},
        mail,
        notify::{self, Notifications},
        outbox,
    },
};
use reqwest::Method;
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
};
use tokio_rustls::TlsAcceptor;

use crate::{
    booking::{customer, hold_ok, id_of, pay_ok, wait_for_status},
    db_test, fixtures,
    helpers::{TestApp, send},
};

/// One message as the SMTP server received it.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// Headers and body, dot-unstuffed, lines joined with `\n`.
    pub data: String,
    /// It came over TLS (implicit, or after STARTTLS).
    pub over_tls: bool,
}

/// How the sink protects its sessions.
#[derive(Clone)]
pub enum SinkTls {
    /// Plain SMTP.
    None,
    /// Offers STARTTLS after EHLO.
    StartTls(TlsAcceptor),
    /// TLS from the first byte (`smtps://`).
    Implicit(TlsAcceptor),
}

/// A minimal SMTP server on loopback that accepts every message and keeps it.
pub struct SmtpSink {
    pub port: u16,
    pub mails: Arc<Mutex<Vec<Mail>>>,
    task: tokio::task::JoinHandle<()>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        Self::start_with(SinkTls::None).await
    }

    pub async fn start_with(tls: SinkTls) -> Self {
        Self::start_on(0, tls).await
    }

    /// On a given port (0: any free one).
    pub async fn start_on(port: u16, tls: SinkTls) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let captured = mails.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(handle(socket, tls.clone(), captured.clone()));
            }
        });
        Self { port, mails, task }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn mails_to(&self, address: &str) -> Vec<Mail> {
        self.mails
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.to.iter().any(|t| t == address))
            .cloned()
            .collect()
    }

    /// Waits (bounded) until `address` has received `n` messages; returns them.
    pub async fn wait_for(&self, address: &str, n: usize) -> Vec<Mail> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mails = self.mails_to(address);
            if mails.len() >= n {
                return mails;
            }
            assert!(
                Instant::now() < deadline,
                "{address} received {} of {n} messages",
                mails.len()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The address inside `MAIL FROM:<a>` / `RCPT TO:<a>`.
fn angle_address(argument: &str) -> String {
    let start = argument.find('<').map_or(0, |i| i + 1);
    let end = argument[start..]
        .find('>')
        .map_or(argument.len(), |i| start + i);
    argument[start..end].to_owned()
}

/// One connection: TLS first when implicit; after STARTTLS, the rest of the session over
/// TLS.
async fn handle(socket: TcpStream, tls: SinkTls, mails: Arc<Mutex<Vec<Mail>>>) {
    match tls {
        SinkTls::None => {
            session(socket, None, true, false, mails).await;
        }
        SinkTls::Implicit(acceptor) => {
            if let Ok(stream) = acceptor.accept(socket).await {
                session(stream, None, true, true, mails).await;
            }
        }
        SinkTls::StartTls(acceptor) => {
            if let Some(socket) = session(socket, Some(&acceptor), true, false, mails.clone()).await
                && let Ok(stream) = acceptor.accept(socket).await
            {
                session(stream, None, false, true, mails).await;
            }
        }
    }
}

/// Writes one reply line (or several, already joined by CRLF); false once the peer is gone.
async fn reply<S: AsyncWrite + Unpin>(write: &mut S, text: &str) -> bool {
    write
        .write_all(format!("{text}\r\n").as_bytes())
        .await
        .is_ok()
}

/// One SMTP session: greeting, EHLO/HELO, MAIL, RCPT, DATA … ".", RSET, NOOP, QUIT, and
/// STARTTLS when `starttls` is offered: then the stream comes back for the TLS handshake.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    starttls: Option<&TlsAcceptor>,
    greet: bool,
    over_tls: bool,
    mails: Arc<Mutex<Vec<Mail>>>,
) -> Option<S> {
    let mut stream = BufReader::new(stream);
    if greet && !reply(stream.get_mut(), "220 sink.test ESMTP").await {
        return None;
    }
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        match stream.read_line(&mut line).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        let command = line.trim_end_matches(['\r', '\n']).to_owned();
        let verb = command.get(..4).unwrap_or(&command).to_ascii_uppercase();
        let answer = match verb.as_str() {
            "EHLO" if starttls.is_some() => {
                "250-sink.test\r\n250-STARTTLS\r\n250 8BITMIME".to_owned()
            }
            "EHLO" => "250-sink.test\r\n250 8BITMIME".to_owned(),
            "HELO" => "250 sink.test".to_owned(),
            "STAR" if starttls.is_some() && command.eq_ignore_ascii_case("STARTTLS") => {
                if !reply(stream.get_mut(), "220 go ahead").await {
                    return None;
                }
                return Some(stream.into_inner());
            }
            "MAIL" => {
                from = angle_address(&command);
                to.clear();
                "250 OK".to_owned()
            }
            "RCPT" => {
                to.push(angle_address(&command));
                "250 OK".to_owned()
            }
            "DATA" => {
                if !reply(stream.get_mut(), "354 end with .").await {
                    return None;
                }
                let mut data = Vec::new();
                let mut body_line = String::new();
                loop {
                    body_line.clear();
                    match stream.read_line(&mut body_line).await {
                        Ok(0) | Err(_) => return None,
                        Ok(_) => {}
                    }
                    let text = body_line.trim_end_matches(['\r', '\n']);
                    if text == "." {
                        break;
                    }
                    data.push(text.strip_prefix('.').unwrap_or(text).to_owned());
                }
                mails.lock().unwrap().push(Mail {
                    from: from.clone(),
                    to: std::mem::take(&mut to),
                    data: data.join("\n"),
                    over_tls,
                });
                "250 queued".to_owned()
            }
            "RSET" | "NOOP" => "250 OK".to_owned(),
            "QUIT" => {
                let _ = reply(stream.get_mut(), "221 bye").await;
                return None;
            }
            _ => "502 not implemented".to_owned(),
        };
        if !reply(stream.get_mut(), &answer).await {
            return None;
        }
    }
}

async fn paid_booking_mails_its_customer_once(engine: Engine) {
    paid_booking_mails_its_customer_once_over(engine, Protection::Plain).await;
}

/// How the test's SMTP server and Marquee protect the connection.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Protection {
    Plain,
    StartTls,
    Implicit,
}

/// A certificate for 127.0.0.1 and an acceptor with it; the certificate's PEM file.
fn smtp_tls() -> (TlsAcceptor, std::path::PathBuf) {
    use tokio_rustls::rustls;
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let dir = std::env::temp_dir().join(format!("marquee-smtp-{}", ulid::Ulid::new()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ca.pem");
    std::fs::write(&path, cert.pem()).unwrap();
    let der = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.der().clone()], der)
    .unwrap();
    (TlsAcceptor::from(std::sync::Arc::new(config)), path)
}

async fn paid_booking_mails_its_customer_once_over(engine: Engine, protection: Protection) {
    let (acceptor, ca) = smtp_tls();
    let (smtp, smtp_url) = match protection {
        Protection::Plain => {
            let smtp = SmtpSink::start().await;
            let url = smtp.url();
            (smtp, url)
        }
        Protection::StartTls => {
            let smtp = SmtpSink::start_with(SinkTls::StartTls(acceptor)).await;
            let url = format!("{}?tls=required", smtp.url());
            (smtp, url)
        }
        Protection::Implicit => {
            let smtp = SmtpSink::start_with(SinkTls::Implicit(acceptor)).await;
            let url = format!("smtps://127.0.0.1:{}", smtp.port);
            (smtp, url)
        }
    };
    let Some(app) = TestApp::spawn_with(engine, move |config| {
        config.notify.smtp_url = Some(smtp_url);
        config.notify.smtp_ca_path = Some(ca);
        config.notify.poll_interval_ms = 20;
        config.events.dispatch_interval_ms = 20;
    })
    .await
    else {
        return;
    };
    let f = fixtures::load(&app).await;
    let ana = customer(&app, "ana@example.com").await;
    let booking = hold_ok(&app, &ana, &f.noon, &["A1", "A2"]).await;
    let id = id_of(&booking);
    pay_ok(&app, &ana, &id, "tok_visa").await;
    let confirmed = wait_for_status(&app, &ana, &id, "confirmed").await;

    // The booking flow appends `booking.confirmed` in its own transaction once it does; until
    // then, append it here as the flow would.
    let is_confirmation =
        |e: &Envelope| e.event_type == "booking.confirmed" && e.aggregate_id == id;
    if !outbox::all(&app.db)
        .await
        .unwrap()
        .iter()
        .any(is_confirmation)
    {
        let payment_id = confirmed["payments"][0]["id"].as_str().unwrap().to_owned();
        let event = Event::BookingConfirmed {
            booking_id: id.clone(),
            show_id: f.noon.to_string(),
            payment_id,
            seats: vec![],
        };
        let now = app.clock.now().as_millis();
        app.db
            .write(move |tx| outbox::append(tx, &event, now))
            .await
            .unwrap();
    }

    let ticket: serde_json::Value = send(
        &app,
        Method::GET,
        &format!("/api/v1/bookings/{id}/ticket"),
        Some(&ana),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let code = ticket["code"].as_str().unwrap().to_owned();

    let mails = smtp.wait_for("ana@example.com", 1).await;
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let mail = &mails[0];
    assert_eq!(mail.from, "tickets@marquee.test");
    assert_eq!(mail.over_tls, protection != Protection::Plain);
    assert!(
        mail.data
            .contains(&format!("Subject: Your tickets: booking {id}")),
        "{}",
        mail.data
    );
    assert!(mail.data.contains(&id), "{}", mail.data);
    assert!(
        mail.data.contains(&code),
        "ticket code {code} in {}",
        mail.data
    );

    // Redelivery: through the dispatcher (processed-event record), and straight to a fresh
    // consumer as after a crash before that record (the notifications record).
    let event = outbox::all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .find(|e| is_confirmation(e))
        .unwrap();
    // Redelivery comes after the first delivery finished (its processed-event record).
    let deadline = Instant::now() + Duration::from_secs(30);
    while !outbox::was_processed(&app.db, notify::CONSUMER, &event.event_id)
        .await
        .unwrap()
    {
        assert!(Instant::now() < deadline, "first delivery never finished");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let notifications = Notifications::new(&app.state.config.notify);
    dispatcher::deliver(&app.state, &notifications, &event)
        .await
        .unwrap();
    notifications.handle(&app.state, &event).await.unwrap();
    assert!(
        mail::was_queued(&app.db, &event.event_id, "booking_confirmation")
            .await
            .unwrap()
    );
    assert_eq!(smtp.mails_to("ana@example.com").len(), 1);
    assert_eq!(
        smtp.mails.lock().unwrap().len(),
        1,
        "nobody else was mailed"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paid_booking_mails_its_customer_once_sqlite() {
    paid_booking_mails_its_customer_once(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paid_booking_mails_its_customer_once_postgres() {
    paid_booking_mails_its_customer_once(Engine::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paid_booking_mails_its_customer_over_starttls_sqlite() {
    paid_booking_mails_its_customer_once_over(Engine::Sqlite, Protection::StartTls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paid_booking_mails_its_customer_over_starttls_postgres() {
    paid_booking_mails_its_customer_once_over(Engine::Postgres, Protection::StartTls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paid_booking_mails_its_customer_over_implicit_tls_sqlite() {
    paid_booking_mails_its_customer_once_over(Engine::Sqlite, Protection::Implicit).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paid_booking_mails_its_customer_over_implicit_tls_postgres() {
    paid_booking_mails_its_customer_once_over(Engine::Postgres, Protection::Implicit).await;
}

#[test]
fn smtp_urls_say_how_the_connection_is_protected() {
    use marquee::integration::notify::{SmtpSecurity, smtp_security};
    assert_eq!(
        smtp_security("smtps://mail.example:465"),
        Ok(SmtpSecurity::Implicit)
    );
    assert_eq!(
        smtp_security("smtp://user:pw@mail.example:587?tls=required"),
        Ok(SmtpSecurity::StartTls)
    );
    assert_eq!(
        smtp_security("smtp://127.0.0.1:25"),
        Ok(SmtpSecurity::Plain)
    );
    for bad in [
        "smtp://mail.example?tls=maybe",
        "smtps://mail.example?tls=required",
        "http://x",
        "smtp://",
    ] {
        assert!(smtp_security(bad).is_err(), "{bad}");
    }
    // The password never appears in a refusal.
    let refused = smtp_security("smtp://user:hunter2@mail.example?tls=maybe").unwrap_err();
    assert!(!refused.contains("hunter2"), "{refused}");
}

// ---------------------------------------------------------------------------------------
// The mail outbox: retries with backoff, nothing lost, a last attempt.

/// A loopback port nothing listens on (bound, then let go), for an SMTP server that is down.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// How the outbox holds one kind of message: (status, attempts, last_error, sent_at), and
/// how many rows of that kind there are.
async fn outbox_row(
    app: &TestApp,
    kind: &str,
) -> (Option<(String, i64, Option<String>, Option<i64>)>, usize) {
    let rows: Vec<(String, i64, Option<String>, Option<i64>)> = app
        .db
        .fetch_all(
            "SELECT status, attempts, last_error, sent_at FROM notifications WHERE kind = $1",
            marquee::params![kind],
        )
        .await
        .unwrap();
    let count = rows.len();
    (rows.into_iter().next(), count)
}

/// Waits (bounded) until the confirmation's row is in `status` after `attempts` attempts.
async fn wait_for_attempts(app: &TestApp, status: &str, attempts: i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (row, _) = outbox_row(app, "booking_confirmation").await;
        if let Some((s, a, _, _)) = &row
            && s == status
            && *a == attempts
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "waiting for {status} after {attempts} attempts: {row:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// SMTP pointed at `port`, the sender looking every 20 ms, retries from 1 s to 60 s.
fn mail_to_port(config: &mut marquee::config::Config, port: u16, max_attempts: u32) {
    config.notify.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
    config.notify.poll_interval_ms = 20;
    config.notify.retry_base_ms = 1_000;
    config.notify.retry_max_ms = 60_000;
    config.notify.max_attempts = max_attempts;
    config.notify.partner_booking_emails = false;
    config.events.dispatch_interval_ms = 20;
}

async fn an_smtp_outage_delays_mail_but_loses_none(engine: Engine) {
    let port = closed_port().await;
    let Some(app) = TestApp::spawn_with(engine, move |config| mail_to_port(config, port, 10)).await
    else {
        return;
    };
    let f = fixtures::load(&app).await;
    let ana = customer(&app, "ana@example.com").await;
    let booking = crate::booking::confirmed(&app, &ana, &f.noon, &["A1", "A2"]).await;
    let id = id_of(&booking);

    // The consumer queued the message; the first attempt failed (nobody listens) and the
    // next waits for the backoff: the clock stands still, so nothing more happens.
    wait_for_attempts(&app, "queued", 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (row, count) = outbox_row(&app, "booking_confirmation").await;
    let (status, attempts, error, sent_at) = row.unwrap();
    assert_eq!((status.as_str(), attempts, count), ("queued", 1, 1));
    assert!(
        error.is_some_and(|e| !e.is_empty()),
        "the failure is recorded"
    );
    assert_eq!(sent_at, None);
    // The dispatcher's work is done: the event is not what is retried.
    let confirmation = outbox::all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.event_type == "booking.confirmed" && e.aggregate_id == id)
        .unwrap();
    assert!(
        outbox::was_processed(&app.db, notify::CONSUMER, &confirmation.event_id)
            .await
            .unwrap()
    );

    // Past each backoff (never more than 60 s), one more attempt.
    for attempts in [2, 3] {
        app.clock.advance(chrono::Duration::seconds(60));
        wait_for_attempts(&app, "queued", attempts).await;
    }
    assert_eq!(outbox_row(&app, "booking_confirmation").await.1, 1);

    // The server comes back on that port; past the backoff, the message goes, once.
    let smtp = SmtpSink::start_on(port, SinkTls::None).await;
    app.clock.advance(chrono::Duration::seconds(60));
    let mails = smtp.wait_for("ana@example.com", 1).await;
    wait_for_attempts(&app, "sent", 4).await;
    let (row, count) = outbox_row(&app, "booking_confirmation").await;
    let (_, _, error, sent_at) = row.unwrap();
    assert_eq!(count, 1);
    assert_eq!(error, None);
    assert_eq!(sent_at, Some(app.clock.now().as_millis()));
    let ticket: serde_json::Value = send(
        &app,
        Method::GET,
        &format!("/api/v1/bookings/{id}/ticket"),
        Some(&ana),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let code = ticket["code"].as_str().unwrap();
    assert!(
        mails[0]
            .data
            .contains(&format!("Subject: Your tickets: booking {id}"))
    );
    let text = part(&mails[0].data, "text/plain");
    assert!(
        text.lines().any(|line| line == code),
        "code {code} in {text}"
    );

    // Sent is sent: later rounds, even past a lease, send nothing more.
    app.clock.advance(chrono::Duration::minutes(5));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.mails.lock().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_outage_delays_mail_but_loses_none_sqlite() {
    an_smtp_outage_delays_mail_but_loses_none(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_outage_delays_mail_but_loses_none_postgres() {
    an_smtp_outage_delays_mail_but_loses_none(Engine::Postgres).await;
}

async fn mail_is_given_up_after_its_last_attempt(engine: Engine) {
    let port = closed_port().await;
    let Some(app) = TestApp::spawn_with(engine, move |config| mail_to_port(config, port, 3)).await
    else {
        return;
    };
    let f = fixtures::load(&app).await;
    let ana = customer(&app, "ana@example.com").await;
    crate::booking::confirmed(&app, &ana, &f.noon, &["A1"]).await;
    wait_for_attempts(&app, "queued", 1).await;
    app.clock.advance(chrono::Duration::seconds(60));
    wait_for_attempts(&app, "queued", 2).await;
    app.clock.advance(chrono::Duration::seconds(60));
    wait_for_attempts(&app, "failed", 3).await;
    // Failed is final: however long after, no fourth attempt.
    app.clock.advance(chrono::Duration::hours(2));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (row, count) = outbox_row(&app, "booking_confirmation").await;
    let (status, attempts, error, sent_at) = row.unwrap();
    assert_eq!(
        (status.as_str(), attempts, count, sent_at),
        ("failed", 3, 1, None)
    );
    assert!(error.is_some_and(|e| !e.is_empty()));
    let metrics = app.get("/metrics").await.text().await.unwrap();
    let failed: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("marquee_mail_failed_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0);
    assert!(failed >= 1.0, "{metrics}");
    // The support timeline shows what became of it.
    let booking_id: String = app
        .db
        .fetch_one("SELECT id FROM bookings", marquee::params![])
        .await
        .unwrap();
    let admin = crate::offers::admin(&app).await;
    let timeline: serde_json::Value = send(
        &app,
        Method::GET,
        &format!("/api/v1/admin/bookings/{booking_id}/timeline"),
        Some(&admin),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let message = timeline
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["source"] == "notification")
        .unwrap();
    assert_eq!(message["detail"]["status"], "failed");
    assert_eq!(message["detail"]["attempts"], 3);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_is_given_up_after_its_last_attempt_sqlite() {
    mail_is_given_up_after_its_last_attempt(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_is_given_up_after_its_last_attempt_postgres() {
    mail_is_given_up_after_its_last_attempt(Engine::Postgres).await;
}

// ---------------------------------------------------------------------------------------
// Localized mail.

/// Decodes quoted-printable (soft line breaks, `=XX` bytes) as UTF-8.
fn quoted_printable(text: &str) -> String {
    let joined = text.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && let Some(hex) = joined.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The decoded body of the part of `content_type` in a received multipart message (lines
/// joined with `\n`).
fn part(data: &str, content_type: &str) -> String {
    let start = data.find("boundary=\"").expect("a multipart message") + "boundary=\"".len();
    let boundary = &data[start..start + data[start..].find('"').unwrap()];
    for section in data.split(&format!("--{boundary}")).skip(1) {
        let Some((headers, body)) = section.trim_start_matches('\n').split_once("\n\n") else {
            continue;
        };
        if !headers.contains(&format!("Content-Type: {content_type}")) {
            continue;
        }
        let body = body.trim_end_matches('\n');
        return if headers.contains("Content-Transfer-Encoding: quoted-printable") {
            quoted_printable(body)
        } else {
            body.to_owned()
        };
    }
    panic!("no {content_type} part in {data}");
}

async fn customers_are_mailed_in_their_language_as_text_and_html(engine: Engine) {
    let smtp = SmtpSink::start().await;
    let url = smtp.url();
    let Some(app) = TestApp::spawn_with(engine, move |config| {
        config.notify.smtp_url = Some(url);
        config.notify.poll_interval_ms = 20;
        config.notify.partner_booking_emails = false;
        config.events.dispatch_interval_ms = 20;
    })
    .await
    else {
        return;
    };
    let f = fixtures::load(&app).await;
    let registered = send(
        &app,
        Method::POST,
        "/api/v1/auth/register",
        None,
        Some(serde_json::json!({
            "email": "amelie@example.com", "password": crate::booking::PASSWORD,
            "display_name": "Amélie", "locale": "fr",
        })),
    )
    .await;
    assert_eq!(registered.status(), 201);
    let registered: serde_json::Value = registered.json().await.unwrap();
    assert_eq!(registered["locale"], "fr");
    let amelie = crate::booking::login(&app, "amelie@example.com").await;
    let ana = customer(&app, "ana@example.com").await;
    let french = id_of(&crate::booking::confirmed(&app, &amelie, &f.noon, &["A1"]).await);
    let english = id_of(&crate::booking::confirmed(&app, &ana, &f.noon, &["A2"]).await);

    let code_of = |token: String, id: String| {
        let app = &app;
        async move {
            let ticket: serde_json::Value = send(
                app,
                Method::GET,
                &format!("/api/v1/bookings/{id}/ticket"),
                Some(&token),
                None,
            )
            .await
            .json()
            .await
            .unwrap();
            ticket["code"].as_str().unwrap().to_owned()
        }
    };

    let mails = smtp.wait_for("amelie@example.com", 1).await;
    assert_eq!(mails.len(), 1);
    let data = &mails[0].data;
    assert!(
        data.contains("Content-Type: multipart/alternative"),
        "{data}"
    );
    let text = part(data, "text/plain");
    let html = part(data, "text/html");
    let code = code_of(amelie.clone(), french.clone()).await;
    assert!(
        text.starts_with(&format!("Votre réservation {french} est confirmée.\n")),
        "{text}"
    );
    assert!(text.contains("Places: A1\n"), "{text}");
    assert!(text.contains("Total payé: "), "{text}");
    assert!(
        text.lines().any(|line| line == code),
        "code {code} on one line: {text}"
    );
    assert!(html.contains("<html lang=\"fr\">"), "{html}");
    assert!(
        html.contains(&format!(
            "<title>Vos billets : réservation {french}</title>"
        )),
        "{html}"
    );
    assert!(html.contains(&code), "{html}");

    let mails = smtp.wait_for("ana@example.com", 1).await;
    assert_eq!(mails.len(), 1);
    let data = &mails[0].data;
    assert!(data.contains(&format!("Subject: Your tickets: booking {english}")));
    let text = part(data, "text/plain");
    let html = part(data, "text/html");
    let code = code_of(ana.clone(), english.clone()).await;
    assert!(
        text.starts_with(&format!("Your booking {english} is confirmed.\n")),
        "{text}"
    );
    assert!(text.contains("Seats: A2\n"), "{text}");
    assert!(
        text.lines().any(|line| line == code),
        "code {code} on one line: {text}"
    );
    assert!(html.contains("<html lang=\"en\">"), "{html}");
    assert!(html.contains(&format!("<p>Your booking {english} is confirmed.</p>")));
    assert_eq!(
        smtp.mails.lock().unwrap().len(),
        2,
        "nobody else was mailed"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_are_mailed_in_their_language_as_text_and_html_sqlite() {
    customers_are_mailed_in_their_language_as_text_and_html(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_are_mailed_in_their_language_as_text_and_html_postgres() {
    customers_are_mailed_in_their_language_as_text_and_html(Engine::Postgres).await;
}

db_test!(
    an_account_chooses_a_supported_language_for_its_mail,
    |app| {
        use crate::helpers::assert_problem;
        // An unsupported language at registration is refused, and no account is made.
        let refused = send(
            app,
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(serde_json::json!({
                "email": "lea@example.com", "password": crate::booking::PASSWORD,
                "display_name": "Léa", "locale": "tlh",
            })),
        )
        .await;
        assert_problem(refused, 422, "unsupported-locale").await;
        let lea = customer(app, "lea@example.com").await;
        let me = send(app, Method::GET, "/api/v1/me", Some(&lea), None).await;
        let me: serde_json::Value = me.json().await.unwrap();
        assert_eq!(me["locale"], "en", "English unless chosen");

        let patch = |body: serde_json::Value| {
            send(app, Method::PATCH, "/api/v1/me", Some(&lea), Some(body))
        };
        let changed = patch(serde_json::json!({"locale": "FR"})).await;
        assert_eq!(changed.status(), 200);
        let changed: serde_json::Value = changed.json().await.unwrap();
        assert_eq!(changed["locale"], "fr");
        assert_eq!(changed["email"], "lea@example.com");
        for unsupported in ["de", "fr-CA", "", "english"] {
            let refused = patch(serde_json::json!({"locale": unsupported})).await;
            assert_problem(refused, 422, "unsupported-locale").await;
        }
        // Nothing else is changed this way, and the language stays as it was.
        let refused = patch(serde_json::json!({"email": "x@example.com"})).await;
        assert_eq!(refused.status(), 400);
        let me: serde_json::Value = send(app, Method::GET, "/api/v1/me", Some(&lea), None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(me["locale"], "fr");
        let anonymous = send(
            app,
            Method::PATCH,
            "/api/v1/me",
            None,
            Some(serde_json::json!({"locale": "en"})),
        )
        .await;
        assert_eq!(anonymous.status(), 401);
    }
);
