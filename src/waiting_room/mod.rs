//! The waiting room: a fair, auditable queue in front of a show's on-sale.
//!
//! - `shuffle`: the pre-queue's order from a committed seed, recomputable by anyone;
//! - `admission`: admission tokens, the admission window and the wait estimates (pure);
//! - `service`: rooms and entries in the database, opening, joining, admitting;
//! - `routes`: partners and administrators set rooms up; customers join and wait.
//!
//! Holds on a show with a room need the customer's admission token (`booking::service`
//! asks `WaitingRooms::facts`).

pub mod admission;
pub mod joins;
pub mod routes;
pub mod service;
pub mod shuffle;

use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
};

use tokio::sync::watch;

use crate::{app::AppState, time::Timestamp};

/// What can go wrong in the waiting room.
#[derive(Debug, thiserror::Error)]
pub enum WaitingRoomError {
    #[error("{0}")]
    Invalid(String),
    #[error("show {0} not found")]
    UnknownShow(String),
    #[error("no scheduled show of movie {movie} in city {city} starts after the on-sale")]
    NoShows { movie: String, city: String },
    #[error("show {0} has no waiting room")]
    NoRoom(String),
    #[error("you are not in the waiting room of show {0}; join it first")]
    NotInRoom(String),
    #[error("the waiting room of show {0} has opened; its on-sale can no longer change")]
    AlreadyOpen(String),
    #[error("the waiting room of show {0} has not opened yet")]
    NotOpenYet(String),
    #[error("show {0} is sold out")]
    SoldOut(String),
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

impl crate::db::WriteError for WaitingRoomError {
    fn retryable(&self) -> bool {
        matches!(self, WaitingRoomError::Database(e) if crate::db::is_retryable(e))
    }
}

/// What the hold path needs to know of a show's room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomFacts {
    pub on_sale_at: i64,
    pub seats_per_account: i64,
}

/// How long a node trusts what it read of a show's room (a room set up through another
/// node is enforced here at most this much later).
const FACTS_MAX_AGE_MS: i64 = 1_000;

/// Hold latencies kept per show for the admission window.
const LATENCY_SAMPLES: usize = 256;

/// This node's view of the waiting rooms: which shows have one (cached briefly) and how
/// long their holds take.
#[derive(Default)]
pub struct WaitingRooms {
    facts: Mutex<HashMap<String, (i64, Option<RoomFacts>)>>,
    latencies: Mutex<HashMap<String, VecDeque<f64>>>,
    /// Rooms customers on this node are waiting on (`GET …/entries/me?wait_ms=`): what
    /// the room was last seen to be, refreshed every admission round.
    pulses: Mutex<HashMap<String, watch::Sender<Pulse>>>,
    /// Room rows as last read, and when.
    rows: Mutex<HashMap<String, (std::time::Instant, service::RoomRow)>>,
    /// Joins to open rooms on PostgreSQL, written in batches in arrival order.
    pub joins: std::sync::Arc<joins::JoinBatches>,
}

/// How far a room has come: what a waiting customer's answer depends on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pulse {
    /// The pre-queue is ordered.
    pub opened: bool,
    /// Positions up to here are admitted.
    pub admitted_through: i64,
    pub sold_out: bool,
}

impl Pulse {
    /// Whether an entry at `position` (`None`: in the pre-queue) has news.
    pub fn moves(&self, position: Option<i64>) -> bool {
        self.sold_out
            || match position {
                None => self.opened,
                Some(position) => self.admitted_through >= position,
            }
    }
}

