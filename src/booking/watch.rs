//! Waiting for a booking to change, so clients can ask "tell me when the payment lands"
//! (`GET /api/v1/bookings/{id}?wait_ms=…`) instead of polling. Changes made on this node
//! wake waiters at once; a change made on another node is seen when the wait times out
//! (the client then simply asks again).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use tokio::sync::Notify;

use super::model::{BookingStatus, BookingView};
use crate::time::Timestamp;

/// What a committed change did, when it is simple enough for a waiter to apply to the view
/// it already holds instead of reading the booking again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The payment succeeded and the booking was confirmed at this time.
    Confirmed { payment_id: String, at: Timestamp },
}

impl Change {
    /// The view after the change, if `view` is the state the change was made from.
    pub fn apply(&self, view: &BookingView) -> Option<BookingView> {
        match self {
            Change::Confirmed { payment_id, at } => {
                if view.status != BookingStatus::PendingPayment {
                    return None;
                }
                let mut after = view.clone();
                let payment = after
                    .payments
                    .iter_mut()
                    .find(|p| &p.id == payment_id && p.status == "pending")?;
                payment.status = "succeeded".into();
                after.status = BookingStatus::Confirmed;
                after.confirmed_at = Some(*at);
                Some(after)
            }
        }
    }
}

/// One booking's waiters: woken together, with the change when it is known.
#[derive(Default)]
pub struct Waiters {
    pub notify: Notify,
    change: Mutex<Option<Change>>,
}

impl Waiters {
    /// The change that woke the waiters, if it was described.
    pub fn change(&self) -> Option<Change> {
        self.change
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[derive(Default)]
pub struct BookingWatch {
    waiting: Mutex<HashMap<String, Arc<Waiters>>>,
}

impl BookingWatch {
    /// The waiters of a booking; register interest (`Notified::enable`) before reading
    /// the state you wait to see change, so no change can slip in between.
    pub fn subscribe(&self, booking_id: &str) -> Arc<Waiters> {
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(booking_id.to_owned())
            .or_default()
            .clone()
    }

    /// Wakes everyone waiting on the booking; they read it again.
    pub fn changed(&self, booking_id: &str) {
        self.wake(booking_id, None);
    }

    /// Wakes everyone waiting on the booking with what changed (after it committed).
    pub fn changed_by(&self, booking_id: &str, change: Change) {
        self.wake(booking_id, Some(change));
    }

    fn wake(&self, booking_id: &str, change: Option<Change>) {
        let waiters = self
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(booking_id);
        if let Some(waiters) = waiters {
            *waiters.change.lock().unwrap_or_else(|e| e.into_inner()) = change;
            waiters.notify.notify_waiters();
        }
    }

    /// Drops the entry of a booking nobody waits on any more.
    pub fn release(&self, booking_id: &str, waiters: Arc<Waiters>) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        // Ours and the map's: nobody else holds it.
        if Arc::strong_count(&waiters) <= 2 {
            waiting.remove(booking_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::booking::model::{BookingRow, PaymentRow, booking_view};

    fn pending_view(payment_status: &str) -> BookingView {
        let row = BookingRow {
            id: "bkg_1".into(),
            customer_id: "usr_1".into(),
            show_id: "shw_1".into(),
            group_id: None,
            status: "pending_payment".into(),
            seats: r#"["A1"]"#.into(),
            currency: "INR".into(),
            total: 26_250,
            fee_total: 1_250,
            quote: "{}".into(),
            refund: None,
            expires_at: 300_000,
            created_at: 0,
            updated_at: 0,
            confirmed_at: None,
            cancelled_at: None,
            starts_at: 9_000_000,
            org_id: String::new(),
        };
        let payment = |id: &str, status: &str| PaymentRow {
            id: id.into(),
            booking_id: "bkg_1".into(),
            provider: "mock".into(),
            intent_id: None,
            status: status.into(),
            amount: 26_250,
            currency: "INR".into(),
            refund_amount: None,
            failure_reason: None,
            created_at: 1,
        };
        booking_view(
            &row,
            &[payment("pay_0", "failed"), payment("pay_1", payment_status)],
        )
    }

    #[test]
    fn a_confirmation_patches_the_pending_view_it_was_made_from() {
        let change = Change::Confirmed {
            payment_id: "pay_1".into(),
            at: Timestamp::from_millis(5_000),
        };
        let after = change.apply(&pending_view("pending")).expect("applies");
        assert_eq!(after.status, BookingStatus::Confirmed);
        assert_eq!(after.confirmed_at, Some(Timestamp::from_millis(5_000)));
        let statuses: Vec<&str> = after.payments.iter().map(|p| p.status.as_str()).collect();
        assert_eq!(statuses, ["failed", "succeeded"]);
    }

    #[test]
    fn a_confirmation_of_another_state_is_read_again() {
        let other_payment = Change::Confirmed {
            payment_id: "pay_0".into(),
            at: Timestamp::from_millis(5_000),
        };
        assert!(other_payment.apply(&pending_view("pending")).is_none());
        let ours = Change::Confirmed {
            payment_id: "pay_1".into(),
            at: Timestamp::from_millis(5_000),
        };
        assert!(ours.apply(&pending_view("succeeded")).is_none());
    }
}
