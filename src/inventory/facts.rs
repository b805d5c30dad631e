//! What pricing a hold needs to know about a show — the show row, its prices, and the
//! category of every seat — read once and shared for a short while. Seat categories never
//! change for a show (its layout is fixed when it is scheduled); the show row and prices
//! change only through catalog writes, which bump the catalog epoch on this node, and a
//! snapshot is at most `MAX_AGE` old, which bounds how long a re-price made through
//! another node can go unseen. Whether the show is still on sale is decided by the seat
//! claim itself, in the database, never from here.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use super::{model::SeatCategory, service};
use crate::{
    app::AppState,
    catalog::{CatalogError, model::CategoryPrice, store::ShowRow},
    db::{Db, native, on_reader},
};

const MAX_AGE: Duration = Duration::from_secs(2);

pub struct ShowFacts {
    pub show: ShowRow,
    pub prices: Vec<CategoryPrice>,
    pub categories: HashMap<String, SeatCategory>,
}

pub struct ShowFactsCache {
    entries: quick_cache::sync::Cache<String, (u64, Instant, Arc<ShowFacts>)>,
}

impl Default for ShowFactsCache {
    fn default() -> Self {
        Self {
            entries: quick_cache::sync::Cache::new(4_096),
        }
    }
}

impl ShowFactsCache {
    pub async fn get(&self, app: &AppState, show_id: &str) -> Result<Arc<ShowFacts>, CatalogError> {
        let epoch = app.cache.catalog_epoch();
        if let Some((at_epoch, taken, facts)) = self.entries.get(show_id)
            && at_epoch == epoch
            && taken.elapsed() < MAX_AGE
        {
            return Ok(facts);
        }
        let show = service::show_row(&app.db, show_id).await?;
        let prices = service::prices(&app.db, &show).await?;
        let categories = seat_categories(&app.db, show_id)
            .await?
            .into_iter()
            .filter_map(|(label, category)| Some((label, SeatCategory::parse(&category)?)))
            .collect();
        let facts = Arc::new(ShowFacts {
            show,
            prices,
            categories,
        });
        self.entries
            .insert(show_id.to_owned(), (epoch, Instant::now(), facts.clone()));
        Ok(facts)
    }
}

async fn seat_categories(db: &Db, show_id: &str) -> sqlx::Result<Vec<(String, String)>> {
    const SQL: &str = "SELECT seat_label, category FROM show_seats WHERE show_id = $1";
    if let Some(path) = db.native_path() {
        return native::read(path, |c| {
            native::query(c, SQL, &[("$1", &show_id)], |r| Ok((r.get(0)?, r.get(1)?)))
        });
    }
    on_reader!(db, |pool| sqlx::query_as(SQL)
        .bind(show_id)
        .fetch_all(pool)
        .await)
}