impl WaitingRooms {
    /// The show's room, if it has one.
    pub async fn facts(
        &self,
        app: &AppState,
        show_id: &str,
    ) -> Result<Option<RoomFacts>, sqlx::Error> {
        let now = app.clock.now().as_millis();
        if let Some((read_at, facts)) = self.lock_facts().get(show_id).copied()
            && (read_at..read_at + FACTS_MAX_AGE_MS).contains(&now)
        {
            return Ok(facts);
        }
        let row: Option<(i64, i64)> = app
            .db
            .fetch_optional(
                "SELECT on_sale_at, seats_per_account FROM waiting_rooms WHERE show_id = $1",
                crate::params![show_id],
            )
            .await?;
        let facts = row.map(|(on_sale_at, seats_per_account)| RoomFacts {
            on_sale_at,
            seats_per_account,
        });
        let mut cache = self.lock_facts();
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(show_id.to_owned(), (now, facts));
        Ok(facts)
    }

    /// Forgets what this node read of the show's room (it just changed it).
    pub fn forget(&self, show_id: &str) {
        self.lock_facts().remove(show_id);
        self.lock_rows().remove(show_id);
    }

    /// The room's row if it was read within `fresh_for`.
    pub fn recent_row(
        &self,
        show_id: &str,
        fresh_for: std::time::Duration,
    ) -> Option<service::RoomRow> {
        let rows = self.lock_rows();
        let (read_at, row) = rows.get(show_id)?;
        (read_at.elapsed() < fresh_for).then(|| row.clone())
    }

    /// Remembers a room's row as just read.
    pub fn remember_row(&self, row: &service::RoomRow) {
        let mut rows = self.lock_rows();
        if rows.len() > 10_000 {
            rows.clear();
        }
        rows.insert(
            row.show_id.clone(),
            (std::time::Instant::now(), row.clone()),
        );
    }

    fn lock_rows(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, (std::time::Instant, service::RoomRow)>> {
        self.rows.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records how long a hold on a show with a room took.
    pub fn record_hold(&self, show_id: &str, millis: f64) {
        let mut latencies = self.latencies.lock().unwrap_or_else(|e| e.into_inner());
        let samples = latencies.entry(show_id.to_owned()).or_default();
        if samples.len() == LATENCY_SAMPLES {
            samples.pop_front();
        }
        samples.push_back(millis);
    }

    /// The 99th percentile of the show's recent holds on this node, once there are enough.
    pub fn hold_p99(&self, show_id: &str) -> Option<f64> {
        let latencies = self.latencies.lock().unwrap_or_else(|e| e.into_inner());
        let samples = latencies.get(show_id)?;
        if samples.len() < 20 {
            return None;
        }
        let mut sorted: Vec<f64> = samples.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let index = ((sorted.len() as f64) * 0.99).ceil() as usize - 1;
        sorted.get(index.min(sorted.len() - 1)).copied()
    }

    /// Follows the show's room until the receiver is dropped.
    pub fn watch(&self, show_id: &str) -> watch::Receiver<Pulse> {
        let mut pulses = self.pulses.lock().unwrap_or_else(|e| e.into_inner());
        pulses
            .entry(show_id.to_owned())
            .or_insert_with(|| watch::Sender::new(Pulse::default()))
            .subscribe()
    }

    /// Rooms somebody on this node is waiting on (and forgets the others).
    pub fn watched(&self) -> Vec<String> {
        let mut pulses = self.pulses.lock().unwrap_or_else(|e| e.into_inner());
        pulses.retain(|_, sender| sender.receiver_count() > 0);
        pulses.keys().cloned().collect()
    }

    /// Tells those waiting on the room how far it has come (when it moved).
    pub fn publish(&self, show_id: &str, pulse: Pulse) {
        let pulses = self.pulses.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = pulses.get(show_id) {
            sender.send_if_modified(|seen| {
                let moved = *seen != pulse;
                *seen = pulse;
                moved
            });
        }
    }

    fn lock_facts(&self) -> std::sync::MutexGuard<'_, HashMap<String, (i64, Option<RoomFacts>)>> {
        self.facts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether `now` is before the room's on-sale (nobody may hold yet).
pub fn before_on_sale(facts: &RoomFacts, now: Timestamp) -> bool {
    now.as_millis() < facts.on_sale_at
}
