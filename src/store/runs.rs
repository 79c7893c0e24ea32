//! Projects, runs and what the SDK streams into them (history, system metrics, console
//! lines, summary), and every change of a run's state.

use std::ops::Range;

use async_trait::async_trait;

use super::outbox::NewJob;
use super::AuditEvent;
use crate::error::StoreResult;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: i64,
    pub entity_id: i64,
    pub entity_name: String,
    pub name: String,
    pub created_by: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub id: i64,
    pub project_id: i64,
    /// The run id the SDK shows and puts in URLs (W&B calls it the bucket's name).
    pub name: String,
    /// The person the run belongs to (for a service account: the member it was attributed to).
    pub user_id: Option<i64>,
    pub info: RunInfo,
    /// JSON array of strings.
    pub tags: String,
    /// JSON object in the SDK's `{"key": {"value": …}}` form.
    pub config: String,
    /// JSON object, replaced as a whole by each summary write.
    pub summary: String,
    pub state: String,
    pub exit_code: Option<i64>,
    pub history_lines: i64,
    pub events_lines: i64,
    pub output_lines: i64,
    pub stop_requested_at: Option<i64>,
    pub created_at: i64,
    pub heartbeat_at: i64,
    pub finished_at: Option<i64>,
}

/// What the SDK says about a run besides its data: how it is named and grouped, and where
/// its code and machine were. Each may be unset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunInfo {
    pub display_name: Option<String>,
    pub notes: Option<String>,
    pub group_name: Option<String>,
    pub job_type: Option<String>,
    pub host: Option<String>,
    pub program: Option<String>,
    pub repo: Option<String>,
    pub commit_sha: Option<String>,
    pub sweep: Option<String>,
}

/// The fields `upsertBucket` may set; `None` (here and in `info`) keeps what the run has.
#[derive(Debug, Clone, Default)]
pub struct RunFields {
    pub info: RunInfo,
    pub tags: Option<String>,
    pub config: Option<String>,
    pub summary: Option<String>,
}

/// Creates the project on first use and the run when it does not exist; otherwise updates
/// the fields given.
#[derive(Debug, Clone)]
pub struct RunUpsert {
    pub entity_id: i64,
    pub project: String,
    pub run: String,
    pub user_id: i64,
    pub fields: RunFields,
    /// The SDK is (re)starting this run: an ended run goes back to running. Edits from the
    /// Public API or the web app leave the state alone.
    pub reopen: bool,
    pub now: i64,
}

/// Lines of one stream of a run, from `offset` on.
#[derive(Debug, Clone)]
pub struct StreamLines {
    pub stream: Stream,
    pub offset: i64,
    pub lines: Vec<String>,
    /// History rows' `_step`, line by line (may be shorter: the rest have none).
    pub steps: Vec<Option<i64>>,
}

/// Where a line goes. History and system metrics are append-only (a replayed line is
/// ignored); a console line may be rewritten at its offset (progress bars).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    History,
    Events,
    Output,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::History => "history",
            Stream::Events => "events",
            Stream::Output => "output",
        }
    }
}

/// A page of one stream: its lines from line `from`, at most `limit`, in order; with
/// `every` > 1, only every `every`-th line (an even sample).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinePage {
    pub stream: Stream,
    pub from: i64,
    pub every: i64,
    pub limit: i64,
}

impl LinePage {
    pub fn new(stream: Stream, from: i64, limit: i64) -> Self {
        LinePage {
            stream,
            from,
            every: 1,
            limit,
        }
    }

    pub fn sample(stream: Stream, every: i64, limit: i64) -> Self {
        LinePage {
            every,
            ..LinePage::new(stream, 0, limit)
        }
    }
}

/// One `file_stream` request, applied in one transaction.
#[derive(Debug, Clone)]
pub struct StreamWrite {
    pub run_id: i64,
    pub lines: Vec<StreamLines>,
    pub summary: Option<String>,
    pub preempting: bool,
    /// `complete` with its exit code: the run ends.
    pub exit_code: Option<i64>,
    pub now: i64,
    /// Jobs to write if this request changes the run's state.
    pub on_transition: Vec<OnTransition>,
}

/// A job a change of state causes (an alert), written in the same transaction. The store
/// adds `run_id` and `transition_id` to its payload (an object) and `:<transition id>` to
/// its dedup key, so each transition causes it once.
#[derive(Debug, Clone)]
pub struct OnTransition {
    pub to: RunState,
    pub job: NewJob,
}

impl OnTransition {
    /// The job for one transition that happened.
    pub fn for_transition(&self, t: &RunTransition) -> NewJob {
        let mut job = self.job.clone();
        if let serde_json::Value::Object(map) = &mut job.payload {
            map.insert("run_id".into(), t.run_id.into());
            map.insert("transition_id".into(), t.id.into());
        }
        job.dedup_key = job.dedup_key.map(|k| format!("{k}:{}", t.id));
        job
    }
}

