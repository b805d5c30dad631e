//! Seat inventory storage: layouts, per-show seat rows, and the reads behind seat maps.
//! Seat rows are the unit that is sold; availability counts are always derived from them.

use sqlx::{FromRow, QueryBuilder};

use super::model::LayoutSeat;
use crate::{
    db::{Conn, Db},
    on_conn, on_reader,
    time::Timestamp,
};

#[derive(Debug, Clone, FromRow)]
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

#[derive(Debug, Clone, FromRow)]
pub struct LayoutDims {
    pub row_count: i64,
    pub col_count: i64,
}

/// Per category: seats in total, seats available at `now`, and the earliest expiry of a
/// live hold (when availability will next change by itself).
#[derive(Debug, Clone, FromRow)]
pub struct CategoryCountRow {
    pub category: String,
    pub total: i64,
    pub available: i64,
    pub next_hold_expiry: Option<i64>,
}

/// Every seat of the show with its layout position and state, in grid order.
pub async fn seat_map(db: &Db, show_id: &str, layout_id: &str) -> sqlx::Result<Vec<SeatMapRow>> {
    const SQL: &str = "SELECT l.label, l.row_label, l.row_index, l.col_index, l.category, \
            l.accessible, s.state, s.held_until \
        FROM show_seats s JOIN layout_seats l ON l.layout_id = $2 AND l.label = s.seat_label \
        WHERE s.show_id = $1 \
        ORDER BY l.row_index, l.col_index";
    on_reader!(db, |pool| {
        sqlx::query_as(SQL)
            .bind(show_id)
            .bind(layout_id)
            .fetch_all(pool)
            .await
    })
}

pub async fn layout_dims(db: &Db, layout_id: &str) -> sqlx::Result<Option<LayoutDims>> {
    const SQL: &str = "SELECT row_count, col_count FROM seat_layouts WHERE id = $1";
    on_reader!(db, |pool| sqlx::query_as(SQL)
        .bind(layout_id)
        .fetch_optional(pool)
        .await)
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
    on_reader!(db, |pool| {
        sqlx::query_as(SQL)
            .bind(show_id)
            .bind(now.as_millis())
            .fetch_all(pool)
            .await
    })
}

/// Creates every seat of the show from its layout, all available. Idempotent.
pub async fn allocate_show_seats(
    conn: &mut Conn<'_>,
    show_id: &str,
    layout_id: &str,
) -> sqlx::Result<u64> {
    const SQL: &str = "INSERT INTO show_seats (show_id, seat_label, category, state) \
        SELECT $1, label, category, 'available' FROM layout_seats WHERE layout_id = $2 \
        ON CONFLICT (show_id, seat_label) DO NOTHING";
    on_conn!(conn, |c| Ok(sqlx::query(SQL)
        .bind(show_id)
        .bind(layout_id)
        .execute(c)
        .await?
        .rows_affected()))
}

pub struct NewScreen<'a> {
    pub id: &'a str,
    pub theatre_id: &'a str,
    pub name: &'a str,
    pub layout_id: &'a str,
    pub seats: &'a [LayoutSeat],
}

/// Inserts a screen with its first layout unless the screen exists; true if inserted.
pub async fn insert_screen(
    conn: &mut Conn<'_>,
    screen: &NewScreen<'_>,
    now: Timestamp,
) -> sqlx::Result<bool> {
    const SCREEN: &str = "INSERT INTO screens (id, theatre_id, name, layout_id, created_at) \
        VALUES ($1, $2, $3, NULL, $4) ON CONFLICT (id) DO NOTHING";
    const POINT: &str = "UPDATE screens SET layout_id = $2 WHERE id = $1";
    let inserted = on_conn!(conn, |c| {
        sqlx::query(SCREEN)
            .bind(screen.id)
            .bind(screen.theatre_id)
            .bind(screen.name)
            .bind(now.as_millis())
            .execute(c)
            .await?
            .rows_affected()
    });
    if inserted == 0 {
        return Ok(false);
    }
    insert_layout(conn, screen.layout_id, screen.id, screen.seats, now).await?;
    on_conn!(conn, |c| {
        sqlx::query(POINT)
            .bind(screen.id)
            .bind(screen.layout_id)
            .execute(c)
            .await?;
    });
    Ok(true)
}

