//! Customer notifications: the `notifications` consumer turns booking and payment events
//! into messages to the customer (by email over SMTP, or to a file or the log where no
//! mail server is configured). Each message is recorded in `notifications` under
//! (event, kind) as it is sent, and a recorded message is never sent again, so a
//! redelivered event (a lease takeover, a JetStream redelivery, a consumer retried after
//! a later consumer failed) does not mail the customer twice.

use std::{future::Future, path::PathBuf, pin::Pin, time::Duration};

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{
        Body, Mailbox,
        header::{ContentTransferEncoding, ContentType},
    },
    transport::smtp::authentication::Credentials,
};
use tokio::io::AsyncWriteExt;

use super::{
    dispatcher::Consumer,
    events::{Envelope, Event},
    relay::redacted,
};
use crate::{
    app::AppState,
    booking::{
        model::{BookingRow, BookingStatus},
        store::get_booking,
        tickets::TicketClaims,
    },
    config::NotifyConfig,
    db::Db,
    identity::store::user_by_id,
    ids::NotificationId,
    params,
    time::Timestamp,
};

/// The consumer's name, the key of what it has processed.
pub const CONSUMER: &str = "notifications";

/// How long one SMTP exchange may take before the event is retried.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// A message to one customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// What it is about; one message per (event, kind).
    pub kind: &'static str,
    pub subject: String,
    pub body: String,
}

/// The message telling a partner its webhook endpoint was disabled. Pure.
pub fn endpoint_disabled(url: &str, failing_since: i64) -> Notice {
    Notice {
        kind: "webhook_endpoint_disabled",
        subject: "Your webhook endpoint was disabled".to_owned(),
        body: format!(
            "Marquee stopped sending webhooks to {url}: every delivery to it has failed since \
             {}.\r\n\r\nEvents for it are kept. Fix the endpoint, then enable it again \
             (POST /api/v1/partner/webhook-endpoints/{{id}}/enable) and the waiting \
             deliveries are sent in order. The delivery log shows what the endpoint \
             answered.\r\n",
            at(failing_since)
        ),
    }
}

/// An amount in minor units, e.g. `INR 315.00`.
fn amount(minor: i64, currency: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let minor = minor.unsigned_abs();
    format!("{currency} {sign}{}.{:02}", minor / 100, minor % 100)
}

fn at(millis: i64) -> String {
    Timestamp::from_millis(millis).to_rfc3339()
}

/// The booking an event is about, for the events customers are told of; `None` for the
/// rest.
fn notified_booking(event: &Event) -> Option<&str> {
    match event {
        Event::BookingConfirmed { booking_id, .. }
        | Event::BookingCancelled { booking_id, .. }
        | Event::PaymentFailed { booking_id, .. }
        | Event::WaitlistOffered { booking_id, .. }
        | Event::PaymentRefunded { booking_id, .. }
        | Event::BookingRefunded { booking_id, .. }
        | Event::TicketResent { booking_id } => Some(booking_id),
        _ => None,
    }
}

/// The kind of message an event makes, matching `notified_booking`.
fn kind_of(event: &Event) -> Option<&'static str> {
    Some(match event {
        Event::BookingConfirmed { .. } => "booking_confirmation",
        // The staff's refund that ends a booking says so in its own message.
        Event::BookingCancelled { by, .. } if by == "admin" => return None,
        Event::BookingCancelled { .. } => "booking_cancellation",
        Event::BookingRefunded { .. } => "refund_started",
        Event::TicketResent { .. } => "ticket_resent",
        Event::PaymentFailed { .. } => "payment_failed",
        Event::WaitlistOffered { .. } => "waitlist_offer",
        Event::PaymentRefunded { .. } => "refund_sent",
        _ => return None,
    })
}

