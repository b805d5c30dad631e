//! Seats this node is claiming for best-available holds right now.
//!
//! When the server chooses the seats (`POST /api/v1/bookings` with `best_available`), two
//! buyers asking at once would read the same seat map and be proposed the same best
//! seats; one claim would lose and go round again. So the choice is made against the
//! seats other best-available holds on this node are claiming, and the seats of a claim
//! that succeeded stay marked a moment longer, until every seat map read after it shows
//! them taken. The database still decides every claim; this only keeps the buyers of one
//! node from choosing into each other. (Buyers on two nodes may still choose alike; the
//! loser chooses again.)

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// How long a successful claim's seats stay marked: longer than any seat-map read that
/// started before the claim committed takes.
const LINGER: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
pub struct SeatsInFlight {
    /// Show → seat label → marked until (`None`: its claim is still running).
    shows: Mutex<HashMap<String, HashMap<String, Option<Instant>>>>,
}

impl SeatsInFlight {
    /// Chooses seats of `show` with `choose`, which is told which labels are marked, and
    /// marks what it chose, in one step. The mark is released when the returned claim is
    /// dropped, or lingers if it was `kept`.
    pub fn choose(
        self: &Arc<Self>,
        show: &str,
        choose: impl FnOnce(&dyn Fn(&str) -> bool) -> Option<Vec<String>>,
    ) -> Option<Claim> {
        let mut shows = self.shows.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let marked = shows.entry(show.to_owned()).or_default();
        marked.retain(|_, until| until.is_none_or(|until| until > now));
        let chosen = choose(&|label: &str| marked.contains_key(label));
        let Some(seats) = chosen else {
            if marked.is_empty() {
                shows.remove(show);
            }
            return None;
        };
        for label in &seats {
            marked.insert(label.clone(), None);
        }
        Some(Claim {
            owner: self.clone(),
            show: show.to_owned(),
            seats,
            kept: false,
        })
    }

    /// Seats of `show` marked now (for tests and metrics).
    pub fn marked(&self, show: &str) -> usize {
        let shows = self.shows.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        shows.get(show).map_or(0, |marked| {
            marked
                .values()
                .filter(|until| until.is_none_or(|until| until > now))
                .count()
        })
    }
}

/// Seats chosen and marked for one claim.
#[derive(Debug)]
pub struct Claim {
    owner: Arc<SeatsInFlight>,
    show: String,
    pub seats: Vec<String>,
    kept: bool,
}

impl Claim {
    /// The claim succeeded: keep the seats marked a moment longer.
    pub fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut shows = self.owner.shows.lock().unwrap_or_else(|e| e.into_inner());
        let Some(marked) = shows.get_mut(&self.show) else {
            return;
        };
        let until = Instant::now() + LINGER;
        for label in &self.seats {
            if self.kept {
                marked.insert(label.clone(), Some(until));
            } else {
                marked.remove(label);
            }
        }
        if marked.is_empty() {
            shows.remove(&self.show);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `choose` is given: which labels are marked.
    type Marked<'a> = &'a dyn Fn(&str) -> bool;

    fn first_free(count: usize) -> impl FnOnce(Marked<'_>) -> Option<Vec<String>> {
        move |marked| {
            let free: Vec<String> = ["A1", "A2", "A3", "A4"]
                .into_iter()
                .filter(|l| !marked(l))
                .take(count)
                .map(str::to_owned)
                .collect();
            (free.len() == count).then_some(free)
        }
    }

    #[test]
    fn two_claims_at_once_choose_different_seats_and_a_failed_one_frees_its_own() {
        let in_flight = Arc::new(SeatsInFlight::default());
        let a = in_flight.choose("shw", first_free(2)).unwrap();
        let b = in_flight.choose("shw", first_free(2)).unwrap();
        assert_eq!(a.seats, ["A1", "A2"]);
        assert_eq!(b.seats, ["A3", "A4"]);
        assert!(in_flight.choose("shw", first_free(1)).is_none());
        drop(b); // lost: its seats are free to choose again at once
        assert_eq!(in_flight.marked("shw"), 2);
        a.keep(); // won: still marked for a moment
        assert_eq!(in_flight.marked("shw"), 2);
        let c = in_flight.choose("shw", first_free(2)).unwrap();
        assert_eq!(c.seats, ["A3", "A4"]);
        assert_eq!(in_flight.marked("other"), 0);
    }
}
