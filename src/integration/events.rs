//! The event catalogue. Each event has a type name (`booking.held`), a version (the
//! payload's shape; bumped on any incompatible change) and the aggregate it belongs to,
//! which orders it: events of one aggregate are published in the order they happened.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The version every event type is at; a consumer refuses versions it does not know.
pub const VERSION: i64 = 1;

/// What happened. Serialized as `{"event_type": "...", "payload": {...}}`; the outbox
/// stores the two parts in their own columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "payload")]
pub enum Event {
    /// Seats held for a customer; `waitlist_entry_id` when the waitlist made the hold.
    #[serde(rename = "booking.held")]
    BookingHeld {
        booking_id: String,
        customer_id: String,
        show_id: String,
        seats: Vec<String>,
        total: i64,
        currency: String,
        expires_at: i64,
        waitlist_entry_id: Option<String>,
    },
    /// The booking was paid: its seats are sold. `seats` was added after the first
    /// release (absent, it reads as empty: a consumer needing them reads the booking).
    #[serde(rename = "booking.confirmed")]
    BookingConfirmed {
        booking_id: String,
        show_id: String,
        payment_id: String,
        #[serde(default)]
        seats: Vec<String>,
    },
    /// A hold lapsed unpaid (or money came too late and is being refunded).
    #[serde(rename = "booking.expired")]
    BookingExpired { booking_id: String, show_id: String },
    /// `by` is `customer` or `partner` (the show was cancelled); `refund` in minor units.
    #[serde(rename = "booking.cancelled")]
    BookingCancelled {
        booking_id: String,
        show_id: String,
        by: String,
        refund: Option<i64>,
    },
    /// Seats that became available again; `reason` is `expired`, `cancelled` or `partner`.
    /// Seats the waitlist took at once are not listed.
    #[serde(rename = "seats.released")]
    SeatsReleased {
        show_id: String,
        seats: Vec<String>,
        reason: String,
    },
    /// The partner took seats off sale: `state` is `blocked` (broken, reserved for the
    /// house) or `withheld` (kept for the box office).
    #[serde(rename = "seats.withdrawn")]
    SeatsWithdrawn {
        show_id: String,
        seats: Vec<String>,
        state: String,
    },
    /// The theatre sold seats at its box office (reported by its system): they are sold.
    #[serde(rename = "counter_sale.recorded")]
    CounterSaleRecorded {
        sale_id: String,
        show_id: String,
        external_sale_id: String,
        seats: Vec<String>,
    },
    /// The theatre voided a box-office sale; its seats are released (`seats.released`).
    #[serde(rename = "counter_sale.voided")]
    CounterSaleVoided {
        sale_id: String,
        show_id: String,
        external_sale_id: String,
        seats: Vec<String>,
    },
    /// The theatre's system reported a box-office sale of seats that were already taken
    /// online (or blocked): nothing was sold; `conflicting` lists the seats in the way.
    #[serde(rename = "counter_sale.conflicted")]
    CounterSaleConflicted {
        show_id: String,
        external_sale_id: String,
        seats: Vec<String>,
        conflicting: Vec<String>,
    },
    /// A partner's webhook endpoint was disabled after its deliveries failed for too long.
    #[serde(rename = "webhook_endpoint.disabled")]
    WebhookEndpointDisabled {
        endpoint_id: String,
        org_id: String,
        url: String,
        failing_since: i64,
    },
    #[serde(rename = "show.created")]
    ShowCreated { show_id: String, starts_at: i64 },
    #[serde(rename = "show.changed")]
    ShowChanged { show_id: String },
    #[serde(rename = "show.cancelled")]
    ShowCancelled { show_id: String },
    /// Freed seats were held for the earliest waitlist entry they satisfy.
    #[serde(rename = "waitlist.offered")]
    WaitlistOffered {
        entry_id: String,
        show_id: String,
        customer_id: String,
        booking_id: String,
        seats: Vec<String>,
        expires_at: i64,
    },
    /// The gateway declined a payment; the hold stands until `expires_at`.
    #[serde(rename = "payment.failed")]
    PaymentFailed {
        payment_id: String,
        booking_id: String,
        reason: String,
    },
    #[serde(rename = "payment.refunded")]
    PaymentRefunded {
        payment_id: String,
        booking_id: String,
        amount: i64,
        currency: String,
    },
    /// The platform's staff refunded (part of) a confirmed booking; `seats` were released
    /// (none for a refund of an amount). The gateway's confirmation follows as
    /// `payment.refunded`.
    #[serde(rename = "booking.refunded")]
    BookingRefunded {
        refund_id: String,
        booking_id: String,
        show_id: String,
        payment_id: String,
        amount: i64,
        currency: String,
        seats: Vec<String>,
        reason: String,
    },
    /// The staff asked for the booking's tickets to be sent to the customer again.
    #[serde(rename = "booking.ticket_resent")]
    TicketResent { booking_id: String },
    /// A customer disputed a payment with their bank (a chargeback), or the dispute moved
    /// on (`status`: open, evidence_submitted, won, lost).
    /// A movie's rating changed (a review written, edited or hidden).
    #[serde(rename = "movie.rated")]
    MovieRated { movie_id: String },
    #[serde(rename = "payment.disputed")]
    PaymentDisputed {
        dispute_id: String,
        payment_id: String,
        booking_id: String,
        status: String,
        amount: i64,
        currency: String,
    },
    // ---- customers told of what changes under their booking (issue 17) ----
    /// A hold lapses soon, unpaid: its customer is reminded, once
    /// (`booking.hold_reminder_lead_secs` before `expires_at`).
    #[serde(rename = "booking.hold_expiring")]
    BookingHoldExpiring {
        booking_id: String,
        show_id: String,
        expires_at: i64,
    },
    /// The partner moved a show: `from` and `to` are its old and new start. Each live
    /// booking of it at that instant has its own `booking.show_rescheduled`.
    #[serde(rename = "show.rescheduled")]
    ShowRescheduled { show_id: String, from: i64, to: i64 },
    /// The partner changed a show's prices (minor units per seat category); holds and
    /// bookings keep the price they were quoted. Each live booking has its own
    /// `booking.show_repriced`.
    #[serde(rename = "show.repriced")]
    ShowRepriced {
        show_id: String,
        before: BTreeMap<String, i64>,
        after: BTreeMap<String, i64>,
    },
    /// The show of a live booking (held unexpired or confirmed) was moved: written in the
    /// unit that moved it, one per booking, so its customer is told exactly once.
    #[serde(rename = "booking.show_rescheduled")]
    BookingShowRescheduled {
        booking_id: String,
        show_id: String,
        from: i64,
        to: i64,
    },
    /// The show of a live booking was re-priced; the booking keeps its price.
    #[serde(rename = "booking.show_repriced")]
    BookingShowRepriced { booking_id: String, show_id: String },
}

