//! The job queue and the mailer against a real SMTP server on loopback, on SQLite and on a
//! fresh PostgreSQL database: invitation mail (English and Korean), retry with backoff while
//! the SMTP server is down, giving up visibly, idempotent enqueue, lease expiry, graceful
//! shutdown, and two instances sharing one PostgreSQL queue without double delivery.
//!
//! The SMTP server is a small sink written here (a tokio TCP server speaking just enough
//! SMTP) that records every message it accepts.
//!
//! Run with `cargo test --test jobs`; PostgreSQL must run on 127.0.0.1:5432 (or set
//! TEST_DATABASE_URL).

#[macro_use]
mod common;

use common::smtp::*;

/// (a) An invitation job becomes a multipart mail to the right recipient, in English or in
/// Korean, with one successful attempt recorded.
async fn delivers_invitation_mail(backend: Backend) {
    let sink = Sink::start().await;
    let port = sink.port();
    let server = common::server(&backend, &settings(&port, &[])).await;
    let s = &server.services;

    let en = enqueue_invite(s, 1, &invite("kim@example.com", Some("en"))).await;
    let ko = enqueue_invite(s, 2, &invite("lee@example.com", Some("ko"))).await;
    let none = enqueue_invite(s, 3, &invite("park@example.com", None)).await;
    for id in [en, ko, none] {
        let j = wait_status(s, id, JobStatus::Done, 20).await;
        assert_eq!(j.attempts, 1);
        assert!(j.finished_at.is_some());
        assert!(j.locked_by.is_none() && j.locked_until.is_none());
        let attempts = s.jobs.attempts(id).await.unwrap();
        assert_eq!(attempts.len(), 1, "{attempts:?}");
        assert!(attempts[0].ok && attempts[0].error.is_none());
        assert_eq!(attempts[0].attempt, 1);
    }

    let messages = sink.messages();
    assert_eq!(messages.len(), 3, "{messages:?}");
    let by_rcpt = |to: &str| {
        let found: Vec<&Received> = messages
            .iter()
            .filter(|m| m.rcpt_to == [to.to_string()])
            .collect();
        assert_eq!(found.len(), 1, "one mail to {to}");
        Mime::parse(&found[0].data)
    };
    for m in &messages {
        assert_eq!(m.mail_from, "noreply@fulcrum.test");
    }

    for to in ["kim@example.com", "park@example.com"] {
        let mail = by_rcpt(to);
        assert_eq!(
            decode_header(mail.header("subject").unwrap()),
            "Ada Lovelace invited you to join vision<lab> & co on Fulcrum"
        );
        assert!(mail.header("to").unwrap().contains(to));
        assert!(mail
            .header("from")
            .unwrap()
            .contains("noreply@fulcrum.test"));
        assert!(mail
            .header("content-type")
            .unwrap()
            .starts_with("multipart/alternative"));
        let text = mail.part("text/plain").decoded_body();
        assert!(text.contains("Ada Lovelace invited you to join the team vision<lab> & co on Fulcrum as an admin."), "{text}");
        assert!(text.contains("http://127.0.0.1:8080/invites/accept?token=abc&x=1"));
        let html = mail.part("text/html").decoded_body();
        assert!(
            html.contains("<strong>vision&lt;lab&gt; &amp; co</strong>"),
            "{html}"
        );
        assert!(!html.contains("vision<lab>"));
        assert!(html.contains("Accept invitation"));
        assert!(html.contains("token=abc&amp;x=1"));
    }

    // The Message-ID is stable for a job (retries carry the same one).
    let j = job(s, en).await;
    assert_eq!(
        by_rcpt("kim@example.com").header("message-id"),
        Some(format!("<fulcrum.job.{en}.{}@fulcrum.test>", j.created_at).as_str())
    );

    let mail = by_rcpt("lee@example.com");
    assert_eq!(
        decode_header(mail.header("subject").unwrap()),
        "Ada Lovelace님이 Fulcrum의 vision<lab> & co 팀에 초대했습니다"
    );
    let text = mail.part("text/plain").decoded_body();
    assert!(text.contains("관리자로 초대했습니다"), "{text}");
    assert!(text.contains("http://127.0.0.1:8080/invites/accept?token=abc&x=1"));
    let html = mail.part("text/html").decoded_body();
    assert!(html.contains("lang=\"ko\""));
    assert!(html.contains("초대 수락하기"));
    assert!(html.contains("<strong>vision&lt;lab&gt; &amp; co</strong>"));

    server.shutdown().await.unwrap();
    sink.stop().await;
}

