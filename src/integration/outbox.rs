//! The transactional outbox: appending inside a unit of work, and draining in order under
//! a lease so that one publisher at a time publishes (which keeps each aggregate's events
//! in order, whatever the number of nodes or relays).

use super::events::{Envelope, Event, VERSION};
use crate::{
    db::{Conn, Db, native, on_conn, on_reader},
    ids::EventId,
};

const INSERT: &str = "INSERT INTO outbox (event_id, aggregate_type, aggregate_id, event_type, \
     version, payload, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// An event ready to be written: its id and stored parts.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub event_id: String,
    pub aggregate_type: &'static str,
    pub aggregate_id: String,
    pub event_type: String,
    pub payload: String,
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
        }
    }
}

/// Appends `event` in the unit of work or transaction `conn` belongs to: it commits, or
/// rolls back, with the change it describes.
pub async fn append(conn: &mut Conn<'_>, event: &Event, now: i64) -> sqlx::Result<()> {
    append_prepared(conn, &Prepared::new(event), now).await
}

pub async fn append_prepared(conn: &mut Conn<'_>, event: &Prepared, now: i64) -> sqlx::Result<()> {
    if let Conn::Native(n) = conn {
        native::execute(
            n,
            INSERT,
            &[
                ("$1", &event.event_id),
                ("$2", &event.aggregate_type),
                ("$3", &event.aggregate_id),
                ("$4", &event.event_type),
                ("$5", &VERSION),
                ("$6", &event.payload),
                ("$7", &now),
            ],
        )?;
        return Ok(());
    }
    on_conn!(conn, |c| {
        sqlx::query(INSERT)
            .bind(&event.event_id)
            .bind(event.aggregate_type)
            .bind(&event.aggregate_id)
            .bind(&event.event_type)
            .bind(VERSION)
            .bind(&event.payload)
            .bind(now)
            .execute(c)
            .await?;
    });
    Ok(())
}

/// Appends several events in order.
pub async fn append_all(conn: &mut Conn<'_>, events: &[Event], now: i64) -> sqlx::Result<()> {
    for event in events {
        append(conn, event, now).await?;
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
    let mut tx = db.begin().await?;
    let held: Option<String> = on_conn!(&mut tx.conn(), |c| {
        sqlx::query_scalar(SQL)
            .bind(name)
            .bind(holder)
            .bind(now + ttl_ms)
            .bind(now)
            .fetch_optional(c)
            .await?
    });
    tx.commit().await?;
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
    let mut tx = db.begin().await?;
    on_conn!(&mut tx.conn(), |c| {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(c)
            .await?;
    });
    tx.commit().await
}

/// The oldest unpublished events, in outbox order.
pub async fn unpublished(db: &Db, limit: i64) -> sqlx::Result<Vec<Envelope>> {
    on_reader!(db, |pool| {
        sqlx::query_as(
            "SELECT event_id, seq, aggregate_type, aggregate_id, event_type, version, payload, \
             created_at FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT $1",
        )
        .bind(limit)
        .fetch_all(pool)
        .await
    })
}

/// Marks events published.
pub async fn mark_published(db: &Db, seqs: &[i64], now: i64) -> sqlx::Result<()> {
    if seqs.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    for seq in seqs {
        on_conn!(&mut tx.conn(), |c| {
            sqlx::query("UPDATE outbox SET published_at = $1 WHERE seq = $2")
                .bind(now)
                .bind(seq)
                .execute(c)
                .await?;
        });
    }
    tx.commit().await
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
    let work = std::sync::Arc::new((handled, seqs.to_vec()));
    db.write(move |mut conn: Conn<'_>| {
        let work = work.clone();
        Box::pin(async move {
            let (handled, seqs) = &*work;
            settle(&mut conn, handled, seqs, now).await
        })
    })
    .await
}

const PROCESSED: &str = "INSERT INTO processed_events (consumer, event_id, processed_at) \
     VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";

