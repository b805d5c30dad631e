//! The mail outbox. The `notifications` consumer composes each message and stores it in
//! `notifications` (status `queued`) in one unit of work, once per (event, kind); the
//! sender below, on every node, claims due messages with a lease, hands them to the sink
//! (SMTP, a JSON-lines file or the log) and records the outcome: `sent`, or the next attempt
//! after an exponential backoff, or `failed` after `notify.max_attempts`. A mail server that
//! is down, or a node that dies mid-send, delays mail but loses none.
//!
//! Delivery is at least once: a node that dies after the server accepted a message but
//! before recording it leaves the claim to lapse, and the message is sent again.

use std::{future::Future, path::PathBuf, time::Duration};

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{
        Body, Mailbox, MultiPart, SinglePart,
        header::{ContentTransferEncoding, ContentType},
    },
    transport::smtp::authentication::Credentials,
};
use rand::Rng;
use tokio::io::AsyncWriteExt;

use super::relay::redacted;
use crate::{
    app::AppState,
    config::NotifyConfig,
    db::{Db, Sql, Tx},
    db_row,
    ids::NotificationId,
    params,
};

/// How long one SMTP command may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one whole attempt (connect, TLS, every command) may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a claim lasts: longer than an attempt can take, so it never lapses mid-send on
/// a live node.
const LEASE_MS: i64 = 60_000;

/// Messages one node claims (and sends concurrently) at a time.
const BATCH: i64 = 8;

/// How much of a failure's message is kept.
const ERROR_CHARS: usize = 500;

/// A composed message, ready to be queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// What it is about; one message per (event, kind).
    pub kind: String,
    pub event_id: String,
    /// The addresses it goes to.
    pub recipients: Vec<String>,
    pub subject: String,
    pub text: String,
    /// Empty: a plain-text message.
    pub html: String,
    /// The language it is written in (`en`, `fr`).
    pub locale: String,
}

/// The name of the sink `config` sends through: `smtp`, `file` or `log`.
pub fn sink_name(config: &NotifyConfig) -> &'static str {
    match (&config.smtp_url, &config.file) {
        (Some(_), _) => "smtp",
        (None, Some(_)) => "file",
        (None, None) => "log",
    }
}

/// Queues `mail` in the unit of work, due at once; false if a message of its kind was
/// already queued for its event (a redelivered event).
pub fn queue(tx: &mut Tx<'_>, mail: &Outgoing, sink: &str, now: i64) -> sqlx::Result<bool> {
    const SQL: &str = "INSERT INTO notifications (id, event_id, kind, recipient, recipients, \
         subject, sink, created_at, status, locale, text_body, html_body, attempts, \
         next_attempt_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', $9, $10, $11, 0, $8, $8) \
         ON CONFLICT (event_id, kind) DO NOTHING";
    let id = NotificationId::generate().to_string();
    let recipients = serde_json::to_string(&mail.recipients).unwrap_or_else(|_| "[]".into());
    let inserted = tx.execute(
        SQL,
        params![
            &id,
            &mail.event_id,
            &mail.kind,
            &mail.recipients.join(", "),
            &recipients,
            &mail.subject,
            sink,
            now,
            &mail.locale,
            &mail.text,
            &mail.html
        ],
    )?;
    Ok(inserted == 1)
}

/// Whether a message of `kind` for `event_id` was queued (whatever became of it since).
pub async fn was_queued(db: &Db, event_id: &str, kind: &str) -> sqlx::Result<bool> {
    let found: Option<String> = db
        .fetch_optional(
            "SELECT id FROM notifications WHERE event_id = $1 AND kind = $2",
            params![event_id, kind],
        )
        .await?;
    Ok(found.is_some())
}

/// The wait before the next attempt after `attempts` failed ones: `base_ms` doubled for
/// each failure after the first, times `jitter` (clamped to 0.8..=1.2, to spread the
/// retries of many messages apart), never more than `max_ms`. Pure.
pub fn retry_delay_ms(attempts: u32, base_ms: u64, max_ms: u64, jitter: f64) -> i64 {
    let doublings = attempts.saturating_sub(1);
    let factor = 1u64.checked_shl(doublings).unwrap_or(u64::MAX);
    let delay = base_ms.saturating_mul(factor) as f64 * jitter.clamp(0.8, 1.2);
    let delay = (delay as u64).clamp(1, max_ms.max(1));
    i64::try_from(delay).unwrap_or(i64::MAX / 2)
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Sent,
    /// Worth trying again later (server down, timeout, a 4xx answer).
    Transient(String),
    /// Sending again would not help (a 5xx answer, no valid recipient).
    Permanent(String),
}

