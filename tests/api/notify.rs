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
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
};

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
}

/// A minimal SMTP server on loopback that accepts every message and keeps it.
pub struct SmtpSink {
    pub port: u16,
    pub mails: Arc<Mutex<Vec<Mail>>>,
    task: tokio::task::JoinHandle<()>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let captured = mails.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(session(socket, captured.clone()));
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

/// Writes one reply line (or several, already joined by CRLF); false once the peer is gone.
async fn reply(write: &mut tokio::net::tcp::OwnedWriteHalf, text: &str) -> bool {
    write
        .write_all(format!("{text}\r\n").as_bytes())
        .await
        .is_ok()
}

/// One SMTP session: greeting, EHLO/HELO, MAIL, RCPT, DATA … ".", RSET, NOOP, QUIT.
async fn session(socket: TcpStream, mails: Arc<Mutex<Vec<Mail>>>) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    if !reply(&mut write, "220 sink.test ESMTP").await {
        return;
    }
    let (mut from, mut to) = (String::new(), Vec::new());
    while let Ok(Some(line)) = lines.next_line().await {
        let verb = line.get(..4).unwrap_or(&line).to_ascii_uppercase();
        let answer = match verb.as_str() {
            "EHLO" => "250-sink.test\r\n250 8BITMIME".to_owned(),
            "HELO" => "250 sink.test".to_owned(),
            "MAIL" => {
                from = angle_address(&line);
                to.clear();
                "250 OK".to_owned()
            }
            "RCPT" => {
                to.push(angle_address(&line));
                "250 OK".to_owned()
            }
            "DATA" => {
                if !reply(&mut write, "354 end with .").await {
                    return;
                }
                let mut data = Vec::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    if line == "." {
                        break;
                    }
                    let line = line.strip_prefix('.').map_or(line.clone(), str::to_owned);
                    data.push(line);
                }
                mails.lock().unwrap().push(Mail {
                    from: from.clone(),
                    to: std::mem::take(&mut to),
                    data: data.join("\n"),
                });
                "250 queued".to_owned()
            }
            "RSET" | "NOOP" => "250 OK".to_owned(),
            "QUIT" => {
                let _ = reply(&mut write, "221 bye").await;
                return;
            }
            _ => "502 not implemented".to_owned(),
        };
        if !reply(&mut write, &answer).await {
            return;
        }
    }
}

async fn paid_booking_mails_its_customer_once(engine: Engine) {
    let smtp = SmtpSink::start().await;
    let smtp_url = smtp.url();
    let Some(app) = TestApp::spawn_with(engine, move |config| {
        config.notify.smtp_url = Some(smtp_url);
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
