//! Fixed-window attempt counters keyed by strings (an IP, an account). Per instance: with
//! several instances behind a load balancer each enforces its own share of the limit.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

const MAX_KEYS: usize = 100_000;

pub struct RateLimiter {
    limit: u32,
    window: Duration,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds to wait when `key` has used up its window, without counting an attempt.
    pub fn blocked_for(&self, key: &str) -> Option<u64> {
        let now = Instant::now();
        let windows = self.windows.lock();
        let (start, count) = windows.get(key)?;
        let elapsed = now.duration_since(*start);
        (elapsed < self.window && *count >= self.limit)
            .then(|| (self.window - elapsed).as_secs().max(1))
    }

    /// Counts one attempt.
    pub fn hit(&self, key: &str) {
        let now = Instant::now();
        let mut windows = self.windows.lock();
        if windows.len() >= MAX_KEYS {
            let window = self.window;
            windows.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = windows.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }

    /// Counts an attempt and says whether it may proceed.
    pub fn check_and_hit(&self, key: &str) -> Result<(), u64> {
        if let Some(wait) = self.blocked_for(key) {
            return Err(wait);
        }
        self.hit(key);
        Ok(())
    }

    pub fn reset(&self, key: &str) {
        self.windows.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_and_resets() {
        let rl = RateLimiter::new(2, Duration::from_secs(60));
        assert!(rl.check_and_hit("a").is_ok());
        assert!(rl.check_and_hit("a").is_ok());
        assert!(rl.check_and_hit("a").is_err());
        assert!(rl.check_and_hit("b").is_ok());
        rl.reset("a");
        assert!(rl.check_and_hit("a").is_ok());
    }
}
