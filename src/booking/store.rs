//! Booking storage. Readers take `&Db`; everything inside a unit of work takes its `Tx`.
//! Each operation is written once; where the engines must differ (row locks, claiming
//! work, the single-statement hot writes on PostgreSQL) the statement is a `Sql` pair or
//! the function says so at the one place it branches.
//!
//! Lock order on PostgreSQL, everywhere: a payment before its booking, a booking row
//! before its seats, seats by (show, label). Claims, confirmation, release and the sweeper
//! all follow it, so they queue behind each other instead of deadlocking (and a unit of
//! work is retried if one does). SQLite has one writer, so it needs no row locks.

use axum::http::StatusCode;

use super::model::{BookingRow, PaymentRow};
use crate::{
    db::{Db, Engine, Sql, Tx, Value},
    http::idempotency::Idempotency,
    integration::{
        events::{Event, VERSION},
        outbox::{self, Prepared},
    },
    params,
    time::Timestamp,
};

/// The columns of a booking row (with the show facts every view needs).
macro_rules! booking_select {
    () => {
        "SELECT b.id, b.customer_id, b.show_id, b.group_id, b.status, b.seats, b.currency, \
         b.total, b.fee_total, b.quote, b.refund, b.expires_at, b.created_at, b.updated_at, \
         b.confirmed_at, b.cancelled_at, s.starts_at, t.org_id \
         FROM bookings b JOIN shows s ON s.id = b.show_id JOIN theatres t ON t.id = s.theatre_id"
    };
}

macro_rules! payment_columns {
    () => {
        "id, booking_id, provider, intent_id, status, amount, currency, refund_amount, \
         failure_reason, created_at"
    };
}

const BOOKING_BY_ID: &str = concat!(booking_select!(), " WHERE b.id = $1");

const INSERT_BOOKING: &str = "INSERT INTO bookings (id, customer_id, show_id, group_id, \
     status, seats, currency, total, fee_total, quote, expires_at, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)";

pub async fn get_booking(db: &Db, id: &str) -> sqlx::Result<Option<BookingRow>> {
    db.fetch_optional(BOOKING_BY_ID, params![id]).await
}

/// The same, inside a unit of work.
pub fn get_booking_in(tx: &mut Tx<'_>, id: &str) -> sqlx::Result<Option<BookingRow>> {
    tx.fetch_optional(BOOKING_BY_ID, params![id])
}

/// Reads the booking, locking its row on PostgreSQL.
pub fn lock_booking(tx: &mut Tx<'_>, id: &str) -> sqlx::Result<Option<BookingRow>> {
    const LOCK: Sql = Sql {
        sqlite: BOOKING_BY_ID,
        postgres: concat!(booking_select!(), " WHERE b.id = $1 FOR UPDATE OF b"),
    };
    tx.fetch_optional(LOCK, params![id])
}

/// A booking and its payments, in one statement: the read behind every booking view.
pub async fn booking_with_payments(
    db: &Db,
    id: &str,
) -> sqlx::Result<Option<(BookingRow, Vec<PaymentRow>)>> {
    struct Joined(BookingRow, Option<String>);
    impl crate::db::FromRow for Joined {
        fn from_row(row: &crate::db::Row<'_>) -> sqlx::Result<Self> {
            Ok(Joined(BookingRow::from_row(row)?, row.get("payments")?))
        }
    }
    const SQL: Sql = Sql {
        sqlite: concat!(
            "SELECT b.*, (SELECT json_group_array(json_object(",
            "'id', p.id, 'booking_id', p.booking_id, 'provider', p.provider, ",
            "'intent_id', p.intent_id, 'status', p.status, 'amount', p.amount, ",
            "'currency', p.currency, 'refund_amount', p.refund_amount, ",
            "'failure_reason', p.failure_reason, 'created_at', p.created_at)) FROM ",
            "(SELECT * FROM payments WHERE booking_id = b.id ORDER BY created_at, id) p) ",
            "AS payments FROM (",
            booking_select!(),
            " WHERE b.id = $1) b"
        ),
        postgres: concat!(
            "SELECT b.*, (SELECT json_agg(json_build_object(",
            "'id', p.id, 'booking_id', p.booking_id, 'provider', p.provider, ",
            "'intent_id', p.intent_id, 'status', p.status, 'amount', p.amount, ",
            "'currency', p.currency, 'refund_amount', p.refund_amount, ",
            "'failure_reason', p.failure_reason, 'created_at', p.created_at) ",
            "ORDER BY p.created_at, p.id)::text ",
            "FROM payments p WHERE p.booking_id = b.id) AS payments FROM (",
            booking_select!(),
            " WHERE b.id = $1) b"
        ),
    };
    let row: Option<Joined> = db.fetch_optional(SQL, params![id]).await?;
    Ok(row.map(|Joined(booking, payments)| {
        let payments = payments
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        (booking, payments)
    }))
}

