//! Booking storage. Readers take `&Db`; everything that runs inside a unit of work takes
//! the transaction's `Conn`, and where the dialects differ (row locks, list parameters)
//! the function matches on the engine.
//!
//! Lock order on PostgreSQL, everywhere: a booking row before its seats, seats by
//! (show, label). Claims, confirmation, release and the sweeper all follow it, so they
//! queue behind each other instead of deadlocking (and `Db::write` retries if one does).

use super::{
    model::{BookingRow, PaymentRow},
    native,
};
use axum::http::StatusCode;

use crate::{
    db::{Conn, Db, native as native_db, on_conn, on_reader},
    http::idempotency::Idempotency,
    ids::EventId,
    integration::{
        events::{Event, VERSION},
        outbox::{self, Prepared},
    },
    time::Timestamp,
};

/// The PostgreSQL connection of a unit of work. On SQLite, units of work run on the
/// committer's connection (`Conn::Native`, served by `booking::native`); booking writes
/// never run in a sqlx SQLite transaction, so that case is refused rather than duplicated.
fn postgres<'a>(conn: &'a mut Conn<'_>) -> sqlx::Result<&'a mut sqlx::PgConnection> {
    match conn {
        Conn::Postgres(c) => Ok(&mut **c),
        Conn::Sqlite(_) | Conn::Native(_) => Err(native_db::unsupported()),
    }
}

pub const BOOKING_SELECT: &str = "SELECT b.id, b.customer_id, b.show_id, b.group_id, b.status, \
     b.seats, b.currency, b.total, b.fee_total, b.quote, b.refund, b.expires_at, b.created_at, \
     b.updated_at, b.confirmed_at, b.cancelled_at, s.starts_at, t.org_id \
     FROM bookings b JOIN shows s ON s.id = b.show_id JOIN theatres t ON t.id = s.theatre_id";

const PAYMENT_COLUMNS: &str = "id, booking_id, provider, intent_id, status, amount, currency, \
     refund_amount, failure_reason, created_at";

// Statements that read the same on both engines: the PostgreSQL branches below and the
// SQLite ones in `booking::native` run this very text.

pub(super) const SHOW_ON_SALE: &str =
    "SELECT 1 FROM shows WHERE id = $1 AND status = 'scheduled' AND starts_at > $2";

pub(super) const INSERT_BOOKING: &str = "INSERT INTO bookings (id, customer_id, show_id, \
     group_id, status, seats, currency, total, fee_total, quote, expires_at, created_at, \
     updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)";

pub(super) const CONFIRM_BOOKING: &str = "UPDATE bookings SET status = 'confirmed', \
     confirmed_at = $1, updated_at = $1 \
     WHERE id = $2 AND status = 'pending_payment' AND expires_at > $1 AND total = $3 \
     RETURNING show_id, seats";

pub(super) const CANCEL_SHOW_ROW: &str = "UPDATE shows SET status = 'cancelled', \
     updated_at = $1 WHERE id = $2 AND status = 'scheduled'";

pub(super) const CANCEL_SHOW_BOOKINGS: &str = "UPDATE bookings SET status = 'cancelled', \
     cancelled_at = $1, updated_at = $1, \
     refund = CASE WHEN status = 'confirmed' THEN total ELSE NULL END \
     WHERE show_id = $2 AND status IN ('pending_payment', 'confirmed') \
     RETURNING id, refund";

pub(super) const CANCEL_SHOW_PAYMENTS: &str = "UPDATE payments SET status = 'refunding', \
     refund_amount = amount, updated_at = $1 \
     WHERE status = 'succeeded' AND booking_id IN (SELECT id FROM bookings WHERE show_id = $2) \
     RETURNING id";

pub(super) const INSERT_PAYMENT: &str = "INSERT INTO payments (id, booking_id, provider, \
     intent_id, status, amount, currency, failure_reason, created_at, updated_at) \
     SELECT $1, $2, $3, $7, $8, $4, $5, $9, $6, $6 \
     WHERE EXISTS (SELECT 1 FROM bookings WHERE id = $2 \
                   AND status = 'pending_payment' AND expires_at > $6)";

pub(super) const SET_PAYMENT_STATUS: &str = "UPDATE payments SET status = $1, updated_at = $2, \
     intent_id = COALESCE($3, intent_id), failure_reason = COALESCE($4, failure_reason), \
     refund_amount = CASE WHEN $1 = 'refunding' AND refund_amount IS NULL THEN amount \
                          ELSE refund_amount END \
     WHERE id = $5 AND status = $6 \
     RETURNING id, booking_id, provider, intent_id, status, amount, currency, refund_amount, \
               failure_reason, created_at";

pub(super) const START_REFUND: &str = "UPDATE payments SET status = 'refunding', \
     refund_amount = $1, updated_at = $2 \
     WHERE booking_id = $3 AND status = 'succeeded' RETURNING id";

