//! Attempt counters shared by every instance: sign-in by address and by account, avatar
//! uploads, mailed links (`crate::rate_limit` decides what to count and how much).

use async_trait::async_trait;

use crate::error::StoreResult;

/// One key's fixed window: attempts counted, and when the window ends (ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub count: i64,
    pub ends_at: i64,
}

impl From<(i64, i64)> for Window {
    fn from((count, ends_at): (i64, i64)) -> Self {
        Window { count, ends_at }
    }
}

#[async_trait]
pub trait LimitStore: Send + Sync {
    /// Counts one attempt at `key`, in one statement: in its open window, or in a new one
    /// of `window_ms` from `now` when the last has ended. The window after the attempt.
    async fn limit_hit(&self, key: &str, window_ms: i64, now: i64) -> StoreResult<Window>;

    /// `key`'s window, when one is open at `now`.
    async fn limit_window(&self, key: &str, now: i64) -> StoreResult<Option<Window>>;

    /// Forgets `key`'s attempts (a successful sign-in).
    async fn limit_reset(&self, key: &str) -> StoreResult<()>;

    /// Forgets every window that ended before `now`; how many.
    async fn limit_prune(&self, now: i64) -> StoreResult<u64>;
}