/// Newest first; `after` is the (created_at, id) of the last booking already served.
pub async fn list_bookings(
    db: &Db,
    customer_id: Option<&str>,
    show_id: Option<&str>,
    after: Option<(i64, String)>,
    limit: u32,
) -> sqlx::Result<Vec<BookingRow>> {
    const BY_CUSTOMER: &str = concat!(
        booking_select!(),
        " WHERE b.customer_id = $1 \
          AND (b.created_at < $2 OR (b.created_at = $2 AND b.id < $3) OR $3 = '') \
          ORDER BY b.created_at DESC, b.id DESC LIMIT $4"
    );
    const BY_SHOW: &str = concat!(
        booking_select!(),
        " WHERE b.show_id = $1 \
          AND (b.created_at < $2 OR (b.created_at = $2 AND b.id < $3) OR $3 = '') \
          ORDER BY b.created_at DESC, b.id DESC LIMIT $4"
    );
    let (sql, value) = match (customer_id, show_id) {
        (Some(customer), _) => (BY_CUSTOMER, customer),
        (None, Some(show)) => (BY_SHOW, show),
        (None, None) => return Ok(Vec::new()),
    };
    let (after_at, after_id) = after.unwrap_or((i64::MAX, String::new()));
    db.fetch_all(
        sql,
        params![value, after_at, &after_id, i64::from(limit) + 1],
    )
    .await
}

/// Payments of these bookings, oldest first.
pub async fn payments_of(db: &Db, booking_ids: &[String]) -> sqlx::Result<Vec<PaymentRow>> {
    // One booking (the common case) by equality: on PostgreSQL a generic plan for
    // `= ANY($1)` made while the table was small can stay a sequential scan.
    const ONE: &str = concat!(
        "SELECT ",
        payment_columns!(),
        " FROM payments WHERE booking_id = $1 ORDER BY created_at, id"
    );
    const MANY: Sql = Sql {
        sqlite: concat!(
            "SELECT ",
            payment_columns!(),
            " FROM payments WHERE booking_id IN (SELECT value FROM json_each($1)) \
             ORDER BY created_at, id"
        ),
        postgres: concat!(
            "SELECT ",
            payment_columns!(),
            " FROM payments WHERE booking_id = ANY($1) ORDER BY created_at, id"
        ),
    };
    match booking_ids {
        [] => Ok(Vec::new()),
        [one] => db.fetch_all(ONE, params![one]).await,
        many => db.fetch_all(MANY, params![many]).await,
    }
}

const PAYMENT_BY_ID: &str = concat!(
    "SELECT ",
    payment_columns!(),
    " FROM payments WHERE id = $1"
);

pub async fn get_payment(db: &Db, id: &str) -> sqlx::Result<Option<PaymentRow>> {
    db.fetch_optional(PAYMENT_BY_ID, params![id]).await
}

/// A payment with the show of its booking: what a gateway's verdict is checked against.
pub async fn payment_with_show(db: &Db, id: &str) -> sqlx::Result<Option<PaymentOfShow>> {
    const SQL: &str = "SELECT p.id, p.booking_id, p.provider, p.intent_id, p.status, p.amount, \
         p.currency, p.refund_amount, p.failure_reason, p.created_at, b.show_id, b.seats \
         FROM payments p JOIN bookings b ON b.id = p.booking_id WHERE p.id = $1";
    db.fetch_optional(SQL, params![id]).await
}

/// A payment with the show and seats of its booking.
pub struct PaymentOfShow {
    pub payment: PaymentRow,
    pub show_id: String,
    pub seats: Vec<String>,
}

impl crate::db::FromRow for PaymentOfShow {
    fn from_row(row: &crate::db::Row<'_>) -> sqlx::Result<Self> {
        let seats: String = row.get("seats")?;
        Ok(PaymentOfShow {
            payment: PaymentRow::from_row(row)?,
            show_id: row.get("show_id")?,
            seats: serde_json::from_str(&seats).unwrap_or_default(),
        })
    }
}

/// The organisation running a show's theatre.
pub async fn show_org(db: &Db, show_id: &str) -> sqlx::Result<Option<String>> {
    const SQL: &str =
        "SELECT t.org_id FROM shows s JOIN theatres t ON t.id = s.theatre_id WHERE s.id = $1";
    db.fetch_optional(SQL, params![show_id]).await
}

/// Payments stuck in `refunding` since before `before` (a crash between commit and the
/// gateway call): the sweeper retries them.
pub async fn stalled_refunds(db: &Db, before: i64, limit: i64) -> sqlx::Result<Vec<String>> {
    const SQL: &str = "SELECT id FROM payments WHERE status = 'refunding' AND updated_at < $1 \
         ORDER BY updated_at LIMIT $2";
    db.fetch_all(SQL, params![before, limit]).await
}

// ---- holds -----------------------------------------------------------------------------

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
    /// The customer already holds this many seats of the show, and in all: one more hold
    /// of these seats would pass a cap.
    CapReached {
        in_show: i64,
        in_all: i64,
    },
    /// These seats are neither available nor held by a lapsed hold.
    Unavailable(Vec<String>),
}

/// Most seats one customer may hold (unpaid, unexpired) in one show, and in all shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldCaps {
    pub per_show: i64,
    pub per_account: i64,
    /// A waiting room's seats per account for the show, held or bought.
    pub in_room: Option<i64>,
}