/// The message for `event` about `booking`; `ticket_code` is the code of a confirmed
/// booking. `None` for events customers are not told of.
pub fn compose(event: &Event, booking: &BookingRow, ticket_code: &str) -> Option<Notice> {
    let kind = kind_of(event)?;
    let id = &booking.id;
    let seats = booking.seat_labels().join(", ");
    let starts = at(booking.starts_at);
    let (subject, body) = match event {
        Event::TicketResent { .. } => (
            format!("Your tickets again: booking {id}"),
            format!(
                "As asked, here are your tickets for booking {id} again.\r\n\r\nSeats: \
                 {seats}\r\nShow starts: {starts}\r\n\r\nTicket code (show it at the \
                 entrance):\r\n{ticket_code}\r\n"
            ),
        ),
        Event::BookingRefunded {
            amount: minor,
            currency,
            seats: released,
            reason,
            ..
        } => {
            let what = if released.is_empty() {
                "Your seats are unchanged.".to_owned()
            } else if booking.status() == BookingStatus::Cancelled {
                "Your booking is cancelled.".to_owned()
            } else {
                format!(
                    "Seats {} are no longer part of it; your ticket is for seats {seats}.",
                    released.join(", ")
                )
            };
            (
                format!("Refund for booking {id}"),
                format!(
                    "We are refunding {} for booking {id} to your payment method ({reason}).\r\n\r\n\
                     {what}\r\n",
                    amount(*minor, currency)
                ),
            )
        }
        Event::BookingConfirmed { .. } => (
            format!("Your tickets: booking {id}"),
            format!(
                "Your booking {id} is confirmed.\r\n\r\nSeats: {seats}\r\nShow starts: \
                 {starts}\r\nTotal paid: {}\r\n\r\nTicket code (show it at the entrance):\r\n\
                 {ticket_code}\r\n",
                amount(booking.total, &booking.currency)
            ),
        ),
        Event::BookingCancelled { by, refund, .. } => {
            let why = if by == "partner" {
                "The show was cancelled by the cinema, so your booking"
            } else {
                "Your booking"
            };
            let refund = match refund {
                Some(minor) if *minor > 0 => format!(
                    "A refund of {} is on its way to your payment method.",
                    amount(*minor, &booking.currency)
                ),
                _ => "No payment was taken, so there is nothing to refund.".to_owned(),
            };
            (
                format!("Booking {id} cancelled"),
                format!(
                    "{why} {id} (seats {seats}, show at {starts}) is cancelled.\r\n\r\n{refund}\r\n"
                ),
            )
        }
        Event::PaymentFailed { reason, .. } => (
            format!("Payment failed for booking {id}"),
            format!(
                "Your payment for booking {id} did not go through ({reason}).\r\n\r\nYour seats \
                 {seats} are held until {}. Pay again before then to keep them.\r\n",
                at(booking.expires_at)
            ),
        ),
        Event::WaitlistOffered {
            seats, expires_at, ..
        } => (
            format!("Seats held for you: booking {id}"),
            format!(
                "Good news: seats {} for the show at {starts} came free and are held for you \
                 from the waitlist as booking {id}.\r\n\r\nPay for them before {} to keep \
                 them.\r\n",
                seats.join(", "),
                at(*expires_at)
            ),
        ),
        Event::PaymentRefunded {
            amount: minor,
            currency,
            ..
        } => (
            format!("Refund sent for booking {id}"),
            format!(
                "We have sent a refund of {} for booking {id} to your payment method.\r\n",
                amount(*minor, currency)
            ),
        ),
        _ => return None,
    };
    Some(Notice {
        kind,
        subject,
        body,
    })
}

