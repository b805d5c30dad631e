//! In-process cache of serialised browse responses that is never wrong on the node that
//! wrote: each entry remembers the versions it was computed from and is served only while
//! they are current and the data's own validity (`valid_until`) has not passed.
//!
//! - The catalog epoch is bumped by every catalog write (cities, movies, theatres, shows).
//! - Each show maps to one of 1,024 generation stripes, bumped by every seat change of any
//!   show on the stripe (a neighbour's change costs a spurious miss, never a stale hit).
//! - Versions are read *before* the database is queried and bumped *after* a write commits,
//!   so an entry computed concurrently with a write is stored already stale.
//! - `valid_until` is supplied by the loader from the data itself: the next show start (a
//!   listing drops shows once they start), the earliest hold expiry (a seat map shows an
//!   expired hold as available). A configured maximum age bounds staleness from writes by
//!   other processes until the event bus carries their invalidations.
//!
//! Misses are single-flight: concurrent requests for one key wait for one load.

use std::{
    hash::{DefaultHasher, Hash, Hasher},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use serde::Serialize;

use crate::{clock::SharedClock, config::CacheConfig, time::Timestamp};

const STRIPES: usize = 1024;

/// What a cached response depends on besides the catalog.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// Depends on catalog data only.
    Catalog,
    /// Also depends on the seats of this show.
    Show(&'a str),
}

/// A value produced by a loader, with the instant it stops being true by itself.
pub struct Fresh<T> {
    pub value: T,
    pub valid_until: Option<Timestamp>,
}

impl<T> Fresh<T> {
    pub fn forever(value: T) -> Self {
        Self {
            value,
            valid_until: None,
        }
    }

    pub fn until(value: T, valid_until: Option<Timestamp>) -> Self {
        Self { value, valid_until }
    }
}

/// Bodies smaller than this are sent as they are; compressing them saves little.
const GZIP_MIN_BYTES: usize = 1024;

/// A serialised JSON response ready to be sent any number of times, with a gzip copy made
/// once for clients that accept it.
#[derive(Debug)]
pub struct CachedResponse {
    body: Bytes,
    gzip: Option<Bytes>,
    etag: HeaderValue,
    catalog_epoch: u64,
    show_generation: Option<u64>,
    expires_at_ms: i64,
    /// The value the body was made from, for entries loaded with `get_or_load_kept`: a
    /// reader that computes from the view (best available from the seat map) skips both
    /// the database and parsing the body back.
    kept: Option<Arc<dyn std::any::Any + Send + Sync>>,
}

impl CachedResponse {
    /// The value the body was made from, if the entry kept it and it is a `T`.
    pub fn kept<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.kept.clone()?.downcast::<T>().ok()
    }

    /// Whether this entry may answer a request that read `catalog_epoch` and
    /// `show_generation` before it looked. Versions only grow, so an entry computed from
    /// versions at least as new as the request's has seen every write the request must
    /// see: a load that started after this request (a concurrent reader's, after a write)
    /// serves it too, instead of being thrown away and loaded again.
    fn is_current(&self, catalog_epoch: u64, show_generation: Option<u64>, now: Timestamp) -> bool {
        self.catalog_epoch >= catalog_epoch
            && match (self.show_generation, show_generation) {
                (Some(entry), Some(request)) => entry >= request,
                (None, None) => true,
                _ => false,
            }
            && now.as_millis() < self.expires_at_ms
    }

    pub fn body(&self) -> &Bytes {
        &self.body
    }
}

pub struct ResponseCache {
    entries: Option<quick_cache::sync::Cache<String, Arc<CachedResponse>>>,
    catalog_epoch: AtomicU64,
    show_generations: Box<[AtomicU64]>,
    clock: SharedClock,
    catalog_max_age_ms: i64,
    show_max_age_ms: i64,
}

impl ResponseCache {
    pub fn new(config: &CacheConfig, clock: SharedClock) -> Self {
        Self {
            entries: config
                .enabled
                .then(|| quick_cache::sync::Cache::new(config.capacity)),
            catalog_epoch: AtomicU64::new(0),
            show_generations: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            clock,
            catalog_max_age_ms: config.catalog_max_age_ms as i64,
            show_max_age_ms: config.show_max_age_ms as i64,
        }
    }

    /// The current catalog epoch: changes whenever this node writes catalog data.
    pub fn catalog_epoch(&self) -> u64 {
        self.catalog_epoch.load(Ordering::Acquire)
    }

