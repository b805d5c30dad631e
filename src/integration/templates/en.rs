//! Customers' messages in English.

use super::{Block, BookingFacts, Labels, Message, amount, clock_time, show_facts, when};
use crate::identity::model::Locale;

const EN: Labels = Labels {
    movie: "Movie",
    cinema: "Cinema",
    seats: "Seats",
    starts: "Show starts",
    total: "Total paid",
    code: "Ticket code (show it at the entrance):",
};

pub(super) fn message(message: &Message<'_>, b: &BookingFacts) -> (String, Vec<Block>) {
    use Block::{Code, Facts, Paragraph};
    let l = Locale::En;
    let id = &b.id;
    let seats = b.seats.join(", ");
    let at = |millis| when(millis, b.timezone, l);
    let facts = || show_facts(b, &EN, l);
    match message {
        Message::Confirmation { ticket_code } => {
            let mut facts = facts();
            facts.push((EN.total, amount(b.total, &b.currency, l)));
            (
                format!("Your tickets: booking {id}"),
                vec![
                    Paragraph(format!("Your booking {id} is confirmed.")),
                    Facts(facts),
                    Code {
                        label: EN.code,
                        code: (*ticket_code).to_owned(),
                    },
                ],
            )
        }
        Message::TicketResent { ticket_code } => (
            format!("Your tickets again: booking {id}"),
            vec![
                Paragraph(format!(
                    "As asked, here are your tickets for booking {id} again."
                )),
                Facts(facts()),
                Code {
                    label: EN.code,
                    code: (*ticket_code).to_owned(),
                },
            ],
        ),
        Message::Cancellation { by_partner, refund } => {
            let why = if *by_partner {
                "The show was cancelled by the cinema, so your booking"
            } else {
                "Your booking"
            };
            let refund = match refund {
                Some(minor) if *minor > 0 => format!(
                    "A refund of {} is on its way to your payment method.",
                    amount(*minor, &b.currency, l)
                ),
                _ => "No payment was taken, so there is nothing to refund.".to_owned(),
            };
            (
                format!("Booking {id} cancelled"),
                vec![
                    Paragraph(format!(
                        "{why} {id} (seats {seats}, show at {}) is cancelled.",
                        at(b.starts_at)
                    )),
                    Paragraph(refund),
                    Facts(facts()),
                ],
            )
        }
        Message::PaymentFailed { reason } => (
            format!("Payment failed for booking {id}"),
            vec![
                Paragraph(format!(
                    "Your payment for booking {id} did not go through ({reason})."
                )),
                Paragraph(format!(
                    "Your seats {seats} are held until {}. Pay again before then to keep them.",
                    at(b.expires_at)
                )),
                Facts(facts()),
            ],
        ),
        Message::WaitlistOffer { seats, expires_at } => (
            format!("Seats held for you: booking {id}"),
            vec![
                Paragraph(format!(
                    "Good news: seats {} for the show at {} came free and are held for you \
                     from the waitlist as booking {id}.",
                    seats.join(", "),
                    at(b.starts_at)
                )),
                Paragraph(format!(
                    "Pay for them before {} to keep them.",
                    at(*expires_at)
                )),
                Facts(facts()),
            ],
        ),
        Message::RefundSent {
            amount: minor,
            currency,
        } => (
            format!("Refund sent for booking {id}"),
            vec![Paragraph(format!(
                "We have sent a refund of {} for booking {id} to your payment method.",
                amount(*minor, currency, l)
            ))],
        ),
        Message::RefundStarted {
            amount: minor,
            currency,
            released,
            cancelled,
            reason,
        } => {
            let what = if released.is_empty() {
                "Your seats are unchanged.".to_owned()
            } else if *cancelled {
                "Your booking is cancelled.".to_owned()
            } else {
                format!(
                    "Seats {} are no longer part of it; your ticket is for seats {seats}.",
                    released.join(", ")
                )
            };
            (
                format!("Refund for booking {id}"),
                vec![
                    Paragraph(format!(
                        "We are refunding {} for booking {id} to your payment method ({reason}).",
                        amount(*minor, currency, l)
                    )),
                    Paragraph(what),
                ],
            )
        }
        Message::HoldExpiring { expires_at } => (
            format!(
                "Pay before {} to keep your seats: booking {id}",
                clock_time(*expires_at, b.timezone)
            ),
            vec![
                Paragraph(format!(
                    "Your seats {seats} for the show at {} are held for you until {}.",
                    at(b.starts_at),
                    at(*expires_at)
                )),
                Paragraph(format!(
                    "Pay for booking {id} ({}) before then, or the seats go back on sale.",
                    amount(b.total, &b.currency, l)
                )),
                Facts(facts()),
            ],
        ),
        Message::ShowRescheduled { from, to, held } => {
            let what = if *held {
                format!(
                    "Your seats are held until {}: pay before then to keep them. If the new \
                     time does not suit you, cancel the hold.",
                    at(b.expires_at)
                )
            } else {
                "Your tickets are valid for the new time. If it does not suit you, you may \
                 cancel the booking for a full refund until the show starts."
                    .to_owned()
            };
            (
                format!("Your show has moved: booking {id}"),
                vec![
                    Paragraph(format!(
                        "The cinema moved the show of your booking {id} (seats {seats})."
                    )),
                    Facts(vec![("Was", at(*from)), ("Now", at(*to))]),
                    Paragraph(what),
                    Facts(facts()),
                ],
            )
        }
        Message::ShowRepriced { held } => {
            let total = amount(b.total, &b.currency, l);
            let what = if *held {
                format!(
                    "It keeps the price you were quoted: {total}. Your seats are held until \
                     {}: pay before then to keep them.",
                    at(b.expires_at)
                )
            } else {
                format!("It keeps the price you paid: {total}. Nothing changes for you.")
            };
            (
                format!("Prices changed for your show: booking {id}"),
                vec![
                    Paragraph(format!(
                        "The cinema changed the ticket prices of the show at {} (booking {id}, \
                         seats {seats}).",
                        at(b.starts_at)
                    )),
                    Paragraph(what),
                    Facts(facts()),
                ],
            )
        }
    }
}