/// (b) Mail sent while the SMTP server is down is retried with backoff and delivered once
/// it comes back, exactly once.
async fn retries_until_the_server_is_back(backend: Backend) {
    let port = closed_port().await;
    let port_s = port.to_string();
    let server = common::server(&backend, &settings(&port_s, &[])).await;
    let s = &server.services;
    let id = enqueue_invite(s, 7, &invite("kim@example.com", None)).await;

    // At least two failed attempts while nothing listens.
    let failed = wait_for("two failed attempts", 20, || async {
        let a = s.jobs.attempts(id).await.unwrap();
        (a.len() >= 2).then_some(a)
    })
    .await;
    assert!(failed.iter().all(|a| !a.ok));
    assert!(failed[0].error.as_deref().unwrap().starts_with("SMTP"));
    let j = job(s, id).await;
    assert!(
        j.last_error.as_deref().unwrap().starts_with("SMTP"),
        "{j:?}"
    );
    assert_ne!(j.status, Some(JobStatus::Failed));

    let sink = Sink::start_on(port, Duration::ZERO).await;
    let j = wait_status(s, id, JobStatus::Done, 20).await;
    assert!(j.last_error.is_none());
    // Give a duplicate every chance to show up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let messages = sink.messages();
    assert_eq!(messages.len(), 1, "exactly one delivery: {messages:?}");
    assert_eq!(messages[0].rcpt_to, ["kim@example.com"]);

    let attempts = s.jobs.attempts(id).await.unwrap();
    assert_eq!(attempts.len() as i64, j.attempts);
    let (last, before) = attempts.split_last().unwrap();
    assert!(last.ok);
    assert!(before.iter().all(|a| !a.ok));
    for (n, a) in attempts.iter().enumerate() {
        assert_eq!(a.attempt, n as i64 + 1);
    }
    // Backoff: the wait after failed attempt k is at least half of 200 ms × 2^(k-1).
    for pair in attempts.windows(2) {
        let k = pair[0].attempt;
        let min_wait = (200_i64 << (k - 1)).min(1000) / 2;
        let waited = pair[1].started_at - pair[0].finished_at;
        assert!(
            waited >= min_wait - 5,
            "attempt {k}: waited {waited} ms, backoff at least {min_wait}"
        );
    }

    server.shutdown().await.unwrap();
    sink.stop().await;
}