    /// Call after a catalog write commits.
    pub fn invalidate_catalog(&self) {
        self.catalog_epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// Call after a change to a show's seats commits.
    pub fn invalidate_show(&self, show_id: &str) {
        self.stripe(show_id).fetch_add(1, Ordering::AcqRel);
    }

    fn stripe(&self, show_id: &str) -> &AtomicU64 {
        let mut hasher = DefaultHasher::new();
        show_id.hash(&mut hasher);
        &self.show_generations[(hasher.finish() as usize) % STRIPES]
    }

    /// The cached response for `key` if current, else the loader's result, serialised and
    /// stored. Loader errors are returned and not cached.
    pub async fn get_or_load<T, E, Fut>(
        &self,
        key: String,
        scope: Scope<'_>,
        load: impl FnOnce() -> Fut,
    ) -> Result<Arc<CachedResponse>, E>
    where
        T: Serialize + Send + Sync + 'static,
        Fut: Future<Output = Result<Fresh<T>, E>>,
    {
        self.lookup(key, scope, false, load).await
    }

    /// Like `get_or_load`, and the entry keeps the value too (`CachedResponse::kept`).
    /// Every reader of a key should use the same one of the two: an entry without the
    /// value serves `get_or_load_kept` with `kept()` = `None`.
    pub async fn get_or_load_kept<T, E, Fut>(
        &self,
        key: String,
        scope: Scope<'_>,
        load: impl FnOnce() -> Fut,
    ) -> Result<Arc<CachedResponse>, E>
    where
        T: Serialize + Send + Sync + 'static,
        Fut: Future<Output = Result<Fresh<T>, E>>,
    {
        self.lookup(key, scope, true, load).await
    }

    async fn lookup<T, E, Fut>(
        &self,
        key: String,
        scope: Scope<'_>,
        keep: bool,
        load: impl FnOnce() -> Fut,
    ) -> Result<Arc<CachedResponse>, E>
    where
        T: Serialize + Send + Sync + 'static,
        Fut: Future<Output = Result<Fresh<T>, E>>,
    {
        // Versions first: see the module comment for why the order matters.
        let catalog_epoch = self.catalog_epoch.load(Ordering::Acquire);
        let show_generation = match scope {
            Scope::Catalog => None,
            Scope::Show(id) => Some(self.stripe(id).load(Ordering::Acquire)),
        };
        let now = self.clock.now();
        let Some(entries) = &self.entries else {
            let fresh = load().await?;
            return Ok(Arc::new(self.build(
                fresh,
                scope,
                keep,
                catalog_epoch,
                show_generation,
                now,
            )));
        };

        // Two rounds: a stale entry is removed and the lookup retried so the reload is
        // single-flight too.
        for _ in 0..2 {
            match entries.get_value_or_guard_async(&key).await {
                Ok(entry) if entry.is_current(catalog_epoch, show_generation, now) => {
                    metrics::counter!("marquee_cache_lookups_total", "result" => "hit")
                        .increment(1);
                    return Ok(entry);
                }
                Ok(_stale) => {
                    // Only an entry that is still stale: a newer one may have been stored
                    // since the lookup.
                    entries.remove_if(&key, |entry| {
                        !entry.is_current(catalog_epoch, show_generation, now)
                    });
                }
                Err(guard) => {
                    metrics::counter!("marquee_cache_lookups_total", "result" => "miss")
                        .increment(1);
                    let fresh = load().await?;
                    let entry = Arc::new(self.build(
                        fresh,
                        scope,
                        keep,
                        catalog_epoch,
                        show_generation,
                        now,
                    ));
                    let _ = guard.insert(entry.clone());
                    return Ok(entry);
                }
            }
        }
        metrics::counter!("marquee_cache_lookups_total", "result" => "miss").increment(1);
        let fresh = load().await?;
        Ok(Arc::new(self.build(
            fresh,
            scope,
            keep,
            catalog_epoch,
            show_generation,
            now,
        )))
    }

    fn build<T: Serialize + Send + Sync + 'static>(
        &self,
        fresh: Fresh<T>,
        scope: Scope<'_>,
        keep: bool,
        catalog_epoch: u64,
        show_generation: Option<u64>,
        now: Timestamp,
    ) -> CachedResponse {
        // Our view types always serialise; an empty body would show up in tests at once.
        let body = Bytes::from(serde_json::to_vec(&fresh.value).unwrap_or_default());
        let max_age = match scope {
            Scope::Catalog => self.catalog_max_age_ms,
            Scope::Show(_) => self.show_max_age_ms,
        };
        let mut expires_at_ms = now.as_millis().saturating_add(max_age);
        if let Some(until) = fresh.valid_until {
            expires_at_ms = expires_at_ms.min(until.as_millis());
        }
        let mut hasher = DefaultHasher::new();
        body.hash(&mut hasher);
        let etag = HeaderValue::from_str(&format!("\"{:016x}\"", hasher.finish()))
            .unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
        CachedResponse {
            gzip: gzip(&body),
            body,
            etag,
            catalog_epoch,
            show_generation,
            expires_at_ms,
            kept: keep.then(|| Arc::new(fresh.value) as Arc<dyn std::any::Any + Send + Sync>),
        }
    }
}

