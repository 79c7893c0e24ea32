//! The worker every instance runs: poll, claim a batch with a lease, run each job by its
//! kind, record the outcome, back off and retry, give up after the job's maximum attempts.
//!
//! Several instances (and so several workers) share one queue safely: a job is claimed by
//! one worker at a time, and only the worker holding the lease for an attempt can record
//! its outcome. A worker that dies mid-job leaves a lease that expires; the job is then
//! claimed again (delivery is at least once).

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::{DynJobStore, Job, JobError, JobWake, Registry};
use crate::config::Config;
use crate::error::StoreResult;
use crate::store::jobs::{AttemptEnd, Lease};

/// How soon a job that waits for another one looks again.
const WAIT_TURN_MS: i64 = 250;

/// Timing of a worker, from the `job_*` configuration keys.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub poll: Duration,
    pub lease_ms: i64,
    pub batch_size: i64,
    pub backoff_base_ms: i64,
    pub backoff_max_ms: i64,
}

impl WorkerSettings {
    pub fn from_config(config: &Config) -> WorkerSettings {
        WorkerSettings {
            poll: Duration::from_millis(config.job_poll_ms),
            lease_ms: config.job_lease_ms,
            batch_size: config.job_batch_size,
            backoff_base_ms: config.job_backoff_base_ms,
            backoff_max_ms: config.job_backoff_max_ms,
        }
    }

    /// The delay before retrying after failed attempt number `attempt` (1-based), before
    /// jitter: `base × 2^(attempt-1)`, capped.
    pub fn backoff_ms(&self, attempt: i64) -> i64 {
        let exp = attempt.clamp(1, 40) - 1;
        self.backoff_base_ms
            .saturating_mul(1_i64 << exp)
            .min(self.backoff_max_ms)
    }

    /// The backoff with "equal jitter": somewhere between half of it and all of it, so
    /// jobs that failed together do not all come back together.
    pub fn jittered_backoff_ms(&self, attempt: i64) -> i64 {
        let full = self.backoff_ms(attempt).max(1);
        let half = full / 2;
        half + rand::thread_rng().gen_range(0..=full - half)
    }
}

pub struct Worker {
    store: DynJobStore,
    id: String,
    settings: WorkerSettings,
    registry: Registry,
    wake: JobWake,
}

