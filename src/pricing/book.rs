//! What pricing needs on every quote and hold, read once and shared on the node:
//!
//! - the **rule book**: every active rule and the holiday calendars, reused while this
//!   node's catalog epoch is unchanged (rule and calendar writes bump it) and for at most
//!   `MAX_AGE_MS` by the application's clock, which bounds how long a change made through
//!   another node goes unseen (as offers);
//! - **occupancy** per show, read only for shows a demand rule applies to, and reused for
//!   `pricing.demand_refresh_ms`: a demand price follows the show's sales at most that
//!   late, and a quote and the hold made right after it see the same occupancy. Seat-map
//!   loads, which count every seat anyway, refresh it with their exact count.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

use chrono::NaiveDate;

use super::{model::PriceRule, store};
use crate::{app::AppState, db::Db, db_row, params};

const MAX_AGE_MS: i64 = 2_000;

/// Every active rule and the holiday calendars.
#[derive(Debug, Default)]
pub struct Rules {
    pub rules: Vec<PriceRule>,
    /// (country code, local date) of every public holiday.
    pub holidays: HashSet<(String, NaiveDate)>,
}

impl Rules {
    pub fn is_holiday(&self, country: &str, day: NaiveDate) -> bool {
        self.holidays.contains(&(country.to_owned(), day))
    }
}

#[derive(Default)]
pub struct RuleBook {
    snapshot: Mutex<Option<(u64, i64, Arc<Rules>)>>,
}

impl RuleBook {
    pub async fn rules(&self, app: &AppState) -> sqlx::Result<Arc<Rules>> {
        let epoch = app.cache.catalog_epoch();
        let now = app.clock.now().as_millis();
        if let Some((at_epoch, taken, rules)) =
            &*self.snapshot.lock().unwrap_or_else(|e| e.into_inner())
            && *at_epoch == epoch
            && (*taken..*taken + MAX_AGE_MS).contains(&now)
        {
            return Ok(rules.clone());
        }
        let rules = Arc::new(Rules {
            rules: store::active_rules(&app.db).await?,
            holidays: store::all_holidays(&app.db)
                .await?
                .into_iter()
                .map(|h| (h.country_code, h.day))
                .collect(),
        });
        *self.snapshot.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((epoch, now, rules.clone()));
        Ok(rules)
    }
}

/// A show's seats sold or held, as a share of its seats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occupancy {
    /// Seats booked or held (by a live hold).
    pub taken: u32,
    /// Seats that can be sold at all (available, held or booked).
    pub seats: u32,
}

impl Occupancy {
    /// Basis points, rounded down (a show is 80% full only once 80% of it is taken).
    pub fn basis_points(self) -> u32 {
        if self.seats == 0 {
            return 0;
        }
        ((u64::from(self.taken) * 10_000) / u64::from(self.seats)) as u32
    }
}

pub struct OccupancyBook {
    /// (taken at, in clock milliseconds; occupancy) by show.
    entries: quick_cache::sync::Cache<String, (i64, Occupancy)>,
}

impl Default for OccupancyBook {
    fn default() -> Self {
        Self {
            entries: quick_cache::sync::Cache::new(4_096),
        }
    }
}

db_row! {
    #[derive(Debug)]
    struct OccupancyRow {
        taken: i64,
        seats: i64,
    }
}

impl OccupancyBook {
    /// The show's occupancy, at most `refresh_ms` old.
    pub async fn get(&self, app: &AppState, show_id: &str) -> sqlx::Result<Occupancy> {
        let now = app.clock.now().as_millis();
        let refresh = app.config.pricing.demand_refresh_ms;
        if let Some((taken, occupancy)) = self.entries.get(show_id)
            && (taken..taken + refresh).contains(&now)
        {
            return Ok(occupancy);
        }
        self.count_now(app, show_id).await
    }

    /// Counts the show's occupancy now, exactly, and keeps it as the node's.
    pub async fn count_now(&self, app: &AppState, show_id: &str) -> sqlx::Result<Occupancy> {
        let now = app.clock.now().as_millis();
        let occupancy = count(&app.db, show_id, now).await?;
        self.put(show_id, now, occupancy);
        Ok(occupancy)
    }

    /// Records an occupancy counted at `at` (a seat map's).
    pub fn put(&self, show_id: &str, at: i64, occupancy: Occupancy) {
        self.entries.insert(show_id.to_owned(), (at, occupancy));
    }
}

/// Counts a show's seats taken (booked, or held by a live hold) and sellable, at `now`.
async fn count(db: &Db, show_id: &str, now: i64) -> sqlx::Result<Occupancy> {
    const SQL: &str = "SELECT \
        CAST(COALESCE(SUM(CASE WHEN state = 'booked' OR (state = 'held' AND held_until > $2) \
             THEN 1 ELSE 0 END), 0) AS BIGINT) AS taken, \
        CAST(COALESCE(SUM(CASE WHEN state IN ('available', 'held', 'booked') THEN 1 ELSE 0 END), 0) \
             AS BIGINT) AS seats \
        FROM show_seats WHERE show_id = $1";
    let row: Option<OccupancyRow> = db.fetch_optional(SQL, params![show_id, now]).await?;
    Ok(
        row.map_or(Occupancy { taken: 0, seats: 0 }, |row| Occupancy {
            taken: u32::try_from(row.taken).unwrap_or(0),
            seats: u32::try_from(row.seats).unwrap_or(0),
        }),
    )
}
