//! SQL of the reports: one row of figures per show (seats, bookings and their money, the
//! staff's refunds, lost disputes), holds per show and quarter hour, and a partner's
//! bookings in keyset pages. Every statement reads a window of show start times (or
//! booking creation times) wide enough for every timezone; `super` picks the local dates.

use std::collections::HashMap;

use super::{HoldCount, QUARTER_MS, ShowFacts, ShowFigures, ShowRow};
use crate::{
    db::{Db, QueryBuilder},
    db_row,
};

/// The columns of `ShowFacts`, over `SHOWS`.
const FACTS: &str = "s.id AS show_id, s.screen_id, sc.name AS screen_name, s.theatre_id, \
     t.name AS theatre_name, s.city_id, c.name AS city_name, c.timezone, s.movie_id, \
     m.title AS movie_title, s.starts_at, s.currency, s.status";

const SHOWS: &str = "FROM shows s JOIN theatres t ON t.id = s.theatre_id \
     JOIN cities c ON c.id = s.city_id JOIN screens sc ON sc.id = s.screen_id \
     JOIN movies m ON m.id = s.movie_id";

db_row! {
    struct FactsRow {
        show_id: String,
        screen_id: String,
        screen_name: String,
        theatre_id: String,
        theatre_name: String,
        city_id: String,
        city_name: String,
        timezone: String,
        movie_id: String,
        movie_title: String,
        starts_at: i64,
        currency: String,
        status: String,
    }
}

impl From<FactsRow> for ShowFacts {
    fn from(row: FactsRow) -> Self {
        ShowFacts {
            show_id: row.show_id,
            screen_id: row.screen_id,
            screen_name: row.screen_name,
            theatre_id: row.theatre_id,
            theatre_name: row.theatre_name,
            city_id: row.city_id,
            city_name: row.city_name,
            timezone: row.timezone,
            movie_id: row.movie_id,
            movie_title: row.movie_title,
            starts_at: row.starts_at,
            currency: row.currency,
            cancelled: row.status == "cancelled",
        }
    }
}

db_row! {
    struct SeatsRow {
        show_id: String,
        capacity: i64,
        seats_sold: i64,
        counter_seats: i64,
    }
}

db_row! {
    struct BookingsRow {
        show_id: String,
        bookings_confirmed: i64,
        bookings_cancelled: i64,
        revenue: i64,
        fees: i64,
        refunds_count: i64,
        refunds_amount: i64,
        refunds_ticket: i64,
    }
}

db_row! {
    /// Refunds by the staff, or lost disputes, of one show.
    struct MoneyBackRow {
        show_id: String,
        n: i64,
        amount: i64,
        ticket: i64,
    }
}

db_row! {
    struct HoldsRow {
        show_id: String,
        quarter: i64,
        holds: i64,
        confirmed: i64,
    }
}

/// Appends the shows' scope: starting in `[start, end)`, of `org` if given (over `s` and
/// `t`).
fn scope<'a>(sql: &mut QueryBuilder<'a>, window: (i64, i64), org: Option<&'a str>) {
    sql.push(" s.starts_at >= ")
        .push_bind(window.0)
        .push(" AND s.starts_at < ")
        .push_bind(window.1);
    if let Some(org) = org {
        sql.push(" AND t.org_id = ").push_bind(org);
    }
}

