//! Which accounts were recently seen active. Every authenticated request must come from an
//! active account; checking the database on every request is one statement per request,
//! so a positive answer is remembered for `FRESH`. Disabling an account forgets it on the
//! node that disabled it at once; other nodes notice within `FRESH`.

use std::time::{Duration, Instant};

use quick_cache::sync::Cache;

use super::{IdentityError, model::Principal, service};
use crate::db::Db;

const FRESH: Duration = Duration::from_secs(1);

pub struct ActiveAccounts {
    seen: Cache<String, Instant>,
}

impl Default for ActiveAccounts {
    fn default() -> Self {
        Self {
            seen: Cache::new(100_000),
        }
    }
}

impl ActiveAccounts {
    /// Refuses a disabled or deleted account; remembers an active one briefly.
    pub async fn ensure(&self, db: &Db, principal: &Principal) -> Result<(), IdentityError> {
        let user = principal.user_id.as_str();
        if self.seen.get(user).is_some_and(|at| at.elapsed() < FRESH) {
            return Ok(());
        }
        service::ensure_active(db, principal).await?;
        self.seen.insert(user.to_owned(), Instant::now());
        Ok(())
    }

    /// Forgets an account (it was just disabled).
    pub fn forget(&self, user_id: &str) {
        self.seen.remove(user_id);
    }
}
