//! Waiting for a booking to change, so clients can ask "tell me when the payment lands"
//! (`GET /api/v1/bookings/{id}?wait_ms=…`) instead of polling. Changes made on this node
//! wake waiters at once; a change made on another node is seen when the wait times out
//! (the client then simply asks again).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use tokio::sync::Notify;

#[derive(Default)]
pub struct BookingWatch {
    waiting: Mutex<HashMap<String, Arc<Notify>>>,
}

impl BookingWatch {
    /// The notifier for a booking; register interest (`Notified::enable`) before reading
    /// the state you wait to see change, so no change can slip in between.
    pub fn subscribe(&self, booking_id: &str) -> Arc<Notify> {
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(booking_id.to_owned())
            .or_default()
            .clone()
    }

    /// Wakes everyone waiting on the booking.
    pub fn changed(&self, booking_id: &str) {
        let notify = self
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(booking_id);
        if let Some(notify) = notify {
            notify.notify_waiters();
        }
    }

    /// Drops the entry of a booking nobody waits on any more.
    pub fn release(&self, booking_id: &str, notify: Arc<Notify>) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        // Ours and the map's: nobody else holds it.
        if Arc::strong_count(&notify) <= 2 {
            waiting.remove(booking_id);
        }
    }
}