/// The conditional status change of `set_status`; the stamp column follows the target.
pub(super) fn set_status_sql(to: &str) -> String {
    let stamp = match to {
        "confirmed" => ", confirmed_at = $2",
        "cancelled" => ", cancelled_at = $2",
        _ => "",
    };
    format!(
        "UPDATE bookings SET status = $1, updated_at = $2, refund = COALESCE($3, refund){stamp} \
         WHERE id = $4 AND status = $5"
    )
}

pub async fn get_booking(db: &Db, id: &str) -> sqlx::Result<Option<BookingRow>> {
    if let Some(path) = db.native_path() {
        return native_db::read(path, |c| native::get_booking(c, id));
    }
    let sql = format!("{BOOKING_SELECT} WHERE b.id = $1");
    on_reader!(db, |pool| {
        sqlx::query_as(&sql).bind(id).fetch_optional(pool).await
    })
}

/// A booking with its payments, in one statement: the read behind every booking view.
pub async fn booking_with_payments(
    db: &Db,
    id: &str,
) -> sqlx::Result<Option<(BookingRow, Vec<PaymentRow>)>> {
    #[derive(sqlx::FromRow)]
    struct Joined {
        #[sqlx(flatten)]
        booking: BookingRow,
        payments: Option<String>,
    }
    let fields = "'id', p.id, 'booking_id', p.booking_id, 'provider', p.provider, \
         'intent_id', p.intent_id, 'status', p.status, 'amount', p.amount, \
         'currency', p.currency, 'refund_amount', p.refund_amount, \
         'failure_reason', p.failure_reason, 'created_at', p.created_at";
    let decode = |payments: Option<String>| -> Vec<PaymentRow> {
        payments
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    };
    match db {
        Db::Sqlite(sqlite) => {
            let sql = format!(
                "SELECT b.*, (SELECT json_group_array(json_object({fields})) FROM \
                   (SELECT * FROM payments WHERE booking_id = b.id ORDER BY created_at, id) p) \
                   AS payments \
                 FROM ({BOOKING_SELECT} WHERE b.id = $1) b"
            );
            native_db::read(&sqlite.path, |c| {
                let rows = native_db::query(c, &sql, &[("$1", &id)], |r| {
                    Ok((native::booking(r)?, r.get::<_, Option<String>>("payments")?))
                })?;
                Ok(rows.into_iter().next().map(|(b, p)| (b, decode(p))))
            })
        }
        Db::Postgres(pool) => {
            let sql = format!(
                "SELECT b.*, (SELECT json_agg(json_build_object({fields}) ORDER BY p.created_at, p.id)::text \
                   FROM payments p WHERE p.booking_id = b.id) AS payments \
                 FROM ({BOOKING_SELECT} WHERE b.id = $1) b"
            );
            let row: Option<Joined> = sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?;
            Ok(row.map(|j| (j.booking, decode(j.payments))))
        }
    }
}

/// The same, read inside a unit of work.
pub async fn get_booking_in(conn: &mut Conn<'_>, id: &str) -> sqlx::Result<Option<BookingRow>> {
    if let Conn::Native(n) = conn {
        return native::get_booking(n, id);
    }
    let sql = format!("{BOOKING_SELECT} WHERE b.id = $1");
    on_conn!(conn, |c| {
        sqlx::query_as(&sql).bind(id).fetch_optional(c).await
    })
}

/// Newest first; `after` is the (created_at, id) of the last booking already served.
pub async fn list_bookings(
    db: &Db,
    customer_id: Option<&str>,
    show_id: Option<&str>,
    after: Option<(i64, String)>,
    limit: u32,
) -> sqlx::Result<Vec<BookingRow>> {
    let (column, value) = match (customer_id, show_id) {
        (Some(customer), _) => ("b.customer_id", customer),
        (None, Some(show)) => ("b.show_id", show),
        (None, None) => return Ok(Vec::new()),
    };
    let (after_at, after_id) = after.unwrap_or((i64::MAX, String::new()));
    let sql = format!(
        "{BOOKING_SELECT} WHERE {column} = $1 \
         AND (b.created_at < $2 OR (b.created_at = $2 AND b.id < $3) OR $3 = '') \
         ORDER BY b.created_at DESC, b.id DESC LIMIT $4"
    );
    on_reader!(db, |pool| {
        sqlx::query_as(&sql)
            .bind(value)
            .bind(after_at)
            .bind(&after_id)
            .bind(i64::from(limit) + 1)
            .fetch_all(pool)
            .await
    })
}