/// What the outcome of an attempt does to the message. Pure.
fn next_state(
    outcome: &Outcome,
    attempts: i64,
    max_attempts: u32,
    delay_ms: i64,
    now: i64,
) -> (&'static str, i64) {
    match outcome {
        Outcome::Sent => ("sent", now),
        Outcome::Permanent(_) => ("failed", now),
        Outcome::Transient(_) if attempts >= i64::from(max_attempts) => ("failed", now),
        Outcome::Transient(_) => ("queued", now.saturating_add(delay_ms)),
    }
}

// ---------------------------------------------------------------------------------------
// Sinks.

/// Where messages go.
pub enum Sink {
    Smtp {
        /// Boxed: with its TLS settings it is far larger than the other sinks.
        transport: Box<AsyncSmtpTransport<Tokio1Executor>>,
        from: Mailbox,
    },
    /// JSON lines appended to a file.
    File(PathBuf),
    /// An info line per message (without its bodies, which may hold a ticket code).
    Log,
    /// Misconfigured: every attempt fails (and is retried) until the configuration is
    /// fixed, rather than messages being dropped.
    Broken(String),
}

impl Sink {
    pub fn new(config: &NotifyConfig) -> Self {
        let sink = match (&config.smtp_url, &config.file) {
            (Some(_), _) => match (smtp_transport(config), config.from.parse::<Mailbox>()) {
                (Ok(transport), Ok(from)) => Sink::Smtp {
                    transport: Box::new(transport),
                    from,
                },
                (Err(error), _) => Sink::Broken(error),
                (_, Err(error)) => Sink::Broken(format!("notify.from: {error}")),
            },
            (None, Some(path)) => Sink::File(path.clone()),
            (None, None) => Sink::Log,
        };
        if let Sink::Broken(error) = &sink {
            tracing::error!(%error, "mail cannot be sent");
        }
        sink
    }

    fn name(&self) -> &'static str {
        match self {
            Sink::Smtp { .. } => "smtp",
            Sink::File(_) => "file",
            Sink::Log => "log",
            Sink::Broken(_) => "broken",
        }
    }

    /// Sends one claimed message.
    async fn send(&self, mail: &Claimed, recipients: &[Mailbox]) -> Outcome {
        match self {
            Sink::Smtp { transport, from } => {
                let message = match smtp_message(from, recipients, mail) {
                    Ok(message) => message,
                    Err(error) => return Outcome::Permanent(format!("composing: {error}")),
                };
                match tokio::time::timeout(ATTEMPT_TIMEOUT, transport.send(message)).await {
                    Ok(Ok(_)) => Outcome::Sent,
                    Ok(Err(error)) if error.is_permanent() => {
                        Outcome::Permanent(format!("{error}"))
                    }
                    Ok(Err(error)) => Outcome::Transient(format!("{error}")),
                    Err(_) => Outcome::Transient("timed out".into()),
                }
            }
            Sink::File(path) => match append_line(path, mail).await {
                Ok(()) => Outcome::Sent,
                Err(error) => Outcome::Transient(format!("{}: {error}", path.display())),
            },
            Sink::Log => {
                tracing::info!(
                    kind = mail.kind,
                    to = mail.recipient,
                    subject = %mail.subject,
                    event_id = %mail.event_id,
                    "notification"
                );
                Outcome::Sent
            }
            Sink::Broken(error) => {
                Outcome::Transient(format!("notifications are misconfigured: {error}"))
            }
        }
    }
}

