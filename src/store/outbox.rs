//! Writing a job row inside the transaction of the change that causes it (the outbox
//! pattern): the change and its job commit together or not at all. The queue itself (claim,
//! retry, give up) lives in `crate::jobs`.

use serde_json::Value;

use crate::error::StoreResult;

/// A job to run after the surrounding transaction commits.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: &'static str,
    pub payload: Value,
    /// Jobs with the same key are written once (idempotent enqueue).
    pub dedup_key: Option<String>,
    pub max_attempts: i64,
    pub run_after: i64,
}

pub(crate) fn enqueue_sqlite(
    conn: &rusqlite::Connection,
    job: &NewJob,
    now: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO jobs (kind, payload, dedup_key, status, attempts, max_attempts, run_after, created_at)
         VALUES (?1, ?2, ?3, 'pending', 0, ?4, ?5, ?6) ON CONFLICT (dedup_key) DO NOTHING",
    )?
    .execute(rusqlite::params![job.kind, job.payload.to_string(), job.dedup_key, job.max_attempts, job.run_after, now])?;
    Ok(())
}

/// Sent with every PostgreSQL enqueue; PostgreSQL delivers it when the transaction commits,
/// so a listening worker never looks before the job is visible.
pub(crate) const NOTIFY_JOBS: &str = "NOTIFY fulcrum_jobs";

pub(crate) async fn enqueue_pg(
    c: &impl deadpool_postgres::GenericClient,
    job: &NewJob,
    now: i64,
) -> StoreResult<()> {
    c.execute(
        "INSERT INTO jobs (kind, payload, dedup_key, status, attempts, max_attempts, run_after, created_at)
         VALUES ($1, $2, $3, 'pending', 0, $4, $5, $6) ON CONFLICT (dedup_key) DO NOTHING",
        &[&job.kind, &job.payload.to_string(), &job.dedup_key, &job.max_attempts, &job.run_after, &now],
    )
    .await
    .map_err(|e| crate::error::StoreError::Other(anyhow::Error::new(e)))?;
    c.batch_execute(NOTIFY_JOBS)
        .await
        .map_err(|e| crate::error::StoreError::Other(anyhow::Error::new(e)))?;
    Ok(())
}
