//! The job queue, shared by every instance on PostgreSQL. A claim is one `UPDATE …
//! RETURNING`: on PostgreSQL it picks due rows `FOR UPDATE SKIP LOCKED`, so concurrent
//! claims never take the same job and never wait on each other; on SQLite it goes through
//! the single writer, so two claims never interleave. An inline read first skips the trip
//! to the writer when nothing is due.

use async_trait::async_trait;

use super::{enqueue, sql, work, Atomic, Backend, Exec, Sql, SqlStore};
use crate::error::StoreResult;
use crate::store::jobs::{AttemptEnd, Job, JobAttempt, JobStatus, JobStore, Lease};
use crate::store::outbox::NewJob;
use crate::store::rows::{attempt_cols, job_cols};

macro_rules! claimable {
    () => {
        "(status = 'pending' AND run_after <= $1) OR (status = 'running' AND locked_until < $1)"
    };
}

/// Records the attempt if `changed`: the update matched, so the job was still running under
/// this worker's lease for this attempt.
async fn record_attempt<C: Exec>(
    c: &mut C,
    changed: u64,
    end: &Ended,
    error: Option<&str>,
) -> StoreResult<bool> {
    if changed == 0 {
        return Ok(false);
    }
    c.execute(
        sql!(
            "INSERT INTO job_attempts (job_id, attempt, worker, started_at, finished_at, ok, error)
              VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ),
        &[
            &end.job_id,
            &end.attempt,
            &end.worker,
            &end.started_at,
            &end.finished_at,
            &error.is_none(),
            &error,
        ],
    )
    .await?;
    Ok(true)
}

/// An [`AttemptEnd`] owned, to move onto the writer.
struct Ended {
    job_id: i64,
    attempt: i64,
    worker: String,
    started_at: i64,
    finished_at: i64,
}

fn owned(end: AttemptEnd<'_>) -> Ended {
    Ended {
        job_id: end.job.id,
        attempt: end.job.attempts,
        worker: end.worker.to_string(),
        started_at: end.started_at,
        finished_at: end.finished_at,
    }
}

