//! Login attempts are limited per account and per client address, before any password is
//! checked (Argon2 is deliberately expensive, so unlimited attempts would also be a way to
//! burn CPU). With `redis_url` the limits hold across every node (`limits::SharedBuckets`);
//! without it, per node.

use std::net::IpAddr;

use governor::DefaultKeyedRateLimiter;

use super::IdentityError;
use crate::limits::{SharedBuckets, per_minute, take};

pub struct LoginLimiter {
    per_account: DefaultKeyedRateLimiter<String>,
    per_client: DefaultKeyedRateLimiter<IpAddr>,
    per_account_n: u32,
    per_client_n: u32,
    shared: Option<SharedBuckets>,
}

impl LoginLimiter {
    /// `per_account` and `per_client` attempts per minute (bursts of the same size).
    pub fn new(per_account: u32, per_client: u32) -> Self {
        Self::with_shared(per_account, per_client, None)
    }

    pub fn with_shared(per_account: u32, per_client: u32, shared: Option<SharedBuckets>) -> Self {
        Self {
            per_account: per_minute(per_account),
            per_client: per_minute(per_client),
            per_account_n: per_account,
            per_client_n: per_client,
            shared,
        }
    }

    /// Counts one attempt; refused when either limit is exhausted.
    pub async fn check(&self, account: &str, client: IpAddr) -> Result<(), IdentityError> {
        let refused = |retry_after_secs| IdentityError::RateLimited { retry_after_secs };
        let account = account.to_lowercase();
        if let Some(shared) = &self.shared {
            let by_client = shared
                .take("login-client", &client.to_string(), self.per_client_n)
                .await;
            if let Some(by_client) = by_client {
                by_client.map_err(refused)?;
                if let Some(by_account) = shared
                    .take("login-account", &account, self.per_account_n)
                    .await
                {
                    return by_account.map_err(refused);
                }
            }
        }
        take(&self.per_client, &client).map_err(refused)?;
        take(&self.per_account, &account).map_err(refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sixth_attempt_on_one_account_is_refused_with_a_wait() {
        let limiter = LoginLimiter::new(5, 100);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..5 {
            limiter.check("ana@example.com", ip).await.unwrap();
        }
        match limiter.check("ANA@example.com", ip).await {
            Err(IdentityError::RateLimited { retry_after_secs }) => {
                assert!((1..=60).contains(&retry_after_secs))
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        // Another account from the same address is still allowed.
        limiter.check("bob@example.com", ip).await.unwrap();
    }

    #[tokio::test]
    async fn one_address_is_limited_across_accounts() {
        let limiter = LoginLimiter::new(100, 3);
        let ip: IpAddr = "10.0.0.7".parse().unwrap();
        for n in 0..3 {
            limiter
                .check(&format!("user{n}@example.com"), ip)
                .await
                .unwrap();
        }
        assert!(limiter.check("user9@example.com", ip).await.is_err());
        limiter
            .check("user9@example.com", "10.0.0.8".parse().unwrap())
            .await
            .unwrap();
    }
}
