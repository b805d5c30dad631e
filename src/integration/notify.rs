//! Customer notifications: the `notifications` consumer turns booking and payment events
//! into messages to the customer, in the account's language (`integration::templates`),
//! and partner notices. It only composes: each message is queued in the mail outbox
//! (`integration::mail`) under (event, kind) in one unit of work, and a queued message is
//! never queued again, so a redelivered event (a lease takeover, a JetStream redelivery, a
//! consumer retried after a later consumer failed) does not mail anyone twice. The mail
//! outbox's sender delivers it (SMTP, a file or the log), retrying while the server is down.

use std::{future::Future, pin::Pin};

use chrono_tz::Tz;
use lettre::message::Mailbox;

use super::{
    dispatcher::Consumer,
    events::{Envelope, Event},
    mail::{self, Outgoing},
    templates::{self, BookingFacts, Message},
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
    identity::{model::Locale, store::user_by_id},
    params,
    time::Timestamp,
};

pub use super::mail::{SmtpSecurity, smtp_security};

/// The consumer's name, the key of what it has processed.
pub const CONSUMER: &str = "notifications";

/// A message to one customer (or a partner's members).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// What it is about; one message per (event, kind).
    pub kind: &'static str,
    pub subject: String,
    /// Plain text.
    pub body: String,
    /// The same as HTML; empty for plain-text notices (partners').
    pub html: String,
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
        html: String::new(),
    }
}

/// An amount in minor units, e.g. `INR 315.00` (partner notices are in English).
fn amount(minor: i64, currency: &str) -> String {
    templates::amount(minor, currency, Locale::En)
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
        // Reminders and show changes (issue 17).
        Event::BookingHoldExpiring { booking_id, .. }
        | Event::BookingShowRescheduled { booking_id, .. }
        | Event::BookingShowRepriced { booking_id, .. } => Some(booking_id),
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
        // Reminders and show changes (issue 17).
        Event::BookingHoldExpiring { .. } => "hold_expiring",
        Event::BookingShowRescheduled { .. } => "show_rescheduled",
        Event::BookingShowRepriced { .. } => "show_repriced",
        _ => return None,
    })
}

/// The show a booking is of, as its customer's messages name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShowContext {
    /// The movie's title, in the message's language where the catalog has it.
    pub movie: Option<String>,
    pub theatre: Option<String>,
    /// The theatre's timezone: times in messages are shown in it.
    pub timezone: Tz,
}

impl Default for ShowContext {
    fn default() -> Self {
        Self {
            movie: None,
            theatre: None,
            timezone: Tz::UTC,
        }
    }
}

/// Reads the movie, theatre and timezone of a show; the default for an unknown show.
async fn show_context(db: &Db, show_id: &str, locale: Locale) -> sqlx::Result<ShowContext> {
    let row: Option<(String, String, String)> = db
        .fetch_optional(
            "SELECT COALESCE(ml.title, m.title), t.name, c.timezone FROM shows s \
             JOIN movies m ON m.id = s.movie_id \
             JOIN theatres t ON t.id = s.theatre_id \
             JOIN cities c ON c.id = s.city_id \
             LEFT JOIN movie_localizations ml ON ml.movie_id = m.id AND ml.locale = $2 \
             WHERE s.id = $1",
            params![show_id, locale.as_str()],
        )
        .await?;
    Ok(
        row.map_or_else(ShowContext::default, |(movie, theatre, timezone)| {
            ShowContext {
                movie: Some(movie),
                theatre: Some(theatre),
                timezone: crate::time::parse_tz(&timezone),
            }
        }),
    )
}

