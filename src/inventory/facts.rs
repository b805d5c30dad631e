//! What pricing a hold needs to know about a show — the show row, its prices, and the
//! category of every seat — read once and shared for a short while. Seat categories never
//! change for a show (its layout is fixed when it is scheduled); the show row and prices
//! change only through catalog writes, which bump the catalog epoch on this node, and a
//! snapshot is at most `MAX_AGE_MS` old by the application's clock, which bounds how long
//! a re-price made through another node can go unseen. Whether the show is still on sale
//! is decided by the seat claim itself, in the database, never from here.

use std::{collections::HashMap, sync::Arc};

use super::{model::SeatCategory, service, store};
use crate::{
    app::AppState,
    catalog::{CatalogError, model::CategoryPrice, store::ShowRow},
};

const MAX_AGE_MS: i64 = 2_000;

pub struct ShowFacts {
    pub show: ShowRow,
    pub prices: Vec<CategoryPrice>,
    pub categories: HashMap<String, SeatCategory>,
    /// The organisation whose theatre shows it (its price rules apply).
    pub org_id: String,
    /// The theatre's country (ISO 3166-1 alpha-2): whose holidays count.
    pub country_code: String,
}

crate::db_row! {
    #[derive(Debug)]
    struct PlaceRow {
        org_id: String,
        country_code: String,
    }
}

pub struct ShowFactsCache {
    /// (catalog epoch, taken at in clock milliseconds, facts) by show.
    entries: quick_cache::sync::Cache<String, (u64, i64, Arc<ShowFacts>)>,
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
        let now = app.clock.now().as_millis();
        if let Some((at_epoch, taken, facts)) = self.entries.get(show_id)
            && at_epoch == epoch
            && (taken..taken + MAX_AGE_MS).contains(&now)
        {
            return Ok(facts);
        }
        let show = service::show_row(&app.db, show_id).await?;
        let prices = service::prices(&app.db, &show).await?;
        let categories = store::seat_categories(&app.db, show_id)
            .await?
            .into_iter()
            .filter_map(|(label, category)| Some((label, SeatCategory::parse(&category)?)))
            .collect();
        let place: Option<PlaceRow> = app
            .db
            .fetch_optional(
                "SELECT t.org_id, c.country_code FROM theatres t JOIN cities c ON c.id = t.city_id \
                 WHERE t.id = $1",
                crate::params![show.theatre_id.as_str()],
            )
            .await?;
        let (org_id, country_code) =
            place.map_or_else(Default::default, |p| (p.org_id, p.country_code));
        let facts = Arc::new(ShowFacts {
            show,
            prices,
            categories,
            org_id,
            country_code,
        });
        self.entries
            .insert(show_id.to_owned(), (epoch, now, facts.clone()));
        Ok(facts)
    }
}
