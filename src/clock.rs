//! The one source of "now". Every rule that depends on time takes it from a `Clock`, so
//! tests move time forward instead of sleeping.

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

use chrono::{DateTime, Utc};

use crate::time::Timestamp;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// Wall-clock time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_datetime(Utc::now())
    }
}

/// A clock that only moves when told to; shared by clones.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now_ms: Arc<AtomicI64>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now_ms: Arc::new(AtomicI64::new(start.timestamp_millis())),
        }
    }

    pub fn set(&self, to: DateTime<Utc>) {
        self.now_ms.store(to.timestamp_millis(), Ordering::SeqCst);
    }

    pub fn advance(&self, by: chrono::Duration) {
        self.now_ms
            .fetch_add(by.num_milliseconds(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.now_ms.load(Ordering::SeqCst))
    }
}

pub type SharedClock = Arc<dyn Clock>;