/// The message for `event` about `booking` (of the show `show`), in `locale`;
/// `ticket_code` is the code of a confirmed booking. `None` for events customers are not
/// told of, and for reminders and show changes once the booking is no longer live (paid
/// before the reminder was read, cancelled, lapsed): nothing is left to act on. Pure.
pub fn compose(
    event: &Event,
    booking: &BookingRow,
    show: &ShowContext,
    ticket_code: &str,
    locale: Locale,
) -> Option<Notice> {
    let kind = kind_of(event)?;
    let status = booking.status();
    let held = status == BookingStatus::PendingPayment;
    let live = held || status == BookingStatus::Confirmed;
    let message = match event {
        Event::BookingConfirmed { .. } => Message::Confirmation { ticket_code },
        Event::TicketResent { .. } => Message::TicketResent { ticket_code },
        Event::BookingCancelled { by, refund, .. } => Message::Cancellation {
            by_partner: by == "partner",
            refund: *refund,
        },
        Event::PaymentFailed { reason, .. } => Message::PaymentFailed { reason },
        Event::WaitlistOffered {
            seats, expires_at, ..
        } => Message::WaitlistOffer {
            seats,
            expires_at: *expires_at,
        },
        Event::PaymentRefunded {
            amount, currency, ..
        } => Message::RefundSent {
            amount: *amount,
            currency,
        },
        Event::BookingRefunded {
            amount,
            currency,
            seats,
            reason,
            ..
        } => Message::RefundStarted {
            amount: *amount,
            currency,
            released: seats,
            cancelled: status == BookingStatus::Cancelled,
            reason,
        },
        Event::BookingHoldExpiring { expires_at, .. } if held => Message::HoldExpiring {
            expires_at: *expires_at,
        },
        Event::BookingShowRescheduled { from, to, .. } if live => Message::ShowRescheduled {
            from: *from,
            to: *to,
            held,
        },
        Event::BookingShowRepriced { .. } if live => Message::ShowRepriced { held },
        _ => return None,
    };
    let facts = BookingFacts {
        id: booking.id.clone(),
        seats: booking.seat_labels(),
        starts_at: booking.starts_at,
        expires_at: booking.expires_at,
        total: booking.total,
        currency: booking.currency.clone(),
        movie: show.movie.clone(),
        theatre: show.theatre.clone(),
        timezone: show.timezone,
    };
    let mail = templates::render(&message, &facts, locale);
    Some(Notice {
        kind,
        subject: mail.subject,
        body: mail.text,
        html: mail.html,
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
        html: String::new(),
    })
}

/// The `notifications` consumer.
pub struct Notifications {
    /// The sink this node's configuration sends through, recorded with each message.
    sink: &'static str,
    /// `notify.partner_booking_emails`.
    partner_booking_emails: bool,
}