impl Worker {
    pub fn new(store: DynJobStore, config: &Config, registry: Registry, wake: JobWake) -> Worker {
        Worker {
            store,
            id: super::worker_id(),
            settings: WorkerSettings::from_config(config),
            registry,
            wake,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Runs the worker until `shutdown` turns true; a batch in hand is finished first.
    pub fn spawn(self, shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
        tokio::spawn(Arc::new(self).run(shutdown))
    }

    /// Keeps up to `batch_size` jobs in flight: whenever one ends, its slot is claimed
    /// again at once, so a slow delivery never holds back the jobs queued behind it (a
    /// batch that waited for its slowest job did).
    async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        tracing::debug!(worker = %self.id, "job worker started");
        let mut running = JoinSet::new();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let free = self.settings.batch_size - running.len() as i64;
            if free > 0 {
                match self.claim(free).await {
                    Ok(jobs) => {
                        for job in jobs {
                            let me = Arc::clone(&self);
                            running.spawn(async move { me.process(job).await });
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "claiming jobs failed"),
                }
            }
            tokio::select! {
                Some(done) = running.join_next(), if !running.is_empty() => {
                    note_panic(done);
                    // Every job that ended meanwhile frees its slot for the next claim.
                    while let Some(done) = running.try_join_next() {
                        note_panic(done);
                    }
                }
                _ = tokio::time::sleep(self.settings.poll) => {}
                _ = self.wake.woken() => {}
                _ = shutdown.changed() => {}
            }
        }
        // The jobs in hand are finished before the worker stops.
        while let Some(done) = running.join_next().await {
            note_panic(done);
        }
        tracing::debug!(worker = %self.id, "job worker stopped");
    }

    async fn claim(&self, limit: i64) -> StoreResult<Vec<Job>> {
        self.store
            .claim(
                Lease {
                    worker: &self.id,
                    now: crate::now_ms(),
                    ms: self.settings.lease_ms,
                },
                limit,
            )
            .await
    }

    /// Claims one batch of due jobs and runs them concurrently; returns how many it ran.
    pub async fn run_once(self: &Arc<Self>) -> StoreResult<usize> {
        let jobs = self.claim(self.settings.batch_size).await?;
        let n = jobs.len();
        let mut set = JoinSet::new();
        for job in jobs {
            let me = Arc::clone(self);
            set.spawn(async move { me.process(job).await });
        }
        while let Some(done) = set.join_next().await {
            note_panic(done);
        }
        Ok(n)
    }

    async fn process(&self, job: Job) {
        let started_at = crate::now_ms();
        let outcome = if job.attempts > job.max_attempts {
            // The previous holder's lease expired during the last allowed attempt.
            Err(JobError::permanent(format!(
                "gave up: attempt {} of {} was abandoned by its worker",
                job.attempts - 1,
                job.max_attempts
            )))
        } else {
            let lease = Duration::from_millis(self.settings.lease_ms.max(1) as u64);
            match tokio::time::timeout(lease, self.dispatch(&job)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(JobError::retry("timed out (the lease expired)")),
            }
        };
        let now = crate::now_ms();
        let end = AttemptEnd {
            job: &job,
            worker: &self.id,
            started_at,
            finished_at: now,
        };
        let clear = self
            .registry
            .get(&job.kind)
            .is_some_and(|h| h.clears_payload());
        let recorded = match &outcome {
            Ok(()) => self.store.complete(end, clear).await,
            Err(e) if e.wait_turn => self.store.defer(end, now + WAIT_TURN_MS).await,
            Err(e) => {
                let backoff = self
                    .settings
                    .jittered_backoff_ms(job.attempts)
                    .max(e.retry_in_ms.unwrap_or(0));
                let retry_at =
                    (!e.permanent && job.attempts < job.max_attempts).then(|| now + backoff);
                let recorded = self.store.fail(end, &e.message, retry_at).await;
                if matches!(recorded, Ok(true)) {
                    match retry_at {
                        Some(at) => tracing::info!(
                            job = job.id, kind = %job.kind, attempt = job.attempts,
                            retry_in_ms = at - now, error = %e, "job failed; will retry"
                        ),
                        None => tracing::warn!(
                            job = job.id, kind = %job.kind, attempts = job.attempts,
                            error = %e, "job failed permanently"
                        ),
                    }
                }
                recorded
            }
        };
        match recorded {
            Ok(true) => {
                if outcome.is_ok() {
                    tracing::debug!(job = job.id, kind = %job.kind, attempt = job.attempts, "job done");
                }
            }
            Ok(false) => tracing::warn!(
                job = job.id, kind = %job.kind,
                "job outcome not recorded: this worker's lease expired and another took the job"
            ),
            Err(e) => tracing::error!(job = job.id, error = %e, "recording a job outcome failed"),
        }
    }

    async fn dispatch(&self, job: &Job) -> Result<(), JobError> {
        match self.registry.get(&job.kind) {
            Some(handler) => handler.run_job(job, crate::now_ms()).await,
            None => Err(JobError::permanent(format!(
                "unknown job kind {:?}",
                job.kind
            ))),
        }
    }
}

/// A job task that panicked keeps its claim until the lease expires; then it runs again.
fn note_panic(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done {
        tracing::error!(error = %e, "job task panicked");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let s = WorkerSettings {
            poll: Duration::from_millis(500),
            lease_ms: 60_000,
            batch_size: 4,
            backoff_base_ms: 10_000,
            backoff_max_ms: 3_600_000,
        };
        assert_eq!(s.backoff_ms(1), 10_000);
        assert_eq!(s.backoff_ms(2), 20_000);
        assert_eq!(s.backoff_ms(4), 80_000);
        assert_eq!(s.backoff_ms(12), 3_600_000);
        assert_eq!(s.backoff_ms(1_000), 3_600_000);
        for attempt in 1..20 {
            let full = s.backoff_ms(attempt);
            let j = s.jittered_backoff_ms(attempt);
            assert!(j >= full / 2 && j <= full, "{attempt}: {j} vs {full}");
        }
    }
}