/// The due jobs, oldest first: pending ones whose time has come and running ones whose
/// lease ran out, each arm limited on its own index before the few are merged, so a claim
/// costs the same with ten or a hundred thousand jobs waiting (one `OR` over both made
/// SQLite sort every due job: 19 ms a claim at 100,000 in `bench/soak.py`).
const CLAIM: &Sql = sql!(
    pg: concat!("WITH pending AS (SELECT id, run_after FROM jobs WHERE status = 'pending' AND run_after <= $1
                   ORDER BY run_after, id LIMIT $4 FOR UPDATE SKIP LOCKED),
              expired AS (SELECT id, run_after FROM jobs WHERE status = 'running' AND locked_until < $1
                   ORDER BY locked_until, id LIMIT $4 FOR UPDATE SKIP LOCKED),
              due AS (SELECT id FROM (SELECT id, run_after FROM pending UNION ALL SELECT id, run_after FROM expired) d
                   ORDER BY run_after, id LIMIT $4)
         UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = $2, locked_until = $1 + $3
         WHERE id IN (SELECT id FROM due)
         RETURNING ", job_cols!()),
    lite: concat!("UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = $2, locked_until = $1 + $3
         WHERE id IN (SELECT id FROM (
             SELECT id, run_after FROM (SELECT id, run_after FROM jobs WHERE status = 'pending' AND run_after <= $1
                 ORDER BY run_after, id LIMIT $4)
             UNION ALL
             SELECT id, run_after FROM (SELECT id, run_after FROM jobs WHERE status = 'running' AND locked_until < $1
                 ORDER BY locked_until, id LIMIT $4)
         ) ORDER BY run_after, id LIMIT $4)
         RETURNING ", job_cols!()),
);

const LIST_JOBS: &Sql = sql!(
    "SELECT ",
    job_cols!(),
    " FROM jobs WHERE CAST($1 AS TEXT) IS NULL OR status = $1 ORDER BY id DESC LIMIT $2"
);
const JOB: &Sql = sql!("SELECT ", job_cols!(), " FROM jobs WHERE id = $1");
const ATTEMPTS: &Sql = sql!(
    "SELECT ",
    attempt_cols!(),
    " FROM job_attempts WHERE job_id = $1 ORDER BY attempt, id"
);

#[async_trait]
impl<B: Backend> JobStore for SqlStore<B> {
    async fn enqueue(&self, job: NewJob) -> StoreResult<Option<i64>> {
        work!(self, statement, |c| {
            enqueue(c, &job, crate::now_ms()).await
        })
    }

    async fn claim(&self, lease: Lease<'_>, limit: i64) -> StoreResult<Vec<Job>> {
        let Lease {
            worker,
            now,
            ms: lease_ms,
        } = lease;
        let due: Option<(i64,)> = self
            .read_opt(
                sql!("SELECT id FROM jobs WHERE ", claimable!(), " LIMIT 1"),
                (now,),
            )
            .await?;
        if due.is_none() {
            return Ok(Vec::new());
        }
        let worker = worker.to_string();
        let mut jobs: Vec<Job> = self
            .0
            .write(Atomic::Statement, move |c| {
                Box::pin(async move { c.all(CLAIM, &[&now, &worker, &lease_ms, &limit]).await })
            })
            .await?;
        jobs.sort_by_key(|j| (j.run_after, j.id));
        Ok(jobs)
    }

    async fn complete(&self, end: AttemptEnd<'_>, clear_payload: bool) -> StoreResult<bool> {
        let a = owned(end);
        work!(self, tx, |c| {
            let changed = c
                .execute(
                    sql!("UPDATE jobs SET status = 'done', payload = CASE WHEN $5 THEN '{}' ELSE payload END,
                            finished_at = $1, last_error = NULL, locked_by = NULL, locked_until = NULL
                          WHERE id = $2 AND status = 'running' AND locked_by = $3 AND attempts = $4"),
                    &[&a.finished_at, &a.job_id, &a.worker, &a.attempt, &clear_payload],
                )
                .await?;
            record_attempt(c, changed, &a, None).await
        })
    }

    async fn fail(
        &self,
        end: AttemptEnd<'_>,
        error: &str,
        retry_at: Option<i64>,
    ) -> StoreResult<bool> {
        let (a, error) = (owned(end), error.to_string());
        work!(self, tx, |c| {
            let changed = c
                .execute(
                    sql!("UPDATE jobs SET status = CASE WHEN CAST($1 AS BIGINT) IS NULL THEN 'failed' ELSE 'pending' END,
                            run_after = COALESCE(CAST($1 AS BIGINT), run_after),
                            finished_at = CASE WHEN CAST($1 AS BIGINT) IS NULL THEN CAST($2 AS BIGINT) END,
                            last_error = $3, locked_by = NULL, locked_until = NULL
                          WHERE id = $4 AND status = 'running' AND locked_by = $5 AND attempts = $6"),
                    &[&retry_at, &a.finished_at, &error, &a.job_id, &a.worker, &a.attempt],
                )
                .await?;
            record_attempt(c, changed, &a, Some(&error)).await
        })
    }

    async fn defer(&self, end: AttemptEnd<'_>, run_after: i64) -> StoreResult<bool> {
        let a = owned(end);
        let changed = self
            .write_one(
                sql!(
                    "UPDATE jobs SET status = 'pending', attempts = attempts - 1, run_after = $1,
                        locked_by = NULL, locked_until = NULL
                      WHERE id = $2 AND status = 'running' AND locked_by = $3 AND attempts = $4"
                ),
                (run_after, a.job_id, a.worker, a.attempt),
            )
            .await?;
        Ok(changed > 0)
    }

    async fn list_jobs(&self, status: Option<JobStatus>, limit: i64) -> StoreResult<Vec<Job>> {
        self.read_all(LIST_JOBS, (status.map(JobStatus::as_str), limit))
            .await
    }

    async fn job(&self, id: i64) -> StoreResult<Option<Job>> {
        self.read_opt(JOB, (id,)).await
    }

    async fn attempts(&self, job_id: i64) -> StoreResult<Vec<JobAttempt>> {
        self.read_all(ATTEMPTS, (job_id,)).await
    }

    async fn prune_done(&self, before: i64, limit: i64) -> StoreResult<u64> {
        // Attempts go with their job (ON DELETE CASCADE).
        self.write_one(
            sql!(
                "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE status = 'done'
                  AND finished_at < $1 ORDER BY finished_at LIMIT $2)"
            ),
            (before, limit),
        )
        .await
    }
}
