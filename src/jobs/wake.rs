//! Waking workers when there is work, so that a job runs within milliseconds of its enqueue
//! rather than at the next poll. In one process, services wake the worker after the
//! transaction that enqueued commits. On PostgreSQL every enqueue also sends
//! `NOTIFY fulcrum_jobs`, which PostgreSQL delivers at commit to the listener each instance
//! keeps, so a job enqueued by one instance wakes the workers of all. Polling stays as the
//! safety net (a lost notification, a job that becomes due later).
//!
//! The same connection listens for `NOTIFY fulcrum_cache`, sent by every audited change,
//! and bumps the read caches' epoch (`crate::cache`); while it is disconnected the caches
//! are off, since changes made elsewhere would go unheard.

use std::sync::Arc;
use std::time::Duration;

use crate::cache::CacheEpoch;

use futures_util::StreamExt;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

#[derive(Clone, Default)]
pub struct JobWake(Arc<Notify>);

impl JobWake {
    /// There may be work: the worker looks now (or, if busy, right after its batch).
    pub fn wake(&self) {
        self.0.notify_one();
    }

    pub async fn woken(&self) {
        self.0.notified().await;
    }
}

/// Listens for `NOTIFY fulcrum_jobs` and `fulcrum_cache` on a connection of its own,
/// reconnecting after failures, until shutdown.
pub fn listen_postgres(
    url: String,
    wake: JobWake,
    epoch: Arc<CacheEpoch>,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(200);
        loop {
            tokio::select! {
                result = listen_once(&url, &wake, &epoch) => {
                    epoch.suspend();
                    if let Err(e) = result {
                        tracing::warn!(error = %e, "notifications: connection lost; reconnecting");
                    }
                }
                _ = shutdown.wait_for(|stop| *stop) => {
                    epoch.suspend();
                    return;
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
            // Whatever was enqueued while we were away is found by looking once.
            wake.wake();
        }
    })
}

async fn listen_once(url: &str, wake: &JobWake, epoch: &CacheEpoch) -> anyhow::Result<()> {
    let (client, mut connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let mut messages = Box::pin(futures_util::stream::poll_fn(move |cx| {
        connection.poll_message(cx)
    }));
    let listen = client.batch_execute("LISTEN fulcrum_jobs; LISTEN fulcrum_cache");
    tokio::pin!(listen);
    // The connection must be driven while LISTEN runs.
    loop {
        tokio::select! {
            done = &mut listen => { done?; break; }
            message = messages.next() => match message {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => anyhow::bail!("the connection closed"),
            },
        }
    }
    // From here on every change is heard, so values read from now on may be cached.
    epoch.resume();
    while let Some(message) = messages.next().await {
        if let tokio_postgres::AsyncMessage::Notification(n) = message? {
            if n.channel() == "fulcrum_cache" {
                epoch.bump();
            } else {
                wake.wake();
            }
        }
    }
    anyhow::bail!("the connection closed")
}