/// Appends the message as one JSON line (both bodies), in one write so concurrent
/// writers never interleave inside a line.
async fn append_line(path: &PathBuf, mail: &Claimed) -> anyhow::Result<()> {
    let mut line = serde_json::to_string(&serde_json::json!({
        "event_id": mail.event_id,
        "kind": mail.kind,
        "to": mail.recipient,
        "locale": mail.locale,
        "subject": mail.subject,
        "body": mail.text_body,
        "html": mail.html_body,
    }))?;
    line.push('\n');
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await?;
    file.write_all(line.as_bytes()).await?;
    file.flush().await?;
    Ok(())
}

/// Longest line SMTP carries unencoded (RFC 5322: 998 characters and CRLF).
const MAX_LINE: usize = 998;

/// A body as-is when it is 7-bit text with lines SMTP carries (so the ticket code stays one
/// line even in the raw message; quoted-printable would fold lines past 76 characters),
/// else quoted-printable (text in French; the code is whole again once decoded).
fn mime_body(text: &str) -> Body {
    let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
    if crlf.is_ascii()
        && !crlf.contains('\0')
        && crlf
            .split("\r\n")
            .all(|line| line.len() <= MAX_LINE && !line.contains('\r'))
    {
        Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::SevenBit)
    } else {
        Body::new_with_encoding(crlf, ContentTransferEncoding::QuotedPrintable)
            .unwrap_or_else(Body::new)
    }
}

/// The message lettre sends: plain text, or text and HTML as multipart/alternative.
fn smtp_message(
    from: &Mailbox,
    recipients: &[Mailbox],
    mail: &Claimed,
) -> Result<Message, lettre::error::Error> {
    let mut builder = Message::builder().from(from.clone());
    for recipient in recipients {
        builder = builder.to(recipient.clone());
    }
    let builder = builder.subject(&mail.subject);
    if mail.html_body.is_empty() {
        return builder
            .header(ContentType::TEXT_PLAIN)
            .body(mime_body(&mail.text_body));
    }
    builder.multipart(
        MultiPart::alternative()
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(mime_body(&mail.text_body)),
            )
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(mime_body(&mail.html_body)),
            ),
    )
}

/// How an SMTP URL asks the connection to be protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtps://`: TLS from the first byte (port 465 by default).
    Implicit,
    /// `smtp://…?tls=required`: STARTTLS, and no message is sent without it (587).
    StartTls,
    /// `smtp://`: plain, for a relay on the same host or network (25).
    Plain,
}

/// Reads an SMTP URL's protection (and checks the URL): for `Config::validate` too.
pub fn smtp_security(url: &str) -> Result<SmtpSecurity, String> {
    let shown = redacted(url);
    let parsed = url::Url::parse(url).map_err(|e| format!("notify.smtp_url {shown}: {e}"))?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("notify.smtp_url {shown} has no host"));
    }
    let tls = parsed
        .query_pairs()
        .find(|(key, _)| key == "tls")
        .map(|(_, value)| value.into_owned());
    match (parsed.scheme(), tls.as_deref()) {
        ("smtps", None) => Ok(SmtpSecurity::Implicit),
        ("smtp", Some("required")) => Ok(SmtpSecurity::StartTls),
        ("smtp", None) => Ok(SmtpSecurity::Plain),
        _ => Err(format!(
            "notify.smtp_url {shown}: use smtps://host (TLS), smtp://host?tls=required \
             (STARTTLS) or smtp://host (plain, to a local relay)"
        )),
    }
}

/// The transport for `notify.smtp_url`, trusting the public roots and `smtp_ca_path`.
fn smtp_transport(config: &NotifyConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    let url = config.smtp_url.as_deref().unwrap_or_default();
    let shown = redacted(url);
    let security = smtp_security(url)?;
    let parsed = url::Url::parse(url).map_err(|e| format!("notify.smtp_url {shown}: {e}"))?;
    let host = parsed.host_str().unwrap_or_default().to_owned();
    let tls = || -> Result<TlsParameters, String> {
        let mut builder = TlsParameters::builder(host.clone());
        if let Some(path) = &config.smtp_ca_path {
            let pem = std::fs::read(path)
                .map_err(|e| format!("notify.smtp_ca_path {}: {e}", path.display()))?;
            let ca = Certificate::from_pem(&pem)
                .map_err(|e| format!("notify.smtp_ca_path {}: {e}", path.display()))?;
            builder = builder.add_root_certificate(ca);
        }
        builder
            .build_rustls()
            .map_err(|e| format!("notify.smtp_url {shown}: {e}"))
    };
    let (port, tls) = match security {
        SmtpSecurity::Implicit => (465, Tls::Wrapper(tls()?)),
        SmtpSecurity::StartTls => (587, Tls::Required(tls()?)),
        SmtpSecurity::Plain => (25, Tls::None),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host)
        .port(parsed.port().unwrap_or(port))
        .tls(tls);
    if !parsed.username().is_empty() {
        builder = builder.credentials(Credentials::new(
            parsed.username().to_owned(),
            parsed.password().unwrap_or_default().to_owned(),
        ));
    }
    Ok(builder.timeout(Some(SMTP_TIMEOUT)).build())
}

