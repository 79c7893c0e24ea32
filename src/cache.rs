//! Read caches that stay true across instances: the verified API keys and what the SDK's
//! Viewer asks about a person, kept in memory so that a training run's per-request
//! documents need no database round trip.
//!
//! Every cached value is stamped with the generation of the [`CacheEpoch`] it was read
//! under. The store bumps the epoch after every committed change that writes an audit row
//! (every change to accounts, keys, teams, memberships and settings does), and on
//! PostgreSQL each such change also sends `NOTIFY fulcrum_cache`, which the listener of
//! every instance turns into a bump. A value read before a bump is never served after it,
//! so a revoked key is refused on this instance at once and on the others as soon as the
//! notification arrives (milliseconds). While the listener is disconnected, caching is off.
//! A time-to-live bounds what no audit row announces (a change made by `fulcrum admin` on
//! another process against SQLite).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Values older than this are read again, whatever the epoch says.
pub const TTL: Duration = Duration::from_secs(30);

/// The generation every cached value is checked against.
#[derive(Debug)]
pub struct CacheEpoch {
    generation: AtomicU64,
    live: AtomicBool,
}

impl CacheEpoch {
    /// `live`: whether values may be cached from the start (SQLite: one process serves;
    /// PostgreSQL: only once the listener hears other instances' changes).
    pub fn new(live: bool) -> Self {
        Self {
            generation: AtomicU64::new(0),
            live: AtomicBool::new(live),
        }
    }

    /// The stamp for a value about to be read, or `None` while caching is off.
    pub fn current(&self) -> Option<u64> {
        if !self.live.load(Ordering::Acquire) {
            return None;
        }
        Some(self.generation.load(Ordering::Acquire))
    }

    /// Something changed: every value read before now is stale.
    pub fn bump(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The listener lost its connection: changes elsewhere may go unheard, so nothing is
    /// served from the cache until it is back.
    pub fn suspend(&self) {
        self.live.store(false, Ordering::Release);
        self.bump();
    }

    /// The listener hears changes again; what was cached before is stale.
    pub fn resume(&self) {
        self.bump();
        self.live.store(true, Ordering::Release);
    }
}

struct Entry<V> {
    generation: u64,
    at: Instant,
    value: V,
}

/// A bounded map of values stamped with the epoch they were read under.
pub struct Memo<K, V> {
    entries: Mutex<HashMap<K, Entry<V>>>,
    capacity: usize,
}

impl<K: Hash + Eq, V: Clone> Memo<K, V> {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The value, when it was read under the current generation within the TTL.
    pub fn get(&self, epoch: &CacheEpoch, key: &K) -> Option<V> {
        let generation = epoch.current()?;
        let entries = self.entries.lock();
        let entry = entries.get(key)?;
        (entry.generation == generation && entry.at.elapsed() < TTL).then(|| entry.value.clone())
    }

    /// Keeps `value`, read under `stamp` (from [`CacheEpoch::current`] before the read).
    pub fn put(&self, stamp: u64, key: K, value: V) {
        let mut entries = self.entries.lock();
        if entries.len() >= self.capacity {
            entries.retain(|_, e| e.generation == stamp && e.at.elapsed() < TTL);
            if entries.len() >= self.capacity {
                // Far more live keys than expected: start over rather than grow.
                entries.clear();
            }
        }
        entries.insert(
            key,
            Entry {
                generation: stamp,
                at: Instant::now(),
                value,
            },
        );
    }

    /// Forgets one value (a key whose secret did not match, say).
    pub fn forget(&self, key: &K) {
        self.entries.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bump_or_a_suspension_makes_every_value_stale() {
        let epoch = CacheEpoch::new(true);
        let memo: Memo<&str, i32> = Memo::new(2);
        let stamp = epoch.current().unwrap();
        memo.put(stamp, "a", 1);
        assert_eq!(memo.get(&epoch, &"a"), Some(1));
        epoch.bump();
        assert_eq!(memo.get(&epoch, &"a"), None, "read before the change");
        memo.put(epoch.current().unwrap(), "a", 2);
        epoch.suspend();
        assert_eq!(epoch.current(), None);
        assert_eq!(memo.get(&epoch, &"a"), None, "nothing while suspended");
        epoch.resume();
        assert_eq!(memo.get(&epoch, &"a"), None, "nor what was cached before");
    }

    #[test]
    fn a_value_read_while_a_change_committed_is_never_served() {
        let epoch = CacheEpoch::new(true);
        let memo: Memo<&str, i32> = Memo::new(8);
        let stamp = epoch.current().unwrap();
        epoch.bump(); // the change commits while the old value is being read
        memo.put(stamp, "k", 1);
        assert_eq!(memo.get(&epoch, &"k"), None);
    }

    #[test]
    fn the_map_stays_bounded() {
        let epoch = CacheEpoch::new(true);
        let memo: Memo<u32, u32> = Memo::new(4);
        for i in 0..100 {
            memo.put(epoch.current().unwrap(), i, i);
        }
        assert!(memo.entries.lock().len() <= 4);
        assert_eq!(memo.get(&epoch, &99), Some(99));
    }
}