/// Every show starting in `window` (of `org`, or all), with its figures.
pub async fn show_rows(
    db: &Db,
    org: Option<&str>,
    window: (i64, i64),
) -> sqlx::Result<Vec<ShowRow>> {
    let engine = db.engine();

    let mut facts = QueryBuilder::new(engine, format!("SELECT {FACTS} {SHOWS} WHERE"));
    scope(&mut facts, window, org);
    facts.push(" ORDER BY s.starts_at, s.id");
    let facts: Vec<FactsRow> = db.fetch_all(facts.sql(), facts.params()).await?;
    if facts.is_empty() {
        return Ok(Vec::new());
    }

    // Sold seats are `booked` ones: a confirmed booking's (`bkg_…`) or a box-office
    // sale's (`cts_…`).
    let mut seats = QueryBuilder::new(
        engine,
        "SELECT x.show_id, COUNT(*) AS capacity, \
           CAST(SUM(CASE WHEN x.state = 'booked' THEN 1 ELSE 0 END) AS BIGINT) AS seats_sold, \
           CAST(SUM(CASE WHEN x.state = 'booked' AND substr(x.booking_id, 1, 4) = 'cts_' \
             THEN 1 ELSE 0 END) AS BIGINT) AS counter_seats \
         FROM show_seats x JOIN shows s ON s.id = x.show_id \
         JOIN theatres t ON t.id = s.theatre_id WHERE",
    );
    scope(&mut seats, window, org);
    seats.push(" GROUP BY x.show_id");
    let seats: Vec<SeatsRow> = db.fetch_all(seats.sql(), seats.params()).await?;

    // A cancellation's refund gives the tickets back first, then fees (a cancelled show
    // refunds everything), after what the staff already refunded of the tickets: as
    // `settlement::lines::refund_after`.
    let mut bookings = QueryBuilder::new(
        engine,
        "SELECT x.show_id, \
           CAST(SUM(CASE WHEN x.confirmed_at IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) \
             AS bookings_confirmed, \
           CAST(SUM(CASE WHEN x.confirmed_at IS NOT NULL AND x.status = 'cancelled' \
             THEN 1 ELSE 0 END) AS BIGINT) AS bookings_cancelled, \
           CAST(SUM(CASE WHEN x.confirmed_at IS NOT NULL THEN x.total ELSE 0 END) AS BIGINT) \
             AS revenue, \
           CAST(SUM(CASE WHEN x.confirmed_at IS NOT NULL THEN x.fee_total ELSE 0 END) \
             AS BIGINT) AS fees, \
           CAST(SUM(CASE WHEN x.refund > 0 THEN 1 ELSE 0 END) AS BIGINT) AS refunds_count, \
           CAST(SUM(CASE WHEN x.refund > 0 THEN x.refund ELSE 0 END) AS BIGINT) \
             AS refunds_amount, \
           CAST(SUM(CASE WHEN x.refund IS NULL OR x.refund <= 0 OR x.ticket_left <= 0 THEN 0 \
             WHEN x.refund < x.ticket_left THEN x.refund ELSE x.ticket_left END) AS BIGINT) \
             AS refunds_ticket \
         FROM (SELECT b.show_id, b.status, b.confirmed_at, b.total, b.fee_total, \
                 CASE WHEN b.confirmed_at IS NOT NULL THEN b.refund END AS refund, \
                 b.total - b.fee_total - COALESCE((SELECT CAST(SUM(r.ticket_amount) AS BIGINT) \
                   FROM refunds r WHERE r.booking_id = b.id), 0) AS ticket_left \
               FROM bookings b JOIN shows s ON s.id = b.show_id \
               JOIN theatres t ON t.id = s.theatre_id WHERE",
    );
    scope(&mut bookings, window, org);
    bookings.push(") x GROUP BY x.show_id");
    let bookings: Vec<BookingsRow> = db.fetch_all(bookings.sql(), bookings.params()).await?;

    // Refunds by the staff, pending at the gateway or sent.
    let mut refunds = QueryBuilder::new(
        engine,
        "SELECT b.show_id, COUNT(*) AS n, CAST(SUM(r.amount) AS BIGINT) AS amount, \
           CAST(SUM(r.ticket_amount) AS BIGINT) AS ticket \
         FROM refunds r JOIN bookings b ON b.id = r.booking_id \
         JOIN shows s ON s.id = b.show_id JOIN theatres t ON t.id = s.theatre_id WHERE",
    );
    scope(&mut refunds, window, org);
    refunds.push(" GROUP BY b.show_id");
    let refunds: Vec<MoneyBackRow> = db.fetch_all(refunds.sql(), refunds.params()).await?;

    let mut disputes = QueryBuilder::new(
        engine,
        "SELECT b.show_id, COUNT(*) AS n, CAST(SUM(d.amount) AS BIGINT) AS amount, \
           CAST(SUM(d.ticket_amount) AS BIGINT) AS ticket \
         FROM disputes d JOIN bookings b ON b.id = d.booking_id \
         JOIN shows s ON s.id = b.show_id JOIN theatres t ON t.id = s.theatre_id \
         WHERE d.status = 'lost' AND",
    );
    scope(&mut disputes, window, org);
    disputes.push(" GROUP BY b.show_id");
    let disputes: Vec<MoneyBackRow> = db.fetch_all(disputes.sql(), disputes.params()).await?;

    let mut figures: HashMap<String, ShowFigures> = HashMap::new();
    for row in seats {
        let f = figures.entry(row.show_id).or_default();
        f.capacity = row.capacity;
        f.seats_sold = row.seats_sold;
        f.counter_seats = row.counter_seats;
    }
    for row in bookings {
        let f = figures.entry(row.show_id).or_default();
        f.bookings_confirmed = row.bookings_confirmed;
        f.bookings_cancelled = row.bookings_cancelled;
        f.revenue = row.revenue;
        f.fees = row.fees;
        f.refunds_count += row.refunds_count;
        f.refunds_amount += row.refunds_amount;
        f.refunds_ticket += row.refunds_ticket;
    }
    for row in refunds {
        let f = figures.entry(row.show_id).or_default();
        f.refunds_count += row.n;
        f.refunds_amount += row.amount;
        f.refunds_ticket += row.ticket;
    }
    for row in disputes {
        let f = figures.entry(row.show_id).or_default();
        f.chargebacks_count = row.n;
        f.chargebacks_amount = row.amount;
        f.chargebacks_ticket = row.ticket;
    }
    Ok(facts
        .into_iter()
        .map(|row| {
            let figures = figures.remove(&row.show_id).unwrap_or_default();
            ShowRow {
                facts: row.into(),
                figures,
            }
        })
        .collect())
}

