//! The transactional outbox: appending inside a unit of work, and draining in order under
//! a lease so that one publisher at a time publishes (which keeps each aggregate's events
//! in order, whatever the number of nodes or relays).

use super::events::{Envelope, Event, VERSION};
use crate::{
    db::{Db, Sql, Tx},
    ids::EventId,
    params,
};

const INSERT: &str = "INSERT INTO outbox (event_id, aggregate_type, aggregate_id, event_type, \
     version, payload, created_at, show_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// An event ready to be written: its id and stored parts.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub event_id: String,
    pub aggregate_type: &'static str,
    pub aggregate_id: String,
    pub event_type: String,
    pub payload: String,
    /// The show the event concerns (`Event::show_id`), stored to read a show's events.
    pub show_id: Option<String>,
    /// A money movement: recorded in the audit log in the same unit of work.
    pub moves_money: bool,
}

impl Prepared {
    pub fn new(event: &Event) -> Self {
        let (aggregate_type, aggregate_id) = event.aggregate();
        let (event_type, payload) = event.parts();
        Self {
            event_id: EventId::generate().to_string(),
            aggregate_type,
            aggregate_id: aggregate_id.to_owned(),
            event_type,
            payload,
            show_id: event.show_id().map(str::to_owned),
            moves_money: event.moves_money(),
        }
    }
}

/// Appends `event` in the unit of work `tx`: it commits, or rolls back, with the change it
/// describes.
pub fn append(tx: &mut Tx<'_>, event: &Event, now: i64) -> sqlx::Result<()> {
    append_prepared(tx, &Prepared::new(event), now)
}

pub fn append_prepared(tx: &mut Tx<'_>, event: &Prepared, now: i64) -> sqlx::Result<()> {
    tx.execute(
        INSERT,
        params![
            &event.event_id,
            event.aggregate_type,
            &event.aggregate_id,
            &event.event_type,
            VERSION,
            &event.payload,
            now,
            event.show_id.as_deref()
        ],
    )?;
    if event.moves_money {
        crate::audit::record_money(
            tx,
            &event.event_type,
            &event.aggregate_id,
            &event.payload,
            now,
        )?;
    }
    Ok(())
}

/// Appends several events in order.
pub fn append_all(tx: &mut Tx<'_>, events: &[Event], now: i64) -> sqlx::Result<()> {
    for event in events {
        append(tx, event, now)?;
    }
    Ok(())
}

/// Takes or renews the lease `name` for `holder` until `now + ttl_ms`. True when held:
/// it was free, expired, or already ours.
pub async fn take_lease(
    db: &Db,
    name: &str,
    holder: &str,
    now: i64,
    ttl_ms: i64,
) -> sqlx::Result<bool> {
    const SQL: &str = "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
           expires_at = excluded.expires_at \
         WHERE leases.holder = excluded.holder OR leases.expires_at <= $4 \
         RETURNING holder";
    let (name, holder) = (name.to_owned(), holder.to_owned());
    let held: Option<String> = db
        .write(move |tx| tx.fetch_optional(SQL, params![&name, &holder, now + ttl_ms, now]))
        .await?;
    Ok(held.is_some())
}

/// A publisher's hold on the outbox lease (the in-process dispatcher's or a relay's),
/// remembered so that it is renewed (a write) only when half of it has run out, not on
/// every round. It believes it holds the lease only while at least half is left.
pub struct LeaseHolder {
    pub name: String,
    held_until: i64,
}

impl LeaseHolder {
    pub fn new(name: String) -> Self {
        Self {
            name,
            held_until: i64::MIN,
        }
    }

    /// True while this holder has the outbox lease at `now`, taking or renewing it (for
    /// `ttl_ms`) when due.
    pub async fn hold(&mut self, db: &Db, now: i64, ttl_ms: i64) -> sqlx::Result<bool> {
        if now < self.held_until.saturating_sub(ttl_ms / 2) {
            return Ok(true);
        }
        let held = take_lease(db, OUTBOX_LEASE, &self.name, now, ttl_ms).await?;
        self.held_until = if held { now + ttl_ms } else { i64::MIN };
        Ok(held)
    }

    /// Gives the lease back (a clean shutdown), so another publisher need not wait it out.
    pub async fn release(&self, db: &Db) -> sqlx::Result<()> {
        release_lease(db, OUTBOX_LEASE, &self.name).await
    }
}

/// The lease the outbox publisher holds.
pub const OUTBOX_LEASE: &str = "outbox";

/// Gives the lease up (a clean shutdown), so another publisher need not wait it out.
pub async fn release_lease(db: &Db, name: &str, holder: &str) -> sqlx::Result<()> {
    let (name, holder) = (name.to_owned(), holder.to_owned());
    db.write(move |tx| {
        tx.execute(
            "DELETE FROM leases WHERE name = $1 AND holder = $2",
            params![&name, &holder],
        )
    })
    .await?;
    Ok(())
}

const ENVELOPE: &str = "SELECT event_id, seq, aggregate_type, aggregate_id, event_type, \
     version, payload, created_at FROM outbox";

/// The oldest unpublished events, in outbox order.
pub async fn unpublished(db: &Db, limit: i64) -> sqlx::Result<Vec<Envelope>> {
    let sql = format!("{ENVELOPE} WHERE published_at IS NULL ORDER BY seq LIMIT $1");
    db.fetch_all(&sql, params![limit]).await
}

/// What waits in the outbox: how many events are unpublished, and when (application
/// clock, ms) the first of them in line was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    pub pending: i64,
    pub oldest_created_at: Option<i64>,
}