impl Event {
    /// Whether the event moves money (a payment taken, a refund, a box-office sale or its
    /// void): such events are recorded in the audit log with them (`audit::record_money`).
    pub fn moves_money(&self) -> bool {
        matches!(
            self,
            Event::BookingConfirmed { .. }
                | Event::PaymentRefunded { .. }
                | Event::BookingRefunded { .. }
                | Event::CounterSaleRecorded { .. }
                | Event::CounterSaleVoided { .. }
                | Event::BookingCancelled {
                    refund: Some(_),
                    ..
                }
        )
    }

    /// The aggregate the event belongs to: (type, id).
    pub fn aggregate(&self) -> (&'static str, &str) {
        match self {
            Event::BookingHeld { booking_id, .. }
            | Event::BookingConfirmed { booking_id, .. }
            | Event::BookingExpired { booking_id, .. }
            | Event::BookingCancelled { booking_id, .. }
            | Event::BookingRefunded { booking_id, .. }
            | Event::TicketResent { booking_id }
            | Event::BookingHoldExpiring { booking_id, .. }
            | Event::BookingShowRescheduled { booking_id, .. }
            | Event::BookingShowRepriced { booking_id, .. } => ("booking", booking_id),
            Event::ShowRescheduled { show_id, .. } | Event::ShowRepriced { show_id, .. } => {
                ("show", show_id)
            }
            Event::SeatsReleased { show_id, .. }
            | Event::SeatsWithdrawn { show_id, .. }
            | Event::ShowCreated { show_id, .. }
            | Event::ShowChanged { show_id }
            | Event::ShowCancelled { show_id } => ("show", show_id),
            Event::WaitlistOffered { entry_id, .. } => ("waitlist_entry", entry_id),
            Event::CounterSaleRecorded { sale_id, .. }
            | Event::CounterSaleVoided { sale_id, .. } => ("counter_sale", sale_id),
            Event::CounterSaleConflicted { show_id, .. } => ("show", show_id),
            Event::WebhookEndpointDisabled { endpoint_id, .. } => ("webhook_endpoint", endpoint_id),
            Event::PaymentFailed { payment_id, .. }
            | Event::PaymentRefunded { payment_id, .. }
            | Event::PaymentDisputed { payment_id, .. } => ("payment", payment_id),
            Event::MovieRated { movie_id } => ("movie", movie_id),
        }
    }

