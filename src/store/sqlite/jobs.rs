//! The job queue on SQLite. A claim is one `UPDATE … RETURNING` through the single writer,
//! so two claims never interleave; an inline read first skips that trip when nothing is due.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Row};

use super::{map_err, SqliteStore};
use crate::error::StoreResult;
use crate::store::jobs::{Job, JobAttempt, JobStatus, JobStore, ATTEMPT_COLUMNS, JOB_COLUMNS};
use crate::store::outbox::NewJob;

fn job_from(row: &Row<'_>) -> rusqlite::Result<Job> {
    crate::store::rows::job(row)
}

fn attempt_from(row: &Row<'_>) -> rusqlite::Result<JobAttempt> {
    crate::store::rows::attempt(row)
}

const CLAIMABLE: &str =
    "(status = 'pending' AND run_after <= ?1) OR (status = 'running' AND locked_until < ?1)";

/// One finished run of a job, as written to `job_attempts`.
struct AttemptRow {
    job_id: i64,
    attempt: i64,
    worker: String,
    started_at: i64,
    finished_at: i64,
    error: Option<String>,
}

/// Applies `sql` to the job and records the attempt, in one transaction, if the update
/// matched: the job is still running under this worker's lease for this attempt.
fn finish(
    conn: &mut rusqlite::Connection,
    sql: &str,
    args: &[&dyn rusqlite::ToSql],
    a: &AttemptRow,
) -> rusqlite::Result<bool> {
    let tx = conn.transaction()?;
    if tx.prepare_cached(sql)?.execute(args)? == 0 {
        return Ok(false);
    }
    tx.prepare_cached(
        "INSERT INTO job_attempts (job_id, attempt, worker, started_at, finished_at, ok, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        a.job_id,
        a.attempt,
        a.worker,
        a.started_at,
        a.finished_at,
        a.error.is_none(),
        a.error
    ])?;
    tx.commit()?;
    Ok(true)
}

fn insert_job(
    conn: &rusqlite::Connection,
    job: &NewJob,
    now: i64,
) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached(
        "INSERT INTO jobs (kind, payload, dedup_key, status, attempts, max_attempts, run_after, created_at)
         VALUES (?1, ?2, ?3, 'pending', 0, ?4, ?5, ?6) ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
    )?
    .query_row(
        params![
            job.kind,
            job.payload.to_string(),
            job.dedup_key,
            job.max_attempts,
            job.run_after,
            now
        ],
        |r| r.get(0),
    )
    .optional()
}

fn claim_jobs(
    conn: &rusqlite::Connection,
    worker: &str,
    now: i64,
    lease_ms: i64,
    limit: i64,
) -> rusqlite::Result<Vec<Job>> {
    let mut stmt = conn.prepare_cached(&format!(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1,
                locked_by = ?2, locked_until = ?1 + ?3
         WHERE id IN (SELECT id FROM jobs WHERE {CLAIMABLE} ORDER BY run_after, id LIMIT ?4)
         RETURNING {JOB_COLUMNS}"
    ))?;
    let rows = stmt.query_map(params![now, worker, lease_ms, limit], job_from)?;
    rows.collect()
}

#[async_trait]
impl JobStore for SqliteStore {
    async fn enqueue(&self, job: NewJob) -> StoreResult<Option<i64>> {
        let now = crate::now_ms();
        self.write(move |conn| insert_job(conn, &job, now).map_err(map_err))
            .await
    }

    async fn claim(
        &self,
        worker: &str,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<Job>> {
        // Polling an idle queue costs one indexed read on a read connection, not a trip to
        // the writer.
        let due: Option<i64> = self.read(|c| {
            c.prepare_cached(&format!("SELECT id FROM jobs WHERE {CLAIMABLE} LIMIT 1"))?
                .query_row([now], |r| r.get(0))
                .optional()
        })?;
        if due.is_none() {
            return Ok(Vec::new());
        }
        let worker = worker.to_string();
        let mut jobs = self
            .write(move |conn| claim_jobs(conn, &worker, now, lease_ms, limit).map_err(map_err))
            .await?;
        jobs.sort_by_key(|j| (j.run_after, j.id));
        Ok(jobs)
    }

    async fn complete(
        &self,
        job: &Job,
        worker: &str,
        started_at: i64,
        now: i64,
        clear_payload: bool,
    ) -> StoreResult<bool> {
        let row = AttemptRow {
            job_id: job.id,
            attempt: job.attempts,
            worker: worker.to_string(),
            started_at,
            finished_at: now,
            error: None,
        };
        self.write(move |conn| {
            finish(
                conn,
                "UPDATE jobs SET status = 'done', payload = CASE WHEN ?5 THEN '{}' ELSE payload END, finished_at = ?1, last_error = NULL,
                        locked_by = NULL, locked_until = NULL
                 WHERE id = ?2 AND status = 'running' AND locked_by = ?3 AND attempts = ?4",
                params![now, row.job_id, row.worker, row.attempt, clear_payload],
                &row,
            )
            .map_err(map_err)
        })
        .await
    }

    async fn fail(
        &self,
        job: &Job,
        worker: &str,
        error: &str,
        started_at: i64,
        now: i64,
        retry_at: Option<i64>,
    ) -> StoreResult<bool> {
        let row = AttemptRow {
            job_id: job.id,
            attempt: job.attempts,
            worker: worker.to_string(),
            started_at,
            finished_at: now,
            error: Some(error.to_string()),
        };
        self.write(move |conn| {
            finish(
                conn,
                "UPDATE jobs SET status = CASE WHEN ?1 IS NULL THEN 'failed' ELSE 'pending' END,
                        run_after = COALESCE(?1, run_after),
                        finished_at = CASE WHEN ?1 IS NULL THEN ?2 END,
                        last_error = ?3, locked_by = NULL, locked_until = NULL
                 WHERE id = ?4 AND status = 'running' AND locked_by = ?5 AND attempts = ?6",
                params![
                    retry_at,
                    now,
                    row.error,
                    row.job_id,
                    row.worker,
                    row.attempt
                ],
                &row,
            )
            .map_err(map_err)
        })
        .await
    }

    async fn list_jobs(&self, status: Option<JobStatus>, limit: i64) -> StoreResult<Vec<Job>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE ?1 IS NULL OR status = ?1
                 ORDER BY id DESC LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![status.map(JobStatus::as_str), limit], job_from)?;
            rows.collect()
        })
    }

    async fn job(&self, id: i64) -> StoreResult<Option<Job>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"))?
                .query_row([id], job_from)
                .optional()
        })
    }

    async fn attempts(&self, job_id: i64) -> StoreResult<Vec<JobAttempt>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {ATTEMPT_COLUMNS} FROM job_attempts WHERE job_id = ?1 ORDER BY attempt, id"
            ))?;
            let rows = stmt.query_map([job_id], attempt_from)?;
            rows.collect()
        })
    }
}
