//! The offers every quote needs, read once and shared. A snapshot is reused while this
//! node's catalog epoch is unchanged (offer writes bump it) and for at most `MAX_AGE_MS`
//! by the application's clock, which bounds how long an offer changed through another
//! node can go unseen by a quote.

use std::sync::{Arc, Mutex};

use super::{model::Offer, store};
use crate::app::AppState;

const MAX_AGE_MS: i64 = 2_000;

#[derive(Default)]
pub struct OfferBook {
    snapshot: Mutex<Option<Snapshot>>,
}

struct Snapshot {
    epoch: u64,
    /// Clock milliseconds.
    taken: i64,
    offers: Arc<Vec<Offer>>,
}

impl OfferBook {
    pub async fn offers(&self, app: &AppState) -> sqlx::Result<Arc<Vec<Offer>>> {
        let epoch = app.cache.catalog_epoch();
        let now = app.clock.now().as_millis();
        if let Some(snapshot) = &*self.snapshot.lock().unwrap_or_else(|e| e.into_inner())
            && snapshot.epoch == epoch
            && (snapshot.taken..snapshot.taken + MAX_AGE_MS).contains(&now)
        {
            return Ok(snapshot.offers.clone());
        }
        let offers = Arc::new(store::all_offers(&app.db).await?);
        *self.snapshot.lock().unwrap_or_else(|e| e.into_inner()) = Some(Snapshot {
            epoch,
            taken: now,
            offers: offers.clone(),
        });
        Ok(offers)
    }
}