    /// The show whose seats or listing the event concerns, if any: the outbox stores it
    /// beside the event so that a show's events can be read in order (live seat maps).
    pub fn show_id(&self) -> Option<&str> {
        match self {
            Event::BookingHeld { show_id, .. }
            | Event::BookingConfirmed { show_id, .. }
            | Event::BookingExpired { show_id, .. }
            | Event::BookingCancelled { show_id, .. }
            | Event::SeatsReleased { show_id, .. }
            | Event::SeatsWithdrawn { show_id, .. }
            | Event::ShowCreated { show_id, .. }
            | Event::ShowChanged { show_id }
            | Event::ShowCancelled { show_id }
            | Event::WaitlistOffered { show_id, .. }
            | Event::CounterSaleRecorded { show_id, .. }
            | Event::CounterSaleVoided { show_id, .. }
            | Event::CounterSaleConflicted { show_id, .. }
            | Event::BookingRefunded { show_id, .. }
            | Event::BookingHoldExpiring { show_id, .. }
            | Event::ShowRescheduled { show_id, .. }
            | Event::ShowRepriced { show_id, .. }
            | Event::BookingShowRescheduled { show_id, .. }
            | Event::BookingShowRepriced { show_id, .. } => Some(show_id),
            Event::PaymentFailed { .. }
            | Event::TicketResent { .. }
            | Event::MovieRated { .. }
            | Event::PaymentDisputed { .. }
            | Event::PaymentRefunded { .. }
            | Event::WebhookEndpointDisabled { .. } => None,
        }
    }

    /// The type name and the payload, as the outbox stores them.
    pub fn parts(&self) -> (String, String) {
        let value = serde_json::to_value(self).unwrap_or_default();
        let event_type = value["event_type"].as_str().unwrap_or_default().to_owned();
        (event_type, value["payload"].to_string())
    }

    /// The event from its stored parts; `None` for a type or shape this build does not know.
    pub fn from_parts(event_type: &str, payload: &str) -> Option<Self> {
        let payload: serde_json::Value = serde_json::from_str(payload).ok()?;
        serde_json::from_value(serde_json::json!({
            "event_type": event_type,
            "payload": payload,
        }))
        .ok()
    }
}

/// An event as stored and published: the envelope every consumer receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Unique and stable: the JetStream message id and the consumers' de-duplication key.
    pub event_id: String,
    /// Outbox order.
    pub seq: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub event_type: String,
    pub version: i64,
    /// JSON text of the payload.
    pub payload: String,
    pub created_at: i64,
}

crate::from_row!(Envelope {
    event_id,
    seq,
    aggregate_type,
    aggregate_id,
    event_type,
    version,
    payload,
    created_at
});

impl Envelope {
    /// The event, if this build knows its type and version.
    pub fn event(&self) -> Option<Event> {
        if self.version != VERSION {
            return None;
        }
        Event::from_parts(&self.event_type, &self.payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_round_trips_through_its_stored_parts() {
        let event = Event::BookingConfirmed {
            booking_id: "bkg_1".into(),
            show_id: "shw_1".into(),
            payment_id: "pay_1".into(),
            seats: vec!["A1".into(), "A2".into()],
        };
        let (event_type, payload) = event.parts();
        assert_eq!(event_type, "booking.confirmed");
        assert_eq!(
            payload,
            r#"{"booking_id":"bkg_1","payment_id":"pay_1","seats":["A1","A2"],"show_id":"shw_1"}"#
        );
        assert_eq!(Event::from_parts(&event_type, &payload), Some(event));
        assert_eq!(Event::from_parts("booking.teleported", &payload), None);
        // Stored before `seats` was added: still this event, with no seats.
        let earlier = r#"{"booking_id":"bkg_1","payment_id":"pay_1","show_id":"shw_1"}"#;
        assert!(matches!(
            Event::from_parts("booking.confirmed", earlier),
            Some(Event::BookingConfirmed { seats, .. }) if seats.is_empty()
        ));
    }

    #[test]
    fn events_belong_to_their_aggregate() {
        let released = Event::SeatsReleased {
            show_id: "shw_1".into(),
            seats: vec!["A1".into()],
            reason: "expired".into(),
        };
        assert_eq!(released.aggregate(), ("show", "shw_1"));
    }
}
