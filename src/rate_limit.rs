//! Fixed-window attempt limits keyed by strings (an IP, an account), counted in the store
//! (`LimitStore`) so that every instance behind a load balancer enforces one limit. Keys
//! are stored as SHA-256 digests of the limit's name and the key: no address or account
//! name is kept in the table.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::error::{ApiError, StoreResult};
use crate::store::LimitStore;

pub struct RateLimiter {
    /// Which limit this is; part of every stored key.
    name: &'static str,
    limit: u32,
    window: Duration,
}

impl RateLimiter {
    pub fn new(name: &'static str, limit: u32, window: Duration) -> Self {
        Self {
            name,
            limit,
            window,
        }
    }

    fn stored_key(&self, key: &str) -> String {
        let digest = Sha256::new()
            .chain_update(self.name.as_bytes())
            .chain_update([0u8])
            .chain_update(key.as_bytes())
            .finalize();
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn window_ms(&self) -> i64 {
        i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX)
    }

    /// Seconds to wait when `key` has used up its window, without counting an attempt.
    pub async fn blocked_for<S: LimitStore + ?Sized>(
        &self,
        store: &S,
        key: &str,
    ) -> StoreResult<Option<u64>> {
        let now = crate::now_ms();
        let window = store.limit_window(&self.stored_key(key), now).await?;
        Ok(window
            .filter(|w| w.count >= i64::from(self.limit))
            .map(|w| wait_secs(w.ends_at - now)))
    }

    /// Counts one attempt.
    pub async fn hit<S: LimitStore + ?Sized>(&self, store: &S, key: &str) -> StoreResult<()> {
        let now = crate::now_ms();
        store
            .limit_hit(&self.stored_key(key), self.window_ms(), now)
            .await
            .map(|_| ())
    }

    /// Counts an attempt, in one round trip, and refuses it past the limit with 429 and
    /// how long to wait.
    pub async fn check_and_hit<S: LimitStore + ?Sized>(
        &self,
        store: &S,
        key: &str,
    ) -> Result<(), ApiError> {
        let now = crate::now_ms();
        let window = store
            .limit_hit(&self.stored_key(key), self.window_ms(), now)
            .await?;
        if window.count > i64::from(self.limit) {
            return Err(ApiError::rate_limited(wait_secs(window.ends_at - now)));
        }
        Ok(())
    }

    pub async fn reset<S: LimitStore + ?Sized>(&self, store: &S, key: &str) -> StoreResult<()> {
        store.limit_reset(&self.stored_key(key)).await
    }
}

fn wait_secs(ms: i64) -> u64 {
    u64::try_from(ms.max(0)).unwrap_or(0).div_ceil(1000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_digests_apart_per_limit() {
        let a = RateLimiter::new("login_ip", 1, Duration::from_secs(1));
        let b = RateLimiter::new("uploads", 1, Duration::from_secs(1));
        let key = a.stored_key("203.0.113.9");
        assert_eq!(key.len(), 64);
        assert!(!key.contains("203"));
        assert_ne!(key, b.stored_key("203.0.113.9"));
        assert_eq!(wait_secs(1), 1);
        assert_eq!(wait_secs(1500), 2);
        assert_eq!(wait_secs(-5), 1);
    }
}