/// Bookings made in `window` (every show), counted per show and quarter hour with how
/// many were confirmed.
pub async fn hold_counts(db: &Db, window: (i64, i64)) -> sqlx::Result<Vec<HoldCount>> {
    let engine = db.engine();
    // Integer division on both engines (BIGINT by an integer literal).
    let mut holds = QueryBuilder::new(
        engine,
        format!(
            "SELECT b.show_id, b.created_at / {QUARTER_MS} AS quarter, COUNT(*) AS holds, \
               CAST(SUM(CASE WHEN b.confirmed_at IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) \
                 AS confirmed \
             FROM bookings b WHERE b.created_at >= "
        ),
    );
    holds
        .push_bind(window.0)
        .push(" AND b.created_at < ")
        .push_bind(window.1)
        .push(format!(" GROUP BY b.show_id, b.created_at / {QUARTER_MS}").as_str());
    let holds: Vec<HoldsRow> = db.fetch_all(holds.sql(), holds.params()).await?;
    if holds.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<String> = holds.iter().map(|h| h.show_id.clone()).collect();
    ids.sort();
    ids.dedup();
    let mut facts = QueryBuilder::new(engine, format!("SELECT {FACTS} {SHOWS} WHERE s.id"));
    facts.push_in(&ids);
    let facts: HashMap<String, ShowFacts> = db
        .fetch_all::<FactsRow>(facts.sql(), facts.params())
        .await?
        .into_iter()
        .map(|row| (row.show_id.clone(), row.into()))
        .collect();
    Ok(holds
        .into_iter()
        .filter_map(|h| {
            Some(HoldCount {
                facts: facts.get(&h.show_id)?.clone(),
                quarter_start: h.quarter * QUARTER_MS,
                holds: h.holds,
                confirmed: h.confirmed,
            })
        })
        .collect())
}

/// What a partner's bookings list is filtered by (validated by the caller).
#[derive(Debug, Clone, Default)]
pub struct BookingFilter<'a> {
    pub theatre_id: Option<&'a str>,
    pub show_id: Option<&'a str>,
    pub status: Option<&'a str>,
    /// Made at or after (UTC ms).
    pub from: Option<i64>,
    /// Made before (UTC ms).
    pub to: Option<i64>,
}

db_row! {
    /// A booking of one of the organisation's shows.
    pub struct PartnerBookingRow {
        pub id: String,
        pub customer_id: String,
        pub show_id: String,
        pub theatre_id: String,
        pub starts_at: i64,
        pub status: String,
        pub seats: String,
        pub currency: String,
        pub total: i64,
        pub fee_total: i64,
        pub refund: Option<i64>,
        pub staff_refunded: i64,
        pub created_at: i64,
        pub confirmed_at: Option<i64>,
        pub cancelled_at: Option<i64>,
    }
}

/// The organisation's bookings matching `filter`, newest first, after the keyset
/// `(created_at, id)`; at most `limit + 1` rows (the extra one says more exist).
pub async fn partner_bookings(
    db: &Db,
    org: &str,
    filter: &BookingFilter<'_>,
    after: Option<&(i64, String)>,
    limit: u32,
) -> sqlx::Result<Vec<PartnerBookingRow>> {
    let mut sql = QueryBuilder::new(
        db.engine(),
        "SELECT b.id, b.customer_id, b.show_id, s.theatre_id, s.starts_at, b.status, b.seats, \
           b.currency, b.total, b.fee_total, b.refund, \
           COALESCE((SELECT CAST(SUM(r.amount) AS BIGINT) FROM refunds r \
             WHERE r.booking_id = b.id), 0) AS staff_refunded, \
           b.created_at, b.confirmed_at, b.cancelled_at \
         FROM bookings b JOIN shows s ON s.id = b.show_id \
         JOIN theatres t ON t.id = s.theatre_id WHERE t.org_id = ",
    );
    sql.push_bind(org);
    if let Some(theatre) = filter.theatre_id {
        sql.push(" AND s.theatre_id = ").push_bind(theatre);
    }
    if let Some(show) = filter.show_id {
        sql.push(" AND b.show_id = ").push_bind(show);
    }
    if let Some(status) = filter.status {
        sql.push(" AND b.status = ").push_bind(status);
    }
    if let Some(from) = filter.from {
        sql.push(" AND b.created_at >= ").push_bind(from);
    }
    if let Some(to) = filter.to {
        sql.push(" AND b.created_at < ").push_bind(to);
    }
    if let Some((at, id)) = after {
        sql.push(" AND (b.created_at < ")
            .push_bind(*at)
            .push(" OR (b.created_at = ")
            .push_bind(*at)
            .push(" AND b.id < ")
            .push_bind(id.as_str())
            .push("))");
    }
    sql.push(" ORDER BY b.created_at DESC, b.id DESC LIMIT ")
        .push_bind(i64::from(limit) + 1);
    db.fetch_all(sql.sql(), sql.params()).await
}
