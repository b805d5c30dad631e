//! Seat inventory storage: layouts, per-show seat rows, and the reads behind seat maps.
//! Seat rows are the unit that is sold; availability counts are always derived from them.

use std::collections::HashSet;

use super::model::{LayoutSeat, SeatCategory};
use crate::{
    db::{Db, QueryBuilder, Tx},
    db_row, params,
    time::Timestamp,
};

db_row! {
    #[derive(Debug, Clone)]
    pub struct SeatMapRow {
        pub label: String,
        pub row_label: String,
        pub row_index: i64,
        pub col_index: i64,
        pub category: String,
        pub accessible: bool,
        pub state: String,
        pub held_until: Option<i64>,
    }
}

db_row! {
    #[derive(Debug, Clone)]
    pub struct LayoutDims {
        pub row_count: i64,
        pub col_count: i64,
    }
}

db_row! {
    /// Per category: seats in total, seats available at `now`, and the earliest expiry of a
    /// live hold (when availability will next change by itself).
    #[derive(Debug, Clone)]
    pub struct CategoryCountRow {
        pub category: String,
        pub total: i64,
        pub available: i64,
        pub next_hold_expiry: Option<i64>,
    }
}

/// Every seat of the show with its layout position and state, in grid order.
pub async fn seat_map(db: &Db, show_id: &str, layout_id: &str) -> sqlx::Result<Vec<SeatMapRow>> {
    const SQL: &str = "SELECT l.label, l.row_label, l.row_index, l.col_index, l.category, \
            l.accessible, s.state, s.held_until \
        FROM show_seats s JOIN layout_seats l ON l.layout_id = $2 AND l.label = s.seat_label \
        WHERE s.show_id = $1 \
        ORDER BY l.row_index, l.col_index";
    db.fetch_all(SQL, params![show_id, layout_id]).await
}

/// Every seat of a show with its stored state and hold expiry, by label.
pub async fn seat_states(
    db: &Db,
    show_id: &str,
) -> sqlx::Result<Vec<(String, String, Option<i64>)>> {
    const SQL: &str = "SELECT seat_label, state, held_until FROM show_seats \
        WHERE show_id = $1 ORDER BY seat_label";
    db.fetch_all(SQL, params![show_id]).await
}

pub async fn layout_dims(db: &Db, layout_id: &str) -> sqlx::Result<Option<LayoutDims>> {
    const SQL: &str = "SELECT row_count, col_count FROM seat_layouts WHERE id = $1";
    db.fetch_optional(SQL, params![layout_id]).await
}

/// Seat counts per category at `now`; an expired hold counts as available.
pub async fn category_counts(
    db: &Db,
    show_id: &str,
    now: Timestamp,
) -> sqlx::Result<Vec<CategoryCountRow>> {
    const SQL: &str = "SELECT category, COUNT(*) AS total, \
            SUM(CASE WHEN state = 'available' OR (state = 'held' AND held_until <= $2) \
                     THEN 1 ELSE 0 END) AS available, \
            MIN(CASE WHEN state = 'held' AND held_until > $2 THEN held_until END) AS next_hold_expiry \
        FROM show_seats WHERE show_id = $1 GROUP BY category ORDER BY category";
    db.fetch_all(SQL, params![show_id, now.as_millis()]).await
}

/// The category of every seat of the show.
pub async fn seat_categories(db: &Db, show_id: &str) -> sqlx::Result<Vec<(String, String)>> {
    const SQL: &str = "SELECT seat_label, category FROM show_seats WHERE show_id = $1";
    db.fetch_all(SQL, params![show_id]).await
}

/// Creates every seat of the show from its layout, all available. Idempotent.
pub fn allocate_show_seats(tx: &mut Tx<'_>, show_id: &str, layout_id: &str) -> sqlx::Result<u64> {
    const SQL: &str = "INSERT INTO show_seats (show_id, seat_label, category, state) \
        SELECT $1, label, category, 'available' FROM layout_seats WHERE layout_id = $2 \
        ON CONFLICT (show_id, seat_label) DO NOTHING";
    tx.execute(SQL, params![show_id, layout_id])
}

pub struct NewScreen<'a> {
    pub id: &'a str,
    pub theatre_id: &'a str,
    pub name: &'a str,
    pub layout_id: &'a str,
    pub seats: &'a [LayoutSeat],
    /// The theatre's own id, when its system created it (`integration::sync`).
    pub external_id: Option<&'a str>,
}

/// Inserts a screen with its first layout unless the screen exists; true if inserted.
pub fn insert_screen(
    tx: &mut Tx<'_>,
    screen: &NewScreen<'_>,
    now: Timestamp,
) -> sqlx::Result<bool> {
    const SCREEN: &str = "INSERT INTO screens (id, theatre_id, name, layout_id, created_at, \
        external_id) VALUES ($1, $2, $3, NULL, $4, $5) ON CONFLICT (id) DO NOTHING";
    const POINT: &str = "UPDATE screens SET layout_id = $2 WHERE id = $1";
    let inserted = tx.execute(
        SCREEN,
        params![
            screen.id,
            screen.theatre_id,
            screen.name,
            now.as_millis(),
            screen.external_id
        ],
    )?;
    if inserted == 0 {
        return Ok(false);
    }
    insert_layout(tx, screen.layout_id, screen.id, screen.seats, now)?;
    tx.execute(POINT, params![screen.id, screen.layout_id])?;
    Ok(true)
}