/// The notice telling a partner's members of a booking of one of its shows or of its
/// cancellation: booking id, show, seats and amounts, nothing about the customer. `None`
/// for other events, and for the cancellations of a show the partner cancelled itself
/// (one message per booking would only repeat what it did). Pure.
pub fn partner_notice(event: &Event, booking: &BookingRow) -> Option<Notice> {
    let id = &booking.id;
    let show = &booking.show_id;
    let seats = booking.seat_labels().join(", ");
    let starts = at(booking.starts_at);
    let (kind, subject, body) = match event {
        Event::BookingConfirmed { .. } => (
            "partner_booking_confirmed",
            format!("New booking {id} for show {show}"),
            format!(
                "Booking {id} is confirmed.\r\n\r\nShow: {show} (starts {starts})\r\nSeats: \
                 {seats}\r\nPaid: {} (of which fees {})\r\n",
                amount(booking.total, &booking.currency),
                amount(booking.fee_total, &booking.currency)
            ),
        ),
        Event::BookingCancelled { by, refund, .. } if by != "partner" => {
            let who = if by == "admin" {
                "by the platform's support"
            } else {
                "by the customer"
            };
            let refund = match refund {
                Some(minor) if *minor > 0 => {
                    format!("Refunded: {}", amount(*minor, &booking.currency))
                }
                _ => "Refunded: see the booking's refunds".to_owned(),
            };
            (
                "partner_booking_cancelled",
                format!("Booking {id} for show {show} cancelled"),
                format!(
                    "Booking {id} was cancelled {who}; its seats are for sale again.\r\n\r\n\
                     Show: {show} (starts {starts})\r\nSeats: {seats}\r\n{refund}\r\n"
                ),
            )
        }
        _ => return None,
    };
    Some(Notice {
        kind,
        subject,
        body,
    })
}

/// Where messages go.
enum Sink {
    Smtp {
        /// Boxed: with its TLS settings it is far larger than the other sinks.
        transport: Box<AsyncSmtpTransport<Tokio1Executor>>,
        from: Mailbox,
    },
    /// JSON lines appended to a file.
    File(PathBuf),
    /// An info line per message (without its body, which may hold a ticket code).
    Log,
    /// Misconfigured: every message fails (and is retried) until the configuration is
    /// fixed, rather than being dropped.
    Broken(String),
}

impl Sink {
    fn name(&self) -> &'static str {
        match self {
            Sink::Smtp { .. } => "smtp",
            Sink::File(_) => "file",
            Sink::Log => "log",
            Sink::Broken(_) => "broken",
        }
    }
}

/// Longest line SMTP carries unencoded (RFC 5322: 998 characters and CRLF).
const MAX_LINE: usize = 998;

/// The body as-is when it is 7-bit text with lines SMTP carries (so the ticket code stays
/// one line a reader can copy; lettre would fold lines past 76 characters with
/// quoted-printable), else encoded by lettre.
fn plain_body(text: &str) -> Body {
    let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
    if crlf.is_ascii()
        && !crlf.contains('\0')
        && crlf
            .split("\r\n")
            .all(|line| line.len() <= MAX_LINE && !line.contains('\r'))
    {
        Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::SevenBit)
    } else {
        Body::new(text.to_owned())
    }
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

/// The `notifications` consumer.
pub struct Notifications {
    sink: Sink,
    /// `notify.partner_booking_emails`.
    partner_booking_emails: bool,
}

