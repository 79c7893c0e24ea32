//! Store conformance: the job queue (`JobStore`), method by method, without a worker —
//! enqueue and its dedup key, claim order, limit and leases, complete and fail under a
//! lease, the retry and give-up paths, the listings, and pruning old finished jobs.
//! Run against SQLite and a fresh PostgreSQL database (`tests/common/store.rs`).

#[macro_use]
mod common;

use common::store::*;

conformance! {
    store: [],
    with_sql: [],
    jobs: [
        enqueue_writes_a_pending_job_once_per_dedup_key,
        claim_takes_due_jobs_oldest_first_up_to_the_limit,
        a_claimed_job_is_not_claimed_again_until_its_lease_expires,
        complete_needs_the_current_lease_and_records_the_attempt,
        fail_retries_later_or_gives_up_for_good,
        list_jobs_filters_by_status_newest_first,
        prune_done_deletes_old_successful_jobs_with_their_attempts_only,
    ],
}

fn new_job(kind: &'static str, dedup: Option<&str>, run_after: i64) -> NewJob {
    NewJob {
        kind,
        payload: json!({ "to": "kim@example.com", "n": 1 }),
        dedup_key: dedup.map(str::to_string),
        max_attempts: 3,
        run_after,
    }
}

/// Enqueues a job that must be new; its id.
async fn pending(jobs: &DynJobStore, job: NewJob) -> i64 {
    jobs.enqueue(job).await.unwrap().expect("a new job")
}

/// `worker`'s attempt at `job`, from `started_at` to `finished_at`.
fn end<'a>(job: &'a Job, worker: &'a str, started_at: i64, finished_at: i64) -> AttemptEnd<'a> {
    AttemptEnd {
        job,
        worker,
        started_at,
        finished_at,
    }
}

/// Claims the one due job for `worker`, with a 30 s lease.
async fn claim_one(jobs: &DynJobStore, worker: &str, now: i64) -> Job {
    let mut claimed = jobs
        .claim(
            Lease {
                worker,
                now,
                ms: 30_000,
            },
            1,
        )
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "one job is due");
    claimed.remove(0)
}

async fn job_count(sql: &RawSql) -> i64 {
    sql.count("jobs").await
}

async fn enqueue_writes_a_pending_job_once_per_dedup_key(jobs: DynJobStore, sql: RawSql) {
    let now = fulcrum::now_ms();
    let id = jobs
        .enqueue(new_job("mail.test", Some("once"), now))
        .await
        .unwrap();
    let id = id.expect("the first enqueue writes the job");
    assert_eq!(
        jobs.enqueue(new_job("mail.test", Some("once"), now))
            .await
            .unwrap(),
        None
    );
    assert!(jobs
        .enqueue(new_job("mail.test", None, now))
        .await
        .unwrap()
        .is_some());
    assert!(jobs
        .enqueue(new_job("mail.test", None, now))
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        job_count(&sql).await,
        3,
        "jobs without a dedup key are never merged"
    );

    let job = jobs.job(id).await.unwrap().unwrap();
    assert_eq!(job.kind, "mail.test");
    assert_eq!(job.payload, json!({ "to": "kim@example.com", "n": 1 }));
    assert_eq!(job.dedup_key.as_deref(), Some("once"));
    assert_eq!(job.status, Some(JobStatus::Pending));
    assert_eq!((job.attempts, job.max_attempts), (0, 3));
    assert_eq!(job.run_after, now);
    assert!(job.locked_by.is_none() && job.finished_at.is_none());
    assert!(jobs.job(id + 1000).await.unwrap().is_none());
}