impl Notifications {
    pub fn new(config: &NotifyConfig) -> Self {
        Self {
            sink: mail::sink_name(config),
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
        if mail::was_queued(&app.db, &envelope.event_id, kind).await? {
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
        if customer.email.parse::<Mailbox>().is_err() {
            // No retry can deliver to it; holding up the events behind it would not help.
            tracing::warn!(
                kind,
                booking_id,
                "notification to a malformed address skipped"
            );
            return Ok(());
        }
        let locale = Locale::from_stored(&customer.locale);
        let show = show_context(&app.db, &booking.show_id, locale).await?;
        let ticket_code = app.tickets.issue(&TicketClaims {
            b: booking.id.clone(),
            s: booking.show_id.clone(),
            seats: booking.seat_labels(),
        });
        let Some(notice) = compose(&event, &booking, &show, &ticket_code, locale) else {
            return Ok(());
        };
        self.queue(app, envelope, notice, vec![customer.email], locale)
            .await
    }

    /// Queues `notice` to `recipients` in the mail outbox (once per event and kind).
    async fn queue(
        &self,
        app: &AppState,
        envelope: &Envelope,
        notice: Notice,
        recipients: Vec<String>,
        locale: Locale,
    ) -> anyhow::Result<()> {
        let outgoing = Outgoing {
            kind: notice.kind.to_owned(),
            event_id: envelope.event_id.clone(),
            recipients,
            subject: notice.subject,
            text: notice.body,
            html: notice.html,
            locale: locale.as_str().to_owned(),
        };
        let (sink, now) = (self.sink, app.clock.now().as_millis());
        app.db
            .write(move |tx| mail::queue(tx, &outgoing, sink, now))
            .await?;
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
        if mail::was_queued(&app.db, &envelope.event_id, notice.kind).await? {
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
        let recipients: Vec<String> = emails
            .into_iter()
            .filter(|e| e.parse::<Mailbox>().is_ok())
            .collect();
        if recipients.is_empty() {
            tracing::warn!(org_id, kind = notice.kind, "no one to tell the partner");
            return Ok(());
        }
        self.queue(app, envelope, notice, recipients, Locale::En)
            .await
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

    fn english(event: &Event, booking: &BookingRow, code: &str) -> Option<Notice> {
        compose(event, booking, &ShowContext::default(), code, Locale::En)
    }

    #[test]
    fn a_french_customer_is_written_to_in_french_with_the_theatres_time() {
        let event = Event::BookingConfirmed {
            booking_id: "bkg_1".into(),
            show_id: "shw_1".into(),
            payment_id: "pay_1".into(),
            seats: vec![],
        };
        let show = ShowContext {
            movie: Some("Dune : deuxième partie".into()),
            theatre: Some("Regal".into()),
            timezone: chrono_tz::Asia::Kolkata,
        };
        let notice = compose(&event, &booking(), &show, "MQ1.code.sig", Locale::Fr).unwrap();
        assert_eq!(notice.kind, "booking_confirmation");
        assert_eq!(notice.subject, "Vos billets : réservation bkg_1");
        assert!(
            notice.body.contains("Film: Dune : deuxième partie\r\n"),
            "{}",
            notice.body
        );
        assert!(
            notice.body.contains("Total payé: 315,00 INR\r\n"),
            "{}",
            notice.body
        );
        // 1_795_250_000_000 ms is 2026-11-21 08:33:20 UTC, 14:03 in Kolkata.
        assert!(
            notice.body.contains("samedi 21 novembre 2026 à 14:03 IST"),
            "{}",
            notice.body
        );
        assert!(notice.html.contains("<html lang=\"fr\">"));
        assert!(notice.html.contains("MQ1.code.sig"));
    }

    #[test]
    fn reminders_and_show_changes_are_only_for_live_bookings() {
        let mut held = booking();
        held.status = "pending_payment".into();
        let mut cancelled = booking();
        cancelled.status = "cancelled".into();
        let expiring = Event::BookingHoldExpiring {
            booking_id: "bkg_1".into(),
            show_id: "shw_1".into(),
            expires_at: held.expires_at,
        };
        let moved = Event::BookingShowRescheduled {
            booking_id: "bkg_1".into(),
            show_id: "shw_1".into(),
            from: held.starts_at,
            to: held.starts_at + 3_600_000,
        };
        let repriced = Event::BookingShowRepriced {
            booking_id: "bkg_1".into(),
            show_id: "shw_1".into(),
        };
        let reminder = english(&expiring, &held, "code").unwrap();
        assert_eq!(reminder.kind, "hold_expiring");
        assert!(reminder.body.contains("INR 315.00"), "{}", reminder.body);
        assert_eq!(
            english(&expiring, &booking(), "code"),
            None,
            "paid meanwhile"
        );
        let notice = english(&moved, &booking(), "code").unwrap();
        assert_eq!(notice.kind, "show_rescheduled");
        assert!(notice.body.contains("full refund"), "{}", notice.body);
        let notice = english(&repriced, &held, "code").unwrap();
        assert_eq!(notice.kind, "show_repriced");
        assert!(
            notice.body.contains("price you were quoted: INR 315.00"),
            "{}",
            notice.body
        );
        for event in [&expiring, &moved, &repriced] {
            assert_eq!(english(event, &cancelled, "code"), None, "{event:?}");
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
        let notice = english(&event, &booking(), "MQ1.code.sig").unwrap();
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
        let notice = english(&event, &booking(), "code").unwrap();
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
        assert_eq!(english(&event, &booking(), "code"), None);
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
