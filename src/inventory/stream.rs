//! Live seat maps: `GET /api/v1/shows/{id}/seats/stream` sends a show's seat changes as
//! server-sent events, numbered by their outbox sequence.
//!
//! Every node follows the outbox (whatever node or process wrote the change), so a seat
//! taken anywhere reaches every open map within about one poll. A stream starts with a
//! `snapshot` of every seat; then `seats` deltas, each an assignment ("these seats are now
//! held until …"), so applying one twice changes nothing. A client that reconnects with
//! `Last-Event-ID` is sent what it missed from the outbox; if those events were purged, it
//! is told to `reload` and sent a new snapshot.
//!
//! Order: the hub hands events to streams strictly by sequence. On PostgreSQL a number can
//! commit after a higher one (or never: a rolled-back transaction), so the tail waits up to
//! `events.seat_stream_gap_wait_ms` for a missing number before passing over it. SQLite
//! numbers commit in order, without gaps.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde::Serialize;
use tokio::sync::{broadcast, watch};

use crate::{
    db::Db,
    integration::{
        events::{Envelope, Event},
        outbox,
    },
    params,
    time::Timestamp,
};

/// One message of a seat stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamItem {
    /// These seats are now in `state` (`held` until `held_until`).
    Seats(SeatDelta),
    /// The show was changed (prices, time) or a delta cannot be told: read the map again.
    Reload { seq: i64, reason: &'static str },
    /// The show was cancelled: nothing can be bought any more.
    ShowCancelled { seq: i64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeatDelta {
    pub seq: i64,
    pub state: String,
    pub seats: Vec<String>,
    /// RFC 3339, UTC; for `held` seats, the instant they turn available unless paid.
    pub held_until: Option<String>,
}

impl StreamItem {
    pub fn seq(&self) -> i64 {
        match self {
            StreamItem::Seats(delta) => delta.seq,
            StreamItem::Reload { seq, .. } | StreamItem::ShowCancelled { seq } => *seq,
        }
    }
}

/// What an outbox event means to an open seat map, if anything. Pure.
pub fn item_of(envelope: &Envelope) -> Option<StreamItem> {
    let seq = envelope.seq;
    let delta = |state: &str, seats: Vec<String>, held_until: Option<i64>| {
        Some(StreamItem::Seats(SeatDelta {
            seq,
            state: state.to_owned(),
            seats,
            held_until: held_until.map(|at| Timestamp::from_millis(at).to_rfc3339()),
        }))
    };
    let Some(event) = envelope.event() else {
        // A type or version this build does not know may have moved seats.
        return envelope
            .aggregate_type
            .eq("show")
            .then_some(StreamItem::Reload {
                seq,
                reason: "unknown-event",
            });
    };
    match event {
        Event::BookingHeld {
            seats, expires_at, ..
        } => delta("held", seats, Some(expires_at)),
        // Written before confirmations listed their seats: which ones is not known here.
        Event::BookingConfirmed { seats, .. } if seats.is_empty() => Some(StreamItem::Reload {
            seq,
            reason: "unknown-seats",
        }),
        Event::BookingConfirmed { seats, .. } | Event::CounterSaleRecorded { seats, .. } => {
            delta("booked", seats, None)
        }
        Event::SeatsReleased { seats, .. } => delta("available", seats, None),
        Event::SeatsWithdrawn { seats, state, .. } => delta(&state, seats, None),
        Event::ShowChanged { .. } => Some(StreamItem::Reload {
            seq,
            reason: "show-changed",
        }),
        Event::ShowCancelled { .. } => Some(StreamItem::ShowCancelled { seq }),
        // Seats move in the events above: an expiry or cancellation releases its seats in
        // `seats.released`, a waitlist offer holds them in `booking.held`.
        Event::BookingExpired { .. }
        | Event::BookingCancelled { .. }
        | Event::WaitlistOffered { .. }
        | Event::CounterSaleVoided { .. }
        | Event::CounterSaleConflicted { .. }
        | Event::WebhookEndpointDisabled { .. }
        | Event::ShowCreated { .. }
        | Event::PaymentFailed { .. }
        | Event::PaymentRefunded { .. }
        | Event::BookingRefunded { .. }
        | Event::TicketResent { .. }
        | Event::MovieRated { .. }
        | Event::PaymentDisputed { .. } => None,
        // No seat changes state: a time or price change is also `show.changed` (reload).
        Event::BookingHoldExpiring { .. }
        | Event::ShowRescheduled { .. }
        | Event::ShowRepriced { .. }
        | Event::BookingShowRescheduled { .. }
        | Event::BookingShowRepriced { .. } => None,
    }
}

/// Messages queued for one stream before a slow reader is cut off (it reconnects and
/// resumes from the outbox).
const STREAM_BUFFER: usize = 256;

/// This node's seat streams: one broadcast channel per show someone watches, fed in
/// sequence order by the outbox tail.
pub struct SeatStreams {
    hub: Mutex<Hub>,
    /// True once the tail has found the outbox's end: streams start after it.
    ready: watch::Sender<bool>,
    stopping: watch::Sender<bool>,
}

#[derive(Default)]
struct Hub {
    shows: HashMap<String, broadcast::Sender<Arc<StreamItem>>>,
    /// Every event up to here has been handed to the streams; later ones will be.
    cursor: i64,
}

/// A stream's place in the hub: the items that come after `from`.
pub struct Subscription {
    pub receiver: broadcast::Receiver<Arc<StreamItem>>,
    pub from: i64,
}

impl Default for SeatStreams {
    fn default() -> Self {
        Self {
            hub: Mutex::default(),
            ready: watch::Sender::new(false),
            stopping: watch::Sender::new(false),
        }
    }
}

impl SeatStreams {
    /// Starts following `show`: what the tail hands over after the returned `from`.
    /// Taken under the same lock as `dispatch`, so nothing falls between the two.
    pub fn subscribe(&self, show: &str) -> Subscription {
        let mut hub = self.hub.lock().unwrap_or_else(|e| e.into_inner());
        let from = hub.cursor;
        let receiver = hub
            .shows
            .entry(show.to_owned())
            .or_insert_with(|| broadcast::channel(STREAM_BUFFER).0)
            .subscribe();
        Subscription { receiver, from }
    }

    /// Hands the events (in sequence order) to the streams of their shows and moves the
    /// cursor past them; forgets shows nobody watches any more.
    pub fn dispatch(&self, events: &[Envelope], shows: &[Option<String>], through: i64) {
        let mut hub = self.hub.lock().unwrap_or_else(|e| e.into_inner());
        hub.shows.retain(|_, sender| sender.receiver_count() > 0);
        for (event, show) in events.iter().zip(shows) {
            let Some(sender) = show.as_deref().and_then(|show| hub.shows.get(show)) else {
                continue;
            };
            if let Some(item) = item_of(event) {
                // No receiver left is fine: the show is forgotten on the next dispatch.
                let _ = sender.send(Arc::new(item));
            }
        }
        hub.cursor = hub.cursor.max(through);
    }

    /// Starts the streams at `seq` when they are fed from elsewhere than this node's tail
    /// (NATS): every event up to `seq` is in the database snapshots streams begin with.
    pub fn start_at(&self, seq: i64) {
        let mut hub = self.hub.lock().unwrap_or_else(|e| e.into_inner());
        hub.cursor = hub.cursor.max(seq);
        self.ready.send_replace(true);
    }

    pub fn cursor(&self) -> i64 {
        self.hub.lock().unwrap_or_else(|e| e.into_inner()).cursor
    }

    fn is_watched(&self) -> bool {
        let hub = self.hub.lock().unwrap_or_else(|e| e.into_inner());
        hub.shows.values().any(|sender| sender.receiver_count() > 0)
    }

    /// Moves the cursor to `end` unless a stream is open (then every event up to `end`
    /// must go through `dispatch`). Checked under the lock a subscription takes, so a
    /// stream that starts meanwhile is never passed over. True when it moved.
    fn skip_unwatched(&self, end: i64) -> bool {
        let mut hub = self.hub.lock().unwrap_or_else(|e| e.into_inner());
        hub.shows.retain(|_, sender| sender.receiver_count() > 0);
        if !hub.shows.is_empty() {
            return false;
        }
        hub.cursor = hub.cursor.max(end);
        self.ready.send_replace(true);
        true
    }

    /// Waits (up to `limit`) until the tail knows where the outbox ends; before that a
    /// stream would be sent the whole history.
    pub async fn wait_ready(&self, limit: Duration) -> bool {
        let mut ready = self.ready.subscribe();
        tokio::time::timeout(limit, ready.wait_for(|ready| *ready))
            .await
            .is_ok_and(|waited| waited.is_ok())
    }

    /// Ends every stream (shutdown), so that in-flight requests can finish.
    pub fn stop(&self) {
        self.stopping.send_replace(true);
    }

    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.stopping.subscribe()
    }
}

/// An outbox event with the show it concerns.
struct Tailed {
    envelope: Envelope,
    show_id: Option<String>,
}

impl crate::db::FromRow for Tailed {
    fn from_row(row: &crate::db::Row<'_>) -> sqlx::Result<Self> {
        Ok(Tailed {
            envelope: Envelope::from_row(row)?,
            show_id: row.get("show_id")?,
        })
    }
}

const TAILED: &str = "SELECT seq, event_id, aggregate_type, aggregate_id, event_type, version, \
     payload, created_at, show_id FROM outbox";

/// A show's events after `after` up to `through`, in order.
pub async fn show_events(
    db: &Db,
    show: &str,
    after: i64,
    through: i64,
) -> sqlx::Result<Vec<Envelope>> {
    let sql = format!("{TAILED} WHERE show_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq");
    let rows: Vec<Tailed> = db.fetch_all(&sql, params![show, after, through]).await?;
    Ok(rows.into_iter().map(|t| t.envelope).collect())
}

/// The oldest event still in the outbox (published events are purged after a while).
pub async fn oldest_seq(db: &Db) -> sqlx::Result<Option<i64>> {
    db.fetch_one("SELECT min(seq) FROM outbox", &[]).await
}

/// Follows the outbox and feeds this node's seat streams until `shutdown` resolves.
pub async fn run(
    db: Db,
    streams: Arc<SeatStreams>,
    poll: Duration,
    gap_wait: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let work = async {
        let mut tail = Tail::new(gap_wait);
        loop {
            if let Err(error) = tail.step(&db, &streams).await {
                tracing::debug!(%error, "seat stream tail read failed");
            }
            tokio::time::sleep(poll).await;
        }
    };
    tokio::select! {
        () = work => {}
        () = shutdown => {}
    }
}

/// The tail's state: where it is, and since when it has waited for a missing number.
struct Tail {
    gap_wait: Duration,
    gap: Option<(i64, Instant)>,
}

impl Tail {
    fn new(gap_wait: Duration) -> Self {
        Self {
            gap_wait,
            gap: None,
        }
    }

    async fn step(&mut self, db: &Db, streams: &SeatStreams) -> sqlx::Result<()> {
        // Nobody watching: skip to the end rather than read every event. (Checked again
        // under the lock: a stream may open while the end is read.)
        if !streams.is_watched() {
            let end = outbox::last_seq(db).await?;
            if streams.skip_unwatched(end) {
                self.gap = None;
                return Ok(());
            }
        }
        let cursor = streams.cursor();
        let sql = format!("{TAILED} WHERE seq > $1 ORDER BY seq LIMIT 1000");
        let rows: Vec<Tailed> = db.fetch_all(&sql, params![cursor]).await?;
        let mut through = cursor;
        let mut ready = Vec::with_capacity(rows.len());
        for row in rows {
            if row.envelope.seq > through + 1 {
                let missing = through + 1;
                match self.gap {
                    Some((seq, since)) if seq == missing && since.elapsed() >= self.gap_wait => {}
                    Some((seq, _)) if seq == missing => break,
                    _ => {
                        self.gap = Some((missing, Instant::now()));
                        break;
                    }
                }
            }
            through = row.envelope.seq;
            ready.push(row);
        }
        if through > cursor {
            if self.gap.is_some_and(|(seq, _)| seq <= through) {
                self.gap = None;
            }
            let (events, shows): (Vec<_>, Vec<_>) =
                ready.into_iter().map(|t| (t.envelope, t.show_id)).unzip();
            streams.dispatch(&events, &shows, through);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(seq: i64, event: &Event) -> Envelope {
        let (aggregate_type, aggregate_id) = event.aggregate();
        let (event_type, payload) = event.parts();
        Envelope {
            event_id: format!("evt_{seq}"),
            seq,
            aggregate_type: aggregate_type.into(),
            aggregate_id: aggregate_id.into(),
            event_type,
            version: crate::integration::events::VERSION,
            payload,
            created_at: 0,
        }
    }

    fn seats(seq: i64, state: &str, labels: &[&str], held_until: Option<&str>) -> StreamItem {
        StreamItem::Seats(SeatDelta {
            seq,
            state: state.into(),
            seats: labels.iter().map(|l| (*l).to_owned()).collect(),
            held_until: held_until.map(str::to_owned),
        })
    }

    #[test]
    fn each_seat_event_becomes_the_state_its_seats_are_in_now() {
        let show = || "shw_1".to_owned();
        let labels = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let cases = [
            (
                Event::BookingHeld {
                    booking_id: "bkg_1".into(),
                    customer_id: "usr_1".into(),
                    show_id: show(),
                    seats: labels(&["A1", "A2"]),
                    total: 100,
                    currency: "INR".into(),
                    expires_at: 1_780_000_000_000,
                    waitlist_entry_id: None,
                },
                Some(seats(
                    1,
                    "held",
                    &["A1", "A2"],
                    Some("2026-05-28T20:26:40Z"),
                )),
            ),
            (
                Event::BookingConfirmed {
                    booking_id: "bkg_1".into(),
                    show_id: show(),
                    payment_id: "pay_1".into(),
                    seats: labels(&["A1", "A2"]),
                },
                Some(seats(1, "booked", &["A1", "A2"], None)),
            ),
            (
                Event::BookingConfirmed {
                    booking_id: "bkg_1".into(),
                    show_id: show(),
                    payment_id: "pay_1".into(),
                    seats: vec![],
                },
                Some(StreamItem::Reload {
                    seq: 1,
                    reason: "unknown-seats",
                }),
            ),
            (
                Event::SeatsReleased {
                    show_id: show(),
                    seats: labels(&["B1"]),
                    reason: "expired".into(),
                },
                Some(seats(1, "available", &["B1"], None)),
            ),
            (
                Event::SeatsWithdrawn {
                    show_id: show(),
                    seats: labels(&["C1"]),
                    state: "blocked".into(),
                },
                Some(seats(1, "blocked", &["C1"], None)),
            ),
            (
                Event::CounterSaleRecorded {
                    sale_id: "cts_1".into(),
                    show_id: show(),
                    external_sale_id: "BO-1".into(),
                    seats: labels(&["C2"]),
                },
                Some(seats(1, "booked", &["C2"], None)),
            ),
            (
                Event::ShowChanged { show_id: show() },
                Some(StreamItem::Reload {
                    seq: 1,
                    reason: "show-changed",
                }),
            ),
            (
                Event::ShowCancelled { show_id: show() },
                Some(StreamItem::ShowCancelled { seq: 1 }),
            ),
            (
                Event::BookingExpired {
                    booking_id: "bkg_1".into(),
                    show_id: show(),
                },
                None,
            ),
        ];
        for (event, expected) in cases {
            assert_eq!(item_of(&envelope(1, &event)), expected, "{event:?}");
        }
    }

    #[test]
    fn an_unknown_show_event_asks_for_a_reload_and_others_are_ignored() {
        let mut unknown = envelope(
            7,
            &Event::ShowChanged {
                show_id: "shw_1".into(),
            },
        );
        unknown.event_type = "show.teleported".into();
        assert_eq!(
            item_of(&unknown),
            Some(StreamItem::Reload {
                seq: 7,
                reason: "unknown-event"
            })
        );
        unknown.aggregate_type = "payment".into();
        assert_eq!(item_of(&unknown), None);
    }

    #[test]
    fn a_subscription_starts_where_the_hub_is_and_gets_only_its_show() {
        let streams = SeatStreams::default();
        assert!(streams.skip_unwatched(10));
        let mut sub = streams.subscribe("shw_1");
        assert_eq!(sub.from, 10);
        // Watched: the cursor no longer jumps; events go through `dispatch`.
        assert!(!streams.skip_unwatched(20));
        let released = |show: &str, seq| {
            envelope(
                seq,
                &Event::SeatsReleased {
                    show_id: show.into(),
                    seats: vec!["A1".into()],
                    reason: "partner".into(),
                },
            )
        };
        let events = [released("shw_2", 11), released("shw_1", 12)];
        streams.dispatch(&events, &[Some("shw_2".into()), Some("shw_1".into())], 12);
        assert_eq!(streams.cursor(), 12);
        let item = sub.receiver.try_recv().expect("its show's event");
        assert_eq!(item.seq(), 12);
        assert!(sub.receiver.try_recv().is_err());
        drop(sub);
        assert!(streams.skip_unwatched(30));
        assert_eq!(streams.cursor(), 30);
    }
}