/// Seats the customer holds or has bought in the show, counted under a lock on the
/// customer's account row on PostgreSQL (taken first, so the count, a statement of its
/// own, sees every hold of theirs committed before it): two holds of one account at once
/// are counted one after the other, and a waiting room's seat cap holds against a
/// script sending many. SQLite's single writer serialises them anyway.
pub fn room_seats_of_customer(
    tx: &mut Tx<'_>,
    show_id: &str,
    customer_id: &str,
) -> sqlx::Result<i64> {
    if tx.engine() == Engine::Postgres {
        tx.fetch_optional::<String>(
            "SELECT id FROM users WHERE id = $1 FOR UPDATE",
            params![customer_id],
        )?;
    }
    let lists: Vec<String> = tx.fetch_all(
        "SELECT seats FROM bookings WHERE show_id = $1 AND customer_id = $2 \
         AND status IN ('pending_payment', 'confirmed')",
        params![show_id, customer_id],
    )?;
    Ok(lists
        .iter()
        .map(|seats| serde_json::from_str::<Vec<String>>(seats).map_or(0, |s| s.len() as i64))
        .sum())
}

/// Seats the customer holds now (unpaid, unexpired): in `show_id`, and in all shows.
fn held_by(
    tx: &mut Tx<'_>,
    customer_id: &str,
    show_id: &str,
    now: i64,
) -> sqlx::Result<(i64, i64)> {
    const HELD: Sql = Sql {
        sqlite: "SELECT COALESCE(SUM(CASE WHEN show_id = $2 THEN json_array_length(seats) \
                   ELSE 0 END), 0), COALESCE(SUM(json_array_length(seats)), 0) \
                 FROM bookings WHERE customer_id = $1 AND status = 'pending_payment' \
                 AND expires_at > $3",
        postgres: "SELECT COALESCE(SUM(CASE WHEN show_id = $2 \
                     THEN json_array_length(seats::json) ELSE 0 END), 0)::BIGINT, \
                   COALESCE(SUM(json_array_length(seats::json)), 0)::BIGINT \
                   FROM bookings WHERE customer_id = $1 AND status = 'pending_payment' \
                   AND expires_at > $3",
    };
    tx.fetch_one(HELD, params![customer_id, show_id, now])
}

/// Which of `seats` (of `show_id`) are taken at `now`, in the order asked: held and not
/// lapsed, booked, blocked or withheld. A read, so the answer may be out of date by the
/// time a hold reaches the writer; it serves only to refuse early what the writer would
/// refuse (see `contention`). A lapsed hold counts as free here, as a seat the writer may
/// give to a waitlist counts as free: the writer decides those.
pub async fn taken_seats(
    db: &Db,
    show_id: &str,
    seats: &[String],
    now: i64,
) -> sqlx::Result<Vec<String>> {
    const TAKEN: Sql = Sql {
        sqlite: "SELECT seat_label FROM show_seats \
             WHERE show_id = $1 AND seat_label IN (SELECT value FROM json_each($2)) \
             AND state <> 'available' AND NOT (state = 'held' AND held_until <= $3)",
        postgres: "SELECT seat_label FROM show_seats \
             WHERE show_id = $1 AND seat_label = ANY($2) \
             AND state <> 'available' AND NOT (state = 'held' AND held_until <= $3)",
    };
    let taken: Vec<String> = db.fetch_all(TAKEN, params![show_id, seats, now]).await?;
    Ok(seats
        .iter()
        .filter(|seat| taken.contains(seat))
        .cloned()
        .collect())
}

/// Records the key (if any), inserts the booking and claims its seats: all of it or none.
///
/// The claim: every listed seat that is available, or held by a hold that has lapsed
/// (while nobody waits for the show: freed seats go to the waitlist first, through the
/// sweeper), becomes held by the booking until its expiry. No read-then-write: the
/// condition is in the statement that changes the seats, and the show must be on sale.
///
/// On PostgreSQL this is one statement, run as its own transaction
/// (`Db::write_statement`): the wanted seats are locked in label order and so seen in
/// their newest versions, and the inserts and the claim happen only if every seat is free
/// and the show is on sale. A key recorded before surfaces as a unique violation of the
/// key, which aborts the statement. On SQLite (one writer) the same steps run one by one
/// and the caller's unit rolls back on a refusal.
pub fn hold(
    tx: &mut Tx<'_>,
    row: &BookingRow,
    seats: &[String],
    key: Option<KeyRecord<'_>>,
    caps: HoldCaps,
    now: i64,
) -> sqlx::Result<HoldOutcome> {
    let event = Prepared::new(&Event::BookingHeld {
        booking_id: row.id.clone(),
        customer_id: row.customer_id.clone(),
        show_id: row.show_id.clone(),
        seats: seats.to_vec(),
        total: row.total,
        currency: row.currency.clone(),
        expires_at: row.expires_at,
        waitlist_entry_id: None,
    });
    match tx.engine() {
        Engine::Sqlite => hold_in_steps(tx, row, seats, key, caps, &event, now),
        Engine::Postgres => hold_in_one_statement(tx, row, seats, key, caps, &event, now),
    }
}

