//! The job queue on PostgreSQL, shared by every instance. A claim picks due rows with
//! `FOR UPDATE SKIP LOCKED` and marks them running in the same statement, so concurrent
//! claims from several instances never take the same job and never wait on each other.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::{map_err, PgStore};
use crate::error::StoreResult;
use crate::store::jobs::{Job, JobAttempt, JobStatus, JobStore, ATTEMPT_COLUMNS, JOB_COLUMNS};
use crate::store::outbox::NewJob;

fn job_from(row: &Row) -> Job {
    let Ok(job) = crate::store::rows::job(row);
    job
}

fn attempt_from(row: &Row) -> JobAttempt {
    let Ok(attempt) = crate::store::rows::attempt(row);
    attempt
}

/// One finished run of a job, as written to `job_attempts`.
struct AttemptRow<'a> {
    job: &'a Job,
    worker: &'a str,
    started_at: i64,
    finished_at: i64,
    error: Option<&'a str>,
}

impl PgStore {
    /// Applies `sql` to the job and records the attempt, in one transaction, if the update
    /// matched: the job is still running under this worker's lease for this attempt.
    async fn finish_job(
        &self,
        sql: &str,
        args: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        a: AttemptRow<'_>,
    ) -> StoreResult<bool> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        let stmt = tx.prepare_cached(sql).await.map_err(map_err)?;
        if tx.execute(&stmt, args).await.map_err(map_err)? == 0 {
            return Ok(false);
        }
        let stmt = tx
            .prepare_cached(
                "INSERT INTO job_attempts (job_id, attempt, worker, started_at, finished_at, ok, error)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .await
            .map_err(map_err)?;
        tx.execute(
            &stmt,
            &[
                &a.job.id,
                &a.job.attempts,
                &a.worker,
                &a.started_at,
                &a.finished_at,
                &a.error.is_none(),
                &a.error,
            ],
        )
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }
}

#[async_trait]
impl JobStore for PgStore {
    async fn enqueue(&self, job: NewJob) -> StoreResult<Option<i64>> {
        let now = crate::now_ms();
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "INSERT INTO jobs (kind, payload, dedup_key, status, attempts, max_attempts, run_after, created_at)
                 VALUES ($1, $2, $3, 'pending', 0, $4, $5, $6) ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
            )
            .await
            .map_err(map_err)?;
        let row = c
            .query_opt(
                &stmt,
                &[
                    &job.kind,
                    &job.payload.to_string(),
                    &job.dedup_key,
                    &job.max_attempts,
                    &job.run_after,
                    &now,
                ],
            )
            .await
            .map_err(map_err)?;
        if row.is_some() {
            // Wakes the workers of every instance (`jobs::wake`).
            c.batch_execute(crate::store::outbox::NOTIFY_JOBS)
                .await
                .map_err(map_err)?;
        }
        Ok(row.map(|r| r.get(0)))
    }

    async fn claim(
        &self,
        worker: &str,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<Job>> {
        let c = self.client().await?;
        // One statement is one transaction: the picked rows stay locked (and skipped by
        // every other claimer) until they are marked running.
        let stmt = c
            .prepare_cached(&format!(
                "WITH picked AS (
                   SELECT id FROM jobs
                   WHERE (status = 'pending' AND run_after <= $1)
                      OR (status = 'running' AND locked_until < $1)
                   ORDER BY run_after, id
                   LIMIT $4
                   FOR UPDATE SKIP LOCKED)
                 UPDATE jobs j SET status = 'running', attempts = j.attempts + 1,
                        locked_by = $2, locked_until = $1 + $3
                 FROM picked WHERE j.id = picked.id
                 RETURNING {}",
                qualified(JOB_COLUMNS)
            ))
            .await
            .map_err(map_err)?;
        let rows = c
            .query(&stmt, &[&now, &worker, &lease_ms, &limit])
            .await
            .map_err(map_err)?;
        let mut jobs: Vec<Job> = rows.iter().map(job_from).collect();
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
        self.finish_job(
            "UPDATE jobs SET status = 'done', payload = CASE WHEN $5 THEN '{}' ELSE payload END, finished_at = $1, last_error = NULL,
                    locked_by = NULL, locked_until = NULL
             WHERE id = $2 AND status = 'running' AND locked_by = $3 AND attempts = $4",
            &[&now, &job.id, &worker, &job.attempts, &clear_payload],
            AttemptRow {
                job,
                worker,
                started_at,
                finished_at: now,
                error: None,
            },
        )
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
        self.finish_job(
            "UPDATE jobs SET status = CASE WHEN $1::BIGINT IS NULL THEN 'failed' ELSE 'pending' END,
                    run_after = COALESCE($1::BIGINT, run_after),
                    finished_at = CASE WHEN $1::BIGINT IS NULL THEN $2::BIGINT END,
                    last_error = $3, locked_by = NULL, locked_until = NULL
             WHERE id = $4 AND status = 'running' AND locked_by = $5 AND attempts = $6",
            &[&retry_at, &now, &error, &job.id, &worker, &job.attempts],
            AttemptRow {
                job,
                worker,
                started_at,
                finished_at: now,
                error: Some(error),
            },
        )
        .await
    }

    async fn list_jobs(&self, status: Option<JobStatus>, limit: i64) -> StoreResult<Vec<Job>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE $1::TEXT IS NULL OR status = $1
                 ORDER BY id DESC LIMIT $2"
            ))
            .await
            .map_err(map_err)?;
        let rows = c
            .query(&stmt, &[&status.map(JobStatus::as_str), &limit])
            .await
            .map_err(map_err)?;
        Ok(rows.iter().map(job_from).collect())
    }

    async fn job(&self, id: i64) -> StoreResult<Option<Job>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"))
            .await
            .map_err(map_err)?;
        let row = c.query_opt(&stmt, &[&id]).await.map_err(map_err)?;
        Ok(row.as_ref().map(job_from))
    }

    async fn attempts(&self, job_id: i64) -> StoreResult<Vec<JobAttempt>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "SELECT {ATTEMPT_COLUMNS} FROM job_attempts WHERE job_id = $1 ORDER BY attempt, id"
            ))
            .await
            .map_err(map_err)?;
        let rows = c.query(&stmt, &[&job_id]).await.map_err(map_err)?;
        Ok(rows.iter().map(attempt_from).collect())
    }
}

/// `JOB_COLUMNS` prefixed with the `j.` alias of the claim statement.
fn qualified(columns: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("j.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}
