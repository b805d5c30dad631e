//! Joins to an open room on PostgreSQL, in the order they reach this node, written a batch
//! at a time.
//!
//! Arrivals after the on-sale queue first come, first served. One statement per join has
//! every join wait for the room row's lock, held until that join's commit is flushed: the
//! joins then run at the speed of one WAL flush each, and the order in which blocked
//! joins get the lock is PostgreSQL's, not the order they arrived in. Here the first join
//! to arrive while none is being written starts a writer (a task of its own, so a client
//! that goes away does not stop it); joins arriving meanwhile wait in a list, and each
//! statement takes the whole list: it moves the room's `next_position` on by the list's
//! length and inserts the entries at consecutive positions, in list order. One flush
//! covers a whole batch, and this node's arrivals keep their order.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
};

use tokio::sync::oneshot;

use crate::{db::Db, params};

/// Most joins in one statement.
const MAX_BATCH: usize = 500;

/// The joins waiting to be written, per room.
#[derive(Default)]
pub struct JoinBatches {
    rooms: Mutex<HashMap<String, Vec<Arrival>>>,
}

struct Arrival {
    id: String,
    customer: String,
    joined_at: i64,
    /// `Some(true)`: the entry was inserted; `Some(false)`: it was not (the account has an
    /// entry already, or the room sold out); `None`: the batch failed (join alone).
    answer: oneshot::Sender<Option<bool>>,
}

impl JoinBatches {
    /// Joins `customer` to the open room of `show_id` with the entry id `id`, in turn with
    /// this node's other arrivals. `None` when the batch could not be written (the caller
    /// joins on its own, and sees the error if there is one).
    pub async fn join(
        self: &Arc<Self>,
        db: &Db,
        show_id: &str,
        id: String,
        customer: &str,
        joined_at: i64,
        min_rate_per_sec: f64,
    ) -> Option<bool> {
        let (answer, answered) = oneshot::channel();
        let arrival = Arrival {
            id,
            customer: customer.to_owned(),
            joined_at,
            answer,
        };
        let start_writer = {
            let mut rooms = self.lock();
            match rooms.get_mut(show_id) {
                Some(waiting) => {
                    waiting.push(arrival);
                    false
                }
                None => {
                    rooms.insert(show_id.to_owned(), vec![arrival]);
                    true
                }
            }
        };
        if start_writer {
            let (batches, db, show) = (self.clone(), db.clone(), show_id.to_owned());
            tokio::spawn(async move { batches.write(&db, &show, min_rate_per_sec).await });
        }
        answered.await.ok().flatten()
    }

    /// Writes the room's waiting joins until none are left (then the next arrival starts a
    /// writer again).
    async fn write(&self, db: &Db, show_id: &str, min_rate_per_sec: f64) {
        loop {
            let batch = {
                let mut rooms = self.lock();
                let Some(waiting) = rooms.get_mut(show_id) else {
                    return;
                };
                if waiting.is_empty() {
                    rooms.remove(show_id);
                    return;
                }
                let take = waiting.len().min(MAX_BATCH);
                waiting.drain(..take).collect::<Vec<_>>()
            };
            // An account joining twice at once: its second arrival takes no position, and
            // is answered once the first one's entry is written.
            let mut seen = HashSet::with_capacity(batch.len());
            let (first, again): (Vec<Arrival>, Vec<Arrival>) = batch
                .into_iter()
                .partition(|arrival| seen.insert(arrival.customer.clone()));
            let written = insert(db, show_id, &first, min_rate_per_sec).await;
            if let Err(error) = &written {
                tracing::warn!(%error, show_id, joins = first.len(), "a batch of waiting-room joins failed; they join one by one");
            } else {
                metrics::histogram!("marquee_waiting_room_join_batch").record(first.len() as f64);
            }
            for arrival in first {
                let created = written.as_ref().ok().map(|ids| ids.contains(&arrival.id));
                let _ = arrival.answer.send(created);
            }
            for arrival in again {
                let _ = arrival.answer.send(written.is_ok().then_some(false));
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Arrival>>> {
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One statement, its own transaction: takes the next positions of the open room for
/// the batch's accounts that have no entry yet and inserts their entries there in batch
/// order, each with its first estimate (`admission::expected_at`). Answers the ids
/// inserted. (An account whose entry another node inserts meanwhile leaves its position
/// empty; admission passes over it.)
async fn insert(
    db: &Db,
    show_id: &str,
    batch: &[Arrival],
    min_rate_per_sec: f64,
) -> sqlx::Result<HashSet<String>> {
    let ids: Vec<String> = batch.iter().map(|a| a.id.clone()).collect();
    let customers: Vec<String> = batch.iter().map(|a| a.customer.clone()).collect();
    let joined: Vec<i64> = batch.iter().map(|a| a.joined_at).collect();
    let inserted: Vec<String> = db
        .fetch_all(
            "WITH arrivals AS ( \
               SELECT a.id, a.customer_id, a.joined_at, \
                 row_number() OVER (ORDER BY a.n) AS k \
               FROM unnest($2::text[], $3::text[], $4::bigint[]) \
                 WITH ORDINALITY AS a(id, customer_id, joined_at, n) \
               WHERE NOT EXISTS (SELECT 1 FROM waiting_room_entries e \
                 WHERE e.show_id = $1 AND e.customer_id = a.customer_id)), \
             slot AS ( \
               UPDATE waiting_rooms \
               SET next_position = next_position + (SELECT COUNT(*) FROM arrivals) \
               WHERE show_id = $1 AND shuffled_at IS NOT NULL AND status <> 'sold-out' \
               RETURNING next_position - (SELECT COUNT(*) FROM arrivals) AS base, \
                 admitted_through, rate_per_min) \
             INSERT INTO waiting_room_entries (id, show_id, customer_id, joined_at, position, \
               expected_at) \
             SELECT a.id, $1, a.customer_id, a.joined_at, slot.base + a.k, \
               a.joined_at + CAST(CEIL(GREATEST(slot.base + a.k - slot.admitted_through - 1, 0) \
                 * 1000.0 / GREATEST(slot.rate_per_min / 60.0, $5, 0.001)) AS BIGINT) \
             FROM slot CROSS JOIN arrivals a \
             ON CONFLICT (show_id, customer_id) DO NOTHING \
             RETURNING id",
            params![show_id, &ids, &customers, &joined, min_rate_per_sec],
        )
        .await?;
    Ok(inserted.into_iter().collect())
}
