//! Records when and from where each API key was last used, off the request path.
//!
//! The request path only notes an observation in memory, at most once per key per
//! granularity window; a background task writes the pending ones in one transaction every
//! flush interval, and once more at shutdown. The store's conditional update never moves a
//! time backwards, so several instances can flush the same key safely.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::store::{Client, DynStore, KeyUsage};

const MAX_TRACKED: usize = 200_000;

pub struct UsageRecorder {
    granularity_ms: i64,
    pending: Mutex<HashMap<i64, KeyUsage>>,
    last_noted: Mutex<HashMap<i64, i64>>,
}

impl UsageRecorder {
    pub fn new(granularity_secs: i64) -> Self {
        Self {
            granularity_ms: granularity_secs * 1000,
            pending: Mutex::new(HashMap::new()),
            last_noted: Mutex::new(HashMap::new()),
        }
    }

    pub fn note(&self, key_pk: i64, at: i64, client: &Client) {
        {
            let mut noted = self.last_noted.lock();
            if noted
                .get(&key_pk)
                .is_some_and(|t| at - t < self.granularity_ms)
            {
                return;
            }
            if noted.len() >= MAX_TRACKED {
                let cutoff = at - self.granularity_ms;
                noted.retain(|_, t| *t >= cutoff);
            }
            noted.insert(key_pk, at);
        }
        let client = client.clone();
        self.pending
            .lock()
            .insert(key_pk, KeyUsage { key_pk, at, client });
    }

    pub fn pending_len(&self) -> usize {
        self.pending.lock().len()
    }

    /// Writes everything pending; on failure the batch is put back for the next flush.
    pub async fn flush(&self, store: &DynStore) {
        let batch: Vec<KeyUsage> = {
            let mut pending = self.pending.lock();
            pending.drain().map(|(_, v)| v).collect()
        };
        if batch.is_empty() {
            return;
        }
        if let Err(e) = store.record_key_usage(&batch).await {
            tracing::warn!(error = %e, keys = batch.len(), "could not record key usage; will retry");
            let mut pending = self.pending.lock();
            for usage in batch {
                pending.entry(usage.key_pk).or_insert(usage);
            }
        }
    }

    /// Flushes every `interval` until `shutdown` fires, then flushes once more.
    pub async fn run(
        self: Arc<Self>,
        store: DynStore,
        interval: Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => self.flush(&store).await,
                _ = shutdown.changed() => break,
            }
        }
        self.flush(&store).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_each_key_at_most_once_per_window() {
        let r = UsageRecorder::new(60);
        let from = |ip: &str, ua: &str| Client::new(Some(ip.into()), Some(ua));
        r.note(1, 1_000, &from("10.0.0.1", "ua"));
        r.note(1, 30_000, &from("10.0.0.2", "ua"));
        r.note(2, 30_000, &Client::default());
        assert_eq!(r.pending_len(), 2);
        assert_eq!(r.pending.lock()[&1].client.ip.as_deref(), Some("10.0.0.1"));
        r.note(1, 61_001, &from("10.0.0.3", &"x".repeat(1000)));
        let noted = r.pending.lock()[&1].client.clone();
        assert_eq!(noted.ip.as_deref(), Some("10.0.0.3"));
        assert_eq!(noted.user_agent.map(|ua| ua.len()), Some(256), "bounded");
    }
}