// ---------------------------------------------------------------------------------------
// The sender.

db_row! {
    /// A message this node claimed.
    struct Claimed {
        id: String,
        event_id: String,
        kind: String,
        recipient: String,
        recipients: String,
        subject: String,
        locale: String,
        text_body: String,
        html_body: String,
        attempts: i64,
    }
}

/// Takes up to `limit` due messages: queued ones whose next attempt is due, and ones whose
/// sender's lease lapsed (it died mid-send). Each attempt counts when it is claimed. On
/// PostgreSQL a message another node is claiming is skipped (`SKIP LOCKED`); SQLite has
/// one writer.
fn claim(tx: &mut Tx<'_>, now: i64, lease_until: i64, limit: i64) -> sqlx::Result<Vec<Claimed>> {
    const CLAIM: Sql = Sql {
        sqlite: "UPDATE notifications SET status = 'sending', attempts = attempts + 1, \
                   lease_until = $2, next_attempt_at = $2, updated_at = $1 \
                 WHERE id IN (SELECT id FROM notifications \
                   WHERE status IN ('queued', 'sending') AND next_attempt_at <= $1 \
                   ORDER BY next_attempt_at, id LIMIT $3) \
                 RETURNING id, event_id, kind, recipient, recipients, subject, locale, \
                   text_body, html_body, attempts",
        postgres: "WITH due AS ( \
                     SELECT id FROM notifications \
                     WHERE status IN ('queued', 'sending') AND next_attempt_at <= $1 \
                     ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
                   UPDATE notifications n SET status = 'sending', attempts = n.attempts + 1, \
                     lease_until = $2, next_attempt_at = $2, updated_at = $1 \
                   FROM due WHERE n.id = due.id \
                   RETURNING n.id, n.event_id, n.kind, n.recipient, n.recipients, n.subject, \
                     n.locale, n.text_body, n.html_body, n.attempts",
    };
    tx.fetch_all(CLAIM, params![now, lease_until, limit])
}

/// The recipients a claimed message can go to; an erased customer's address (or none)
/// makes it undeliverable.
fn mailboxes(mail: &Claimed) -> Result<Vec<Mailbox>, String> {
    let addresses: Vec<String> = serde_json::from_str(&mail.recipients).unwrap_or_default();
    let mailboxes: Vec<Mailbox> = addresses
        .iter()
        .filter(|a| !crate::identity::privacy::is_erased_address(a))
        .filter_map(|a| a.parse().ok())
        .collect();
    if mailboxes.is_empty() {
        Err("no deliverable recipient".into())
    } else {
        Ok(mailboxes)
    }
}