/// The outbox backlog, both parts read through the partial index of unpublished events:
/// the first in line costs one index probe, the count as much as the backlog is long.
pub async fn backlog(db: &Db) -> sqlx::Result<Backlog> {
    const SQL: &str = "SELECT \
         (SELECT count(*) FROM outbox WHERE published_at IS NULL), \
         (SELECT created_at FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT 1)";
    let (pending, oldest_created_at): (i64, Option<i64>) = db.fetch_one(SQL, &[]).await?;
    Ok(Backlog {
        pending,
        oldest_created_at,
    })
}

/// Sets `marquee_outbox_lag_seconds` and `marquee_outbox_pending_events` from the backlog
/// at `now`. Measured when metrics are scraped rather than by the publisher: the publisher
/// may be `marquee relay` in another process, or stuck, and a stuck publisher must show as
/// growing lag, not as the last value it reported. A failed read leaves the gauges as they
/// were (the database's own alerts say why).
pub async fn record_backlog(db: &Db, now: i64) {
    match backlog(db).await {
        Ok(backlog) => {
            let lag_ms = backlog
                .oldest_created_at
                .map_or(0, |at| now.saturating_sub(at).max(0));
            metrics::gauge!("marquee_outbox_lag_seconds").set(lag_ms as f64 / 1000.0);
            metrics::gauge!("marquee_outbox_pending_events").set(backlog.pending as f64);
        }
        Err(error) => tracing::warn!(%error, "cannot measure the outbox backlog"),
    }
}

/// Marks events published.
pub async fn mark_published(db: &Db, seqs: &[i64], now: i64) -> sqlx::Result<()> {
    if seqs.is_empty() {
        return Ok(());
    }
    let seqs = seqs.to_vec();
    db.write(move |tx| mark(tx, &seqs, now)).await
}

fn mark(tx: &mut Tx<'_>, seqs: &[i64], now: i64) -> sqlx::Result<()> {
    const MARK: Sql = Sql {
        sqlite: "UPDATE outbox SET published_at = $1 \
                 WHERE seq IN (SELECT value FROM json_each($2))",
        postgres: "UPDATE outbox SET published_at = $1 WHERE seq = ANY($2)",
    };
    tx.execute(MARK, params![now, seqs])?;
    Ok(())
}

/// Records what the consumers handled and marks the events published, in one unit of
/// work (the dispatcher's batch; on SQLite it joins the committer's group commit instead
/// of competing with it for the write lock).
pub async fn settle_batch(
    db: &Db,
    handled: &[(&str, &str)],
    seqs: &[i64],
    now: i64,
) -> sqlx::Result<()> {
    if handled.is_empty() && seqs.is_empty() {
        return Ok(());
    }
    let handled: Vec<(String, String)> = handled
        .iter()
        .map(|(c, e)| ((*c).to_owned(), (*e).to_owned()))
        .collect();
    let seqs = seqs.to_vec();
    db.write(move |tx| {
        for (consumer, event_id) in &handled {
            tx.execute(PROCESSED, params![consumer, event_id, now])?;
        }
        if !seqs.is_empty() {
            mark(tx, &seqs, now)?;
        }
        Ok(())
    })
    .await
}

const PROCESSED: &str = "INSERT INTO processed_events (consumer, event_id, processed_at) \
     VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";

/// Forgets published events and consumer records older than `before` (the sweeper's
/// chore); returns how many outbox rows went.
pub async fn purge(db: &Db, before: i64) -> sqlx::Result<u64> {
    db.write(move |tx| {
        let purged = tx.execute(
            "DELETE FROM outbox WHERE published_at < $1",
            params![before],
        )?;
        tx.execute(
            "DELETE FROM processed_events WHERE processed_at < $1",
            params![before],
        )?;
        Ok(purged)
    })
    .await
}

/// The highest `seq` written so far (0 for an empty outbox).
pub async fn last_seq(db: &Db) -> sqlx::Result<i64> {
    let seq: Option<i64> = db.fetch_one("SELECT max(seq) FROM outbox", &[]).await?;
    Ok(seq.unwrap_or(0))
}

/// Events after `seq`, in order, published or not.
pub async fn after(db: &Db, seq: i64, limit: i64) -> sqlx::Result<Vec<Envelope>> {
    let sql = format!("{ENVELOPE} WHERE seq > $1 ORDER BY seq LIMIT $2");
    db.fetch_all(&sql, params![seq, limit]).await
}

/// Every event, in order (tests and diagnostics).
pub async fn all(db: &Db) -> sqlx::Result<Vec<Envelope>> {
    let sql = format!("{ENVELOPE} ORDER BY seq");
    db.fetch_all(&sql, &[]).await
}

/// Records that `consumer` handled `event_id`; false if it already had.
pub async fn record_processed(
    db: &Db,
    consumer: &str,
    event_id: &str,
    now: i64,
) -> sqlx::Result<bool> {
    let (consumer, event_id) = (consumer.to_owned(), event_id.to_owned());
    let inserted = db
        .write(move |tx| tx.execute(PROCESSED, params![&consumer, &event_id, now]))
        .await?;
    Ok(inserted == 1)
}

/// Whether `consumer` has handled `event_id`.
pub async fn was_processed(db: &Db, consumer: &str, event_id: &str) -> sqlx::Result<bool> {
    let found: Option<i64> = db
        .fetch_optional(
            "SELECT processed_at FROM processed_events WHERE consumer = $1 AND event_id = $2",
            params![consumer, event_id],
        )
        .await?;
    Ok(found.is_some())
}
