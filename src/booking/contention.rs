//! Shows where holds have just collided.
//!
//! In a rush on one show most holds lose: the buyers chose seats from a seat map that
//! others have since taken. Each losing hold would still take a turn of the writer (on
//! SQLite, the one committer every booking in every show waits for). So once a hold of a
//! show has been refused for taken seats, the show's holds look at their seats on the read
//! path first for a few seconds, and a seat already taken is refused there. The writer
//! still decides every hold that passes; this only spares it holds it would refuse. Shows
//! without collisions (nearly all, nearly always) pay nothing.

use std::{
    hash::{DefaultHasher, Hash, Hasher},
    sync::atomic::{AtomicI64, Ordering},
};

use crate::time::Timestamp;

/// Stripes of shows; a neighbour's collision costs a show a needless read, nothing more.
const STRIPES: usize = 256;
/// How long after a collision a show's holds check their seats first.
const WINDOW_MS: i64 = 5_000;

#[derive(Debug)]
pub struct HoldContention {
    /// When a hold of a show on the stripe was last refused for taken seats (Unix ms).
    last_collision_ms: Box<[AtomicI64]>,
}

impl Default for HoldContention {
    fn default() -> Self {
        Self {
            last_collision_ms: (0..STRIPES).map(|_| AtomicI64::new(i64::MIN)).collect(),
        }
    }
}

impl HoldContention {
    fn stripe(&self, show_id: &str) -> &AtomicI64 {
        let mut hasher = DefaultHasher::new();
        show_id.hash(&mut hasher);
        &self.last_collision_ms[(hasher.finish() as usize) % STRIPES]
    }

    /// A hold of `show_id` was refused because some of its seats were taken.
    pub fn record_collision(&self, show_id: &str, now: Timestamp) {
        self.stripe(show_id)
            .fetch_max(now.as_millis(), Ordering::Relaxed);
    }

    /// Whether holds of `show_id` collided within the last few seconds.
    pub fn is_contended(&self, show_id: &str, now: Timestamp) -> bool {
        let last = self.stripe(show_id).load(Ordering::Relaxed);
        last != i64::MIN && now.as_millis().saturating_sub(last) < WINDOW_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_collision_marks_its_show_for_a_few_seconds() {
        let contention = HoldContention::default();
        let now = Timestamp::from_millis(1_800_000_000_000);
        assert!(!contention.is_contended("shw_a", now));
        contention.record_collision("shw_a", now);
        assert!(contention.is_contended("shw_a", now));
        assert!(contention.is_contended("shw_a", Timestamp::from_millis(now.as_millis() + 4_999)));
        assert!(!contention.is_contended("shw_a", Timestamp::from_millis(now.as_millis() + 5_000)));
        // An older collision recorded late does not move the mark back.
        contention.record_collision("shw_a", Timestamp::from_millis(now.as_millis() - 60_000));
        assert!(contention.is_contended("shw_a", Timestamp::from_millis(now.as_millis() + 1)));
    }
}
