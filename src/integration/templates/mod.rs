//! The words of customers' messages, in every language an account can choose (`en`, `fr`),
//! as plain text and as HTML. Pure: a message's facts and a locale in, a subject and two
//! bodies out. Both bodies are rendered from one list of blocks, so they always say the
//! same thing; in HTML every piece of text is escaped (there is no way to interpolate
//! markup). Times are shown in the theatre's timezone.

use chrono::{Datelike, Timelike};
use chrono_tz::Tz;

use crate::{identity::model::Locale, time::Timestamp};

mod en;
mod fr;

/// A message ready to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    /// Plain text, CRLF line ends; the ticket code alone on its line.
    pub text: String,
    /// A complete HTML document.
    pub html: String,
}

/// The booking a message is about, as its customer reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingFacts {
    pub id: String,
    pub seats: Vec<String>,
    pub starts_at: i64,
    pub expires_at: i64,
    pub total: i64,
    pub currency: String,
    /// The movie's title (in the message's language where the catalog has it).
    pub movie: Option<String>,
    pub theatre: Option<String>,
    /// The theatre's timezone: every time is shown in it.
    pub timezone: Tz,
}

/// What a message says beyond the booking; one variant per kind of customer message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    /// `booking_confirmation`.
    Confirmation { ticket_code: &'a str },
    /// `ticket_resent`.
    TicketResent { ticket_code: &'a str },
    /// `booking_cancellation`; `refund` in minor units of the booking's currency.
    Cancellation {
        by_partner: bool,
        refund: Option<i64>,
    },
    /// `payment_failed`; `reason` as the gateway gave it.
    PaymentFailed { reason: &'a str },
    /// `waitlist_offer`.
    WaitlistOffer {
        seats: &'a [String],
        expires_at: i64,
    },
    /// `refund_sent`.
    RefundSent { amount: i64, currency: &'a str },
    /// `refund_started`: the staff's refund; `released` the seats it gave back.
    RefundStarted {
        amount: i64,
        currency: &'a str,
        released: &'a [String],
        cancelled: bool,
        reason: &'a str,
    },
    /// `hold_expiring`: the unpaid hold lapses at `expires_at`.
    HoldExpiring { expires_at: i64 },
    /// `show_rescheduled`: the show moved from `from` to `to`; `held` while the booking
    /// is still unpaid (its hold lapses at the booking's `expires_at`).
    ShowRescheduled { from: i64, to: i64, held: bool },
    /// `show_repriced`: the show's prices changed; the booking keeps its own.
    ShowRepriced { held: bool },
}

/// A piece of a message.
enum Block {
    Paragraph(String),
    /// Labelled facts, one per line.
    Facts(Vec<(&'static str, String)>),
    /// The ticket code under its label, alone on its line.
    Code {
        label: &'static str,
        code: String,
    },
}

/// The labels of the facts about a booking.
struct Labels {
    movie: &'static str,
    cinema: &'static str,
    seats: &'static str,
    starts: &'static str,
    total: &'static str,
    code: &'static str,
}

const EN_DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const EN_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const FR_DAYS: [&str; 7] = [
    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
];
const FR_MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// An amount in minor units: `INR 315.00` in English, `315,00 INR` in French.
pub fn amount(minor: i64, currency: &str, locale: Locale) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let minor = minor.unsigned_abs();
    let (units, cents) = (minor / 100, minor % 100);
    match locale {
        Locale::En => format!("{currency} {sign}{units}.{cents:02}"),
        Locale::Fr => format!("{sign}{units},{cents:02} {currency}"),
    }
}

/// An instant as a customer reads it, in the theatre's timezone:
/// `Sunday 22 November 2026, 12:00 IST`, `dimanche 22 novembre 2026 à 12:00 IST`.
pub fn when(millis: i64, timezone: Tz, locale: Locale) -> String {
    let local = Timestamp::from_millis(millis)
        .to_utc()
        .with_timezone(&timezone);
    let weekday = local.weekday().num_days_from_monday() as usize;
    let month = local.month0() as usize;
    let (day, year) = (local.day(), local.year());
    let (hour, minute) = (local.hour(), local.minute());
    let zone = local.format("%Z");
    match locale {
        Locale::En => format!(
            "{} {day} {} {year}, {hour:02}:{minute:02} {zone}",
            EN_DAYS[weekday], EN_MONTHS[month]
        ),
        Locale::Fr => {
            let day = if day == 1 {
                "1er".to_owned()
            } else {
                day.to_string()
            };
            format!(
                "{} {day} {} {year} à {hour:02}:{minute:02} {zone}",
                FR_DAYS[weekday], FR_MONTHS[month]
            )
        }
    }
}

/// The time of day of an instant in the theatre's timezone: `11:55 IST`.
pub fn clock_time(millis: i64, timezone: Tz) -> String {
    let local = Timestamp::from_millis(millis)
        .to_utc()
        .with_timezone(&timezone);
    format!(
        "{:02}:{:02} {}",
        local.hour(),
        local.minute(),
        local.format("%Z")
    )
}

/// Escapes text for HTML (element content and attribute values).
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// Renders `message` about `booking` in `locale`.
pub fn render(message: &Message<'_>, booking: &BookingFacts, locale: Locale) -> Rendered {
    let (subject, blocks) = match locale {
        Locale::En => en::message(message, booking),
        Locale::Fr => fr::message(message, booking),
    };
    Rendered {
        text: text(&blocks),
        html: html(&subject, &blocks, locale),
        subject,
    }
}

/// The facts every message about a booking carries: movie, cinema, seats and start.
fn show_facts(
    booking: &BookingFacts,
    labels: &Labels,
    locale: Locale,
) -> Vec<(&'static str, String)> {
    let mut facts = Vec::new();
    if let Some(movie) = &booking.movie {
        facts.push((labels.movie, movie.clone()));
    }
    if let Some(theatre) = &booking.theatre {
        facts.push((labels.cinema, theatre.clone()));
    }
    facts.push((labels.seats, booking.seats.join(", ")));
    facts.push((
        labels.starts,
        when(booking.starts_at, booking.timezone, locale),
    ));
    facts
}

/// The plain-text body: blocks apart by a blank line, CRLF line ends.
fn text(blocks: &[Block]) -> String {
    let parts: Vec<String> = blocks
        .iter()
        .map(|block| match block {
            Block::Paragraph(text) => text.clone(),
            Block::Facts(facts) => facts
                .iter()
                .map(|(label, value)| format!("{label}: {value}"))
                .collect::<Vec<_>>()
                .join("\r\n"),
            Block::Code { label, code } => format!("{label}\r\n{code}"),
        })
        .collect();
    let mut body = parts.join("\r\n\r\n");
    body.push_str("\r\n");
    body
}

/// The HTML body: a small document with inline styles (mail clients drop style sheets).
fn html(subject: &str, blocks: &[Block], locale: Locale) -> String {
    let mut lines = vec![
        "<!DOCTYPE html>".to_owned(),
        format!("<html lang=\"{}\">", locale.as_str()),
        "<head><meta charset=\"utf-8\">".to_owned(),
        format!("<title>{}</title></head>", escape_html(subject)),
        "<body style=\"font-family: sans-serif; line-height: 1.5; color: #222\">".to_owned(),
    ];
    for block in blocks {
        match block {
            Block::Paragraph(text) => lines.push(format!("<p>{}</p>", escape_html(text))),
            Block::Facts(facts) => {
                lines.push(
                    "<table role=\"presentation\" style=\"border-collapse: collapse\">".into(),
                );
                for (label, value) in facts {
                    lines.push(format!(
                        "<tr><th align=\"left\" style=\"padding: 2px 16px 2px 0\">{}</th>\
                         <td>{}</td></tr>",
                        escape_html(label),
                        escape_html(value)
                    ));
                }
                lines.push("</table>".into());
            }
            Block::Code { label, code } => {
                lines.push(format!("<p>{}</p>", escape_html(label)));
                lines.push(format!(
                    "<p style=\"font-family: monospace; font-size: 1.1em; \
                     word-break: break-all\">{}</p>",
                    escape_html(code)
                ));
            }
        }
    }
    lines.push("</body>".into());
    lines.push("</html>".into());
    let mut document = lines.join("\r\n");
    document.push_str("\r\n");
    document
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-22 12:00 in Kolkata.
    const NOON_KOLKATA: i64 = 1_795_329_000_000;

    fn booking() -> BookingFacts {
        BookingFacts {
            id: "bkg_1".into(),
            seats: vec!["A1".into(), "A2".into()],
            starts_at: NOON_KOLKATA,
            expires_at: NOON_KOLKATA - 3 * 3_600_000,
            total: 31_500,
            currency: "INR".into(),
            movie: Some("Dune".into()),
            theatre: Some("Regal <Central> & \"Co\"".into()),
            timezone: chrono_tz::Asia::Kolkata,
        }
    }

    /// Every customer message, with every value a template can interpolate.
    fn every_message(seats: &[String]) -> Vec<Message<'_>> {
        vec![
            Message::Confirmation {
                ticket_code: "MQ1.code.sig",
            },
            Message::TicketResent {
                ticket_code: "MQ1.code.sig",
            },
            Message::Cancellation {
                by_partner: true,
                refund: Some(31_500),
            },
            Message::Cancellation {
                by_partner: false,
                refund: None,
            },
            Message::PaymentFailed {
                reason: "card <declined>",
            },
            Message::WaitlistOffer {
                seats,
                expires_at: NOON_KOLKATA - 3_600_000,
            },
            Message::RefundSent {
                amount: 31_500,
                currency: "INR",
            },
            Message::RefundStarted {
                amount: 15_000,
                currency: "INR",
                released: seats,
                cancelled: false,
                reason: "goodwill",
            },
            Message::HoldExpiring {
                expires_at: NOON_KOLKATA - 3_600_000,
            },
            Message::ShowRescheduled {
                from: NOON_KOLKATA,
                to: NOON_KOLKATA + 7_200_000,
                held: true,
            },
            Message::ShowRescheduled {
                from: NOON_KOLKATA,
                to: NOON_KOLKATA + 7_200_000,
                held: false,
            },
            Message::ShowRepriced { held: true },
            Message::ShowRepriced { held: false },
        ]
    }

    #[test]
    fn a_confirmation_reads_the_same_in_text_and_html_in_english() {
        let mail = render(
            &Message::Confirmation {
                ticket_code: "MQ1.code.sig",
            },
            &booking(),
            Locale::En,
        );
        assert_eq!(mail.subject, "Your tickets: booking bkg_1");
        assert_eq!(
            mail.text,
            "Your booking bkg_1 is confirmed.\r\n\r\n\
             Movie: Dune\r\n\
             Cinema: Regal <Central> & \"Co\"\r\n\
             Seats: A1, A2\r\n\
             Show starts: Sunday 22 November 2026, 12:00 IST\r\n\
             Total paid: INR 315.00\r\n\r\n\
             Ticket code (show it at the entrance):\r\n\
             MQ1.code.sig\r\n"
        );
        assert!(
            mail.html
                .starts_with("<!DOCTYPE html>\r\n<html lang=\"en\">")
        );
        assert!(
            mail.html
                .contains("<p>Your booking bkg_1 is confirmed.</p>")
        );
        assert!(mail.html.contains("<td>A1, A2</td>"));
        assert!(mail.html.contains("<td>INR 315.00</td>"));
        assert!(mail.html.contains(">MQ1.code.sig</p>"));
    }

    #[test]
    fn a_confirmation_is_in_french_for_a_french_account() {
        let mail = render(
            &Message::Confirmation {
                ticket_code: "MQ1.code.sig",
            },
            &booking(),
            Locale::Fr,
        );
        assert_eq!(mail.subject, "Vos billets : réservation bkg_1");
        assert!(
            mail.text
                .starts_with("Votre réservation bkg_1 est confirmée.\r\n")
        );
        assert!(mail.text.contains("Places: A1, A2\r\n"), "{}", mail.text);
        assert!(
            mail.text
                .contains("Début de la séance: dimanche 22 novembre 2026 à 12:00 IST\r\n"),
            "{}",
            mail.text
        );
        assert!(mail.text.contains("Total payé: 315,00 INR\r\n"));
        assert!(mail.text.ends_with("\r\nMQ1.code.sig\r\n"));
        assert!(mail.html.contains("<html lang=\"fr\">"));
        assert!(
            mail.html
                .contains("<p>Votre réservation bkg_1 est confirmée.</p>")
        );
    }

    #[test]
    fn every_message_exists_in_every_language_and_escapes_everything_in_html() {
        let seats = vec!["B1".to_owned()];
        for locale in Locale::ALL {
            for message in every_message(&seats) {
                let mail = render(&message, &booking(), locale);
                assert!(mail.subject.contains("bkg_1"), "{message:?} {locale:?}");
                assert!(mail.text.contains("bkg_1"), "{message:?} {locale:?}");
                assert!(mail.text.ends_with("\r\n"));
                assert!(!mail.text.contains("&lt;"), "text is not escaped");
                // Nothing interpolated reaches the HTML unescaped.
                for raw in ["<Central>", "\"Co\"", "<declined>", " & "] {
                    assert!(
                        !mail.html.contains(raw),
                        "{raw} unescaped in {message:?} {locale:?}: {}",
                        mail.html
                    );
                }
                assert_eq!(
                    mail.html.matches("<p").count(),
                    mail.html.matches("</p>").count()
                );
                // The English and French bodies differ.
                let other = render(&message, &booking(), Locale::ALL[1 - locale as usize]);
                assert_ne!(mail.text, other.text, "{message:?}");
            }
        }
        let html = render(&every_message(&seats)[0], &booking(), Locale::En).html;
        assert!(
            html.contains("Regal &lt;Central&gt; &amp; &quot;Co&quot;"),
            "{html}"
        );
    }

    #[test]
    fn the_ticket_code_stays_whole_on_its_own_line() {
        let code = format!("MQ1.{}.{}", "x".repeat(180), "y".repeat(43));
        for locale in Locale::ALL {
            let mail = render(
                &Message::TicketResent { ticket_code: &code },
                &booking(),
                locale,
            );
            assert!(
                mail.text.split("\r\n").any(|line| line == code),
                "{locale:?}"
            );
        }
    }

    #[test]
    fn times_are_in_the_theatres_zone_and_words() {
        let paris = chrono_tz::Europe::Paris;
        // 2026-11-01 19:30 in Paris (18:30 UTC).
        let at = 1_793_557_800_000;
        assert_eq!(
            when(at, paris, Locale::Fr),
            "dimanche 1er novembre 2026 à 19:30 CET"
        );
        assert_eq!(
            when(at, paris, Locale::En),
            "Sunday 1 November 2026, 19:30 CET"
        );
        assert_eq!(
            when(at, chrono_tz::UTC, Locale::En),
            "Sunday 1 November 2026, 18:30 UTC"
        );
    }

    #[test]
    fn amounts_follow_the_language() {
        assert_eq!(amount(5, "INR", Locale::En), "INR 0.05");
        assert_eq!(amount(123_456, "EUR", Locale::En), "EUR 1234.56");
        assert_eq!(amount(123_456, "EUR", Locale::Fr), "1234,56 EUR");
        assert_eq!(amount(-250, "EUR", Locale::Fr), "-2,50 EUR");
    }

    #[test]
    fn html_escaping_covers_markup_and_quotes() {
        assert_eq!(
            escape_html(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
    }
}