/// Payments of these bookings, oldest first.
pub async fn payments_of(db: &Db, booking_ids: &[String]) -> sqlx::Result<Vec<PaymentRow>> {
    if booking_ids.is_empty() {
        return Ok(Vec::new());
    }
    match db {
        Db::Sqlite(sqlite) => {
            let ids = serde_json::to_string(booking_ids).unwrap_or_default();
            native_db::read(&sqlite.path, |c| native::payments_of(c, &ids))
        }
        // One booking (the common case) by equality: a generic plan for `= ANY($1)` made
        // while the table was small can stay a sequential scan.
        Db::Postgres(pool) if booking_ids.len() == 1 => {
            sqlx::query_as(&format!(
                "SELECT {PAYMENT_COLUMNS} FROM payments \
                 WHERE booking_id = $1 ORDER BY created_at, id"
            ))
            .bind(&booking_ids[0])
            .fetch_all(pool)
            .await
        }
        Db::Postgres(pool) => {
            sqlx::query_as(&format!(
                "SELECT {PAYMENT_COLUMNS} FROM payments \
                 WHERE booking_id = ANY($1) ORDER BY created_at, id"
            ))
            .bind(booking_ids)
            .fetch_all(pool)
            .await
        }
    }
}

pub async fn get_payment(db: &Db, id: &str) -> sqlx::Result<Option<PaymentRow>> {
    let sql = format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1");
    on_reader!(db, |pool| {
        sqlx::query_as(&sql).bind(id).fetch_optional(pool).await
    })
}

/// Whether the show can be sold at `now`, read inside the unit of work.
pub async fn show_on_sale(conn: &mut Conn<'_>, show_id: &str, now: i64) -> sqlx::Result<bool> {
    if let Conn::Native(n) = conn {
        return native::show_on_sale(n, show_id, now);
    }
    let row: Option<i32> = on_conn!(conn, |c| {
        sqlx::query_scalar(SHOW_ON_SALE)
            .bind(show_id)
            .bind(now)
            .fetch_optional(c)
            .await?
    });
    Ok(row.is_some())
}

pub async fn insert_booking(conn: &mut Conn<'_>, b: &BookingRow) -> sqlx::Result<()> {
    if let Conn::Native(n) = conn {
        return native::insert_booking(n, b);
    }
    on_conn!(conn, |c| {
        sqlx::query(INSERT_BOOKING)
            .bind(&b.id)
            .bind(&b.customer_id)
            .bind(&b.show_id)
            .bind(&b.group_id)
            .bind(&b.status)
            .bind(&b.seats)
            .bind(&b.currency)
            .bind(b.total)
            .bind(b.fee_total)
            .bind(&b.quote)
            .bind(b.expires_at)
            .bind(b.created_at)
            .execute(c)
            .await?;
    });
    Ok(())
}

/// The seat claim: every listed seat that is available, or held by a hold that has lapsed,
/// becomes held by `booking_id` until `held_until`. Returns the labels claimed; fewer than
/// asked means the caller rolls back. No read-then-write: the condition is in the UPDATE,
/// and on PostgreSQL a claim that waited on a row lock re-checks it on the row's newest
/// version, so two claims of one seat cannot both succeed. Rows are locked in label order
/// first so overlapping claims queue instead of deadlocking. The show must be on sale: a
/// cancelled show's seats are all `blocked` (see `cancel_show`), which a waiting claim
/// re-checks, and a show with holds cannot be moved.
pub async fn claim_seats(
    conn: &mut Conn<'_>,
    show_id: &str,
    booking_id: &str,
    labels: &[String],
    held_until: i64,
    now: i64,
) -> sqlx::Result<Vec<String>> {
    if let Conn::Native(n) = conn {
        return native::claim_seats(n, show_id, booking_id, labels, held_until, now);
    }
    sqlx::query_scalar(
        "WITH wanted AS ( \
           SELECT seat_label FROM show_seats WHERE show_id = $3 AND seat_label = ANY($4) \
           ORDER BY seat_label FOR UPDATE) \
         UPDATE show_seats s SET state = 'held', booking_id = $1, held_until = $2 \
         FROM wanted WHERE s.show_id = $3 AND s.seat_label = wanted.seat_label \
         AND (s.state = 'available' OR (s.state = 'held' AND s.held_until <= $5)) \
         AND EXISTS (SELECT 1 FROM shows WHERE id = $3 AND status = 'scheduled' AND starts_at > $5) \
         RETURNING s.seat_label",
    )
    .bind(booking_id)
    .bind(held_until)
    .bind(show_id)
    .bind(labels)
    .bind(now)
    .fetch_all(postgres(conn)?)
    .await
}

/// An idempotency key to record in the unit of work of the effect it answers for.
pub struct KeyRecord<'a> {
    pub key: &'a Idempotency,
    pub status: StatusCode,
    pub response: &'a str,
}