impl Notifications {
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
            tracing::error!(%error, "notifications cannot be sent");
        }
        Self {
            sink,
            partner_booking_emails: config.partner_booking_emails,
        }
    }

    async fn handle_event(&self, app: &AppState, envelope: &Envelope) -> anyhow::Result<()> {
        let Some(event) = envelope.event() else {
            return Ok(());
        };
        if let Event::WebhookEndpointDisabled {
            org_id,
            url,
            failing_since,
            ..
        } = &event
        {
            let notice = endpoint_disabled(url, *failing_since);
            return self.tell_partner(app, envelope, org_id, notice).await;
        }
        if self.partner_booking_emails
            && matches!(
                event,
                Event::BookingConfirmed { .. } | Event::BookingCancelled { .. }
            )
        {
            self.tell_partner_of_booking(app, envelope, &event).await?;
        }
        let (Some(booking_id), Some(kind)) = (notified_booking(&event), kind_of(&event)) else {
            return Ok(());
        };
        if was_sent(&app.db, &envelope.event_id, kind).await? {
            return Ok(());
        }
        let Some(booking) = get_booking(&app.db, booking_id).await? else {
            // Nothing to say and no one to say it to; retrying would not change that.
            tracing::warn!(booking_id, event_id = %envelope.event_id, "notification for an unknown booking skipped");
            return Ok(());
        };
        let Some(customer) = user_by_id(&app.db, &booking.customer_id).await? else {
            tracing::warn!(
                booking_id,
                "notification for a booking without a customer skipped"
            );
            return Ok(());
        };
        if crate::identity::privacy::is_erased_address(&customer.email) {
            // The customer erased their account: nobody to write to.
            return Ok(());
        }
        let ticket_code = app.tickets.issue(&TicketClaims {
            b: booking.id.clone(),
            s: booking.show_id.clone(),
            seats: booking.seat_labels(),
        });
        let Some(notice) = compose(&event, &booking, &ticket_code) else {
            return Ok(());
        };
        let Ok(recipient) = customer.email.parse::<Mailbox>() else {
            // No retry can deliver to it; holding up the events behind it would not help.
            tracing::warn!(
                kind = notice.kind,
                booking_id,
                "notification to a malformed address skipped"
            );
            return Ok(());
        };
        // Claim the message before sending it: of two deliveries of one event (a lease
        // takeover mid-event), only the claimant sends. A failed send gives the claim up so
        // the retry sends; a crash mid-send loses that one message (the ticket is still in
        // the app) rather than risk mailing it twice.
        let now = app.clock.now().as_millis();
        let sink = self.sink.name();
        if !claim(
            &app.db,
            &envelope.event_id,
            &notice,
            &customer.email,
            sink,
            now,
        )
        .await?
        {
            return Ok(());
        }
        if let Err(error) = self
            .send(vec![recipient], &customer.email, &notice, envelope)
            .await
        {
            release(&app.db, &envelope.event_id, notice.kind).await?;
            return Err(error);
        }
        metrics::counter!("marquee_notifications_sent_total", "kind" => notice.kind).increment(1);
        Ok(())
    }

    /// Mails the members of the organisation whose show a booking is of that it was
    /// confirmed or cancelled.
    async fn tell_partner_of_booking(
        &self,
        app: &AppState,
        envelope: &Envelope,
        event: &Event,
    ) -> anyhow::Result<()> {
        let Some(booking_id) = notified_booking(event) else {
            return Ok(());
        };
        let Some(booking) = get_booking(&app.db, booking_id).await? else {
            return Ok(());
        };
        let Some(notice) = partner_notice(event, &booking) else {
            return Ok(());
        };
        let org_id = booking.org_id.clone();
        self.tell_partner(app, envelope, &org_id, notice).await
    }

    /// Mails `notice` to the organisation's active members, once per event.
    async fn tell_partner(
        &self,
        app: &AppState,
        envelope: &Envelope,
        org_id: &str,
        notice: Notice,
    ) -> anyhow::Result<()> {
        if was_sent(&app.db, &envelope.event_id, notice.kind).await? {
            return Ok(());
        }
        let emails: Vec<String> = app
            .db
            .fetch_all(
                "SELECT u.email FROM partner_members m JOIN users u ON u.id = m.user_id \
                 WHERE m.org_id = $1 AND u.status = 'active' ORDER BY u.email",
                params![org_id],
            )
            .await?;
        let recipients: Vec<Mailbox> = emails.iter().filter_map(|e| e.parse().ok()).collect();
        if recipients.is_empty() {
            tracing::warn!(org_id, kind = notice.kind, "no one to tell the partner");
            return Ok(());
        }
        let to = emails.join(", ");
        let now = app.clock.now().as_millis();
        let sink = self.sink.name();
        if !claim(&app.db, &envelope.event_id, &notice, &to, sink, now).await? {
            return Ok(());
        }
        if let Err(error) = self.send(recipients, &to, &notice, envelope).await {
            release(&app.db, &envelope.event_id, notice.kind).await?;
            return Err(error);
        }
        metrics::counter!("marquee_notifications_sent_total", "kind" => notice.kind).increment(1);
        Ok(())
    }

    /// Sends `notice` to `recipients` (`to` is their addresses, for the file and log
    /// sinks).
    async fn send(
        &self,
        recipients: Vec<Mailbox>,
        to: &str,
        notice: &Notice,
        envelope: &Envelope,
    ) -> anyhow::Result<()> {
        match &self.sink {
            Sink::Smtp { transport, from } => {
                let body = plain_body(&notice.body);
                let mut message = Message::builder().from(from.clone());
                for recipient in recipients {
                    message = message.to(recipient);
                }
                let message = message
                    .subject(&notice.subject)
                    .header(ContentType::TEXT_PLAIN)
                    .body(body)?;
                transport.send(message).await?;
            }
            Sink::File(path) => {
                let mut line = serde_json::to_string(&serde_json::json!({
                    "event_id": envelope.event_id,
                    "kind": notice.kind,
                    "to": to,
                    "subject": notice.subject,
                    "body": notice.body,
                }))?;
                line.push('\n');
                let mut file = tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .await?;
                // One write per line, so concurrent writers never interleave inside a line.
                file.write_all(line.as_bytes()).await?;
                file.flush().await?;
            }
            Sink::Log => {
                tracing::info!(
                    kind = notice.kind,
                    to,
                    subject = %notice.subject,
                    event_id = %envelope.event_id,
                    "notification"
                );
            }
            Sink::Broken(error) => anyhow::bail!("notifications are misconfigured: {error}"),
        }
        Ok(())
    }
}

