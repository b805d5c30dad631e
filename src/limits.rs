//! Rate limits on what a client can repeat cheaply and the platform pays for dearly:
//! holds (seats taken off sale), payments (card testing), registrations (Argon2), quotes.
//! Each is a token bucket per key (an account, a booking, a client address) refilled per
//! minute, with bursts of the same size. Refusals are 429 with `Retry-After`. Per node,
//! like the login limits (`identity::rate_limit`).

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
}

impl Limit {
    const ALL: [Limit; 5] = [
        Limit::Hold,
        Limit::PaymentPerBooking,
        Limit::PaymentPerAccount,
        Limit::Registration,
        Limit::Quote,
    ];

    /// What the client did too often, for the problem's detail.
    pub fn what(self) -> &'static str {
        match self {
            Limit::Hold => "holds from this account",
            Limit::PaymentPerBooking => "payment attempts for this booking",
            Limit::PaymentPerAccount => "payment attempts from this account",
            Limit::Registration => "registrations from this address",
            Limit::Quote => "quotes from this address",
        }
    }

    fn per_minute(self, config: &LimitsConfig) -> u32 {
        match self {
            Limit::Hold => config.holds_per_account_per_minute,
            Limit::PaymentPerBooking => config.payments_per_booking_per_minute,
            Limit::PaymentPerAccount => config.payments_per_account_per_minute,
            Limit::Registration => config.registrations_per_client_per_minute,
            Limit::Quote => config.quotes_per_client_per_minute,
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
}

impl RateLimits {
    pub fn new(config: &LimitsConfig) -> Self {
        let limiters = Limit::ALL
            .iter()
            .map(|limit| per_minute(limit.per_minute(config)))
            .collect();
        Self { limiters }
    }

    /// Counts one use of `limit` by `key`; refused when its bucket is empty.
    pub fn check(&self, limit: Limit, key: &str) -> Result<(), RateLimited> {
        let index = Limit::ALL.iter().position(|l| *l == limit).unwrap_or(0);
        let Some(limiter) = self.limiters.get(index) else {
            return Ok(());
        };
        take(limiter, &key.to_owned()).map_err(|retry_after_secs| RateLimited {
            what: limit.what(),
            retry_after_secs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_has_its_own_bucket_and_a_refusal_says_when_to_retry() {
        let config = LimitsConfig {
            holds_per_account_per_minute: 2,
            ..LimitsConfig::default()
        };
        let limits = RateLimits::new(&config);
        limits.check(Limit::Hold, "usr_a").unwrap();
        limits.check(Limit::Hold, "usr_a").unwrap();
        let refused = limits.check(Limit::Hold, "usr_a").unwrap_err();
        assert_eq!(refused.what, "holds from this account");
        assert!((1..=60).contains(&refused.retry_after_secs));
        limits.check(Limit::Hold, "usr_b").unwrap();
        // Another limit of the same key is untouched.
        limits.check(Limit::PaymentPerAccount, "usr_a").unwrap();
    }
}
