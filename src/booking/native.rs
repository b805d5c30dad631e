//! The SQLite side of the booking units of work, on the committer's own connection (see
//! `db::native`), run synchronously. Statements that read the same on both engines are
//! `store`'s constants; only the dialect-specific ones (locking, list parameters) are here.

use rusqlite::Row;

use super::{
    model::{BookingRow, PaymentRow},
    store::{
        BOOKING_SELECT, CANCEL_SHOW_BOOKINGS, CANCEL_SHOW_PAYMENTS, CANCEL_SHOW_ROW,
        CONFIRM_BOOKING, Expired, INSERT_BOOKING, INSERT_PAYMENT, SET_PAYMENT_STATUS, SHOW_ON_SALE,
        START_REFUND, set_status_sql,
    },
};
use crate::db::native::{NativeConn, execute, query};

pub fn booking(row: &Row<'_>) -> rusqlite::Result<BookingRow> {
    Ok(BookingRow {
        id: row.get("id")?,
        customer_id: row.get("customer_id")?,
        show_id: row.get("show_id")?,
        group_id: row.get("group_id")?,
        status: row.get("status")?,
        seats: row.get("seats")?,
        currency: row.get("currency")?,
        total: row.get("total")?,
        fee_total: row.get("fee_total")?,
        quote: row.get("quote")?,
        refund: row.get("refund")?,
        expires_at: row.get("expires_at")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
        confirmed_at: row.get("confirmed_at")?,
        cancelled_at: row.get("cancelled_at")?,
        starts_at: row.get("starts_at")?,
        org_id: row.get("org_id")?,
    })
}

fn payment(row: &Row<'_>) -> rusqlite::Result<PaymentRow> {
    Ok(PaymentRow {
        id: row.get("id")?,
        booking_id: row.get("booking_id")?,
        provider: row.get("provider")?,
        intent_id: row.get("intent_id")?,
        status: row.get("status")?,
        amount: row.get("amount")?,
        currency: row.get("currency")?,
        refund_amount: row.get("refund_amount")?,
        failure_reason: row.get("failure_reason")?,
        created_at: row.get("created_at")?,
    })
}

pub fn get_booking(conn: &NativeConn<'_>, id: &str) -> sqlx::Result<Option<BookingRow>> {
    let sql = format!("{BOOKING_SELECT} WHERE b.id = $1");
    Ok(query(conn, &sql, &[("$1", &id)], booking)?.pop())
}

/// Payments of the bookings listed in `ids_json`, oldest first.
pub fn payments_of(conn: &NativeConn<'_>, ids_json: &str) -> sqlx::Result<Vec<PaymentRow>> {
    query(
        conn,
        "SELECT id, booking_id, provider, intent_id, status, amount, currency, refund_amount, \
         failure_reason, created_at FROM payments \
         WHERE booking_id IN (SELECT value FROM json_each($1)) ORDER BY created_at, id",
        &[("$1", &ids_json)],
        payment,
    )
}

pub fn show_on_sale(conn: &NativeConn<'_>, show_id: &str, now: i64) -> sqlx::Result<bool> {
    let rows = query(
        conn,
        SHOW_ON_SALE,
        &[("$1", &show_id), ("$2", &now)],
        |_| Ok(()),
    )?;
    Ok(!rows.is_empty())
}

pub fn insert_booking(conn: &NativeConn<'_>, b: &BookingRow) -> sqlx::Result<()> {
    execute(
        conn,
        INSERT_BOOKING,
        &[
            ("$1", &b.id),
            ("$2", &b.customer_id),
            ("$3", &b.show_id),
            ("$4", &b.group_id),
            ("$5", &b.status),
            ("$6", &b.seats),
            ("$7", &b.currency),
            ("$8", &b.total),
            ("$9", &b.fee_total),
            ("$10", &b.quote),
            ("$11", &b.expires_at),
            ("$12", &b.created_at),
        ],
    )?;
    Ok(())
}

pub fn claim_seats(
    conn: &NativeConn<'_>,
    show_id: &str,
    booking_id: &str,
    labels: &[String],
    held_until: i64,
    now: i64,
) -> sqlx::Result<Vec<String>> {
    let labels = serde_json::to_string(labels).unwrap_or_default();
    query(
        conn,
        "UPDATE show_seats SET state = 'held', booking_id = $1, held_until = $2 \
         WHERE show_id = $3 AND seat_label IN (SELECT value FROM json_each($4)) \
         AND (state = 'available' OR (state = 'held' AND held_until <= $5 \
              AND NOT EXISTS (SELECT 1 FROM waitlist_entries \
                              WHERE show_id = $3 AND status = 'waiting'))) \
         AND EXISTS (SELECT 1 FROM shows WHERE id = $3 AND status = 'scheduled' AND starts_at > $5) \
         RETURNING seat_label",
        &[
            ("$1", &booking_id),
            ("$2", &held_until),
            ("$3", &show_id),
            ("$4", &labels),
            ("$5", &now),
        ],
        |row| row.get(0),
    )
}