impl Consumer for Notifications {
    fn name(&self) -> &'static str {
        CONSUMER
    }

    fn handle<'a>(
        &'a self,
        app: &'a AppState,
        event: &'a Envelope,
    ) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>> {
        Box::pin(self.handle_event(app, event))
    }
}

/// Whether the message of `kind` for `event_id` was already sent.
pub async fn was_sent(db: &Db, event_id: &str, kind: &str) -> sqlx::Result<bool> {
    let found: Option<String> = db
        .fetch_optional(
            "SELECT id FROM notifications WHERE event_id = $1 AND kind = $2",
            params![event_id, kind],
        )
        .await?;
    Ok(found.is_some())
}

/// Records the message of `notice.kind` for `event_id` as sent; false if it already was
/// (or is being sent). A unit of work: on SQLite it joins the committer's group commit.
async fn claim(
    db: &Db,
    event_id: &str,
    notice: &Notice,
    recipient: &str,
    sink: &str,
    now: i64,
) -> sqlx::Result<bool> {
    const SQL: &str = "INSERT INTO notifications \
         (id, event_id, kind, recipient, subject, sink, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id, kind) DO NOTHING";
    let row = [
        NotificationId::generate().to_string(),
        event_id.to_owned(),
        notice.kind.to_owned(),
        recipient.to_owned(),
        notice.subject.clone(),
        sink.to_owned(),
    ];
    let inserted = db
        .write(move |tx| {
            let [id, event, kind, recipient, subject, sink] = &row;
            tx.execute(SQL, params![id, event, kind, recipient, subject, sink, now])
        })
        .await?;
    Ok(inserted == 1)
}