async fn claim_takes_due_jobs_oldest_first_up_to_the_limit(jobs: DynJobStore, _sql: RawSql) {
    let now = fulcrum::now_ms();
    let later = pending(&jobs, new_job("k", None, now - 10)).await;
    let first = pending(&jobs, new_job("k", None, now - 30)).await;
    let second = pending(&jobs, new_job("k", None, now - 20)).await;
    let future = pending(&jobs, new_job("k", None, now + 60_000)).await;

    let claimed = jobs
        .claim(
            Lease {
                worker: "w1",
                now,
                ms: 30_000,
            },
            2,
        )
        .await
        .unwrap();
    let ids: Vec<i64> = claimed.iter().map(|j| j.id).collect();
    assert_eq!(
        ids,
        vec![first, second],
        "oldest due first, at most the limit"
    );
    for j in &claimed {
        assert_eq!(j.status, Some(JobStatus::Running));
        assert_eq!(j.attempts, 1);
        assert_eq!(j.locked_by.as_deref(), Some("w1"));
        assert_eq!(j.locked_until, Some(now + 30_000));
    }
    let rest = jobs
        .claim(
            Lease {
                worker: "w2",
                now,
                ms: 30_000,
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(rest.iter().map(|j| j.id).collect::<Vec<_>>(), vec![later]);
    assert!(jobs
        .claim(
            Lease {
                worker: "w2",
                now,
                ms: 30_000
            },
            10
        )
        .await
        .unwrap()
        .is_empty());
    let not_due = jobs.job(future).await.unwrap().unwrap();
    assert_eq!(
        not_due.status,
        Some(JobStatus::Pending),
        "a job is not claimed before run_after"
    );
}

async fn a_claimed_job_is_not_claimed_again_until_its_lease_expires(
    jobs: DynJobStore,
    _sql: RawSql,
) {
    let now = fulcrum::now_ms();
    let id = pending(&jobs, new_job("k", None, now)).await;
    let first = jobs
        .claim(
            Lease {
                worker: "w1",
                now,
                ms: 1_000,
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert!(jobs
        .claim(
            Lease {
                worker: "w2",
                now: now + 999,
                ms: 1_000
            },
            10
        )
        .await
        .unwrap()
        .is_empty());

    let again = jobs
        .claim(
            Lease {
                worker: "w2",
                now: now + 1_001,
                ms: 1_000,
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(again.len(), 1, "an expired lease is claimed again");
    assert_eq!((again[0].id, again[0].attempts), (id, 2));
    assert_eq!(again[0].locked_by.as_deref(), Some("w2"));
    // The first worker lost its lease: its result is not recorded.
    assert!(!jobs
        .complete(end(&first[0], "w1", now, now + 1_100), false)
        .await
        .unwrap());
    assert!(jobs.attempts(id).await.unwrap().is_empty());
}

async fn complete_needs_the_current_lease_and_records_the_attempt(jobs: DynJobStore, _sql: RawSql) {
    let now = fulcrum::now_ms();
    let id = pending(&jobs, new_job("k", None, now)).await;
    let job = claim_one(&jobs, "w1", now).await;
    assert!(!jobs
        .complete(end(&job, "someone-else", now, now + 5), true)
        .await
        .unwrap());

    assert!(jobs
        .complete(end(&job, "w1", now + 1, now + 5), true)
        .await
        .unwrap());
    let done = jobs.job(id).await.unwrap().unwrap();
    assert_eq!(done.status, Some(JobStatus::Done));
    assert_eq!(done.finished_at, Some(now + 5));
    assert_eq!(done.payload, json!({}), "clear_payload empties the payload");
    assert!(done.locked_by.is_none() && done.locked_until.is_none() && done.last_error.is_none());
    assert!(
        !jobs
            .complete(end(&job, "w1", now + 1, now + 6), true)
            .await
            .unwrap(),
        "completes once"
    );

    let attempts = jobs.attempts(id).await.unwrap();
    assert_eq!(attempts.len(), 1);
    let a = &attempts[0];
    assert_eq!((a.job_id, a.attempt, a.worker.as_str()), (id, 1, "w1"));
    assert_eq!(
        (a.started_at, a.finished_at, a.ok),
        (now + 1, now + 5, true)
    );
    assert!(a.error.is_none());

    let kept = pending(&jobs, new_job("k", None, now)).await;
    let job = claim_one(&jobs, "w1", now).await;
    assert!(jobs
        .complete(end(&job, "w1", now, now + 1), false)
        .await
        .unwrap());
    let payload = jobs.job(kept).await.unwrap().unwrap().payload;
    assert_eq!(payload, json!({ "to": "kim@example.com", "n": 1 }));
}

async fn fail_retries_later_or_gives_up_for_good(jobs: DynJobStore, _sql: RawSql) {
    let now = fulcrum::now_ms();
    let id = pending(&jobs, new_job("k", None, now)).await;
    let job = claim_one(&jobs, "w1", now).await;
    assert!(jobs
        .fail(
            end(&job, "w1", now, now + 2),
            "smtp: 421 try later",
            Some(now + 10_000)
        )
        .await
        .unwrap());
    let retry = jobs.job(id).await.unwrap().unwrap();
    assert_eq!(retry.status, Some(JobStatus::Pending));
    assert_eq!(retry.run_after, now + 10_000);
    assert_eq!(retry.last_error.as_deref(), Some("smtp: 421 try later"));
    assert!(retry.finished_at.is_none() && retry.locked_by.is_none());
    assert!(jobs
        .claim(
            Lease {
                worker: "w1",
                now: now + 9_999,
                ms: 30_000
            },
            1
        )
        .await
        .unwrap()
        .is_empty());

    let job = claim_one(&jobs, "w1", now + 10_000).await;
    assert_eq!(job.attempts, 2);
    assert!(jobs
        .fail(
            end(&job, "w1", now, now + 10_005),
            "smtp: 550 no such user",
            None
        )
        .await
        .unwrap());
    let failed = jobs.job(id).await.unwrap().unwrap();
    assert_eq!(failed.status, Some(JobStatus::Failed));
    assert_eq!(failed.finished_at, Some(now + 10_005));
    assert_eq!(failed.last_error.as_deref(), Some("smtp: 550 no such user"));
    assert!(jobs
        .claim(
            Lease {
                worker: "w1",
                now: now + 100_000,
                ms: 30_000
            },
            1
        )
        .await
        .unwrap()
        .is_empty());

    let attempts = jobs.attempts(id).await.unwrap();
    let summary: Vec<(i64, bool, Option<&str>)> = attempts
        .iter()
        .map(|a| (a.attempt, a.ok, a.error.as_deref()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, false, Some("smtp: 421 try later")),
            (2, false, Some("smtp: 550 no such user"))
        ]
    );
}

async fn list_jobs_filters_by_status_newest_first(jobs: DynJobStore, _sql: RawSql) {
    let now = fulcrum::now_ms();
    let a = pending(&jobs, new_job("k", None, now)).await;
    let b = pending(&jobs, new_job("k", None, now + 60_000)).await;
    let c = pending(&jobs, new_job("k", None, now + 60_000)).await;
    let claimed = claim_one(&jobs, "w1", now).await;
    assert!(jobs
        .complete(end(&claimed, "w1", now, now), false)
        .await
        .unwrap());

    let all: Vec<i64> = jobs
        .list_jobs(None, 10)
        .await
        .unwrap()
        .iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(all, vec![c, b, a]);
    let limited = jobs.list_jobs(None, 2).await.unwrap();
    assert_eq!(limited.len(), 2);
    let pending: Vec<i64> = jobs
        .list_jobs(Some(JobStatus::Pending), 10)
        .await
        .unwrap()
        .iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(pending, vec![c, b]);
    let done = jobs.list_jobs(Some(JobStatus::Done), 10).await.unwrap();
    assert_eq!(done.iter().map(|j| j.id).collect::<Vec<_>>(), vec![a]);
    assert!(jobs
        .list_jobs(Some(JobStatus::Failed), 10)
        .await
        .unwrap()
        .is_empty());
}

/// A job with a dedup key, claimed and completed at `finished_at`; its id.
async fn done_at(jobs: &DynJobStore, key: &str, finished_at: i64) -> i64 {
    let id = pending(jobs, new_job("k", Some(key), finished_at - 10)).await;
    let job = claim_one(jobs, "w1", finished_at - 5).await;
    assert!(jobs
        .complete(end(&job, "w1", finished_at - 5, finished_at), false)
        .await
        .unwrap());
    id
}

async fn prune_done_deletes_old_successful_jobs_with_their_attempts_only(
    jobs: DynJobStore,
    sql: RawSql,
) {
    let now = fulcrum::now_ms();
    let day = 86_400_000;
    let oldest = done_at(&jobs, "oldest", now - 40 * day).await;
    let old = done_at(&jobs, "old", now - 35 * day).await;
    let recent = done_at(&jobs, "recent", now - day).await;
    let failed = pending(&jobs, new_job("k", Some("failed"), now - 40 * day)).await;
    let job = claim_one(&jobs, "w1", now - 40 * day).await;
    assert!(jobs
        .fail(
            end(&job, "w1", now - 40 * day, now - 40 * day + 1),
            "gone",
            None
        )
        .await
        .unwrap());
    let waiting = pending(&jobs, new_job("k", Some("waiting"), now + day)).await;
    assert_eq!(sql.count("job_attempts").await, 4);

    let cutoff = now - 30 * day;
    assert_eq!(
        jobs.prune_done(cutoff, 1).await.unwrap(),
        1,
        "a batch at most"
    );
    assert!(jobs.job(oldest).await.unwrap().is_none(), "oldest first");
    assert!(jobs.job(old).await.unwrap().is_some());
    assert_eq!(jobs.prune_done(cutoff, 1000).await.unwrap(), 1);
    assert_eq!(jobs.prune_done(cutoff, 1000).await.unwrap(), 0);
    for kept in [recent, failed, waiting] {
        assert!(
            jobs.job(kept).await.unwrap().is_some(),
            "job {kept} is kept"
        );
    }
    assert_eq!(
        sql.count("job_attempts").await,
        2,
        "the pruned jobs' attempts went too"
    );
    assert!(
        jobs.enqueue(new_job("k", Some("old"), now))
            .await
            .unwrap()
            .is_some(),
        "a pruned job's dedup key is free again"
    );
}
