//! Login attempts are limited per account and per client address, before any password is
//! checked (Argon2 is deliberately expensive, so unlimited attempts would also be a way to
//! burn CPU). Limits are per node: they slow guessing, they do not guard data.

use std::{net::IpAddr, num::NonZeroU32, time::Duration};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};

use super::IdentityError;

/// Entries kept before forgetting keys whose buckets are full again.
const MAX_TRACKED_KEYS: usize = 100_000;

pub struct LoginLimiter {
    per_account: DefaultKeyedRateLimiter<String>,
    per_client: DefaultKeyedRateLimiter<IpAddr>,
}

impl LoginLimiter {
    /// `per_account` and `per_client` attempts per minute (bursts of the same size).
    pub fn new(per_account: u32, per_client: u32) -> Self {
        let quota =
            |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN));
        Self {
            per_account: RateLimiter::keyed(quota(per_account)),
            per_client: RateLimiter::keyed(quota(per_client)),
        }
    }

    /// Counts one attempt; refused when either limit is exhausted.
    pub fn check(&self, account: &str, client: IpAddr) -> Result<(), IdentityError> {
        if self.per_account.len() > MAX_TRACKED_KEYS {
            self.per_account.retain_recent();
        }
        if self.per_client.len() > MAX_TRACKED_KEYS {
            self.per_client.retain_recent();
        }
        let refused = |wait: Duration| IdentityError::RateLimited {
            retry_after_secs: wait.as_secs().max(1),
        };
        // The limiters' own clock: making a new one calibrates it (costly).
        self.per_client.check_key(&client).map_err(|not_until| {
            refused(not_until.wait_time_from(self.per_client.clock().now()))
        })?;
        self.per_account
            .check_key(&account.to_lowercase())
            .map_err(|not_until| refused(not_until.wait_time_from(self.per_account.clock().now())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixth_attempt_on_one_account_is_refused_with_a_wait() {
        let limiter = LoginLimiter::new(5, 100);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..5 {
            limiter.check("ana@example.com", ip).unwrap();
        }
        match limiter.check("ANA@example.com", ip) {
            Err(IdentityError::RateLimited { retry_after_secs }) => {
                assert!((1..=60).contains(&retry_after_secs))
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        // Another account from the same address is still allowed.
        limiter.check("bob@example.com", ip).unwrap();
    }

    #[test]
    fn one_address_is_limited_across_accounts() {
        let limiter = LoginLimiter::new(100, 3);
        let ip: IpAddr = "10.0.0.7".parse().unwrap();
        for n in 0..3 {
            limiter.check(&format!("user{n}@example.com"), ip).unwrap();
        }
        assert!(limiter.check("user9@example.com", ip).is_err());
        limiter
            .check("user9@example.com", "10.0.0.8".parse().unwrap())
            .unwrap();
    }
}