/// What a `file_stream` request found and changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamOutcome {
    /// The run was stopped from the web app: the SDK should stop.
    pub stopped: bool,
    pub transition: Option<RunTransition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunTransition {
    pub id: i64,
    pub run_id: i64,
    pub from_state: String,
    pub to_state: String,
    pub exit_code: Option<i64>,
    pub at: i64,
}

/// A file of a run; its bytes are the blob `blob`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFile {
    pub run_id: i64,
    pub name: String,
    pub size_bytes: i64,
    pub blob: String,
    pub updated_at: i64,
}

/// Runs that went silent: running ones whose last request is older than `crashed_before`,
/// preempting ones older than `preempted_before`.
#[derive(Debug, Clone, Copy)]
pub struct Silence {
    pub crashed_before: i64,
    pub preempted_before: i64,
    pub now: i64,
}

#[async_trait]
pub trait RunStore: Send + Sync {
    /// A project of an entity, by name (case-insensitive).
    async fn project(&self, entity_id: i64, name: &str) -> StoreResult<Option<Project>>;
    async fn project_by_id(&self, id: i64) -> StoreResult<Option<Project>>;
    async fn projects(&self, entity_id: i64) -> StoreResult<Vec<Project>>;
    async fn run(&self, project_id: i64, name: &str) -> StoreResult<Option<Run>>;
    async fn run_by_id(&self, id: i64) -> StoreResult<Option<Run>>;
    /// `upsertBucket`: the project, the run, and whether the run was created.
    async fn upsert_run(
        &self,
        upsert: RunUpsert,
        audit: AuditEvent,
    ) -> StoreResult<(Project, Run, bool)>;
    /// Applies one `file_stream` request: lines by offset (a replay changes nothing), the
    /// summary, the heartbeat, and the state change it causes, with its transition row.
    async fn stream_write(&self, write: StreamWrite) -> StoreResult<StreamOutcome>;
    async fn run_lines(&self, run_id: i64, page: LinePage) -> StoreResult<Vec<(i64, String)>>;
    /// History rows whose `_step` is in `steps`, by step, at most `limit`.
    async fn history_by_step(
        &self,
        run_id: i64,
        steps: Range<i64>,
        limit: i64,
    ) -> StoreResult<Vec<String>>;
    /// The largest `_step` in a run's history.
    async fn last_step(&self, run_id: i64) -> StoreResult<Option<i64>>;
    /// Every run of a project, newest first.
    async fn project_runs(&self, project_id: i64) -> StoreResult<Vec<Run>>;
    /// Deletes a run with its lines and files; returns the blobs to remove.
    async fn delete_run(&self, run_id: i64, audit: AuditEvent) -> StoreResult<Vec<String>>;
    async fn run_transitions(&self, run_id: i64) -> StoreResult<Vec<RunTransition>>;
    /// Records a file (replacing one of the same name); returns the blob it replaced, so
    /// its bytes can be removed.
    async fn put_run_file(&self, file: RunFile) -> StoreResult<Option<String>>;
    async fn run_file(&self, run_id: i64, name: &str) -> StoreResult<Option<RunFile>>;
    async fn run_files(&self, run_id: i64) -> StoreResult<Vec<RunFile>>;
    /// Asks a live run to stop; the SDK learns it from its next `file_stream` answer.
    async fn request_stop(&self, run_id: i64, now: i64, audit: AuditEvent) -> StoreResult<()>;
    /// Marks silent runs crashed (or preempted), each exactly once even with several
    /// instances sweeping at the same time; returns the transitions made.
    async fn sweep_silent_runs(
        &self,
        silence: Silence,
        on_transition: Vec<OnTransition>,
    ) -> StoreResult<Vec<RunTransition>>;
}

/// A run's state, as W&B names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Running,
    Finished,
    Failed,
    Crashed,
    Killed,
    Preempting,
    Preempted,
}

impl RunState {
    pub const ALL: [RunState; 7] = [
        RunState::Running,
        RunState::Finished,
        RunState::Failed,
        RunState::Crashed,
        RunState::Killed,
        RunState::Preempting,
        RunState::Preempted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Finished => "finished",
            RunState::Failed => "failed",
            RunState::Crashed => "crashed",
            RunState::Killed => "killed",
            RunState::Preempting => "preempting",
            RunState::Preempted => "preempted",
        }
    }

    pub fn parse(raw: &str) -> Option<RunState> {
        let raw = raw.trim();
        RunState::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(raw))
    }

    /// Ended by the script itself (or stopped from the web app): only a resume reopens it.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunState::Finished | RunState::Failed | RunState::Killed
        )
    }

    /// The state after a `file_stream` request. The SDK never sends a state: `complete`
    /// with an exit code ends the run; any request revives a crashed or preempted run
    /// (it was only silent); a replayed final request changes nothing.
    pub fn after_stream(self, stop_requested: bool, preempting: bool, exit: Option<i64>) -> Self {
        if self.is_final() {
            return self;
        }
        match exit {
            Some(_) if stop_requested => RunState::Killed,
            Some(0) => RunState::Finished,
            Some(_) => RunState::Failed,
            None if preempting => RunState::Preempting,
            None if self == RunState::Preempting => self,
            None => RunState::Running,
        }
    }
}