fn hold_in_steps(
    tx: &mut Tx<'_>,
    row: &BookingRow,
    seats: &[String],
    key: Option<KeyRecord<'_>>,
    caps: HoldCaps,
    event: &Prepared,
    now: i64,
) -> sqlx::Result<HoldOutcome> {
    const CLAIM: &str = "UPDATE show_seats SET state = 'held', booking_id = $1, held_until = $2 \
         WHERE show_id = $3 AND seat_label IN (SELECT value FROM json_each($4)) \
         AND (state = 'available' OR (state = 'held' AND held_until <= $5 \
              AND NOT EXISTS (SELECT 1 FROM waitlist_entries \
                              WHERE show_id = $3 AND status = 'waiting'))) \
         AND EXISTS (SELECT 1 FROM shows WHERE id = $3 AND status = 'scheduled' AND starts_at > $5) \
         RETURNING seat_label";
    const ON_SALE: &str =
        "SELECT 1 FROM shows WHERE id = $1 AND status = 'scheduled' AND starts_at > $2";
    if let Some(k) = key
        && !k
            .key
            .record(tx, Timestamp::from_millis(now), k.status, k.response)?
    {
        return Ok(HoldOutcome::KeyTaken);
    }
    let (in_show, in_all) = held_by(tx, &row.customer_id, &row.show_id, now)?;
    let wanted = seats.len() as i64;
    if in_show + wanted > caps.per_show || in_all + wanted > caps.per_account {
        return Ok(
            match tx.fetch_optional::<i64>(ON_SALE, params![&row.show_id, now])? {
                None => HoldOutcome::NotOnSale,
                Some(_) => HoldOutcome::CapReached { in_show, in_all },
            },
        );
    }
    insert_booking(tx, row)?;
    let claimed: Vec<String> = tx.fetch_all(
        CLAIM,
        params![&row.id, row.expires_at, &row.show_id, seats, now],
    )?;
    if claimed.len() == seats.len() {
        outbox::append_prepared(tx, event, now)?;
        return Ok(HoldOutcome::Held);
    }
    let on_sale: Option<i64> = tx.fetch_optional(ON_SALE, params![&row.show_id, now])?;
    Ok(match on_sale {
        None => HoldOutcome::NotOnSale,
        Some(_) => HoldOutcome::Unavailable(missing(seats, &claimed)),
    })
}

fn hold_in_one_statement(
    tx: &mut Tx<'_>,
    row: &BookingRow,
    seats: &[String],
    key: Option<KeyRecord<'_>>,
    caps: HoldCaps,
    event: &Prepared,
    now: i64,
) -> sqlx::Result<HoldOutcome> {
    const HOLD: &str = "WITH wanted AS ( \
           SELECT seat_label, state, held_until FROM show_seats \
           WHERE show_id = $3 AND seat_label = ANY($13) ORDER BY seat_label FOR UPDATE), \
         free AS ( \
           SELECT seat_label FROM wanted \
           WHERE state = 'available' OR (state = 'held' AND held_until <= $12 \
             AND NOT EXISTS (SELECT 1 FROM waitlist_entries \
                             WHERE show_id = $3 AND status = 'waiting'))), \
         on_sale AS ( \
           SELECT 1 FROM shows WHERE id = $3 AND status = 'scheduled' AND starts_at > $12), \
         live AS ( \
           SELECT COALESCE(SUM(CASE WHEN show_id = $3 THEN json_array_length(seats::json) \
                    ELSE 0 END), 0)::BIGINT AS in_show, \
                  COALESCE(SUM(json_array_length(seats::json)), 0)::BIGINT AS in_all \
           FROM bookings WHERE customer_id = $2 AND status = 'pending_payment' \
           AND expires_at > $12), \
         within AS ( \
           SELECT 1 FROM live WHERE in_show + $14 <= $26 AND in_all + $14 <= $27), \
         go AS ( \
           SELECT 1 WHERE (SELECT count(*) FROM free) = $14 AND EXISTS (SELECT 1 FROM on_sale) \
             AND EXISTS (SELECT 1 FROM within)), \
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
             payload, created_at, show_id) \
           SELECT $20, $21, $22, $23, $24, $25, $12, $3 FROM go) \
         SELECT EXISTS (SELECT 1 FROM on_sale), EXISTS (SELECT 1 FROM within), \
           (SELECT in_show FROM live), (SELECT in_all FROM live), \
           ARRAY(SELECT seat_label FROM free)";
    let (principal, idem_key, fingerprint, status, response) = key_columns(key.as_ref());
    let attempt: sqlx::Result<(bool, bool, i64, i64, Vec<String>)> = tx.fetch_one(
        HOLD,
        params![
            &row.id,
            &row.customer_id,
            &row.show_id,
            &row.group_id,
            &row.status,
            &row.seats,
            &row.currency,
            row.total,
            row.fee_total,
            &row.quote,
            row.expires_at,
            now,
            seats,
            seats.len() as i64,
            principal,
            idem_key,
            fingerprint,
            status,
            response,
            &event.event_id,
            event.aggregate_type,
            &event.aggregate_id,
            &event.event_type,
            VERSION,
            &event.payload,
            caps.per_show,
            caps.per_account
        ],
    );
    Ok(match attempt {
        Err(error) if is_key_taken(&error) => HoldOutcome::KeyTaken,
        Err(error) => return Err(error),
        Ok((false, ..)) => HoldOutcome::NotOnSale,
        Ok((true, false, in_show, in_all, _)) => HoldOutcome::CapReached { in_show, in_all },
        Ok((true, true, .., free)) if free.len() == seats.len() => HoldOutcome::Held,
        Ok((true, true, .., free)) => HoldOutcome::Unavailable(missing(seats, &free)),
    })
}