/// One attempt at a claimed message, and its outcome recorded.
async fn attempt(app: &AppState, sink: &Sink, mail: Claimed) -> sqlx::Result<()> {
    let config = &app.config.notify;
    let outcome = if mail.attempts > i64::from(config.max_attempts) {
        // Its last attempt's sender died mid-send: that was the last one.
        Outcome::Permanent("gave up: the last attempt never finished".into())
    } else {
        match mailboxes(&mail) {
            Ok(recipients) => sink.send(&mail, &recipients).await,
            Err(error) => Outcome::Permanent(error),
        }
    };
    let now = app.clock.now().as_millis();
    let attempts = u32::try_from(mail.attempts).unwrap_or(u32::MAX);
    let jitter = rand::rng().random_range(0.8..=1.2);
    let delay = retry_delay_ms(attempts, config.retry_base_ms, config.retry_max_ms, jitter);
    let (status, next) = next_state(&outcome, mail.attempts, config.max_attempts, delay, now);
    let error = match &outcome {
        Outcome::Sent => None,
        Outcome::Transient(e) | Outcome::Permanent(e) => {
            Some(e.chars().take(ERROR_CHARS).collect::<String>())
        }
    };
    match (&outcome, status) {
        (Outcome::Sent, _) => {
            metrics::counter!("marquee_notifications_sent_total", "kind" => mail.kind.clone())
                .increment(1);
        }
        (_, "failed") => {
            tracing::warn!(
                kind = mail.kind,
                notification_id = mail.id,
                attempts = mail.attempts,
                error = error.as_deref().unwrap_or_default(),
                "mail given up"
            );
            metrics::counter!("marquee_mail_failed_total").increment(1);
        }
        _ => {
            tracing::info!(
                kind = mail.kind,
                notification_id = mail.id,
                attempts = mail.attempts,
                error = error.as_deref().unwrap_or_default(),
                retry_in_ms = next - now,
                "mail not sent; retried later"
            );
        }
    }
    let sink_name = sink.name();
    let unit = (mail.id, error);
    let attempts = mail.attempts;
    app.db
        .write(move |tx| {
            let (id, error) = &unit;
            if status == "sent" {
                // Whoever holds the claim now: the server accepted it.
                tx.execute(
                    "UPDATE notifications SET status = 'sent', sent_at = $2, lease_until = NULL, \
                     last_error = NULL, sink = $3, updated_at = $2 WHERE id = $1",
                    params![id, now, sink_name],
                )
            } else {
                // Only while this claim holds (not after erasure, or a takeover).
                tx.execute(
                    "UPDATE notifications SET status = $2, next_attempt_at = $3, \
                     lease_until = NULL, last_error = $4, updated_at = $5 \
                     WHERE id = $1 AND status = 'sending' AND attempts = $6",
                    params![id, status, next, error, now, attempts],
                )
            }
        })
        .await?;
    Ok(())
}

/// Claims due messages and sends them (concurrently); returns how many it claimed.
pub async fn send_due(app: &AppState, sink: &Sink) -> sqlx::Result<usize> {
    let now = app.clock.now().as_millis();
    let claimed = app
        .db
        .write(move |tx| claim(tx, now, now + LEASE_MS, BATCH))
        .await?;
    let count = claimed.len();
    let results =
        futures::future::join_all(claimed.into_iter().map(|mail| attempt(app, sink, mail))).await;
    for result in results {
        // The claim lapses and the message is tried again.
        result?;
    }
    Ok(count)
}

/// Sets `marquee_mail_queued`: messages waiting to be sent (queued or being sent).
/// Measured when metrics are scraped.
pub async fn record_queue(db: &Db) {
    let waiting: sqlx::Result<i64> = db
        .fetch_one(
            "SELECT COUNT(*) FROM notifications WHERE status IN ('queued', 'sending')",
            params![],
        )
        .await;
    match waiting {
        Ok(n) => metrics::gauge!("marquee_mail_queued").set(n as f64),
        Err(error) => tracing::warn!(%error, "cannot measure the mail queue"),
    }
}