/// What an attempt to hold seats did. Anything but `Held` must not be committed: on
/// SQLite the unit of work rolls back on the error its caller makes of it; on PostgreSQL
/// nothing was written.
#[derive(Debug, PartialEq, Eq)]
pub enum HoldOutcome {
    Held,
    /// The idempotency key is already recorded (by an earlier or a concurrent request).
    KeyTaken,
    NotOnSale,
    /// These seats are neither available nor held by a lapsed hold.
    Unavailable(Vec<String>),
}

/// Records the key (if any), inserts the booking and claims its seats: all of it or none.
/// On PostgreSQL this is one statement, so it can run as its own transaction
/// (`Db::write_statement`): the seats are locked in label order, then checked on their
/// newest versions, and the inserts and the claim happen only if every seat is free and
/// the show is on sale. A key recorded before surfaces as a unique violation of the key,
/// which aborts the statement. On SQLite the committer runs the steps one by one.
pub async fn hold(
    conn: &mut Conn<'_>,
    row: &BookingRow,
    seats: &[String],
    key: Option<KeyRecord<'_>>,
    now: i64,
) -> sqlx::Result<HoldOutcome> {
    if let Conn::Native(_) = conn {
        if let Some(k) = key
            && !k
                .key
                .record(conn, Timestamp::from_millis(now), k.status, k.response)
                .await?
        {
            return Ok(HoldOutcome::KeyTaken);
        }
        insert_booking(conn, row).await?;
        let claimed = claim_seats(conn, &row.show_id, &row.id, seats, row.expires_at, now).await?;
        return Ok(if claimed.len() == seats.len() {
            outbox::append_prepared(conn, &held_event(row, seats), now).await?;
            HoldOutcome::Held
        } else if !show_on_sale(conn, &row.show_id, now).await? {
            HoldOutcome::NotOnSale
        } else {
            HoldOutcome::Unavailable(missing(seats, &claimed))
        });
    }
    let (principal, idem_key, fingerprint, status, response) = key_columns(key.as_ref());
    let event = held_event(row, seats);
    let attempt: sqlx::Result<(bool, Vec<String>)> = sqlx::query_as(
        "WITH wanted AS ( \
           SELECT seat_label, state, held_until FROM show_seats \
           WHERE show_id = $3 AND seat_label = ANY($13) ORDER BY seat_label FOR UPDATE), \
         free AS ( \
           SELECT seat_label FROM wanted \
           WHERE state = 'available' OR (state = 'held' AND held_until <= $12 \
             AND NOT EXISTS (SELECT 1 FROM waitlist_entries \
                             WHERE show_id = $3 AND status = 'waiting'))), \
         on_sale AS ( \
           SELECT 1 FROM shows WHERE id = $3 AND status = 'scheduled' AND starts_at > $12), \
         go AS ( \
           SELECT 1 WHERE (SELECT count(*) FROM free) = $14 AND EXISTS (SELECT 1 FROM on_sale)), \
         idem AS ( \
           INSERT INTO idempotency_keys (principal, key, fingerprint, status, response, created_at) \
           SELECT $15, $16, $17, $18, $19, $12 FROM go WHERE $15::text IS NOT NULL), \
         booking AS ( \
           INSERT INTO bookings (id, customer_id, show_id, group_id, status, seats, currency, \
             total, fee_total, quote, expires_at, created_at, updated_at) \
           SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12 FROM go), \
         claim AS ( \
           UPDATE show_seats s SET state = 'held', booking_id = $1, held_until = $11 \
           FROM free, go WHERE s.show_id = $3 AND s.seat_label = free.seat_label), \
         event AS ( \
           INSERT INTO outbox (event_id, aggregate_type, aggregate_id, event_type, version, \
             payload, created_at) \
           SELECT $20, $21, $1, $22, $23, $24, $12 FROM go) \
         SELECT EXISTS (SELECT 1 FROM on_sale), ARRAY(SELECT seat_label FROM free)",
    )
    .bind(&row.id)
    .bind(&row.customer_id)
    .bind(&row.show_id)
    .bind(&row.group_id)
    .bind(&row.status)
    .bind(&row.seats)
    .bind(&row.currency)
    .bind(row.total)
    .bind(row.fee_total)
    .bind(&row.quote)
    .bind(row.expires_at)
    .bind(now)
    .bind(seats)
    .bind(seats.len() as i64)
    .bind(principal)
    .bind(idem_key)
    .bind(fingerprint)
    .bind(status)
    .bind(response)
    .bind(&event.event_id)
    .bind(event.aggregate_type)
    .bind(&event.event_type)
    .bind(VERSION)
    .bind(&event.payload)
    .fetch_one(postgres(conn)?)
    .await;
    Ok(match attempt {
        Err(sqlx::Error::Database(error))
            if error.constraint() == Some("idempotency_keys_pkey") =>
        {
            HoldOutcome::KeyTaken
        }
        Err(error) => return Err(error),
        Ok((false, _)) => HoldOutcome::NotOnSale,
        Ok((true, free)) if free.len() == seats.len() => HoldOutcome::Held,
        Ok((true, free)) => HoldOutcome::Unavailable(missing(seats, &free)),
    })
}