/// (c) After the maximum number of attempts the job is failed, with its last error, and
/// shows up in `list_jobs`; unknown kinds fail at once.
async fn gives_up_after_max_attempts(backend: Backend) {
    let port = closed_port().await.to_string();
    let server = common::server(
        &backend,
        &settings(&port, &[("FULCRUM_JOB_MAX_ATTEMPTS", "3")]),
    )
    .await;
    let s = &server.services;
    let id = enqueue_invite(s, 9, &invite("kim@example.com", None)).await;
    let unknown = s
        .jobs
        .enqueue(NewJob {
            kind: "carrier.pigeon",
            payload: serde_json::json!({}),
            dedup_key: None,
            max_attempts: 5,
            run_after: fulcrum::now_ms(),
        })
        .await
        .unwrap()
        .unwrap();

    let j = wait_status(s, id, JobStatus::Failed, 30).await;
    assert_eq!(j.attempts, 3);
    assert_eq!(j.max_attempts, 3);
    assert!(j.finished_at.is_some());
    assert!(
        j.last_error.as_deref().unwrap().starts_with("SMTP"),
        "{j:?}"
    );
    let attempts = s.jobs.attempts(id).await.unwrap();
    assert_eq!(attempts.len(), 3);
    assert!(attempts.iter().all(|a| !a.ok && a.error.is_some()));

    let u = wait_status(s, unknown, JobStatus::Failed, 10).await;
    assert_eq!(u.attempts, 1);
    assert_eq!(
        u.last_error.as_deref(),
        Some("unknown job kind \"carrier.pigeon\"")
    );

    let failed = s
        .jobs
        .list_jobs(Some(JobStatus::Failed), 100)
        .await
        .unwrap();
    let ids: Vec<i64> = failed.iter().map(|j| j.id).collect();
    assert_eq!(ids, [unknown, id], "newest first");
    assert!(s
        .jobs
        .list_jobs(Some(JobStatus::Done), 100)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(s.jobs.list_jobs(None, 100).await.unwrap().len(), 2);
    assert_eq!(s.jobs.list_jobs(None, 1).await.unwrap().len(), 1);

    // Nothing more happens to a failed job.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.jobs.attempts(id).await.unwrap().len(), 3);

    server.shutdown().await.unwrap();
}

/// Without `smtp_host`, mail jobs fail with a clear error and stay pending for a retry.
async fn unconfigured_mail_waits(backend: Backend) {
    let server = common::server(
        &backend,
        &[
            ("FULCRUM_JOB_POLL_MS", "50"),
            ("FULCRUM_JOB_BACKOFF_BASE_MS", "60000"),
        ],
    )
    .await;
    let s = &server.services;
    let id = enqueue_invite(s, 11, &invite("kim@example.com", None)).await;
    let attempts = wait_for("a first attempt", 10, || async {
        let a = s.jobs.attempts(id).await.unwrap();
        (!a.is_empty()).then_some(a)
    })
    .await;
    assert_eq!(attempts[0].error.as_deref(), Some(NOT_CONFIGURED));
    let j = job(s, id).await;
    assert_eq!(j.status, Some(JobStatus::Pending));
    assert_eq!(j.last_error.as_deref(), Some(NOT_CONFIGURED));
    assert!(j.run_after >= attempts[0].finished_at + 30_000, "{j:?}");
    server.shutdown().await.unwrap();
}

/// (d) The same dedup key enqueues once, even after the job ran.
async fn dedup_key_enqueues_once(backend: Backend) {
    let sink = Sink::start().await;
    let port = sink.port();
    let server = common::server(&backend, &settings(&port, &[])).await;
    let s = &server.services;
    let mail = invite("kim@example.com", None);
    let first = enqueue_invite(s, 42, &mail).await;
    let job42 = || invite_job(&s.config, 42, &mail, fulcrum::now_ms());
    assert_eq!(s.jobs.enqueue(job42()).await.unwrap(), None);
    assert_eq!(job(s, first).await.dedup_key.as_deref(), Some("invite:42"));
    wait_status(s, first, JobStatus::Done, 20).await;
    assert_eq!(s.jobs.enqueue(job42()).await.unwrap(), None);
    // A job without a key is never deduplicated.
    let keyless = || NewJob {
        dedup_key: None,
        ..job42()
    };
    let a = s.jobs.enqueue(keyless()).await.unwrap().unwrap();
    let b = s.jobs.enqueue(keyless()).await.unwrap().unwrap();
    assert_ne!(a, b);
    wait_status(s, a, JobStatus::Done, 20).await;
    wait_status(s, b, JobStatus::Done, 20).await;
    assert_eq!(s.jobs.list_jobs(None, 100).await.unwrap().len(), 3);
    assert_eq!(sink.messages().len(), 3);
    server.shutdown().await.unwrap();
    sink.stop().await;
}

/// (f) A job claimed by a worker that died is claimed again once its lease expired; the
/// dead worker can no longer record an outcome. A job abandoned on its last allowed
/// attempt is failed instead of run again.
async fn expired_lease_is_claimed_again(backend: Backend) {
    let sink = Sink::start().await;
    let port = sink.port();
    let extra = settings(&port, &[]);
    let s = common::services(&backend, &extra).await;
    let id = enqueue_invite(&s, 5, &invite("kim@example.com", None)).await;
    let mut last = invite_job(
        &s.config,
        6,
        &invite("lee@example.com", None),
        fulcrum::now_ms(),
    );
    last.max_attempts = 1;
    let last = s.jobs.enqueue(last).await.unwrap().unwrap();

    let now = fulcrum::now_ms();
    let claimed = s
        .jobs
        .claim(
            Lease {
                worker: "dead-worker",
                now,
                ms: 400,
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(claimed.iter().map(|j| j.id).collect::<Vec<_>>(), [id, last]);
    let stale = claimed[0].clone();
    assert_eq!(stale.status, Some(JobStatus::Running));
    assert_eq!(stale.attempts, 1);
    assert_eq!(stale.locked_by.as_deref(), Some("dead-worker"));
    assert_eq!(stale.locked_until, Some(now + 400));
    // Still leased: nobody else gets it, and only the holder may finish it.
    assert!(s
        .jobs
        .claim(
            Lease {
                worker: "other",
                now: now + 100,
                ms: 400
            },
            10
        )
        .await
        .unwrap()
        .is_empty());
    assert!(!s
        .jobs
        .complete(
            AttemptEnd {
                job: &stale,
                worker: "other",
                started_at: now,
                finished_at: now
            },
            false
        )
        .await
        .unwrap());
    assert!(!s
        .jobs
        .fail(
            AttemptEnd {
                job: &stale,
                worker: "other",
                started_at: now,
                finished_at: now
            },
            "x",
            None
        )
        .await
        .unwrap());
    assert!(s.jobs.attempts(id).await.unwrap().is_empty());
    drop(s);

    // The worker "dies" (never completes); a live instance takes over after the lease.
    let server = common::server(&backend, &extra).await;
    let s = &server.services;
    let j = wait_status(s, id, JobStatus::Done, 20).await;
    assert_eq!(j.attempts, 2);
    let attempts = s.jobs.attempts(id).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].attempt, 2);
    assert!(attempts[0].ok);
    assert_ne!(attempts[0].worker, "dead-worker");
    assert!(attempts[0].started_at >= now + 400);
    assert_eq!(sink.messages().len(), 1);

    let l = wait_status(s, last, JobStatus::Failed, 20).await;
    assert!(
        l.last_error.as_deref().unwrap().contains("abandoned"),
        "{l:?}"
    );

    // The dead worker comes back: its outcome is refused and nothing is recorded.
    assert!(!s
        .jobs
        .complete(
            AttemptEnd {
                job: &stale,
                worker: "dead-worker",
                started_at: now,
                finished_at: fulcrum::now_ms()
            },
            false
        )
        .await
        .unwrap());
    assert_eq!(s.jobs.attempts(id).await.unwrap().len(), 1);
    assert_eq!(job(s, id).await.status, Some(JobStatus::Done));

    server.shutdown().await.unwrap();
    sink.stop().await;
}

/// Shutting down lets the worker finish the job in hand.
async fn shutdown_finishes_the_job_in_hand(backend: Backend) {
    let sink = Sink::start_on(0, Duration::from_millis(800)).await;
    let port = sink.port();
    let server = common::server(&backend, &settings(&port, &[])).await;
    let services = server.services.clone();
    let id = enqueue_invite(&services, 3, &invite("kim@example.com", None)).await;
    wait_status(&services, id, JobStatus::Running, 10).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.shutdown().await.unwrap();
    let j = job(&services, id).await;
    assert_eq!(j.status, Some(JobStatus::Done), "{j:?}");
    assert_eq!(sink.messages().len(), 1);
    sink.stop().await;
}

/// (e) Two instances on one PostgreSQL database share the queue: 40 jobs, each delivered
/// exactly once, both instances working.
async fn two_instances_share_the_queue(backend: Backend) {
    let sink = Sink::start_on(0, Duration::from_millis(20)).await;
    let port = sink.port();
    let extra = settings(&port, &[("FULCRUM_JOB_BATCH_SIZE", "2")]);
    let a = common::server(&backend, &extra).await;
    let b = common::server(&backend, &extra).await;
    let mut ids = Vec::new();
    for n in 0..40 {
        let to = format!("user{n}@example.com");
        ids.push(enqueue_invite(&a.services, 100 + n, &invite(&to, None)).await);
    }
    wait_for("40 jobs done", 60, || async {
        let done = a
            .services
            .jobs
            .list_jobs(Some(JobStatus::Done), 100)
            .await
            .unwrap();
        (done.len() == 40).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut per_rcpt: BTreeMap<String, usize> = BTreeMap::new();
    for m in sink.messages() {
        for r in m.rcpt_to {
            *per_rcpt.entry(r).or_default() += 1;
        }
    }
    assert_eq!(per_rcpt.len(), 40);
    assert!(per_rcpt.values().all(|&n| n == 1), "{per_rcpt:?}");

    let mut workers = BTreeMap::new();
    for id in ids {
        let attempts = b.services.jobs.attempts(id).await.unwrap();
        assert_eq!(attempts.len(), 1, "job {id}: {attempts:?}");
        assert!(attempts[0].ok);
        *workers.entry(attempts[0].worker.clone()).or_insert(0) += 1;
    }
    assert_eq!(workers.len(), 2, "both instances worked: {workers:?}");

    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
    sink.stop().await;
}

macro_rules! on_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(Backend::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(Backend::postgres().await).await;
                }
            )*
        }
    };
}