fn gzip(body: &[u8]) -> Option<Bytes> {
    use std::io::Write;
    if body.len() < GZIP_MIN_BYTES {
        return None;
    }
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 8),
        flate2::Compression::fast(),
    );
    encoder.write_all(body).ok()?;
    encoder.finish().ok().map(Bytes::from)
}

/// A cached JSON response answering one request, honouring `If-None-Match` and
/// `Accept-Encoding: gzip`.
pub struct CachedJson {
    entry: Arc<CachedResponse>,
    not_modified: bool,
    gzip: bool,
}

impl CachedJson {
    pub fn new(entry: Arc<CachedResponse>, request_headers: &HeaderMap) -> Self {
        let not_modified = request_headers
            .get(header::IF_NONE_MATCH)
            .is_some_and(|tags| etag_matches(tags, &entry.etag));
        let gzip = entry.gzip.is_some()
            && request_headers
                .get(header::ACCEPT_ENCODING)
                .is_some_and(accepts_gzip);
        Self {
            entry,
            not_modified,
            gzip,
        }
    }
}

/// True when `Accept-Encoding` lists gzip (or `*`) without `q=0`.
fn accepts_gzip(header: &HeaderValue) -> bool {
    let Ok(text) = header.to_str() else {
        return false;
    };
    text.split(',').any(|part| {
        let mut pieces = part.split(';');
        let coding = pieces.next().unwrap_or("").trim();
        let refused = pieces.any(|p| {
            let p = p.trim().replace(' ', "");
            p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

fn etag_matches(if_none_match: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(list) = if_none_match.to_str() else {
        return false;
    };
    let Ok(ours) = etag.to_str() else {
        return false;
    };
    list.split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag == ours || tag.strip_prefix("W/") == Some(ours))
}

impl IntoResponse for CachedJson {
    fn into_response(self) -> Response {
        let mut response = if self.not_modified {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let compressed = self.entry.gzip.as_ref().filter(|_| self.gzip);
            let mut response = compressed
                .unwrap_or(&self.entry.body)
                .clone()
                .into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            if compressed.is_some() {
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            response
        };
        let headers = response.headers_mut();
        headers.insert(header::ETAG, self.entry.etag.clone());
        // Clients may keep a copy but must revalidate (cheap, via ETag) before using it.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert(
            header::VARY,
            HeaderValue::from_static("Accept-Language, Accept-Encoding"),
        );
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        clock::{Clock, ManualClock},
        config::CacheConfig,
    };
    use chrono::{TimeZone, Utc};
    use std::sync::atomic::AtomicUsize;

    fn cache() -> (ResponseCache, ManualClock) {
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap());
        let config = CacheConfig {
            enabled: true,
            capacity: 100,
            catalog_max_age_ms: 60_000,
            show_max_age_ms: 2_000,
        };
        (ResponseCache::new(&config, Arc::new(clock.clone())), clock)
    }

    async fn load(
        cache: &ResponseCache,
        scope: Scope<'_>,
        calls: &AtomicUsize,
        until: Option<Timestamp>,
    ) -> Bytes {
        let entry = cache
            .get_or_load::<_, (), _>("k".into(), scope, || async {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                Ok(Fresh::until(n, until))
            })
            .await
            .unwrap();
        entry.body().clone()
    }

    #[tokio::test]
    async fn serves_cached_until_show_is_invalidated() {
        let (cache, _) = cache();
        let calls = AtomicUsize::new(0);
        assert_eq!(load(&cache, Scope::Show("shw_a"), &calls, None).await, "0");
        assert_eq!(load(&cache, Scope::Show("shw_a"), &calls, None).await, "0");
        cache.invalidate_show("shw_a");
        assert_eq!(load(&cache, Scope::Show("shw_a"), &calls, None).await, "1");
        cache.invalidate_catalog();
        assert_eq!(load(&cache, Scope::Show("shw_a"), &calls, None).await, "2");
    }

    #[tokio::test]
    async fn entry_expires_at_its_data_validity_and_at_max_age() {
        let (cache, clock) = cache();
        let calls = AtomicUsize::new(0);
        let until = clock.now().plus_minutes(1);
        assert_eq!(load(&cache, Scope::Catalog, &calls, Some(until)).await, "0");
        clock.advance(chrono::Duration::seconds(59));
        assert_eq!(load(&cache, Scope::Catalog, &calls, Some(until)).await, "0");
        clock.advance(chrono::Duration::seconds(1));
        assert_eq!(load(&cache, Scope::Catalog, &calls, None).await, "1");
        clock.advance(chrono::Duration::seconds(60));
        assert_eq!(load(&cache, Scope::Catalog, &calls, None).await, "2");
    }

    #[tokio::test]
    async fn an_entry_newer_than_the_request_serves_it_and_an_older_one_does_not() {
        let (cache, clock) = cache();
        let calls = AtomicUsize::new(0);
        // A request reads its versions, then a write commits, then another request loads
        // the entry: the first request must be served that entry, not throw it away.
        let epoch = cache.catalog_epoch();
        let generation = cache.stripe("shw_a").load(Ordering::Acquire);
        cache.invalidate_show("shw_a");
        assert_eq!(load(&cache, Scope::Show("shw_a"), &calls, None).await, "0");
        let entry = cache.entries.as_ref().unwrap().get("k").unwrap();
        let now = clock.now();
        assert!(entry.is_current(epoch, Some(generation), now));
        assert!(entry.is_current(epoch, Some(generation + 1), now));
        assert!(!entry.is_current(epoch, Some(generation + 2), now));
        assert!(!entry.is_current(epoch + 1, Some(generation + 1), now));
        assert!(!entry.is_current(epoch, None, now));
        assert_eq!(load(&cache, Scope::Show("shw_a"), &calls, None).await, "0");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn write_during_load_leaves_entry_stale() {
        let (cache, _) = cache();
        let entry = cache
            .get_or_load::<_, (), _>("k".into(), Scope::Show("shw_a"), || async {
                cache.invalidate_show("shw_a"); // a write commits while we read
                Ok(Fresh::forever("old"))
            })
            .await
            .unwrap();
        assert_eq!(entry.body(), "\"old\"");
        let calls = AtomicUsize::new(0);
        assert_eq!(load(&cache, Scope::Show("shw_a"), &calls, None).await, "0");
    }

    #[tokio::test]
    async fn a_kept_entry_gives_back_its_value_until_a_write_makes_it_stale() {
        let (cache, _clock) = cache();
        let load = |n: u32| async move { Ok::<_, ()>(Fresh::forever(vec![n, n + 1])) };
        let first = cache
            .get_or_load_kept("map".into(), Scope::Show("shw_1"), || load(1))
            .await
            .unwrap();
        assert_eq!(first.kept::<Vec<u32>>().as_deref(), Some(&vec![1, 2]));
        assert_eq!(first.body().as_ref(), b"[1,2]");
        assert!(first.kept::<String>().is_none(), "only as its own type");
        let hit = cache
            .get_or_load_kept("map".into(), Scope::Show("shw_1"), || load(7))
            .await
            .unwrap();
        assert!(Arc::ptr_eq(&first, &hit));
        cache.invalidate_show("shw_1");
        let reloaded = cache
            .get_or_load_kept("map".into(), Scope::Show("shw_1"), || load(7))
            .await
            .unwrap();
        assert_eq!(reloaded.kept::<Vec<u32>>().as_deref(), Some(&vec![7, 8]));
        let plain = cache
            .get_or_load("other".into(), Scope::Catalog, || load(3))
            .await
            .unwrap();
        assert!(plain.kept::<Vec<u32>>().is_none());
    }

    #[test]
    fn gzip_is_offered_only_when_accepted() {
        for yes in ["gzip", "br, gzip;q=0.5", "GZIP", "*"] {
            assert!(accepts_gzip(&HeaderValue::from_static(yes)), "{yes}");
        }
        for no in ["br", "identity", "gzip;q=0", "deflate, gzip; q=0.0"] {
            assert!(!accepts_gzip(&HeaderValue::from_static(no)), "{no}");
        }
    }

    #[test]
    fn large_bodies_get_a_gzip_copy_that_decodes_to_the_body() {
        use std::io::Read;
        let body = "x".repeat(5_000);
        let compressed = gzip(body.as_bytes()).unwrap();
        assert!(compressed.len() < 200);
        let mut decoded = String::new();
        flate2::read::GzDecoder::new(&compressed[..])
            .read_to_string(&mut decoded)
            .unwrap();
        assert_eq!(decoded, body);
        assert!(gzip(b"{}").is_none());
    }

    #[test]
    fn etags_match_strong_weak_and_star() {
        let ours = HeaderValue::from_static("\"abc\"");
        for header in ["\"abc\"", "W/\"abc\"", "\"x\", \"abc\"", "*"] {
            assert!(
                etag_matches(&HeaderValue::from_static(header), &ours),
                "{header}"
            );
        }
        assert!(!etag_matches(&HeaderValue::from_static("\"abd\""), &ours));
    }
}
