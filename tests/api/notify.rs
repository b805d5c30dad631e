//! Customer notifications by email, received by a real SMTP listener on loopback (a small
//! server speaking the protocol over TCP, capturing what it is sent): a paid booking mails
//! its customer the booking id and ticket code, and a redelivered event mails nothing.

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
    fixtures,
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
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
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
        notify::was_sent(&app.db, &event.event_id, "booking_confirmation")
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
