//! Rate limits on what a client can repeat cheaply and the platform pays for dearly:
//! holds (seats taken off sale), payments (card testing), registrations (Argon2), quotes,
//! waitlist joins, partner writes, and (in `identity::rate_limit`) logins. Each is a token bucket per key (an account, a
//! booking, a client address) refilled per minute, with bursts of the same size. Refusals
//! are 429 with `Retry-After`.
//!
//! With `redis_url` set the buckets live in Redis ([`SharedBuckets`]), so a limit holds
//! across every node instead of once per node; without it (or while Redis does not
//! answer) each node keeps its own.

use std::{hash::Hash, num::NonZeroU32, time::Duration};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};

use crate::config::LimitsConfig;

/// Entries kept before forgetting keys whose buckets are full again.
const MAX_TRACKED_KEYS: usize = 100_000;

/// A token bucket per key holding `n` per minute (bursts of the same size; at least 1).
pub(crate) fn per_minute<K: Hash + Eq + Clone>(n: u32) -> DefaultKeyedRateLimiter<K> {
    let n = NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
    RateLimiter::keyed(Quota::per_minute(n))
}

/// Takes one token from `key`'s bucket, or says in how many whole seconds (at least 1) the
/// next one comes. Keeps the number of tracked keys bounded.
pub(crate) fn take<K: Hash + Eq + Clone>(
    limiter: &DefaultKeyedRateLimiter<K>,
    key: &K,
) -> Result<(), u64> {
    if limiter.len() > MAX_TRACKED_KEYS {
        limiter.retain_recent();
    }
    limiter.check_key(key).map_err(|not_until| {
        // The limiter's own clock: making a new one calibrates it (costly).
        let wait: Duration = not_until.wait_time_from(limiter.clock().now());
        wait.as_secs().max(1)
    })
}

/// What is limited, and by which key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Holds (single or bulk) per account.
    Hold,
    /// Payment attempts per booking.
    PaymentPerBooking,
    /// Payment attempts per account.
    PaymentPerAccount,
    /// Accounts (customer or partner) registered per client address.
    Registration,
    /// Price quotes per client address.
    Quote,
    /// Waitlist joins per account.
    WaitlistJoin,
    /// Writes per partner organisation.
    PartnerWrite,
    /// Reviews written or edited, and helpful votes, per account.
    ReviewWrite,
    TicketEmail,
}

impl Limit {
    const ALL: [Limit; 9] = [
        Limit::Hold,
        Limit::PaymentPerBooking,
        Limit::PaymentPerAccount,
        Limit::Registration,
        Limit::Quote,
        Limit::WaitlistJoin,
        Limit::PartnerWrite,
        Limit::ReviewWrite,
        Limit::TicketEmail,
    ];