async fn settle(
    conn: &mut Conn<'_>,
    handled: &[(String, String)],
    seqs: &[i64],
    now: i64,
) -> sqlx::Result<()> {
    if let Conn::Native(n) = conn {
        for (consumer, event_id) in handled {
            native::execute(
                n,
                PROCESSED,
                &[("$1", consumer), ("$2", event_id), ("$3", &now)],
            )?;
        }
        let list = serde_json::to_string(seqs).unwrap_or_default();
        native::execute(
            n,
            "UPDATE outbox SET published_at = $1 WHERE seq IN (SELECT value FROM json_each($2))",
            &[("$1", &now), ("$2", &list)],
        )?;
        return Ok(());
    }
    let Conn::Postgres(c) = conn else {
        return Err(native::unsupported());
    };
    for (consumer, event_id) in handled {
        sqlx::query(PROCESSED)
            .bind(consumer)
            .bind(event_id)
            .bind(now)
            .execute(&mut **c)
            .await?;
    }
    sqlx::query("UPDATE outbox SET published_at = $1 WHERE seq = ANY($2)")
        .bind(now)
        .bind(seqs)
        .execute(&mut **c)
        .await?;
    Ok(())
}

/// Forgets published events and consumer records older than `before` (the sweeper's
/// chore); returns how many outbox rows went.
pub async fn purge(db: &Db, before: i64) -> sqlx::Result<u64> {
    let mut tx = db.begin().await?;
    let purged = on_conn!(&mut tx.conn(), |c| {
        let purged = sqlx::query("DELETE FROM outbox WHERE published_at < $1")
            .bind(before)
            .execute(&mut *c)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM processed_events WHERE processed_at < $1")
            .bind(before)
            .execute(&mut *c)
            .await?;
        purged
    });
    tx.commit().await?;
    Ok(purged)
}

/// The highest `seq` written so far (0 for an empty outbox).
pub async fn last_seq(db: &Db) -> sqlx::Result<i64> {
    let seq: Option<i64> = on_reader!(db, |pool| {
        sqlx::query_scalar("SELECT max(seq) FROM outbox")
            .fetch_one(pool)
            .await?
    });
    Ok(seq.unwrap_or(0))
}

/// Events after `seq`, in order, published or not.
pub async fn after(db: &Db, seq: i64, limit: i64) -> sqlx::Result<Vec<Envelope>> {
    on_reader!(db, |pool| {
        sqlx::query_as(
            "SELECT event_id, seq, aggregate_type, aggregate_id, event_type, version, payload, \
             created_at FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(seq)
        .bind(limit)
        .fetch_all(pool)
        .await
    })
}

/// Every event, in order (tests and diagnostics).
pub async fn all(db: &Db) -> sqlx::Result<Vec<Envelope>> {
    on_reader!(db, |pool| {
        sqlx::query_as(
            "SELECT event_id, seq, aggregate_type, aggregate_id, event_type, version, payload, \
             created_at FROM outbox ORDER BY seq",
        )
        .fetch_all(pool)
        .await
    })
}

/// Records that `consumer` handled `event_id`; false if it already had.
pub async fn record_processed(
    db: &Db,
    consumer: &str,
    event_id: &str,
    now: i64,
) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    let inserted = on_conn!(&mut tx.conn(), |c| {
        sqlx::query(
            "INSERT INTO processed_events (consumer, event_id, processed_at) \
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(consumer)
        .bind(event_id)
        .bind(now)
        .execute(c)
        .await?
        .rows_affected()
    });
    tx.commit().await?;
    Ok(inserted == 1)
}

/// Whether `consumer` has handled `event_id`.
pub async fn was_processed(db: &Db, consumer: &str, event_id: &str) -> sqlx::Result<bool> {
    let found: Option<i64> = on_reader!(db, |pool| {
        sqlx::query_scalar(
            "SELECT processed_at FROM processed_events WHERE consumer = $1 AND event_id = $2",
        )
        .bind(consumer)
        .bind(event_id)
        .fetch_optional(pool)
        .await?
    });
    Ok(found.is_some())
}
