//! Seat maps and availability, computed from the per-show seat rows at a given instant.

use std::collections::BTreeMap;

use super::{
    best_available::{Grid, MapSeat, Proposal, Wanted, best_available},
    model::{SeatCategory, SeatMap, SeatState, SeatView},
    store,
};
use crate::{
    catalog::{
        CatalogError,
        model::{Availability, CategoryAvailability, CategoryPrice},
        store::{self as catalog_store, ShowRow},
    },
    db::Db,
    http::cache::Fresh,
    money::{Currency, Money},
    time::Timestamp,
};

pub async fn show_row(db: &Db, show_id: &str) -> Result<ShowRow, CatalogError> {
    catalog_store::get_show(db, show_id)
        .await?
        .ok_or_else(|| CatalogError::ShowNotFound(show_id.to_owned()))
}

/// A show can be sold while it is scheduled and has not started.
pub fn on_sale(show: &ShowRow, now: Timestamp) -> bool {
    show.status == "scheduled" && now.as_millis() < show.starts_at
}

/// When a view of the show computed at `now` stops being true by itself: when the earliest
/// live hold expires, or when the show starts and goes off sale.
pub fn seat_view_valid_until(
    show: &ShowRow,
    next_hold_expiry: Option<i64>,
    now: Timestamp,
) -> Option<Timestamp> {
    let starts = (now.as_millis() < show.starts_at).then_some(show.starts_at);
    [next_hold_expiry, starts]
        .into_iter()
        .flatten()
        .min()
        .map(Timestamp::from_millis)
}

pub async fn prices(db: &Db, show: &ShowRow) -> Result<Vec<CategoryPrice>, CatalogError> {
    let currency = Currency::parse(&show.currency).unwrap_or(Currency::UNKNOWN);
    let mut prices: Vec<CategoryPrice> = catalog_store::show_prices(db, &show.id)
        .await?
        .into_iter()
        .filter_map(|p| {
            Some(CategoryPrice {
                category: SeatCategory::parse(&p.category)?,
                price: Money::new(p.amount, currency),
            })
        })
        .collect();
    prices.sort_by_key(|p| p.category);
    Ok(prices)
}

/// Seat counts per category at `now`, and the earliest expiry of a live hold.
pub async fn availability(
    db: &Db,
    show_id: &str,
    now: Timestamp,
) -> Result<(Availability, Option<i64>), CatalogError> {
    let rows = store::category_counts(db, show_id, now).await?;
    let next_hold_expiry = rows.iter().filter_map(|r| r.next_hold_expiry).min();
    let by_category: Vec<CategoryAvailability> = rows
        .into_iter()
        .filter_map(|r| {
            Some(CategoryAvailability {
                category: SeatCategory::parse(&r.category)?,
                total: r.total as u32,
                available: r.available as u32,
            })
        })
        .collect();
    Ok((summarise(by_category), next_hold_expiry))
}

fn summarise(mut by_category: Vec<CategoryAvailability>) -> Availability {
    by_category.sort_by_key(|c| c.category);
    Availability {
        total: by_category.iter().map(|c| c.total).sum(),
        available: by_category.iter().map(|c| c.available).sum(),
        by_category,
    }
}

/// The seat map of a show at `now`.
pub async fn seat_map(
    db: &Db,
    show_id: &str,
    now: Timestamp,
) -> Result<Fresh<SeatMap>, CatalogError> {
    let show = show_row(db, show_id).await?;
    let prices = prices(db, &show).await?;
    let price_of = |category: SeatCategory| {
        prices
            .iter()
            .find(|p| p.category == category)
            .map(|p| p.price)
    };
    let dims = store::layout_dims(db, &show.layout_id).await?;
    let rows = store::seat_map(db, show_id, &show.layout_id).await?;
    let now_ms = now.as_millis();
    let mut next_hold_expiry: Option<i64> = None;
    let mut counts: BTreeMap<SeatCategory, (u32, u32)> = BTreeMap::new();
    let mut seats = Vec::with_capacity(rows.len());
    for row in rows {
        let (Some(category), Some(stored)) = (
            SeatCategory::parse(&row.category),
            SeatState::parse(&row.state),
        ) else {
            continue;
        };
        let state = stored.effective(row.held_until, now_ms);
        if let (SeatState::Held, Some(until)) = (state, row.held_until) {
            next_hold_expiry = Some(next_hold_expiry.map_or(until, |next| next.min(until)));
        }
        let count = counts.entry(category).or_default();
        count.0 += 1;
        if state == SeatState::Available {
            count.1 += 1;
        }
        let Some(price) = price_of(category) else {
            continue;
        };
        seats.push(SeatView {
            label: row.label,
            row: row.row_label,
            grid_row: row.row_index as u16,
            grid_col: row.col_index as u16,
            category,
            state,
            price,
            accessible: row.accessible,
        });
    }
    let availability = summarise(
        counts
            .into_iter()
            .map(|(category, (total, available))| CategoryAvailability {
                category,
                total,
                available,
            })
            .collect(),
    );
    let valid_until = seat_view_valid_until(&show, next_hold_expiry, now);
    let map = SeatMap {
        show_id: crate::ids::ShowId::from_trusted(show.id.clone()),
        on_sale: on_sale(&show, now),
        grid_rows: dims.as_ref().map_or(0, |d| d.row_count as u16),
        grid_cols: dims.as_ref().map_or(0, |d| d.col_count as u16),
        seats,
        availability,
    };
    Ok(Fresh::until(map, valid_until))
}

/// The best seats of `map` for `wanted` (`best_available`), counting the seats `busy`
/// names as taken.
pub fn propose<'m>(
    map: &'m SeatMap,
    wanted: Wanted,
    busy: &dyn Fn(&str) -> bool,
) -> Option<Proposal<'m>> {
    let seats: Vec<MapSeat<'m>> = map
        .seats
        .iter()
        .map(|seat| MapSeat {
            label: &seat.label,
            row: seat.grid_row,
            col: seat.grid_col,
            category: seat.category,
            accessible: seat.accessible,
            free: seat.state == SeatState::Available && !busy(&seat.label),
        })
        .collect();
    let grid = Grid {
        rows: map.grid_rows,
        cols: map.grid_cols,
    };
    best_available(&seats, grid, wanted)
}