    /// The limit's name in shared bucket keys.
    fn name(self) -> &'static str {
        match self {
            Limit::Hold => "hold",
            Limit::PaymentPerBooking => "payment-booking",
            Limit::PaymentPerAccount => "payment-account",
            Limit::Registration => "registration",
            Limit::Quote => "quote",
            Limit::WaitlistJoin => "waitlist-join",
            Limit::PartnerWrite => "partner-write",
            Limit::ReviewWrite => "review-write",
            Limit::TicketEmail => "ticket-email",
        }
    }

    /// What the client did too often, for the problem's detail.
    pub fn what(self) -> &'static str {
        match self {
            Limit::Hold => "holds from this account",
            Limit::PaymentPerBooking => "payment attempts for this booking",
            Limit::PaymentPerAccount => "payment attempts from this account",
            Limit::Registration => "registrations from this address",
            Limit::Quote => "quotes from this address",
            Limit::WaitlistJoin => "waitlist joins from this account",
            Limit::PartnerWrite => "changes from this organisation",
            Limit::ReviewWrite => "reviews and votes from this account",
            Limit::TicketEmail => "ticket emails for this booking",
        }
    }

    fn per_minute(self, config: &LimitsConfig) -> u32 {
        match self {
            Limit::Hold => config.holds_per_account_per_minute,
            Limit::PaymentPerBooking => config.payments_per_booking_per_minute,
            Limit::PaymentPerAccount => config.payments_per_account_per_minute,
            Limit::Registration => config.registrations_per_client_per_minute,
            Limit::Quote => config.quotes_per_client_per_minute,
            Limit::WaitlistJoin => config.waitlist_joins_per_account_per_minute,
            Limit::PartnerWrite => config.partner_writes_per_org_per_minute,
            Limit::ReviewWrite => config.review_writes_per_account_per_minute,
            Limit::TicketEmail => config.ticket_emails_per_booking_per_minute,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("too many {what}; retry in {retry_after_secs} s")]
pub struct RateLimited {
    pub what: &'static str,
    pub retry_after_secs: u64,
}

pub struct RateLimits {
    /// One keyed limiter per `Limit`, in `Limit::ALL` order.
    limiters: Vec<DefaultKeyedRateLimiter<String>>,
    per_minute: Vec<u32>,
    shared: Option<SharedBuckets>,
}

impl RateLimits {
    pub fn new(config: &LimitsConfig) -> Self {
        Self::with_shared(config, None)
    }

    pub fn with_shared(config: &LimitsConfig, shared: Option<SharedBuckets>) -> Self {
        let per_minute_of: Vec<u32> = Limit::ALL
            .iter()
            .map(|limit| limit.per_minute(config))
            .collect();
        let limiters = per_minute_of.iter().map(|n| per_minute(*n)).collect();
        Self {
            limiters,
            per_minute: per_minute_of,
            shared,
        }
    }

    /// Counts one use of `limit` by `key`; refused when its bucket is empty.
    pub async fn check(&self, limit: Limit, key: &str) -> Result<(), RateLimited> {
        let index = Limit::ALL.iter().position(|l| *l == limit).unwrap_or(0);
        let refused = |retry_after_secs| RateLimited {
            what: limit.what(),
            retry_after_secs,
        };
        if let Some(shared) = &self.shared {
            let n = self.per_minute.get(index).copied().unwrap_or(1);
            // `None`: Redis did not answer; this node's own buckets meanwhile.
            if let Some(result) = shared.take(limit.name(), key, n).await {
                return result.map_err(refused);
            }
        }
        let Some(limiter) = self.limiters.get(index) else {
            return Ok(());
        };
        take(limiter, &key.to_owned()).map_err(refused)
    }
}

/// Token buckets in Redis, shared by every node: one key per (limit, digest of the key),
/// updated by one script (GCRA on Redis's own clock, so nodes' clocks do not matter). Keys
/// expire once their bucket is full again. The bucket keys are digests, so no e-mail
/// address or client address is written to Redis.
#[derive(Clone)]
pub struct SharedBuckets {
    connection: redis::aio::ConnectionManager,
    prefix: String,
    script: std::sync::Arc<redis::Script>,
}

/// `KEYS[1]` the bucket; `ARGV[1]` ms between tokens, `ARGV[2]` the burst. Returns 0 when
/// a token was taken, else the ms until the next one.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = interval * tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next_tat = tat + interval
if next_tat - tolerance > now then
  return next_tat - tolerance - now
end
redis.call('SET', KEYS[1], next_tat, 'PX', math.ceil(tolerance))
return 0
";

/// How long a limit check waits for Redis before the node decides alone.
const REDIS_TIMEOUT: Duration = Duration::from_millis(250);

impl SharedBuckets {
    /// Buckets on the Redis at `url` (connected on first use, and again after a loss),
    /// under keys starting with `prefix`.
    pub fn connect(url: &str, prefix: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(1);
        let connection = redis::aio::ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Self {
            connection,
            prefix: prefix.to_owned(),
            script: std::sync::Arc::new(redis::Script::new(GCRA)),
        })
    }

    /// Takes a token of `name`'s bucket for `key` (`per_minute`, bursts of the same):
    /// `Some(Ok)`, `Some(Err(seconds to wait))`, or `None` when Redis did not answer.
    pub async fn take(&self, name: &str, key: &str, per_minute: u32) -> Option<Result<(), u64>> {
        use sha2::Digest;
        let digest = hex::encode(&sha2::Sha256::digest(key.as_bytes())[..16]);
        let bucket = format!("{}:limit:{name}:{digest}", self.prefix);
        let per_minute = per_minute.max(1);
        let interval_ms = (60_000 / u64::from(per_minute)).max(1);
        let mut connection = self.connection.clone();
        let mut invocation = self.script.key(bucket);
        invocation.arg(interval_ms).arg(per_minute);
        let call = invocation.invoke_async::<u64>(&mut connection);
        match tokio::time::timeout(REDIS_TIMEOUT, call).await {
            Ok(Ok(0)) => Some(Ok(())),
            Ok(Ok(wait_ms)) => Some(Err(wait_ms.div_ceil(1000).max(1))),
            Ok(Err(error)) => {
                tracing::warn!(%error, "shared rate limit unavailable; this node decides alone");
                metrics::counter!("marquee_shared_limit_fallbacks_total").increment(1);
                None
            }
            Err(_) => {
                tracing::warn!("shared rate limit timed out; this node decides alone");
                metrics::counter!("marquee_shared_limit_fallbacks_total").increment(1);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_key_has_its_own_bucket_and_a_refusal_says_when_to_retry() {
        let config = LimitsConfig {
            holds_per_account_per_minute: 2,
            ..LimitsConfig::default()
        };
        let limits = RateLimits::new(&config);
        limits.check(Limit::Hold, "usr_a").await.unwrap();
        limits.check(Limit::Hold, "usr_a").await.unwrap();
        let refused = limits.check(Limit::Hold, "usr_a").await.unwrap_err();
        assert_eq!(refused.what, "holds from this account");
        assert!((1..=60).contains(&refused.retry_after_secs));
        limits.check(Limit::Hold, "usr_b").await.unwrap();
        // Another limit of the same key is untouched.
        limits
            .check(Limit::PaymentPerAccount, "usr_a")
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn without_an_answer_from_redis_the_node_decides_alone() {
        // Nothing listens on port 1: the shared bucket does not answer, the node's does.
        let shared = SharedBuckets::connect("redis://127.0.0.1:1", "test").unwrap();
        let started = std::time::Instant::now();
        assert_eq!(shared.take("hold", "usr_a", 1).await, None);
        assert!(started.elapsed() < Duration::from_secs(2));
        let config = LimitsConfig {
            holds_per_account_per_minute: 1,
            ..LimitsConfig::default()
        };
        let limits = RateLimits::with_shared(&config, Some(shared));
        limits.check(Limit::Hold, "usr_a").await.unwrap();
        assert!(limits.check(Limit::Hold, "usr_a").await.is_err());
    }
}