/// The seats of a layout version, front row first, left to right.
pub fn layout_seats(tx: &mut Tx<'_>, layout_id: &str) -> sqlx::Result<Vec<LayoutSeat>> {
    const SQL: &str = "SELECT label, row_label, row_index, col_index, category, accessible \
        FROM layout_seats WHERE layout_id = $1 ORDER BY row_index, col_index";
    let rows: Vec<(String, String, i64, i64, String, bool)> =
        tx.fetch_all(SQL, params![layout_id])?;
    Ok(rows
        .into_iter()
        .filter_map(|(label, row_label, row, col, category, accessible)| {
            Some(LayoutSeat {
                label,
                row_label,
                row_index: u16::try_from(row).ok()?,
                col_index: u16::try_from(col).ok()?,
                category: SeatCategory::parse(&category)?,
                accessible,
            })
        })
        .collect())
}

/// Inserts an immutable layout version with its seats.
pub fn insert_layout(
    tx: &mut Tx<'_>,
    layout_id: &str,
    screen_id: &str,
    seats: &[LayoutSeat],
    now: Timestamp,
) -> sqlx::Result<()> {
    const LAYOUT: &str = "INSERT INTO seat_layouts (id, screen_id, row_count, col_count, seat_count, created_at) \
        VALUES ($1, $2, $3, $4, $5, $6)";
    let rows = seats
        .iter()
        .map(|s| i64::from(s.row_index) + 1)
        .max()
        .unwrap_or(0);
    let cols = seats
        .iter()
        .map(|s| i64::from(s.col_index) + 1)
        .max()
        .unwrap_or(0);
    tx.execute(
        LAYOUT,
        params![
            layout_id,
            screen_id,
            rows,
            cols,
            seats.len() as i64,
            now.as_millis()
        ],
    )?;
    // 7 binds a seat; 100 seats a statement stays far below both engines' limits.
    for chunk in seats.chunks(100) {
        let mut query = QueryBuilder::new(
            tx.engine(),
            "INSERT INTO layout_seats (layout_id, label, row_label, row_index, col_index, category, accessible) VALUES ",
        );
        for (i, seat) in chunk.iter().enumerate() {
            query.push(if i == 0 { "(" } else { ", (" });
            query
                .push_bind(layout_id)
                .push(", ")
                .push_bind(seat.label.as_str())
                .push(", ")
                .push_bind(seat.row_label.as_str())
                .push(", ")
                .push_bind(i64::from(seat.row_index))
                .push(", ")
                .push_bind(i64::from(seat.col_index))
                .push(", ")
                .push_bind(seat.category.as_str())
                .push(", ")
                .push_bind(seat.accessible)
                .push(")");
        }
        tx.execute(query.sql(), query.params())?;
    }
    Ok(())
}

pub fn count_show_seats(tx: &mut Tx<'_>, show_id: &str) -> sqlx::Result<u64> {
    const SQL: &str = "SELECT COUNT(*) FROM show_seats WHERE show_id = $1";
    let count: i64 = tx.fetch_one(SQL, params![show_id])?;
    Ok(count as u64)
}

/// Which of `labels` are seats of the show.
pub fn existing_seats(
    tx: &mut Tx<'_>,
    show_id: &str,
    labels: &[&str],
) -> sqlx::Result<HashSet<String>> {
    let mut query = QueryBuilder::new(
        tx.engine(),
        "SELECT seat_label FROM show_seats WHERE show_id = ",
    );
    query
        .push_bind(show_id)
        .push(" AND seat_label")
        .push_in(labels);
    let rows: Vec<String> = tx.fetch_all(query.sql(), query.params())?;
    Ok(rows.into_iter().collect())
}

/// A partner's change to seats of a show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeatChange {
    /// available → withheld
    Withhold,
    /// available or withheld → blocked
    Block,
    /// withheld or blocked → available
    Release,
}

/// Applies the change to those of `labels` whose state allows it, in one conditional
/// statement; returns the labels that changed. A hold past its expiry counts as available,
/// as everywhere.
pub fn change_seats(
    tx: &mut Tx<'_>,
    show_id: &str,
    labels: &[&str],
    change: SeatChange,
    now: Timestamp,
) -> sqlx::Result<HashSet<String>> {
    let (target, allowed) = match change {
        SeatChange::Withhold => (
            "withheld",
            "(state = 'available' OR (state = 'held' AND held_until <= ",
        ),
        SeatChange::Block => (
            "blocked",
            "(state IN ('available', 'withheld') OR (state = 'held' AND held_until <= ",
        ),
        SeatChange::Release => (
            "available",
            "(state IN ('withheld', 'blocked') OR (1 = 0 AND 0 <> ",
        ),
    };
    let mut query = QueryBuilder::new(tx.engine(), "UPDATE show_seats SET state = ");
    query
        .push_bind(target)
        .push(", booking_id = NULL, held_until = NULL WHERE show_id = ")
        .push_bind(show_id)
        .push(" AND ")
        .push(allowed)
        .push_bind(now.as_millis())
        .push(")) AND seat_label")
        .push_in(labels)
        .push(" RETURNING seat_label");
    let rows: Vec<String> = tx.fetch_all(query.sql(), query.params())?;
    Ok(rows.into_iter().collect())
}

/// Makes `layout_id` the layout new shows on the screen are allocated from; returns the
/// screen's name.
pub fn point_screen_at_layout(
    tx: &mut Tx<'_>,
    screen_id: &str,
    layout_id: &str,
) -> sqlx::Result<String> {
    const SQL: &str = "UPDATE screens SET layout_id = $2 WHERE id = $1 RETURNING name";
    tx.fetch_one(SQL, params![screen_id, layout_id])
}
