//! Conformance of the run store on SQLite and PostgreSQL: projects made on first use, runs
//! upserted without duplicates, streamed lines kept by offset (a replay changes nothing),
//! console lines rewritten in place, each state change recorded once, and the crash sweep
//! exactly once even when two sweeps race.

#[macro_use]
mod common;

use common::Backend;
use fulcrum::store::jobs::DynJobStore;
use fulcrum::store::outbox::NewJob;
use fulcrum::store::LinePage;
use fulcrum::store::{
    AuditEvent, DynStore, Entity, OnTransition, Run, RunFields, RunInfo, RunState, RunUpsert,
    Silence, Stream, StreamLines, StreamWrite, User,
};

on_both_backends!(
    upserts_make_the_project_once_and_update_the_run_in_place,
    streamed_lines_are_kept_by_offset_and_a_replay_changes_nothing,
    exit_codes_end_runs_once_and_stops_become_killed,
    silent_runs_crash_exactly_once_and_come_back_when_they_send,
    reopening_an_ended_run_records_the_transition,
);

fn event(action: &'static str) -> AuditEvent {
    AuditEvent {
        action,
        ..Default::default()
    }
}

async fn open(backend: &Backend) -> (DynStore, User, Entity) {
    let (store, _, user, entity) = open_with_jobs(backend).await;
    (store, user, entity)
}

async fn open_with_jobs(backend: &Backend) -> (DynStore, DynJobStore, User, Entity) {
    let services = common::services(backend, &[]).await;
    let store = services.store.clone();
    let jobs = services.jobs.clone();
    let ada = common::store::create(&store, "ada").await;
    let entity = store.entity_by_name("ada").await.unwrap().unwrap();
    (store, jobs, ada, entity)
}

fn upsert(entity: &Entity, user: &User, project: &str, run: &str, fields: RunFields) -> RunUpsert {
    RunUpsert {
        entity_id: entity.id,
        project: project.into(),
        run: run.into(),
        user_id: user.id,
        fields,
        reopen: true,
        now: fulcrum::now_ms(),
    }
}

async fn new_run(s: &DynStore, e: &Entity, u: &User, name: &str) -> Run {
    let (_, run, inserted) = s
        .upsert_run(
            upsert(e, u, "p", name, RunFields::default()),
            event("run.upsert"),
        )
        .await
        .unwrap();
    assert!(inserted);
    run
}

fn write(run: &Run, lines: Vec<StreamLines>) -> StreamWrite {
    StreamWrite {
        run_id: run.id,
        lines,
        summary: None,
        preempting: false,
        exit_code: None,
        now: fulcrum::now_ms(),
        on_transition: vec![],
    }
}

fn lines(stream: Stream, offset: i64, content: &[&str]) -> StreamLines {
    StreamLines {
        stream,
        offset,
        lines: content.iter().map(|s| s.to_string()).collect(),
        steps: vec![],
    }
}