/// Gives up the claim of a message that could not be sent, so a retry sends it.
async fn release(db: &Db, event_id: &str, kind: &str) -> sqlx::Result<()> {
    let (event_id, kind) = (event_id.to_owned(), kind.to_owned());
    db.write(move |tx| {
        tx.execute(
            "DELETE FROM notifications WHERE event_id = $1 AND kind = $2",
            params![&event_id, &kind],
        )
    })
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn booking() -> BookingRow {
        BookingRow {
            id: "bkg_1".into(),
            customer_id: "usr_1".into(),
            show_id: "shw_1".into(),
            group_id: None,
            status: "confirmed".into(),
            seats: r#"["A1","A2"]"#.into(),
            currency: "INR".into(),
            total: 31_500,
            fee_total: 1_500,
            quote: "{}".into(),
            refund: None,
            expires_at: 1_795_239_300_000,
            created_at: 0,
            updated_at: 0,
            confirmed_at: None,
            cancelled_at: None,
            starts_at: 1_795_250_000_000,
            org_id: "org_1".into(),
        }
    }

    #[test]
    fn a_confirmation_carries_the_booking_and_its_ticket_code() {
        let event = Event::BookingConfirmed {
            booking_id: "bkg_1".into(),
            show_id: "shw_1".into(),
            payment_id: "pay_1".into(),
            seats: vec!["A1".into(), "A2".into()],
        };
        let notice = compose(&event, &booking(), "MQ1.code.sig").unwrap();
        assert_eq!(notice.kind, "booking_confirmation");
        assert!(notice.subject.contains("bkg_1"));
        assert!(notice.body.contains("MQ1.code.sig"));
        assert!(notice.body.contains("A1, A2"));
        assert!(notice.body.contains("INR 315.00"));
    }

    #[test]
    fn a_partner_cancellation_says_the_show_was_cancelled_and_what_is_refunded() {
        let event = Event::BookingCancelled {
            booking_id: "bkg_1".into(),
            show_id: "shw_1".into(),
            by: "partner".into(),
            refund: Some(31_500),
        };
        let notice = compose(&event, &booking(), "code").unwrap();
        assert!(
            notice.body.contains("show was cancelled"),
            "{}",
            notice.body
        );
        assert!(notice.body.contains("INR 315.00"));
        assert!(!notice.body.contains("code"));
    }

    #[test]
    fn events_customers_are_not_told_of_make_no_message() {
        let event = Event::ShowChanged {
            show_id: "shw_1".into(),
        };
        assert_eq!(compose(&event, &booking(), "code"), None);
        assert_eq!(notified_booking(&event), None);
    }

    #[test]
    fn partners_are_told_of_bookings_and_cancellations_without_the_customer() {
        let confirmed = Event::BookingConfirmed {
            booking_id: "bkg_1".into(),
            show_id: "shw_1".into(),
            payment_id: "pay_1".into(),
            seats: vec![],
        };
        let notice = partner_notice(&confirmed, &booking()).unwrap();
        assert_eq!(notice.kind, "partner_booking_confirmed");
        assert!(notice.subject.contains("bkg_1") && notice.subject.contains("shw_1"));
        assert!(notice.body.contains("A1, A2"), "{}", notice.body);
        assert!(notice.body.contains("INR 315.00"), "{}", notice.body);
        assert!(!notice.body.contains("usr_1"));
        let by_customer = Event::BookingCancelled {
            booking_id: "bkg_1".into(),
            show_id: "shw_1".into(),
            by: "customer".into(),
            refund: Some(30_000),
        };
        let notice = partner_notice(&by_customer, &booking()).unwrap();
        assert_eq!(notice.kind, "partner_booking_cancelled");
        assert!(notice.body.contains("INR 300.00"), "{}", notice.body);
        let show_cancelled = Event::BookingCancelled {
            booking_id: "bkg_1".into(),
            show_id: "shw_1".into(),
            by: "partner".into(),
            refund: Some(31_500),
        };
        assert_eq!(partner_notice(&show_cancelled, &booking()), None);
    }

    #[test]
    fn amounts_show_major_and_minor_units() {
        assert_eq!(amount(5, "INR"), "INR 0.05");
        assert_eq!(amount(123_456, "EUR"), "EUR 1234.56");
    }
}