/// The mailed verification link verifies the address once; the delivered job keeps no token.
async fn verification_link_round_trip(backend: Backend) {
    let sink = Sink::start().await;
    let port = sink.port();
    let server = common::server(&backend, &settings(&port, &[])).await;
    let s = &server.services;
    let account = fulcrum::services::accounts::NewAccount {
        username: "min".into(),
        email: "min@example.com".into(),
        name: "Min".into(),
        admin: false,
        password: None,
    };
    let user = s.create_user(&common::console(), account).await.unwrap();
    let actor = fulcrum::services::Actor {
        user,
        auth: fulcrum::services::AuthMethod::Console,
        on_behalf_of: None,
        request: Default::default(),
    };
    s.request_email_verification(&actor).await.unwrap();
    wait_for("the verification mail", 20, || async {
        (!sink.messages().is_empty()).then_some(())
    })
    .await;
    let messages = sink.messages();
    assert_eq!(messages[0].rcpt_to, ["min@example.com".to_string()]);
    let flat = quoted_printable(&messages[0].data.replace("\r\n", "\n"));
    let at = flat
        .find("/verify-email#token=")
        .expect("a verification link");
    let token: String = flat[at + 20..].chars().take(43).collect();
    assert_eq!(token.len(), 43);
    s.verify_email(&token, &Default::default()).await.unwrap();
    let user = s.store.user_by_username("min").await.unwrap().unwrap();
    assert!(user.email_verified_at.is_some());
    assert_eq!(
        s.verify_email(&token, &Default::default())
            .await
            .unwrap_err()
            .code,
        "email_token_invalid",
        "links work once"
    );
    let done = s.jobs.list_jobs(None, 10).await.unwrap();
    assert!(
        done.iter()
            .all(|j| !j.payload.to_string().contains("token=")),
        "delivered mail jobs keep no token"
    );
    server.shutdown().await.unwrap();
}

on_backends!(
    verification_link_round_trip,
    delivers_invitation_mail,
    retries_until_the_server_is_back,
    gives_up_after_max_attempts,
    unconfigured_mail_waits,
    dedup_key_enqueues_once,
    expired_lease_is_claimed_again,
    shutdown_finishes_the_job_in_hand,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_instances_share_the_queue() {
    two_instances_share_the_queue(Backend::postgres().await).await;
}