async fn upserts_make_the_project_once_and_update_the_run_in_place(backend: Backend) {
    let (s, ada, me) = open(&backend).await;
    let fields = RunFields {
        info: RunInfo {
            display_name: Some("first".into()),
            host: Some("box".into()),
            ..Default::default()
        },
        config: Some(r#"{"lr":{"value":0.1}}"#.into()),
        ..Default::default()
    };
    let (p1, r1, inserted) = s
        .upsert_run(
            upsert(&me, &ada, "Vision", "abc123", fields),
            event("run.upsert"),
        )
        .await
        .unwrap();
    assert!(inserted);
    assert_eq!(
        (p1.name.as_str(), p1.entity_name.as_str()),
        ("Vision", "ada")
    );
    assert_eq!(
        (r1.state.as_str(), r1.tags.as_str(), r1.summary.as_str()),
        ("running", "[]", "{}")
    );
    assert_eq!(r1.info.host.as_deref(), Some("box"));

    // Same project in another case, same run: no second project, no second run; only the
    // fields given change.
    let later = RunFields {
        config: Some(r#"{"lr":{"value":0.2}}"#.into()),
        ..Default::default()
    };
    let (p2, r2, inserted) = s
        .upsert_run(
            upsert(&me, &ada, "vision", "abc123", later),
            event("run.upsert"),
        )
        .await
        .unwrap();
    assert!(!inserted);
    assert_eq!((p2.id, r2.id), (p1.id, r1.id));
    assert_eq!(r2.config, r#"{"lr":{"value":0.2}}"#);
    assert_eq!(r2.info.display_name.as_deref(), Some("first"));
    assert_eq!(s.projects(me.id).await.unwrap().len(), 1);
    assert_eq!(
        s.project(me.id, "VISION").await.unwrap().map(|p| p.id),
        Some(p1.id)
    );
    assert_eq!(
        s.run(p1.id, "ABC123").await.unwrap(),
        None,
        "run IDs are case-sensitive"
    );
    let audit = s.recent_audit(100).await.unwrap();
    assert_eq!(audit.iter().filter(|a| a.action == "run.upsert").count(), 2);
}

async fn streamed_lines_are_kept_by_offset_and_a_replay_changes_nothing(backend: Backend) {
    let (s, ada, me) = open(&backend).await;
    let run = new_run(&s, &me, &ada, "r1").await;
    let first = vec![
        lines(
            Stream::History,
            0,
            &[r#"{"_step":0,"loss":1}"#, r#"{"_step":1,"loss":0.5}"#],
        ),
        lines(Stream::Output, 0, &["epoch 1 10%"]),
    ];
    let mut w = write(&run, first);
    w.summary = Some(r#"{"loss":0.5}"#.into());
    s.stream_write(w.clone()).await.unwrap();
    s.stream_write(w).await.unwrap(); // the SDK retried
    let mut next = write(
        &run,
        vec![
            lines(Stream::History, 2, &[r#"{"_step":2,"loss":0.25}"#]),
            lines(Stream::Output, 0, &["epoch 1 100%", "epoch 2 0%"]),
            lines(Stream::Events, 0, &[r#"{"cpu":3}"#]),
        ],
    );
    next.summary = Some(r#"{"loss":0.25}"#.into());
    s.stream_write(next).await.unwrap();

    let numbers = |page: LinePage| {
        let s = s.clone();
        async move {
            let lines = s.run_lines(run.id, page).await.unwrap();
            lines.into_iter().map(|(n, _)| n).collect::<Vec<_>>()
        }
    };
    let history = numbers(LinePage::new(Stream::History, 0, 100)).await;
    assert_eq!(history, vec![0, 1, 2]);
    let output = s
        .run_lines(run.id, LinePage::new(Stream::Output, 0, 100))
        .await
        .unwrap();
    assert_eq!(
        output,
        vec![
            (0, "epoch 1 100%".to_string()),
            (1, "epoch 2 0%".to_string())
        ],
        "a console line is rewritten at its offset (progress bars)"
    );
    let page = s
        .run_lines(run.id, LinePage::new(Stream::History, 1, 1))
        .await
        .unwrap();
    assert_eq!(page, vec![(1, r#"{"_step":1,"loss":0.5}"#.to_string())]);
    let sample = numbers(LinePage::sample(Stream::History, 2, 10)).await;
    assert_eq!(
        sample,
        vec![0, 2],
        "a sample takes every second line from the first"
    );
    let run = s.run_by_id(run.id).await.unwrap().unwrap();
    assert_eq!(
        (run.history_lines, run.events_lines, run.output_lines),
        (3, 1, 2)
    );
    assert_eq!(
        run.summary, r#"{"loss":0.25}"#,
        "the summary is replaced whole"
    );
    assert!(s.run_transitions(run.id).await.unwrap().is_empty());
}

async fn exit_codes_end_runs_once_and_stops_become_killed(backend: Backend) {
    let (s, ada, me) = open(&backend).await;
    let ok = new_run(&s, &me, &ada, "ok").await;
    let bad = new_run(&s, &me, &ada, "bad").await;
    let stopped = new_run(&s, &me, &ada, "stopped").await;
    for (run, code) in [(&ok, 0), (&bad, 3)] {
        let mut end = write(run, vec![]);
        end.exit_code = Some(code);
        let first = s.stream_write(end.clone()).await.unwrap();
        let replay = s.stream_write(end).await.unwrap();
        assert!(first.transition.is_some() && replay.transition.is_none());
    }
    let ok = s.run_by_id(ok.id).await.unwrap().unwrap();
    let bad = s.run_by_id(bad.id).await.unwrap().unwrap();
    assert_eq!((ok.state.as_str(), ok.exit_code), ("finished", Some(0)));
    assert_eq!((bad.state.as_str(), bad.exit_code), ("failed", Some(3)));
    assert!(ok.finished_at.is_some());

    s.request_stop(stopped.id, fulcrum::now_ms(), event("run.stop"))
        .await
        .unwrap();
    let beat = s.stream_write(write(&stopped, vec![])).await.unwrap();
    assert!(
        beat.stopped,
        "the next file_stream answer tells the SDK to stop"
    );
    let mut end = write(&stopped, vec![]);
    end.exit_code = Some(255);
    let ended = s.stream_write(end).await.unwrap();
    let t = ended.transition.unwrap();
    assert_eq!(
        (t.from_state.as_str(), t.to_state.as_str()),
        ("running", "killed")
    );
    // Stopping an ended run changes nothing.
    s.request_stop(ok.id, fulcrum::now_ms(), event("run.stop"))
        .await
        .unwrap();
    assert_eq!(
        s.run_by_id(ok.id).await.unwrap().unwrap().stop_requested_at,
        None
    );
}

async fn silent_runs_crash_exactly_once_and_come_back_when_they_send(backend: Backend) {
    let (s, jobs, ada, me) = open_with_jobs(&backend).await;
    let quiet = new_run(&s, &me, &ada, "quiet").await;
    let live = new_run(&s, &me, &ada, "live").await;
    let mut beat = write(&live, vec![]);
    beat.now = quiet.heartbeat_at + 60_000;
    s.stream_write(beat).await.unwrap();
    let silence = Silence {
        crashed_before: quiet.heartbeat_at + 1,
        preempted_before: 0,
        now: quiet.heartbeat_at + 60_000,
    };
    // Two instances sweeping at the same moment: one transition in all.
    let alert = || {
        vec![OnTransition {
            to: RunState::Crashed,
            job: NewJob {
                kind: "test.crashed",
                payload: serde_json::json!({"what": "crash"}),
                dedup_key: Some("crash".into()),
                max_attempts: 1,
                run_after: 0,
            },
        }]
    };
    let (a, b) = tokio::join!(
        s.sweep_silent_runs(silence, alert()),
        s.sweep_silent_runs(silence, alert())
    );
    let made: Vec<_> = a.unwrap().into_iter().chain(b.unwrap()).collect();
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(
        (made[0].run_id, made[0].to_state.as_str()),
        (quiet.id, "crashed")
    );
    assert!(s
        .sweep_silent_runs(silence, alert())
        .await
        .unwrap()
        .is_empty());
    // the job the crash caused was written once, with the run and transition in it
    let jobs = jobs.list_jobs(None, 100).await.unwrap();
    let crashed: Vec<_> = jobs.iter().filter(|j| j.kind == "test.crashed").collect();
    assert_eq!(crashed.len(), 1, "{jobs:?}");
    assert_eq!(crashed[0].payload["run_id"], quiet.id);
    assert_eq!(crashed[0].payload["transition_id"], made[0].id);
    assert_eq!(
        crashed[0].dedup_key.as_deref(),
        Some(format!("crash:{}", made[0].id).as_str())
    );
    assert_eq!(
        s.run_by_id(live.id).await.unwrap().unwrap().state,
        "running"
    );

    // The crashed run was only silent: its next request brings it back.
    let back = s.stream_write(write(&quiet, vec![])).await.unwrap();
    let t = back.transition.unwrap();
    assert_eq!(
        (t.from_state.as_str(), t.to_state.as_str()),
        ("crashed", "running")
    );
    let states: Vec<String> = s
        .run_transitions(quiet.id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.to_state)
        .collect();
    assert_eq!(states, vec!["crashed", "running"]);

    // A preempting run gets its own, longer grace period, then is preempted.
    let mut mark = write(&live, vec![]);
    mark.preempting = true;
    mark.now = quiet.heartbeat_at + 60_000;
    let t = s.stream_write(mark).await.unwrap().transition.unwrap();
    assert_eq!(t.to_state, "preempting");
    let still = Silence {
        crashed_before: quiet.heartbeat_at + 120_000,
        preempted_before: quiet.heartbeat_at,
        now: quiet.heartbeat_at + 120_000,
    };
    let made = s.sweep_silent_runs(still, vec![]).await.unwrap();
    assert!(
        made.iter().all(|t| t.run_id != live.id),
        "within its grace period: {made:?}"
    );
    let late = Silence {
        preempted_before: quiet.heartbeat_at + 120_000,
        ..still
    };
    let made = s.sweep_silent_runs(late, vec![]).await.unwrap();
    assert!(
        made.iter()
            .any(|t| t.run_id == live.id && t.to_state == "preempted"),
        "{made:?}"
    );
}

async fn reopening_an_ended_run_records_the_transition(backend: Backend) {
    let (s, ada, me) = open(&backend).await;
    let run = new_run(&s, &me, &ada, "again").await;
    let mut end = write(&run, vec![lines(Stream::History, 0, &[r#"{"_step":0}"#])]);
    end.exit_code = Some(1);
    s.stream_write(end).await.unwrap();
    let mut edit = upsert(
        &me,
        &ada,
        "p",
        "again",
        RunFields {
            info: RunInfo {
                notes: Some("edited later".into()),
                ..Default::default()
            },
            ..Default::default()
        },
    );
    edit.reopen = false;
    let (_, edited, _) = s.upsert_run(edit, event("run.upsert")).await.unwrap();
    assert_eq!(edited.state, "failed", "an edit leaves the state alone");
    let (_, resumed, inserted) = s
        .upsert_run(
            upsert(&me, &ada, "p", "again", RunFields::default()),
            event("run.upsert"),
        )
        .await
        .unwrap();
    assert!(!inserted);
    assert_eq!(
        (resumed.state.as_str(), resumed.exit_code),
        ("running", None)
    );
    assert_eq!(resumed.history_lines, 1, "a resumed run keeps its history");
    assert_eq!(resumed.info.notes.as_deref(), Some("edited later"));
    let states: Vec<String> = s
        .run_transitions(run.id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| format!("{}>{}", t.from_state, t.to_state))
        .collect();
    assert_eq!(states, vec!["running>failed", "failed>running"]);
}