/// Inserts an immutable layout version with its seats.
pub async fn insert_layout(
    conn: &mut Conn<'_>,
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
    on_conn!(conn, |c| {
        sqlx::query(LAYOUT)
            .bind(layout_id)
            .bind(screen_id)
            .bind(rows)
            .bind(cols)
            .bind(seats.len() as i64)
            .bind(now.as_millis())
            .execute(&mut *c)
            .await?;
        // 7 binds a seat; 100 seats a statement stays far below both engines' limits.
        for chunk in seats.chunks(100) {
            let mut query = QueryBuilder::new(
                "INSERT INTO layout_seats (layout_id, label, row_label, row_index, col_index, category, accessible) ",
            );
            query.push_values(chunk, |mut row, seat| {
                row.push_bind(layout_id)
                    .push_bind(seat.label.as_str())
                    .push_bind(seat.row_label.as_str())
                    .push_bind(i64::from(seat.row_index))
                    .push_bind(i64::from(seat.col_index))
                    .push_bind(seat.category.as_str())
                    .push_bind(seat.accessible);
            });
            query.build().execute(&mut *c).await?;
        }
    });
    Ok(())
}

pub async fn count_show_seats(conn: &mut Conn<'_>, show_id: &str) -> sqlx::Result<u64> {
    const SQL: &str = "SELECT COUNT(*) FROM show_seats WHERE show_id = $1";
    let count: i64 = on_conn!(conn, |c| sqlx::query_scalar(SQL)
        .bind(show_id)
        .fetch_one(c)
        .await?);
    Ok(count as u64)
}

/// Which of `labels` are seats of the show.
pub async fn existing_seats(
    conn: &mut Conn<'_>,
    show_id: &str,
    labels: &[&str],
) -> sqlx::Result<std::collections::HashSet<String>> {
    let mut found = std::collections::HashSet::new();
    for chunk in labels.chunks(500) {
        let rows: Vec<String> = on_conn!(conn, |c| {
            let mut query = QueryBuilder::new("SELECT seat_label FROM show_seats WHERE show_id = ");
            query.push_bind(show_id).push(" AND seat_label IN (");
            let mut list = query.separated(", ");
            for label in chunk {
                list.push_bind(*label);
            }
            query.push(")");
            query.build_query_scalar().fetch_all(&mut *c).await?
        });
        found.extend(rows);
    }
    Ok(found)
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
/// statement per chunk; returns the labels that changed. A hold past its expiry counts as
/// available, as everywhere.
pub async fn change_seats(
    conn: &mut Conn<'_>,
    show_id: &str,
    labels: &[&str],
    change: SeatChange,
    now: Timestamp,
) -> sqlx::Result<std::collections::HashSet<String>> {
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
    let mut changed = std::collections::HashSet::new();
    for chunk in labels.chunks(500) {
        let rows: Vec<String> = on_conn!(conn, |c| {
            let mut query = QueryBuilder::new("UPDATE show_seats SET state = ");
            query
                .push_bind(target)
                .push(", booking_id = NULL, held_until = NULL WHERE show_id = ")
                .push_bind(show_id)
                .push(" AND ")
                .push(allowed)
                .push_bind(now.as_millis())
                .push(")) AND seat_label IN (");
            let mut list = query.separated(", ");
            for label in chunk {
                list.push_bind(*label);
            }
            query.push(") RETURNING seat_label");
            query.build_query_scalar().fetch_all(&mut *c).await?
        });
        changed.extend(rows);
    }
    Ok(changed)
}

/// Makes `layout_id` the layout new shows on the screen are allocated from; returns the
/// screen's name.
pub async fn point_screen_at_layout(
    conn: &mut Conn<'_>,
    screen_id: &str,
    layout_id: &str,
) -> sqlx::Result<String> {
    const SQL: &str = "UPDATE screens SET layout_id = $2 WHERE id = $1 RETURNING name";
    on_conn!(conn, |c| sqlx::query_scalar(SQL)
        .bind(screen_id)
        .bind(layout_id)
        .fetch_one(c)
        .await)
}
