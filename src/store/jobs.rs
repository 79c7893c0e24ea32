//! The job queue's rows and operations, implemented once for both backends
//! (`sql/jobs.rs`). What runs a job is `crate::jobs`; the store knows no job kinds.
//!
//! A claim is a lease: the worker that claimed a job (`locked_by`) owns it until
//! `locked_until`. Only that worker, for that attempt, can complete or fail it; once the lease
//! has expired another worker may claim the job again (the first one is presumed dead).

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::StoreResult;
use crate::store::outbox::NewJob;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    /// Waiting for `run_after`.
    Pending,
    /// Claimed by a worker until `locked_until`.
    Running,
    Done,
    /// Gave up: attempts exhausted or a permanent error; `last_error` says why.
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => JobStatus::Pending,
            "running" => JobStatus::Running,
            "done" => JobStatus::Done,
            "failed" => JobStatus::Failed,
            _ => return None,
        })
    }
}

/// A row of the `jobs` table.
/// The lock a claim takes: jobs are held by `worker` until `now + ms`.
#[derive(Debug, Clone, Copy)]
pub struct Lease<'a> {
    pub worker: &'a str,
    pub now: i64,
    pub ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub payload: serde_json::Value,
    pub dedup_key: Option<String>,
    /// `None` for a status this build does not know.
    pub status: Option<JobStatus>,
    /// Attempts started so far, including the one in hand while `Running`.
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_after: i64,
    pub locked_until: Option<i64>,
    pub locked_by: Option<String>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

/// A row of the `job_attempts` table: one run of a job by one worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobAttempt {
    pub id: i64,
    pub job_id: i64,
    pub attempt: i64,
    pub worker: String,
    pub started_at: i64,
    pub finished_at: i64,
    pub ok: bool,
    pub error: Option<String>,
}

pub type DynJobStore = Arc<dyn JobStore>;

/// The stored payload text as JSON (`null` if it is not JSON, which the handlers refuse).
pub(crate) fn parse_payload(raw: &str) -> serde_json::Value {
    serde_json::from_str(raw).unwrap_or(serde_json::Value::Null)
}

/// The end of one attempt at a claimed job: who ran it, and when it started and finished.
#[derive(Debug, Clone, Copy)]
pub struct AttemptEnd<'a> {
    pub job: &'a Job,
    pub worker: &'a str,
    pub started_at: i64,
    pub finished_at: i64,
}

#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// Writes a pending job outside any other change; `None` when a job with the same
    /// `dedup_key` already exists (nothing is written), else the new job's id.
    async fn enqueue(&self, job: NewJob) -> StoreResult<Option<i64>>;

    /// Claims up to `limit` jobs for `worker`: pending jobs with `run_after <= now` and
    /// running jobs whose lease expired (`locked_until < now`), oldest due first. Each is
    /// marked running, locked by `worker` until `now + lease_ms`, with `attempts` + 1.
    async fn claim(&self, lease: Lease<'_>, limit: i64) -> StoreResult<Vec<Job>>;

    /// Marks a claimed job done and records a successful attempt; `clear_payload` empties
    /// the payload (its handler says whether). False (and nothing is written) when `worker`
    /// no longer holds this attempt's lease.
    async fn complete(&self, end: AttemptEnd<'_>, clear_payload: bool) -> StoreResult<bool>;

    /// Records a failed attempt. With `retry_at` the job goes back to pending, due then;
    /// without it the job is marked failed for good. `last_error` keeps `error` either way.
    /// False (and nothing is written) when `worker` no longer holds this attempt's lease.
    async fn fail(
        &self,
        end: AttemptEnd<'_>,
        error: &str,
        retry_at: Option<i64>,
    ) -> StoreResult<bool>;

    /// Puts a claimed job back, due at `run_after`, without using up the attempt (it had
    /// to wait for another job) and without an attempt row. False when the lease is gone.
    async fn defer(&self, end: AttemptEnd<'_>, run_after: i64) -> StoreResult<bool>;

    /// Jobs, newest first, optionally only those with one status.
    async fn list_jobs(&self, status: Option<JobStatus>, limit: i64) -> StoreResult<Vec<Job>>;

    async fn job(&self, id: i64) -> StoreResult<Option<Job>>;

    /// Every recorded attempt of a job, in order.
    async fn attempts(&self, job_id: i64) -> StoreResult<Vec<JobAttempt>>;

    /// Deletes up to `limit` jobs that finished successfully before `before`, oldest
    /// first, with their attempts; how many. Their dedup keys are free again. Failed jobs
    /// are kept: they are what an operator looks for.
    async fn prune_done(&self, before: i64, limit: i64) -> StoreResult<u64>;
}