/// True when `error` is the idempotency key's primary key refusing a second request
/// (both engines name the constraint differently; this is the one place that knows).
fn is_key_taken(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db)
        if matches!(db.constraint(),
            Some("idempotency_keys_pkey")
                | Some("idempotency_keys.principal, idempotency_keys.key")))
}

pub fn insert_booking(tx: &mut Tx<'_>, b: &BookingRow) -> sqlx::Result<()> {
    tx.execute(
        INSERT_BOOKING,
        params![
            &b.id,
            &b.customer_id,
            &b.show_id,
            &b.group_id,
            &b.status,
            &b.seats,
            &b.currency,
            b.total,
            b.fee_total,
            &b.quote,
            b.expires_at,
            b.created_at
        ],
    )?;
    Ok(())
}

fn missing(wanted: &[String], got: &[String]) -> Vec<String> {
    wanted
        .iter()
        .filter(|s| !got.contains(s))
        .cloned()
        .collect()
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

// ---- seats and statuses ----------------------------------------------------------------

/// Moves the booking's seats from `from` to `to` (`available` also clears the owner) in
/// one statement; on PostgreSQL the rows are locked in label order first. Returns how
/// many seats moved.
pub fn move_seats(
    tx: &mut Tx<'_>,
    show_id: &str,
    booking_id: &str,
    from: &str,
    to: &str,
) -> sqlx::Result<u64> {
    const RELEASE: Sql = Sql {
        sqlite: "UPDATE show_seats SET state = $4, booking_id = NULL, held_until = NULL \
                 WHERE show_id = $1 AND booking_id = $2 AND state = $3",
        postgres: "WITH mine AS ( \
                     SELECT seat_label FROM show_seats \
                     WHERE show_id = $1 AND booking_id = $2 AND state = $3 \
                     ORDER BY seat_label FOR UPDATE) \
                   UPDATE show_seats s SET state = $4, booking_id = NULL, held_until = NULL \
                   FROM mine WHERE s.show_id = $1 AND s.seat_label = mine.seat_label \
                   AND s.booking_id = $2 AND s.state = $3",
    };
    const KEEP_OWNER: Sql = Sql {
        sqlite: "UPDATE show_seats SET state = $4, held_until = NULL \
                 WHERE show_id = $1 AND booking_id = $2 AND state = $3",
        postgres: "WITH mine AS ( \
                     SELECT seat_label FROM show_seats \
                     WHERE show_id = $1 AND booking_id = $2 AND state = $3 \
                     ORDER BY seat_label FOR UPDATE) \
                   UPDATE show_seats s SET state = $4, held_until = NULL \
                   FROM mine WHERE s.show_id = $1 AND s.seat_label = mine.seat_label \
                   AND s.booking_id = $2 AND s.state = $3",
    };
    let sql = if to == "available" {
        RELEASE
    } else {
        KEEP_OWNER
    };
    tx.execute(sql, params![show_id, booking_id, from, to])
}

/// Conditional status change: only from `from`. True when it happened.
pub fn set_status(
    tx: &mut Tx<'_>,
    id: &str,
    from: &str,
    to: &str,
    now: i64,
    refund: Option<i64>,
) -> sqlx::Result<bool> {
    const PLAIN: &str = "UPDATE bookings SET status = $1, updated_at = $2, \
         refund = COALESCE($3, refund) WHERE id = $4 AND status = $5";
    const CONFIRMED: &str = "UPDATE bookings SET status = $1, updated_at = $2, \
         refund = COALESCE($3, refund), confirmed_at = $2 WHERE id = $4 AND status = $5";
    const CANCELLED: &str = "UPDATE bookings SET status = $1, updated_at = $2, \
         refund = COALESCE($3, refund), cancelled_at = $2 WHERE id = $4 AND status = $5";
    let sql = match to {
        "confirmed" => CONFIRMED,
        "cancelled" => CANCELLED,
        _ => PLAIN,
    };
    Ok(tx.execute(sql, params![to, now, refund, id, from])? == 1)
}

/// A hold the sweeper expired.
#[derive(Debug, Clone)]
pub struct Expired {
    pub booking_id: String,
    pub show_id: String,
    /// JSON array of the booking's seat labels.
    pub seats: String,
}

crate::from_row!(Expired {
    booking_id = "id",
    show_id,
    seats
});

/// Lapsed holds due at `now`, at most `limit`: (booking, show), oldest first.
pub async fn due_holds(db: &Db, now: i64, limit: i64) -> sqlx::Result<Vec<(String, String)>> {
    const SQL: &str = "SELECT id, show_id FROM bookings \
         WHERE status = 'pending_payment' AND expires_at <= $1 ORDER BY expires_at LIMIT $2";
    db.fetch_all(SQL, params![now, limit]).await
}

/// Marks those of `ids` still pending and lapsed at `now` `expired` and frees their seats.
/// Every node may run this at once: PostgreSQL hands each booking to one of them
/// (`SKIP LOCKED`); SQLite has one writer anyway.
pub fn expire(tx: &mut Tx<'_>, ids: &[String], now: i64) -> sqlx::Result<Vec<Expired>> {
    const EXPIRE: Sql = Sql {
        sqlite: "UPDATE bookings SET status = 'expired', updated_at = $1 \
                 WHERE id IN (SELECT value FROM json_each($2)) \
                 AND status = 'pending_payment' AND expires_at <= $1 \
                 RETURNING id, show_id, seats",
        postgres: "WITH due AS ( \
                     SELECT id FROM bookings WHERE id = ANY($2) \
                     AND status = 'pending_payment' AND expires_at <= $1 \
                     ORDER BY id FOR UPDATE SKIP LOCKED) \
                   UPDATE bookings b SET status = 'expired', updated_at = $1 FROM due \
                   WHERE b.id = due.id RETURNING b.id, b.show_id, b.seats",
    };
    const FREE: Sql = Sql {
        sqlite: "UPDATE show_seats SET state = 'available', booking_id = NULL, held_until = NULL \
                 WHERE booking_id IN (SELECT value FROM json_each($1)) AND state = 'held'",
        postgres: "WITH mine AS ( \
                     SELECT show_id, seat_label FROM show_seats \
                     WHERE booking_id = ANY($1) AND state = 'held' \
                     ORDER BY show_id, seat_label FOR UPDATE) \
                   UPDATE show_seats s SET state = 'available', booking_id = NULL, \
                     held_until = NULL \
                   FROM mine WHERE s.show_id = mine.show_id AND s.seat_label = mine.seat_label \
                   AND s.booking_id = ANY($1)",
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut expired: Vec<Expired> = tx.fetch_all(EXPIRE, params![now, ids])?;
    // The same order on both engines, whatever order the rows came back in.
    expired.sort_by(|a, b| a.booking_id.cmp(&b.booking_id));
    if !expired.is_empty() {
        let done: Vec<String> = expired.iter().map(|e| e.booking_id.clone()).collect();
        tx.execute(FREE, params![&done])?;
    }
    Ok(expired)
}

/// Cancels a show with everything sold for it: the show row, every seat (blocked, so a
/// claim that was waiting on a seat lock finds nothing to take), every live booking
/// (confirmed ones refunded in full) and their succeeded payments (to be refunded).
/// Returns (bookings cancelled, payments to refund) or `None` if the show was not
/// scheduled.
#[allow(clippy::type_complexity)]
pub fn cancel_show(
    tx: &mut Tx<'_>,
    show_id: &str,
    now: i64,
) -> sqlx::Result<Option<(Vec<(String, Option<i64>)>, Vec<String>)>> {
    const SHOW: &str = "UPDATE shows SET status = 'cancelled', updated_at = $1 \
         WHERE id = $2 AND status = 'scheduled'";
    const BLOCK_SEATS: Sql = Sql {
        sqlite: "UPDATE show_seats SET state = 'blocked', booking_id = NULL, held_until = NULL \
                 WHERE show_id = $1",
        postgres: "WITH every_seat AS ( \
                     SELECT seat_label FROM show_seats WHERE show_id = $1 \
                     ORDER BY seat_label FOR UPDATE) \
                   UPDATE show_seats s SET state = 'blocked', booking_id = NULL, \
                     held_until = NULL \
                   FROM every_seat WHERE s.show_id = $1 AND s.seat_label = every_seat.seat_label",
    };
    const BOOKINGS: &str = "UPDATE bookings SET status = 'cancelled', \
         cancelled_at = $1, updated_at = $1, \
         refund = CASE WHEN status = 'confirmed' THEN total - COALESCE( \
             (SELECT SUM(r.amount) FROM refunds r WHERE r.booking_id = bookings.id), 0) \
           ELSE NULL END \
         WHERE show_id = $2 AND status IN ('pending_payment', 'confirmed') \
         RETURNING id, refund";
    // Everything captured that the staff has not already refunded.
    const PAYMENTS: &str = "UPDATE payments SET status = 'refunding', \
         refund_amount = amount - COALESCE( \
             (SELECT SUM(r.amount) FROM refunds r WHERE r.payment_id = payments.id), 0), \
         updated_at = $1 \
         WHERE status = 'succeeded' AND booking_id IN (SELECT id FROM bookings WHERE show_id = $2) \
         RETURNING id";
    if tx.execute(SHOW, params![now, show_id])? == 0 {
        return Ok(None);
    }
    tx.execute(BLOCK_SEATS, params![show_id])?;
    let mut bookings: Vec<(String, Option<i64>)> = tx.fetch_all(BOOKINGS, params![now, show_id])?;
    bookings.sort();
    let mut payments: Vec<String> = tx.fetch_all(PAYMENTS, params![now, show_id])?;
    payments.sort();
    Ok(Some((bookings, payments)))
}

// ---- payments --------------------------------------------------------------------------

const INSERT_PAYMENT: &str = "INSERT INTO payments (id, booking_id, provider, intent_id, \
     status, amount, currency, failure_reason, created_at, updated_at) \
     SELECT $1, $2, $3, $7, $8, $4, $5, $9, $6, $6 \
     WHERE EXISTS (SELECT 1 FROM bookings WHERE id = $2 \
                   AND status = 'pending_payment' AND expires_at > $6)";

/// Records a new payment (pending, or failed when the gateway refused the card outright)
/// for a booking that is still awaiting payment at `now`. Returns false when the booking
/// is not payable; a unique violation (another payment is pending or succeeded) surfaces
/// as the database error.
pub fn insert_payment(tx: &mut Tx<'_>, payment: &PaymentRow, now: i64) -> sqlx::Result<bool> {
    Ok(tx.execute(INSERT_PAYMENT, &payment_values(payment, now))? == 1)
}

/// `$1` … `$9` of the statements that insert a payment.
fn payment_values<'a>(payment: &'a PaymentRow, now: i64) -> Vec<Value<'a>> {
    params![
        &payment.id,
        &payment.booking_id,
        &payment.provider,
        payment.amount,
        &payment.currency,
        now,
        &payment.intent_id,
        &payment.status,
        &payment.failure_reason
    ]
    .to_vec()
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
pub fn record_payment(
    tx: &mut Tx<'_>,
    payment: &PaymentRow,
    key: Option<KeyRecord<'_>>,
    now: i64,
) -> sqlx::Result<PaymentRecorded> {
    const RECORD: &str = "WITH payable AS ( \
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
         SELECT count(*) FROM paid";
    let outcome = match tx.engine() {
        Engine::Sqlite => {
            if let Some(k) = key
                && !k
                    .key
                    .record(tx, Timestamp::from_millis(now), k.status, k.response)?
            {
                return Ok(PaymentRecorded::KeyTaken);
            }
            insert_payment(tx, payment, now)
        }
        Engine::Postgres => {
            let (principal, idem_key, fingerprint, status, response) = key_columns(key.as_ref());
            let mut values = payment_values(payment, now);
            values.extend_from_slice(params![principal, idem_key, fingerprint, status, response]);
            tx.fetch_one::<i64>(RECORD, &values)
                .map(|inserted| inserted == 1)
        }
    };
    Ok(match outcome {
        Ok(true) => PaymentRecorded::Recorded,
        Ok(false) => PaymentRecorded::NotPayable,
        Err(error) if is_key_taken(&error) => PaymentRecorded::KeyTaken,
        Err(error) if crate::db::is_unique_violation(&error) => PaymentRecorded::AnotherLive,
        Err(error) => return Err(error),
    })
}

/// What applying a gateway's success to a pending payment did.
#[derive(Debug, PartialEq, Eq)]
pub enum PaidOutcome {
    /// Payment succeeded, booking confirmed, its seats booked.
    Confirmed,
    /// The payment was not pending (a duplicate event): nothing changed.
    NotPending,
    /// The booking cannot take the money (lapsed, cancelled, another amount, a seat no
    /// longer held by it). Nothing may be committed; the caller refunds instead.
    Unconfirmable,
}

/// The usual success: payment `succeeded`, booking `confirmed`, seats `booked`, the
/// waitlist entry it came from fulfilled and `confirmed` appended — all or nothing.
/// `confirmed` is the `booking.confirmed` event, built by the caller from the payment it
/// read (its booking and show). One statement on PostgreSQL, locking payment, booking and
/// seats (in label order) like every other writer, and checking that every seat of the
/// booking is still held by it before anything changes.
pub fn confirm_paid(
    tx: &mut Tx<'_>,
    payment: &PaymentRow,
    confirmed: &Event,
    now: i64,
) -> sqlx::Result<PaidOutcome> {
    let event = Prepared::new(confirmed);
    match tx.engine() {
        Engine::Sqlite => confirm_in_steps(tx, payment, &event, now),
        Engine::Postgres => confirm_in_one_statement(tx, payment, &event, now),
    }
}

fn confirm_in_steps(
    tx: &mut Tx<'_>,
    payment: &PaymentRow,
    event: &Prepared,
    now: i64,
) -> sqlx::Result<PaidOutcome> {
    const CONFIRM: &str = "UPDATE bookings SET status = 'confirmed', \
         confirmed_at = $1, updated_at = $1 \
         WHERE id = $2 AND status = 'pending_payment' AND expires_at > $1 AND total = $3 \
         RETURNING show_id, seats";
    if set_payment_status(tx, &payment.id, "pending", "succeeded", now, None)?.is_none() {
        return Ok(PaidOutcome::NotPending);
    }
    let Some((show, seats)): Option<(String, String)> =
        tx.fetch_optional(CONFIRM, params![now, &payment.booking_id, payment.amount])?
    else {
        return Ok(PaidOutcome::Unconfirmable);
    };
    let wanted = serde_json::from_str::<Vec<String>>(&seats).map_or(0, |s| s.len());
    let booked = move_seats(tx, &show, &payment.booking_id, "held", "booked")?;
    if booked as usize != wanted {
        return Ok(PaidOutcome::Unconfirmable);
    }
    outbox::append_prepared(tx, event, now)?;
    super::waitlist::booking_ended(tx, &payment.booking_id, "fulfilled", now)?;
    Ok(PaidOutcome::Confirmed)
}

fn confirm_in_one_statement(
    tx: &mut Tx<'_>,
    payment: &PaymentRow,
    event: &Prepared,
    now: i64,
) -> sqlx::Result<PaidOutcome> {
    const CONFIRM: &str = "WITH p AS ( \
           SELECT booking_id, amount FROM payments \
           WHERE id = $1 AND status = 'pending' FOR UPDATE), \
         b AS ( \
           SELECT b.id, b.show_id, b.seats FROM bookings b JOIN p ON b.id = p.booking_id \
           WHERE b.status = 'pending_payment' AND b.expires_at > $2 AND b.total = p.amount \
           FOR UPDATE OF b), \
         mine AS ( \
           SELECT s.seat_label FROM show_seats s \
           JOIN b ON s.show_id = b.show_id AND s.booking_id = b.id \
           WHERE s.state = 'held' ORDER BY s.seat_label FOR UPDATE OF s), \
         ok AS ( \
           SELECT b.id, b.show_id FROM b \
           WHERE (SELECT count(*) FROM mine) = json_array_length(b.seats::json)), \
         paid AS ( \
           UPDATE payments SET status = 'succeeded', updated_at = $2 \
           WHERE id = $1 AND EXISTS (SELECT 1 FROM ok)), \
         confirmed AS ( \
           UPDATE bookings SET status = 'confirmed', confirmed_at = $2, updated_at = $2 \
           FROM ok WHERE bookings.id = ok.id), \
         booked AS ( \
           UPDATE show_seats s SET state = 'booked', held_until = NULL FROM ok, mine \
           WHERE s.show_id = ok.show_id AND s.seat_label = mine.seat_label), \
         fulfilled AS ( \
           UPDATE waitlist_entries w SET status = 'fulfilled', updated_at = $2 FROM ok \
           WHERE w.booking_id = ok.id AND w.status = 'offered'), \
         event AS ( \
           INSERT INTO outbox (event_id, aggregate_type, aggregate_id, event_type, version, \
             payload, created_at, show_id) \
           SELECT $3, $4, $5, $6, $7, $8, $2, ok.show_id FROM ok), \
         audit AS ( \
           INSERT INTO audit_log (id, at, actor_id, actor_role, org_id, action, target, \
             status, request_id, detail) \
           SELECT $9, $2, NULL, 'system', NULL, $6, $5, NULL, NULL, $8 FROM ok) \
         SELECT EXISTS (SELECT 1 FROM p), EXISTS (SELECT 1 FROM ok)";
    // The money taken goes to the audit log with the event (`audit::record_money`).
    let audit_id = crate::ids::AuditRecordId::generate().to_string();
    let (pending, confirmed): (bool, bool) = tx.fetch_one(
        CONFIRM,
        params![
            &payment.id,
            now,
            &event.event_id,
            event.aggregate_type,
            &event.aggregate_id,
            &event.event_type,
            VERSION,
            &event.payload,
            &audit_id
        ],
    )?;
    Ok(match (pending, confirmed) {
        (false, _) => PaidOutcome::NotPending,
        (true, true) => PaidOutcome::Confirmed,
        (true, false) => PaidOutcome::Unconfirmable,
    })
}

/// Conditional payment status change; returns the payment when it happened.
pub fn set_payment_status(
    tx: &mut Tx<'_>,
    id: &str,
    from: &str,
    to: &str,
    now: i64,
    failure_reason: Option<&str>,
) -> sqlx::Result<Option<PaymentRow>> {
    const SQL: &str = concat!(
        "UPDATE payments SET status = $1, updated_at = $2, \
         failure_reason = COALESCE($3, failure_reason), \
         refund_amount = CASE WHEN $1 = 'refunding' AND refund_amount IS NULL THEN amount \
                              ELSE refund_amount END \
         WHERE id = $4 AND status = $5 RETURNING ",
        payment_columns!()
    );
    tx.fetch_optional(SQL, params![to, now, failure_reason, id, from])
}

/// Succeeded payments of a booking move to `refunding` with `refund_amount`.
pub fn start_refund_of_booking(
    tx: &mut Tx<'_>,
    booking_id: &str,
    refund_amount: i64,
    now: i64,
) -> sqlx::Result<Vec<String>> {
    const SQL: &str = "UPDATE payments SET status = 'refunding', refund_amount = $1, \
         updated_at = $2 WHERE booking_id = $3 AND status = 'succeeded' RETURNING id";
    tx.fetch_all(SQL, params![refund_amount, now, booking_id])
}