fn held_event(row: &BookingRow, seats: &[String]) -> Prepared {
    Prepared::new(&Event::BookingHeld {
        booking_id: row.id.clone(),
        customer_id: row.customer_id.clone(),
        show_id: row.show_id.clone(),
        seats: seats.to_vec(),
        total: row.total,
        currency: row.currency.clone(),
        expires_at: row.expires_at,
        waitlist_entry_id: None,
    })
}

fn missing(wanted: &[String], got: &[String]) -> Vec<String> {
    wanted
        .iter()
        .filter(|s| !got.contains(s))
        .cloned()
        .collect()
}

/// Reads the booking, locking its row on PostgreSQL.
pub async fn lock_booking(conn: &mut Conn<'_>, id: &str) -> sqlx::Result<Option<BookingRow>> {
    match conn {
        Conn::Sqlite(_) | Conn::Native(_) => get_booking_in(conn, id).await,
        Conn::Postgres(c) => {
            sqlx::query_as(&format!("{BOOKING_SELECT} WHERE b.id = $1 FOR UPDATE OF b"))
                .bind(id)
                .fetch_optional(&mut **c)
                .await
        }
    }
}

/// Moves the booking's seats from `from` to `to` (`available` also clears the owner) in
/// one statement; on PostgreSQL the rows are locked in label order first. Returns how
/// many seats moved.
pub async fn move_seats(
    conn: &mut Conn<'_>,
    show_id: &str,
    booking_id: &str,
    from: &str,
    to: &str,
) -> sqlx::Result<u64> {
    if let Conn::Native(n) = conn {
        return native::move_seats(n, show_id, booking_id, from, to);
    }
    let owner = if to == "available" {
        "booking_id = NULL,"
    } else {
        ""
    };
    let sql = format!(
        "WITH mine AS ( \
           SELECT seat_label FROM show_seats \
           WHERE show_id = $1 AND booking_id = $2 AND state = $3 \
           ORDER BY seat_label FOR UPDATE) \
         UPDATE show_seats s SET state = $4, {owner} held_until = NULL FROM mine \
         WHERE s.show_id = $1 AND s.seat_label = mine.seat_label \
         AND s.booking_id = $2 AND s.state = $3"
    );
    Ok(sqlx::query(&sql)
        .bind(show_id)
        .bind(booking_id)
        .bind(from)
        .bind(to)
        .execute(postgres(conn)?)
        .await?
        .rows_affected())
}

/// Confirms a booking that is still awaiting payment of `amount` and has not lapsed at
/// `now`. Returns its show and seat labels (JSON) when it did.
pub async fn confirm_booking(
    conn: &mut Conn<'_>,
    id: &str,
    amount: i64,
    now: i64,
) -> sqlx::Result<Option<(String, String)>> {
    if let Conn::Native(n) = conn {
        return native::confirm_booking(n, id, amount, now);
    }
    on_conn!(conn, |c| {
        sqlx::query_as(CONFIRM_BOOKING)
            .bind(now)
            .bind(id)
            .bind(amount)
            .fetch_optional(c)
            .await
    })
}

/// Conditional status change: only from one of `from`. True when it happened.
#[allow(clippy::too_many_arguments)]
pub async fn set_status(
    conn: &mut Conn<'_>,
    id: &str,
    from: &str,
    to: &str,
    now: i64,
    refund: Option<i64>,
) -> sqlx::Result<bool> {
    if let Conn::Native(n) = conn {
        return native::set_status(n, id, from, to, now, refund);
    }
    let sql = set_status_sql(to);
    let changed = on_conn!(conn, |c| {
        sqlx::query(&sql)
            .bind(to)
            .bind(now)
            .bind(refund)
            .bind(id)
            .bind(from)
            .execute(c)
            .await?
            .rows_affected()
    });
    Ok(changed == 1)
}

/// A hold the sweeper expired.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Expired {
    #[sqlx(rename = "id")]
    pub booking_id: String,
    pub show_id: String,
    /// JSON array of the booking's seat labels.
    pub seats: String,
}