/// Sends due mail (looking every `notify.poll_interval_ms`) until `shutdown` resolves.
/// Attempts in flight then are dropped unrecorded: their claims lapse and they are sent
/// again.
pub async fn run(app: AppState, shutdown: impl Future<Output = ()>) {
    let sink = Sink::new(&app.config.notify);
    let interval = Duration::from_millis(app.config.notify.poll_interval_ms.max(10));
    let work = async {
        loop {
            match send_due(&app, &sink).await {
                // A full batch: more may be due.
                Ok(n) if n as i64 >= BATCH => continue,
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "sending mail"),
            }
            tokio::time::sleep(interval).await;
        }
    };
    tokio::select! {
        () = work => {}
        () = shutdown => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_from_the_base_up_to_the_cap() {
        let delays: Vec<i64> = (1..=8)
            .map(|n| retry_delay_ms(n, 1_000, 30_000, 1.0))
            .collect();
        assert_eq!(
            delays,
            [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]
        );
        // Jitter spreads by a fifth either way and never passes the cap.
        assert_eq!(retry_delay_ms(1, 1_000, 30_000, 0.5), 800);
        assert_eq!(retry_delay_ms(2, 1_000, 30_000, 9.0), 2_400);
        assert_eq!(retry_delay_ms(5, 1_000, 30_000, 1.2), 19_200);
        assert_eq!(retry_delay_ms(6, 1_000, 30_000, 1.2), 30_000);
        // However many attempts, no overflow.
        assert_eq!(retry_delay_ms(u32::MAX, 10_000, 3_600_000, 1.0), 3_600_000);
        assert_eq!(retry_delay_ms(0, 10_000, 3_600_000, 1.0), 10_000);
    }

    #[test]
    fn a_message_is_retried_until_its_last_attempt_then_failed() {
        let down = Outcome::Transient("connection refused".into());
        assert_eq!(next_state(&down, 1, 3, 500, 1_000), ("queued", 1_500));
        assert_eq!(next_state(&down, 2, 3, 500, 1_000), ("queued", 1_500));
        assert_eq!(next_state(&down, 3, 3, 500, 1_000), ("failed", 1_000));
        let refused = Outcome::Permanent("550 no such user".into());
        assert_eq!(next_state(&refused, 1, 3, 500, 1_000), ("failed", 1_000));
        assert_eq!(
            next_state(&Outcome::Sent, 3, 3, 500, 1_000),
            ("sent", 1_000)
        );
    }

    fn claimed(html: &str, recipients: &str) -> Claimed {
        Claimed {
            id: "ntf_1".into(),
            event_id: "evt_1".into(),
            kind: "booking_confirmation".into(),
            recipient: "ana@example.com".into(),
            recipients: recipients.into(),
            subject: "Vos billets : réservation bkg_1".into(),
            locale: "fr".into(),
            text_body: "Votre réservation est confirmée.\r\n\r\nMQ1.code.sig\r\n".into(),
            html_body: html.into(),
            attempts: 1,
        }
    }

    #[test]
    fn a_message_with_html_is_multipart_alternative_with_both_bodies() {
        let from: Mailbox = "Marquee <tickets@marquee.test>".parse().unwrap();
        let to: Vec<Mailbox> = vec!["ana@example.com".parse().unwrap()];
        let mail = claimed("<p>Votre réservation</p>", r#"["ana@example.com"]"#);
        let raw = String::from_utf8(smtp_message(&from, &to, &mail).unwrap().formatted()).unwrap();
        assert!(raw.contains("Content-Type: multipart/alternative"), "{raw}");
        assert!(
            raw.contains("Content-Type: text/plain; charset=utf-8"),
            "{raw}"
        );
        assert!(
            raw.contains("Content-Type: text/html; charset=utf-8"),
            "{raw}"
        );
        assert!(
            raw.contains("Content-Transfer-Encoding: quoted-printable"),
            "{raw}"
        );
        let plain = smtp_message(&from, &to, &claimed("", "[]"))
            .unwrap()
            .formatted();
        let plain = String::from_utf8(plain).unwrap();
        assert!(!plain.contains("multipart"), "{plain}");
    }

    #[test]
    fn an_ascii_body_keeps_a_long_ticket_code_on_one_line() {
        let code = format!("MQ1.{}.sig", "x".repeat(200));
        let body = mime_body(&format!("Ticket code:\n{code}\n"));
        assert_eq!(body.encoding(), ContentTransferEncoding::SevenBit);
        assert!(
            String::from_utf8_lossy(body.as_ref())
                .split("\r\n")
                .any(|line| line == code)
        );
    }

    #[test]
    fn erased_or_malformed_recipients_make_a_message_undeliverable() {
        let erased = format!(r#"["usr_1@{}"]"#, crate::identity::privacy::ERASED_DOMAIN);
        assert!(mailboxes(&claimed("", &erased)).is_err());
        assert!(mailboxes(&claimed("", "[]")).is_err());
        assert!(mailboxes(&claimed("", r#"["not an address"]"#)).is_err());
        let two = mailboxes(&claimed("", r#"["a@example.com","b@example.com"]"#)).unwrap();
        assert_eq!(two.len(), 2);
    }
}