pub fn move_seats(
    conn: &NativeConn<'_>,
    show_id: &str,
    booking_id: &str,
    from: &str,
    to: &str,
) -> sqlx::Result<u64> {
    let sql = if to == "available" {
        "UPDATE show_seats SET state = $4, booking_id = NULL, held_until = NULL \
         WHERE show_id = $1 AND booking_id = $2 AND state = $3"
    } else {
        "UPDATE show_seats SET state = $4, held_until = NULL \
         WHERE show_id = $1 AND booking_id = $2 AND state = $3"
    };
    execute(
        conn,
        sql,
        &[
            ("$1", &show_id),
            ("$2", &booking_id),
            ("$3", &from),
            ("$4", &to),
        ],
    )
}

pub fn confirm_booking(
    conn: &NativeConn<'_>,
    id: &str,
    amount: i64,
    now: i64,
) -> sqlx::Result<Option<(String, String)>> {
    Ok(query(
        conn,
        CONFIRM_BOOKING,
        &[("$1", &now), ("$2", &id), ("$3", &amount)],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?
    .pop())
}

pub fn set_status(
    conn: &NativeConn<'_>,
    id: &str,
    from: &str,
    to: &str,
    now: i64,
    refund: Option<i64>,
) -> sqlx::Result<bool> {
    let sql = set_status_sql(to);
    let changed = execute(
        conn,
        &sql,
        &[
            ("$1", &to),
            ("$2", &now),
            ("$3", &refund),
            ("$4", &id),
            ("$5", &from),
        ],
    )?;
    Ok(changed == 1)
}

pub fn expire_due(conn: &NativeConn<'_>, now: i64, limit: i64) -> sqlx::Result<Vec<Expired>> {
    let expired: Vec<Expired> = query(
        conn,
        "UPDATE bookings SET status = 'expired', updated_at = $1 WHERE id IN ( \
           SELECT id FROM bookings WHERE status = 'pending_payment' AND expires_at <= $1 \
           ORDER BY expires_at LIMIT $2) \
         RETURNING id, show_id, seats",
        &[("$1", &now), ("$2", &limit)],
        |row| {
            Ok(Expired {
                booking_id: row.get(0)?,
                show_id: row.get(1)?,
                seats: row.get(2)?,
            })
        },
    )?;
    if !expired.is_empty() {
        let ids: Vec<&str> = expired.iter().map(|e| e.booking_id.as_str()).collect();
        let ids = serde_json::to_string(&ids).unwrap_or_default();
        execute(
            conn,
            "UPDATE show_seats SET state = 'available', booking_id = NULL, held_until = NULL \
             WHERE booking_id IN (SELECT value FROM json_each($1)) AND state = 'held'",
            &[("$1", &ids)],
        )?;
    }
    Ok(expired)
}

#[allow(clippy::type_complexity)]
pub fn cancel_show(
    conn: &NativeConn<'_>,
    show_id: &str,
    now: i64,
) -> sqlx::Result<Option<(Vec<(String, Option<i64>)>, Vec<String>)>> {
    let changed = execute(conn, CANCEL_SHOW_ROW, &[("$1", &now), ("$2", &show_id)])?;
    if changed == 0 {
        return Ok(None);
    }
    execute(
        conn,
        "UPDATE show_seats SET state = 'blocked', booking_id = NULL, held_until = NULL \
         WHERE show_id = $1",
        &[("$1", &show_id)],
    )?;
    let bookings = query(
        conn,
        CANCEL_SHOW_BOOKINGS,
        &[("$1", &now), ("$2", &show_id)],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    let payments = query(
        conn,
        CANCEL_SHOW_PAYMENTS,
        &[("$1", &now), ("$2", &show_id)],
        |row| row.get(0),
    )?;
    Ok(Some((bookings, payments)))
}

pub fn insert_payment(conn: &NativeConn<'_>, p: &PaymentRow, now: i64) -> sqlx::Result<bool> {
    let inserted = execute(
        conn,
        INSERT_PAYMENT,
        &[
            ("$1", &p.id),
            ("$2", &p.booking_id),
            ("$3", &p.provider),
            ("$4", &p.amount),
            ("$5", &p.currency),
            ("$6", &now),
            ("$7", &p.intent_id),
            ("$8", &p.status),
            ("$9", &p.failure_reason),
        ],
    )?;
    Ok(inserted == 1)
}

pub fn set_payment_status(
    conn: &NativeConn<'_>,
    id: &str,
    from: &str,
    to: &str,
    now: i64,
    intent_id: Option<&str>,
    failure_reason: Option<&str>,
) -> sqlx::Result<Option<PaymentRow>> {
    Ok(query(
        conn,
        SET_PAYMENT_STATUS,
        &[
            ("$1", &to),
            ("$2", &now),
            ("$3", &intent_id),
            ("$4", &failure_reason),
            ("$5", &id),
            ("$6", &from),
        ],
        payment,
    )?
    .pop())
}

pub fn start_refund_of_booking(
    conn: &NativeConn<'_>,
    booking_id: &str,
    refund_amount: i64,
    now: i64,
) -> sqlx::Result<Vec<String>> {
    query(
        conn,
        START_REFUND,
        &[("$1", &refund_amount), ("$2", &now), ("$3", &booking_id)],
        |row| row.get(0),
    )
}