/// Marks up to `limit` lapsed holds `expired` and frees their seats. Every node may run
/// this at once: PostgreSQL hands each booking to one of them (`SKIP LOCKED`); SQLite has
/// one writer anyway. Returns (booking, show) pairs.
pub async fn expire_due(conn: &mut Conn<'_>, now: i64, limit: i64) -> sqlx::Result<Vec<Expired>> {
    if let Conn::Native(n) = conn {
        return native::expire_due(n, now, limit);
    }
    let c = postgres(conn)?;
    let expired: Vec<Expired> = sqlx::query_as(
        "WITH due AS ( \
           SELECT id FROM bookings WHERE status = 'pending_payment' AND expires_at <= $1 \
           ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
         UPDATE bookings b SET status = 'expired', updated_at = $1 FROM due \
         WHERE b.id = due.id RETURNING b.id, b.show_id, b.seats",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    if expired.is_empty() {
        return Ok(expired);
    }
    let ids: Vec<&str> = expired.iter().map(|e| e.booking_id.as_str()).collect();
    sqlx::query(
        "WITH mine AS ( \
           SELECT show_id, seat_label FROM show_seats \
           WHERE booking_id = ANY($1) AND state = 'held' \
           ORDER BY show_id, seat_label FOR UPDATE) \
         UPDATE show_seats s SET state = 'available', booking_id = NULL, held_until = NULL \
         FROM mine WHERE s.show_id = mine.show_id AND s.seat_label = mine.seat_label \
         AND s.booking_id = ANY($1)",
    )
    .bind(&ids)
    .execute(&mut *c)
    .await?;
    Ok(expired)
}

/// Cancels a show with everything sold for it: the show row, every seat (blocked, so a
/// claim that was waiting on a seat lock finds nothing to take), every live booking
/// (confirmed ones refunded in full) and their succeeded payments (to be refunded).
/// Returns (bookings cancelled, payments to refund) or `None` if the show was not
/// scheduled.
pub async fn cancel_show(
    conn: &mut Conn<'_>,
    show_id: &str,
    now: i64,
) -> sqlx::Result<Option<(Vec<(String, Option<i64>)>, Vec<String>)>> {
    if let Conn::Native(n) = conn {
        return native::cancel_show(n, show_id, now);
    }
    let c = postgres(conn)?;
    let changed = sqlx::query(CANCEL_SHOW_ROW)
        .bind(now)
        .bind(show_id)
        .execute(&mut *c)
        .await?
        .rows_affected();
    if changed == 0 {
        return Ok(None);
    }
    sqlx::query(
        "WITH every_seat AS ( \
           SELECT seat_label FROM show_seats WHERE show_id = $1 \
           ORDER BY seat_label FOR UPDATE) \
         UPDATE show_seats s SET state = 'blocked', booking_id = NULL, held_until = NULL \
         FROM every_seat WHERE s.show_id = $1 AND s.seat_label = every_seat.seat_label",
    )
    .bind(show_id)
    .execute(&mut *c)
    .await?;
    let bookings: Vec<(String, Option<i64>)> = sqlx::query_as(CANCEL_SHOW_BOOKINGS)
        .bind(now)
        .bind(show_id)
        .fetch_all(&mut *c)
        .await?;
    let payments: Vec<String> = sqlx::query_scalar(CANCEL_SHOW_PAYMENTS)
        .bind(now)
        .bind(show_id)
        .fetch_all(&mut *c)
        .await?;
    Ok(Some((bookings, payments)))
}

// ---- payments -------------------------------------------------------------------------

/// Records a new payment (pending, or failed when the gateway refused the card outright)
/// for a booking that is still awaiting payment at `now`.
/// Returns false when the booking is not payable; a unique violation (another payment is
/// pending or succeeded) surfaces as the database error.
pub async fn insert_payment(
    conn: &mut Conn<'_>,
    payment: &PaymentRow,
    now: i64,
) -> sqlx::Result<bool> {
    if let Conn::Native(n) = conn {
        return native::insert_payment(n, payment, now);
    }
    let inserted = on_conn!(conn, |c| {
        sqlx::query(INSERT_PAYMENT)
            .bind(&payment.id)
            .bind(&payment.booking_id)
            .bind(&payment.provider)
            .bind(payment.amount)
            .bind(&payment.currency)
            .bind(now)
            .bind(&payment.intent_id)
            .bind(&payment.status)
            .bind(&payment.failure_reason)
            .execute(c)
            .await?
            .rows_affected()
    });
    Ok(inserted == 1)
}

/// What applying a gateway's success to a pending payment did.
#[derive(Debug, PartialEq, Eq)]
pub enum PaidOutcome {
    /// Payment succeeded, booking confirmed, its seats booked. Show and booking.
    Confirmed(String, String),
    /// The payment was not pending (a duplicate event, or unknown): nothing changed.
    NotPending,
    /// The booking cannot take the money (lapsed, cancelled, another amount, a seat no
    /// longer held by it). Nothing may be committed; the caller refunds instead.
    Unconfirmable,
}

