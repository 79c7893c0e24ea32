//! Projects, runs, their streamed lines and their state changes.

use std::ops::Range;

use async_trait::async_trait;

use super::{audited, enqueue, sql, work, Backend, Exec, Param, Sql, SqlStore};
use crate::error::StoreResult;
use crate::store::rows::{project_cols, run_cols};
use crate::store::runs::*;
use crate::store::AuditEvent;

const PROJECT: &Sql = sql!(
    "SELECT ",
    project_cols!(),
    " FROM projects p JOIN entities e ON e.id = p.entity_id
      WHERE p.entity_id = $1 AND p.name_lower = $2"
);
const PROJECT_BY_ID: &Sql = sql!(
    "SELECT ",
    project_cols!(),
    " FROM projects p JOIN entities e ON e.id = p.entity_id WHERE p.id = $1"
);
const PROJECTS: &Sql = sql!(
    "SELECT ",
    project_cols!(),
    " FROM projects p JOIN entities e ON e.id = p.entity_id
      WHERE p.entity_id = $1 ORDER BY p.name_lower"
);
const RUN: &Sql = sql!(
    "SELECT ",
    run_cols!(),
    " FROM runs r WHERE r.project_id = $1 AND r.name = $2"
);
const RUN_BY_ID: &Sql = sql!("SELECT ", run_cols!(), " FROM runs r WHERE r.id = $1");
const INSERT_PROJECT: &Sql = sql!(
    "INSERT INTO projects (entity_id, name, name_lower, created_by, created_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (entity_id, name_lower) DO NOTHING"
);
const INSERT_RUN: &Sql = sql!(
    "INSERT INTO runs (project_id, name, user_id, display_name, notes, group_name, job_type, host,
        program, repo, commit_sha, sweep, tags, config, summary, created_at, heartbeat_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, COALESCE($13, '[]'),
        COALESCE($14, '{}'), COALESCE($15, '{}'), $16, $16)
     ON CONFLICT (project_id, name) DO NOTHING RETURNING id"
);
const UPDATE_RUN: &Sql = sql!(
    "UPDATE runs SET display_name = COALESCE($2, display_name), notes = COALESCE($3, notes),
        group_name = COALESCE($4, group_name), job_type = COALESCE($5, job_type),
        host = COALESCE($6, host), program = COALESCE($7, program), repo = COALESCE($8, repo),
        commit_sha = COALESCE($9, commit_sha), sweep = COALESCE($10, sweep),
        tags = COALESCE($11, tags), config = COALESCE($12, config),
        summary = COALESCE($13, summary)
      WHERE id = $1"
);
const REOPEN_RUN: &Sql = sql!(
    "UPDATE runs SET state = 'running', exit_code = NULL, finished_at = NULL,
        stop_requested_at = NULL, heartbeat_at = $2 WHERE id = $1"
);
const LOCK_RUN: &Sql = sql!(
    pg: "SELECT state, stop_requested_at, history_lines, events_lines, output_lines FROM runs WHERE id = $1 FOR UPDATE",
    lite: "SELECT state, stop_requested_at, history_lines, events_lines, output_lines FROM runs WHERE id = $1",
);
// A request's lines of one stream go in as one statement: a JSON array of [data, step]
// pairs, line `$3 + i` for the i-th. PostgreSQL saves a round trip per line; SQLite a
// statement step per line.
macro_rules! insert_lines {
    ($on_conflict:literal) => {
        sql!(
            pg: concat!("INSERT INTO run_lines (run_id, stream, line, step, data)
                   SELECT $1, $2, $3 + e.ord - 1, (e.v->>1)::bigint, e.v->>0
                     FROM jsonb_array_elements($4::text::jsonb) WITH ORDINALITY AS e(v, ord)
                   ON CONFLICT (run_id, stream, line) ", $on_conflict),
            lite: concat!("INSERT INTO run_lines (run_id, stream, line, step, data)
                   SELECT $1, $2, $3 + j.key, json_extract(j.value, '$[1]'), json_extract(j.value, '$[0]')
                     FROM json_each($4) AS j WHERE true
                   ON CONFLICT (run_id, stream, line) ", $on_conflict),
        )
    };
}
const APPEND_LINES: &Sql = insert_lines!("DO NOTHING");
const REWRITE_LINES: &Sql = insert_lines!("DO UPDATE SET data = excluded.data");
const APPEND_LINE: &Sql = sql!(
    "INSERT INTO run_lines (run_id, stream, line, step, data) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (run_id, stream, line) DO NOTHING"
);
const REWRITE_LINE: &Sql = sql!(
    "INSERT INTO run_lines (run_id, stream, line, step, data) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (run_id, stream, line) DO UPDATE SET data = excluded.data"
);
const STREAMED: &Sql = sql!(
    "UPDATE runs SET history_lines = $2, events_lines = $3, output_lines = $4,
        summary = COALESCE($5, summary), heartbeat_at = $6, state = $7,
        exit_code = COALESCE($8, exit_code), finished_at = COALESCE($9, finished_at),
        data_bytes = data_bytes + $10
      WHERE id = $1"
);
const INSERT_TRANSITION: &Sql = sql!(
    "INSERT INTO run_transitions (run_id, from_state, to_state, exit_code, at)
     VALUES ($1, $2, $3, $4, $5) RETURNING id, run_id, from_state, to_state, exit_code, at"
);
const RUN_LINES: &Sql = sql!(
    "SELECT line, data FROM run_lines WHERE run_id = $1 AND stream = $2 AND line >= $3
        AND line % $4 = 0 ORDER BY line LIMIT $5"
);
const HISTORY_BY_STEP: &Sql = sql!(
    "SELECT data FROM run_lines WHERE run_id = $1 AND stream = 'history' AND step >= $2 AND step < $3
      ORDER BY step, line LIMIT $4"
);
const LAST_STEP: &Sql =
    sql!("SELECT MAX(step) FROM run_lines WHERE run_id = $1 AND stream = 'history'");
const PROJECT_RUNS: &Sql = sql!(
    "SELECT ",
    run_cols!(),
    " FROM runs r WHERE r.project_id = $1 ORDER BY r.created_at DESC, r.id DESC"
);
const TRANSITIONS: &Sql = sql!(
    "SELECT id, run_id, from_state, to_state, exit_code, at FROM run_transitions
      WHERE run_id = $1 ORDER BY id"
);
const RUN_FILE: &Sql = sql!(
    "SELECT run_id, name, size_bytes, blob, updated_at FROM run_files WHERE run_id = $1 AND name = $2"
);
const RUN_FILES: &Sql = sql!(
    "SELECT run_id, name, size_bytes, blob, updated_at FROM run_files WHERE run_id = $1 ORDER BY name"
);
const REQUEST_STOP: &Sql = sql!(
    "UPDATE runs SET stop_requested_at = COALESCE(stop_requested_at, $2)
      WHERE id = $1 AND state IN ('running', 'preempting', 'crashed', 'preempted')"
);
// The state in the WHERE clause makes each transition happen once: a second instance
// sweeping at the same moment waits for the row lock, then no longer matches.
const SILENT: &Sql = sql!(
    "UPDATE runs SET state = $1 WHERE state = $2 AND heartbeat_at < $3 RETURNING id, exit_code"
);

async fn transition<C: Exec>(
    c: &mut C,
    run_id: i64,
    from: RunState,
    to: RunState,
    exit_code: Option<i64>,
    at: i64,
) -> StoreResult<RunTransition> {
    c.one(
        INSERT_TRANSITION,
        &[&run_id, &from.as_str(), &to.as_str(), &exit_code, &at],
    )
    .await
}

/// The run fields in the order `INSERT_RUN` ($4…$15) and `UPDATE_RUN` ($2…$13) take them.
fn field_args(f: &RunFields) -> [&dyn Param; 12] {
    [
        &f.info.display_name,
        &f.info.notes,
        &f.info.group_name,
        &f.info.job_type,
        &f.info.host,
        &f.info.program,
        &f.info.repo,
        &f.info.commit_sha,
        &f.info.sweep,
        &f.tags,
        &f.config,
        &f.summary,
    ]
}

/// `[[data, step], …]` for one statement's worth of lines.
fn line_pairs(part: &StreamLines) -> String {
    let pairs: Vec<serde_json::Value> = part
        .lines
        .iter()
        .enumerate()
        .map(|(i, line)| serde_json::json!([line, part.steps.get(i).copied().flatten()]))
        .collect();
    serde_json::Value::Array(pairs).to_string()
}

/// Writes the jobs a transition causes, in its transaction.
async fn caused<C: Exec>(c: &mut C, on: &[OnTransition], t: &RunTransition) -> StoreResult<()> {
    for o in on.iter().filter(|o| o.to.as_str() == t.to_state) {
        enqueue(c, &o.for_transition(t), t.at).await?;
    }
    Ok(())
}

fn state_of(raw: &str) -> RunState {
    RunState::parse(raw).unwrap_or(RunState::Running)
}

/// The bytes of a part's lines that lie past the stream's end (`count` lines so far).
fn new_bytes(part: &StreamLines, count: i64) -> i64 {
    let skip = (count - part.offset).clamp(0, part.lines.len() as i64) as usize;
    part.lines[skip..].iter().map(|l| l.len() as i64).sum()
}

#[async_trait]
impl<B: Backend> RunStore for SqlStore<B> {
    async fn project(&self, entity_id: i64, name: &str) -> StoreResult<Option<Project>> {
        self.read_opt(PROJECT, (entity_id, name.to_lowercase()))
            .await
    }

    async fn project_by_id(&self, id: i64) -> StoreResult<Option<Project>> {
        self.read_opt(PROJECT_BY_ID, (id,)).await
    }

    async fn projects(&self, entity_id: i64) -> StoreResult<Vec<Project>> {
        self.read_all(PROJECTS, (entity_id,)).await
    }

    async fn run(&self, project_id: i64, name: &str) -> StoreResult<Option<Run>> {
        self.read_opt(RUN, (project_id, name.to_string())).await
    }

    async fn run_by_id(&self, id: i64) -> StoreResult<Option<Run>> {
        self.read_opt(RUN_BY_ID, (id,)).await
    }

    async fn upsert_run(
        &self,
        u: RunUpsert,
        audit: AuditEvent,
    ) -> StoreResult<(Project, Run, bool)> {
        work!(self, tx, |c| {
            let lower = u.project.to_lowercase();
            c.execute(
                INSERT_PROJECT,
                &[&u.entity_id, &u.project, &lower, &u.user_id, &u.now],
            )
            .await?;
            let project: Project = c.one(PROJECT, &[&u.entity_id, &lower]).await?;
            let fields = field_args(&u.fields);
            let mut args: Vec<&dyn Param> = vec![&project.id, &u.run, &u.user_id];
            args.extend_from_slice(&fields);
            args.push(&u.now);
            let inserted: Option<(i64,)> = c.opt(INSERT_RUN, &args).await?;
            let id = match inserted {
                Some((id,)) => id,
                None => {
                    let run: Run = c.one(RUN, &[&project.id, &u.run]).await?;
                    let mut args: Vec<&dyn Param> = vec![&run.id];
                    args.extend_from_slice(&fields);
                    c.execute(UPDATE_RUN, &args).await?;
                    let from = state_of(&run.state);
                    if u.reopen && from != RunState::Running {
                        c.execute(REOPEN_RUN, &[&run.id, &u.now]).await?;
                        transition(c, run.id, from, RunState::Running, None, u.now).await?;
                    }
                    run.id
                }
            };
            let run: Run = c.one(RUN_BY_ID, &[&id]).await?;
            audited(c, &audit, None, u.now).await?;
            Ok((project, run, inserted.is_some()))
        })
    }

    async fn stream_write(&self, w: StreamWrite) -> StoreResult<StreamOutcome> {
        work!(self, tx, |c| {
            let (state, stop, mut history, mut events, mut output): (
                String,
                Option<i64>,
                i64,
                i64,
                i64,
            ) = c.one(LOCK_RUN, &[&w.run_id]).await?;
            // Storage: only lines past each stream's end count, so a replayed request (the
            // SDK retries) or a rewritten console line adds nothing.
            let mut added: i64 = 0;
            for part in &w.lines {
                let (many, one, count) = match part.stream {
                    Stream::History => (APPEND_LINES, APPEND_LINE, &mut history),
                    Stream::Events => (APPEND_LINES, APPEND_LINE, &mut events),
                    Stream::Output => (REWRITE_LINES, REWRITE_LINE, &mut output),
                };
                if part.lines.is_empty() {
                    continue;
                }
                added += new_bytes(part, *count);
                let stream = part.stream.as_str();
                if c.remote() {
                    let pairs = line_pairs(part);
                    c.execute(many, &[&w.run_id, &stream, &part.offset, &pairs])
                        .await?;
                } else {
                    for (i, line) in part.lines.iter().enumerate() {
                        let at = part.offset + i as i64;
                        let step = part.steps.get(i).copied().flatten();
                        c.execute(one, &[&w.run_id, &stream, &at, &step, line])
                            .await?;
                    }
                }
                *count = (*count).max(part.offset + part.lines.len() as i64);
            }
            let from = state_of(&state);
            let to = from.after_stream(stop.is_some(), w.preempting, w.exit_code);
            let ends = to != from && to.is_final();
            let exit_code = w.exit_code.filter(|_| ends);
            let finished_at = Some(w.now).filter(|_| ends);
            c.execute(
                STREAMED,
                &[
                    &w.run_id,
                    &history,
                    &events,
                    &output,
                    &w.summary,
                    &w.now,
                    &to.as_str(),
                    &exit_code,
                    &finished_at,
                    &added,
                ],
            )
            .await?;
            let transition = if to != from {
                let t = transition(c, w.run_id, from, to, exit_code, w.now).await?;
                caused(c, &w.on_transition, &t).await?;
                Some(t)
            } else {
                None
            };
            Ok(StreamOutcome {
                stopped: stop.is_some(),
                transition,
            })
        })
    }

    async fn run_lines(&self, run_id: i64, page: LinePage) -> StoreResult<Vec<(i64, String)>> {
        let LinePage {
            stream,
            from,
            every,
            limit,
        } = page;
        let args = (run_id, stream.as_str(), from, every.max(1), limit);
        self.read_all(RUN_LINES, args).await
    }

    async fn history_by_step(
        &self,
        run_id: i64,
        steps: Range<i64>,
        limit: i64,
    ) -> StoreResult<Vec<String>> {
        let rows: Vec<(String,)> = self
            .read_all(HISTORY_BY_STEP, (run_id, steps.start, steps.end, limit))
            .await?;
        Ok(rows.into_iter().map(|(d,)| d).collect())
    }

    async fn last_step(&self, run_id: i64) -> StoreResult<Option<i64>> {
        let row: Option<(Option<i64>,)> = self.read_opt(LAST_STEP, (run_id,)).await?;
        Ok(row.and_then(|(s,)| s))
    }

    async fn project_runs(&self, project_id: i64) -> StoreResult<Vec<Run>> {
        self.read_all(PROJECT_RUNS, (project_id,)).await
    }

    async fn delete_run(&self, run_id: i64, audit: AuditEvent) -> StoreResult<Vec<String>> {
        work!(self, tx, |c| {
            let blobs: Vec<(String,)> = c
                .all(
                    sql!("SELECT blob FROM run_files WHERE run_id = $1"),
                    &[&run_id],
                )
                .await?;
            c.execute(sql!("DELETE FROM runs WHERE id = $1"), &[&run_id])
                .await?;
            audited(c, &audit, None, crate::now_ms()).await?;
            Ok(blobs.into_iter().map(|(b,)| b).collect())
        })
    }

    async fn run_transitions(&self, run_id: i64) -> StoreResult<Vec<RunTransition>> {
        self.read_all(TRANSITIONS, (run_id,)).await
    }

    async fn put_run_file(&self, f: RunFile) -> StoreResult<Option<String>> {
        work!(self, tx, |c| {
            let previous: Option<(String,)> = c
                .opt(
                    sql!(pg: "SELECT blob FROM run_files WHERE run_id = $1 AND name = $2 FOR UPDATE",
                         lite: "SELECT blob FROM run_files WHERE run_id = $1 AND name = $2"),
                    &[&f.run_id, &f.name],
                )
                .await?;
            c.execute(
                sql!("INSERT INTO run_files (run_id, name, size_bytes, blob, updated_at) VALUES ($1, $2, $3, $4, $5)
                      ON CONFLICT (run_id, name) DO UPDATE SET size_bytes = excluded.size_bytes,
                        blob = excluded.blob, updated_at = excluded.updated_at"),
                &[&f.run_id, &f.name, &f.size_bytes, &f.blob, &f.updated_at],
            )
            .await?;
            Ok(previous.map(|(b,)| b))
        })
    }

    async fn run_file(&self, run_id: i64, name: &str) -> StoreResult<Option<RunFile>> {
        self.read_opt(RUN_FILE, (run_id, name.to_string())).await
    }

    async fn run_files(&self, run_id: i64) -> StoreResult<Vec<RunFile>> {
        self.read_all(RUN_FILES, (run_id,)).await
    }

    async fn request_stop(&self, run_id: i64, now: i64, audit: AuditEvent) -> StoreResult<()> {
        self.write_audited(REQUEST_STOP, (run_id, now), audit).await
    }

    async fn sweep_silent_runs(
        &self,
        s: Silence,
        on: Vec<OnTransition>,
    ) -> StoreResult<Vec<RunTransition>> {
        work!(self, tx, |c| {
            let mut made = Vec::new();
            for (from, to, before) in [
                (RunState::Running, RunState::Crashed, s.crashed_before),
                (
                    RunState::Preempting,
                    RunState::Preempted,
                    s.preempted_before,
                ),
            ] {
                let silent: Vec<(i64, Option<i64>)> = c
                    .all(SILENT, &[&to.as_str(), &from.as_str(), &before])
                    .await?;
                for (run_id, exit_code) in silent {
                    let t = transition(c, run_id, from, to, exit_code, s.now).await?;
                    caused(c, &on, &t).await?;
                    made.push(t);
                }
            }
            Ok(made)
        })
    }
}