/// The usual success: payment `succeeded`, booking `confirmed`, seats `booked`, all or
/// nothing. One statement on PostgreSQL, locking payment, booking and seats (in label
/// order) like every other writer, and checking that every seat of the booking is still
/// held by it before anything changes.
pub async fn confirm_paid(
    conn: &mut Conn<'_>,
    payment_id: &str,
    intent_id: &str,
    now: i64,
) -> sqlx::Result<PaidOutcome> {
    if let Conn::Native(_) = conn {
        let Some(payment) = set_payment_status(
            conn,
            payment_id,
            "pending",
            "succeeded",
            now,
            Some(intent_id),
            None,
        )
        .await?
        else {
            return Ok(PaidOutcome::NotPending);
        };
        if let Some((show, seats)) =
            confirm_booking(conn, &payment.booking_id, payment.amount, now).await?
        {
            let wanted = serde_json::from_str::<Vec<String>>(&seats).map_or(0, |s| s.len());
            let booked = move_seats(conn, &show, &payment.booking_id, "held", "booked").await?;
            if booked as usize == wanted {
                let event = Event::BookingConfirmed {
                    booking_id: payment.booking_id.clone(),
                    show_id: show.clone(),
                    payment_id: payment.id.clone(),
                };
                outbox::append(conn, &event, now).await?;
                super::waitlist::booking_ended(conn, &payment.booking_id, "fulfilled", now).await?;
                return Ok(PaidOutcome::Confirmed(show, payment.booking_id));
            }
        }
        return Ok(PaidOutcome::Unconfirmable);
    }
    let (pending, booking, show): (bool, Option<String>, Option<String>) = sqlx::query_as(
        "WITH p AS ( \
           SELECT booking_id, amount FROM payments \
           WHERE id = $1 AND status = 'pending' FOR UPDATE), \
         b AS ( \
           SELECT b.id, b.show_id, b.seats FROM bookings b JOIN p ON b.id = p.booking_id \
           WHERE b.status = 'pending_payment' AND b.expires_at > $3 AND b.total = p.amount \
           FOR UPDATE OF b), \
         mine AS ( \
           SELECT s.seat_label FROM show_seats s \
           JOIN b ON s.show_id = b.show_id AND s.booking_id = b.id \
           WHERE s.state = 'held' ORDER BY s.seat_label FOR UPDATE OF s), \
         ok AS ( \
           SELECT b.id, b.show_id FROM b \
           WHERE (SELECT count(*) FROM mine) = json_array_length(b.seats::json)), \
         paid AS ( \
           UPDATE payments SET status = 'succeeded', updated_at = $3, \
             intent_id = COALESCE($2, intent_id) \
           WHERE id = $1 AND EXISTS (SELECT 1 FROM ok)), \
         confirmed AS ( \
           UPDATE bookings SET status = 'confirmed', confirmed_at = $3, updated_at = $3 \
           FROM ok WHERE bookings.id = ok.id), \
         booked AS ( \
           UPDATE show_seats s SET state = 'booked', held_until = NULL FROM ok, mine \
           WHERE s.show_id = ok.show_id AND s.seat_label = mine.seat_label), \
         fulfilled AS ( \
           UPDATE waitlist_entries w SET status = 'fulfilled', updated_at = $3 FROM ok \
           WHERE w.booking_id = ok.id AND w.status = 'offered'), \
         event AS ( \
           INSERT INTO outbox (event_id, aggregate_type, aggregate_id, event_type, version, \
             payload, created_at) \
           SELECT $4, 'booking', ok.id, 'booking.confirmed', $5, \
             json_build_object('booking_id', ok.id, 'payment_id', $1::text, \
                               'show_id', ok.show_id)::text, $3 \
           FROM ok) \
         SELECT EXISTS (SELECT 1 FROM p), (SELECT booking_id FROM p), (SELECT show_id FROM ok)",
    )
    .bind(payment_id)
    .bind(intent_id)
    .bind(now)
    .bind(EventId::generate().to_string())
    .bind(VERSION)
    .fetch_one(postgres(conn)?)
    .await?;
    Ok(match (pending, booking, show) {
        (false, ..) => PaidOutcome::NotPending,
        (true, Some(booking), Some(show)) => PaidOutcome::Confirmed(show, booking),
        (true, ..) => PaidOutcome::Unconfirmable,
    })
}

/// What recording a new pending payment did.
#[derive(Debug, PartialEq, Eq)]
pub enum PaymentRecorded {
    Recorded,
    /// The idempotency key is already recorded.
    KeyTaken,
    /// The booking is not awaiting payment at `now` (read it to say why).
    NotPayable,
    /// Another payment of the booking is pending or has succeeded.
    AnotherLive,
}

/// Records the idempotency key (if any) and a new payment for a booking still awaiting
/// payment at `now`, both or neither. One statement on PostgreSQL (see `hold`).
pub async fn record_payment(
    conn: &mut Conn<'_>,
    payment: &PaymentRow,
    key: Option<KeyRecord<'_>>,
    now: i64,
) -> sqlx::Result<PaymentRecorded> {
    let outcome = if let Conn::Native(_) = conn {
        if let Some(k) = key
            && !k
                .key
                .record(conn, Timestamp::from_millis(now), k.status, k.response)
                .await?
        {
            return Ok(PaymentRecorded::KeyTaken);
        }
        insert_payment(conn, payment, now).await
    } else {
        let (principal, idem_key, fingerprint, status, response) = key_columns(key.as_ref());
        sqlx::query_scalar::<_, i64>(
            "WITH payable AS ( \
               SELECT 1 FROM bookings \
               WHERE id = $2 AND status = 'pending_payment' AND expires_at > $6), \
             idem AS ( \
               INSERT INTO idempotency_keys \
                 (principal, key, fingerprint, status, response, created_at) \
               SELECT $10, $11, $12, $13, $14, $6 FROM payable WHERE $10::text IS NOT NULL), \
             paid AS ( \
               INSERT INTO payments (id, booking_id, provider, intent_id, status, amount, \
                 currency, failure_reason, created_at, updated_at) \
               SELECT $1, $2, $3, $7, $8, $4, $5, $9, $6, $6 FROM payable RETURNING 1) \
             SELECT count(*) FROM paid",
        )
        .bind(&payment.id)
        .bind(&payment.booking_id)
        .bind(&payment.provider)
        .bind(payment.amount)
        .bind(&payment.currency)
        .bind(now)
        .bind(&payment.intent_id)
        .bind(&payment.status)
        .bind(&payment.failure_reason)
        .bind(principal)
        .bind(idem_key)
        .bind(fingerprint)
        .bind(status)
        .bind(response)
        .fetch_one(postgres(conn)?)
        .await
        .map(|inserted| inserted == 1)
    };
    Ok(match outcome {
        Ok(true) => PaymentRecorded::Recorded,
        Ok(false) => PaymentRecorded::NotPayable,
        Err(sqlx::Error::Database(error))
            if error.constraint() == Some("idempotency_keys_pkey") =>
        {
            PaymentRecorded::KeyTaken
        }
        Err(error) if crate::db::is_unique_violation(&error) => PaymentRecorded::AnotherLive,
        Err(error) => return Err(error),
    })
}

/// The idempotency columns of a statement that records its key: all NULL without one.
type KeyColumns<'a> = (
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<i64>,
    Option<&'a str>,
);

fn key_columns<'a>(key: Option<&KeyRecord<'a>>) -> KeyColumns<'a> {
    match key {
        Some(k) => (
            Some(k.key.principal.as_str()),
            Some(k.key.key.as_str()),
            Some(k.key.fingerprint.as_str()),
            Some(i64::from(k.status.as_u16())),
            Some(k.response),
        ),
        None => (None, None, None, None, None),
    }
}

/// Conditional payment status change; returns the payment when it happened.
pub async fn set_payment_status(
    conn: &mut Conn<'_>,
    id: &str,
    from: &str,
    to: &str,
    now: i64,
    intent_id: Option<&str>,
    failure_reason: Option<&str>,
) -> sqlx::Result<Option<PaymentRow>> {
    if let Conn::Native(n) = conn {
        return native::set_payment_status(n, id, from, to, now, intent_id, failure_reason);
    }
    on_conn!(conn, |c| {
        sqlx::query_as(SET_PAYMENT_STATUS)
            .bind(to)
            .bind(now)
            .bind(intent_id)
            .bind(failure_reason)
            .bind(id)
            .bind(from)
            .fetch_optional(c)
            .await
    })
}

/// Succeeded payments of a booking move to `refunding` with `refund_amount`.
pub async fn start_refund_of_booking(
    conn: &mut Conn<'_>,
    booking_id: &str,
    refund_amount: i64,
    now: i64,
) -> sqlx::Result<Vec<String>> {
    if let Conn::Native(n) = conn {
        return native::start_refund_of_booking(n, booking_id, refund_amount, now);
    }
    on_conn!(conn, |c| {
        sqlx::query_scalar(START_REFUND)
            .bind(refund_amount)
            .bind(now)
            .bind(booking_id)
            .fetch_all(c)
            .await
    })
}

/// Payments stuck in `refunding` since before `before` (a crash between commit and the
/// gateway call): the sweeper retries them.
pub async fn stalled_refunds(db: &Db, before: i64, limit: i64) -> sqlx::Result<Vec<String>> {
    on_reader!(db, |pool| {
        sqlx::query_scalar(
            "SELECT id FROM payments WHERE status = 'refunding' AND updated_at < $1 \
             ORDER BY updated_at LIMIT $2",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(pool)
        .await
    })
}

/// The organisation running a show's theatre.
pub async fn show_org(db: &Db, show_id: &str) -> sqlx::Result<Option<String>> {
    on_reader!(db, |pool| {
        sqlx::query_scalar(
            "SELECT t.org_id FROM shows s JOIN theatres t ON t.id = s.theatre_id WHERE s.id = $1",
        )
        .bind(show_id)
        .fetch_optional(pool)
        .await
    })
}
