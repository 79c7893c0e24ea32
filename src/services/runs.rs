//! Runs: `upsertBucket` (create, resume, edit), the reads the SDK makes before it resumes,
//! stopping a run from the web app, and the crash sweeper. Who may read or write a run is
//! decided here (`run_access`), for every transport.

use serde_json::Value;

use super::access::Role;
use super::{Actor, Services};
use crate::error::{ApiError, ErrorCode};
use crate::store::{
    Entity, LinePage, Project, Run, RunFields, RunTransition, RunUpsert, Silence, User,
};
use crate::validate;

/// What `upsertBucket` asks for. `storage_id` (the bucket's node id, sent by the Public
/// API's `run.update()`) names an existing run; otherwise entity, project and run ID do.
#[derive(Debug, Clone, Default)]
pub struct BucketInput {
    pub storage_id: Option<i64>,
    pub name: Option<String>,
    pub project: Option<String>,
    pub entity: Option<String>,
    pub fields: RunFields,
    pub tags: Option<Vec<String>>,
}

/// A run as the SDK names it: `entity/project/run`.
#[derive(Debug, Clone, Copy)]
pub struct RunPath<'a> {
    pub entity: &'a str,
    pub project: &'a str,
    pub run: &'a str,
}

impl<'a> RunPath<'a> {
    pub fn new(entity: &'a str, project: &'a str, run: &'a str) -> Self {
        RunPath {
            entity,
            project,
            run,
        }
    }
}

impl std::fmt::Display for RunPath<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.entity, self.project, self.run)
    }
}

/// A run with where it lives.
#[derive(Debug, Clone)]
pub struct Bucket {
    pub entity: Entity,
    pub project: Project,
    pub run: Run,
}

/// What an actor may do with a run (or with the runs of an entity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RunAccess {
    None,
    Read,
    /// Log to it, edit it, stop it.
    Write,
}

const DEFAULT_PROJECT: &str = "uncategorized";
const MAX_TAGS: usize = 100;
const TAG_MAX: usize = 64;
const TEXT_MAX: usize = 4096;

/// `act` says what was refused ("change this run", "write to the run a/b/c").
fn run_forbidden(actor: &Actor, act: &str) -> ApiError {
    ApiError::forbidden(
        ErrorCode::RunForbidden,
        format!("the account {} may not {act}", actor.user.username),
    )
}

pub(crate) fn run_not_found(path: &str) -> ApiError {
    ApiError::not_found(
        ErrorCode::RunNotFound,
        format!("there is no run {}", validate::echo(path)),
    )
}

/// A JSON object given as a string (`JSONString`), within `max` bytes.
fn json_object(field: &'static str, raw: &str, max: usize) -> Result<String, ApiError> {
    if raw.len() > max {
        return Err(ApiError::validation(
            field,
            ErrorCode::RunTooLarge,
            format!(
                "{field} is {} bytes; this server accepts at most {max}",
                raw.len()
            ),
        ));
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(_)) => Ok(raw.to_string()),
        _ => Err(ApiError::validation(
            field,
            ErrorCode::RunFieldInvalid,
            format!("{field} must be a JSON object"),
        )),
    }
}

fn short_text(field: &'static str, v: Option<String>) -> Result<Option<String>, ApiError> {
    match v {
        Some(s) if s.len() > TEXT_MAX => Err(ApiError::validation(
            field,
            ErrorCode::RunFieldInvalid,
            format!("{field} has at most {TEXT_MAX} bytes"),
        )),
        other => Ok(other),
    }
}

fn tags_json(tags: Vec<String>) -> Result<String, ApiError> {
    if tags.len() > MAX_TAGS
        || tags
            .iter()
            .any(|t| t.is_empty() || t.chars().count() > TAG_MAX)
    {
        return Err(ApiError::validation(
            "tags",
            ErrorCode::RunFieldInvalid,
            format!("a run has at most {MAX_TAGS} tags of 1 to {TAG_MAX} characters"),
        ));
    }
    Ok(Value::from(tags).to_string())
}

/// A new run ID like the SDK's: 8 characters of `[a-z0-9]`.
fn new_run_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..8)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

impl Services {
    /// Read or write access of `user` to the runs of `entity` in general: owners and site
    /// admins for a personal entity; for a team, members and admins write and viewers read.
    pub async fn entity_run_access(
        &self,
        user: &User,
        entity: &Entity,
    ) -> Result<RunAccess, ApiError> {
        if user.is_admin {
            return Ok(RunAccess::Write);
        }
        if !entity.is_team {
            let own = entity.user_id == Some(user.id);
            return Ok(if own {
                RunAccess::Write
            } else {
                RunAccess::None
            });
        }
        let role = self.member_role(entity.id, user.id).await?;
        Ok(match role.as_deref().and_then(Role::parse) {
            Some(r) if r.writes() => RunAccess::Write,
            Some(_) => RunAccess::Read,
            None => RunAccess::None,
        })
    }

    /// Access to one run: writers of the entity read it, but only its own person, the
    /// team's admins, the team's service accounts and site admins write to it, so members
    /// cannot change each other's runs.
    pub async fn run_access(&self, actor: &Actor, b: &Bucket) -> Result<RunAccess, ApiError> {
        let user = &actor.user;
        let general = self.entity_run_access(user, &b.entity).await?;
        if general < RunAccess::Write || user.is_admin || !b.entity.is_team {
            return Ok(general);
        }
        let person = actor.on_behalf_of.as_ref().unwrap_or(user);
        let own = b.run.user_id == Some(person.id) || b.run.user_id == Some(user.id);
        let team_service = user.service_team_id == Some(b.entity.id);
        let role = self.member_role(b.entity.id, user.id).await?;
        let team_admin = role.as_deref().and_then(Role::parse) == Some(Role::Admin);
        Ok(if own || team_service || team_admin {
            RunAccess::Write
        } else {
            RunAccess::Read
        })
    }

    /// The run at `path`, if it exists and the actor may at least read it (a run the actor
    /// may not read is reported as missing).
    pub async fn find_run(
        &self,
        actor: &Actor,
        path: RunPath<'_>,
    ) -> Result<Option<(Bucket, RunAccess)>, ApiError> {
        let Some(entity) = self.entity_by_name(path.entity.trim()).await? else {
            return Ok(None);
        };
        let Some(project) = self.store.project(entity.id, path.project.trim()).await? else {
            return Ok(None);
        };
        let Some(run) = self.store.run(project.id, path.run.trim()).await? else {
            return Ok(None);
        };
        let bucket = Bucket {
            entity,
            project,
            run,
        };
        match self.run_access(actor, &bucket).await? {
            RunAccess::None => Ok(None),
            access => Ok(Some((bucket, access))),
        }
    }

    /// The run at `path` for a reader: `run_not_found` when it is missing or hidden.
    pub(crate) async fn readable_run(
        &self,
        actor: &Actor,
        path: RunPath<'_>,
    ) -> Result<Bucket, ApiError> {
        let found = self.find_run(actor, path).await?;
        found
            .map(|(bucket, _)| bucket)
            .ok_or_else(|| run_not_found(&path.to_string()))
    }

    /// The run at `path` for a writer (logging, adding files, raising alerts: `doing`
    /// says which): missing as for a reader, and `run_forbidden` when it may only be read.
    pub(crate) async fn writable_run(
        &self,
        actor: &Actor,
        path: RunPath<'_>,
        doing: &str,
    ) -> Result<Bucket, ApiError> {
        let found = self.find_run(actor, path).await?;
        match found {
            Some((bucket, RunAccess::Write)) => Ok(bucket),
            Some(_) => {
                let named = validate::echo(&path.to_string());
                Err(run_forbidden(actor, &format!("{doing} the run {named}")))
            }
            None => Err(run_not_found(&path.to_string())),
        }
    }

    async fn bucket_by_storage_id(&self, id: i64) -> Result<Option<Bucket>, ApiError> {
        let Some(run) = self.store.run_by_id(id).await? else {
            return Ok(None);
        };
        let project = self.project_by_id(run.project_id).await?;
        let entity = self.entity_by_id(project.entity_id).await?;
        Ok(entity.map(|entity| Bucket {
            entity,
            project,
            run,
        }))
    }

    async fn project_by_id(&self, project_id: i64) -> Result<Project, ApiError> {
        self.store
            .project_by_id(project_id)
            .await?
            .ok_or_else(|| run_not_found("(project gone)"))
    }

    fn checked_fields(&self, input: &mut BucketInput) -> Result<RunFields, ApiError> {
        let limits = &self.config.runs;
        let mut f = std::mem::take(&mut input.fields);
        f.config = f
            .config
            .map(|c| json_object("config", &c, limits.max_config_bytes))
            .transpose()?;
        f.summary = f
            .summary
            .map(|s| json_object("summaryMetrics", &s, limits.max_summary_bytes))
            .transpose()?;
        f.tags = input.tags.take().map(tags_json).transpose()?;
        f.info.display_name = short_text("displayName", f.info.display_name)?;
        f.info.notes = short_text("notes", f.info.notes)?;
        f.info.group_name = short_text("groupName", f.info.group_name)?;
        f.info.job_type = short_text("jobType", f.info.job_type)?;
        f.info.host = short_text("host", f.info.host)?;
        f.info.program = short_text("program", f.info.program)?;
        f.info.repo = short_text("repo", f.info.repo)?;
        f.info.commit_sha = short_text("commit", f.info.commit_sha)?;
        f.info.sweep = short_text("sweep", f.info.sweep)?;
        Ok(f)
    }

    /// `upsertBucket`: creates the run (and its project on first use) in the entity DESIGN
    /// §4 chooses, resumes it when it exists, or edits a run named by its storage id.
    pub async fn upsert_bucket(
        &self,
        actor: &Actor,
        mut input: BucketInput,
    ) -> Result<(Bucket, bool), ApiError> {
        let fields = self.checked_fields(&mut input)?;
        let (entity, project, run, reopen) = match input.storage_id {
            Some(id) => {
                let bucket = self
                    .bucket_by_storage_id(id)
                    .await?
                    .ok_or_else(|| run_not_found("with this id"))?;
                if self.run_access(actor, &bucket).await? < RunAccess::Write {
                    return Err(run_forbidden(actor, "change this run"));
                }
                (bucket.entity, bucket.project.name, bucket.run.name, false)
            }
            None => {
                let entity = self.resolve_entity(actor, input.entity.as_deref()).await?;
                let project =
                    validate::project_name(input.project.as_deref().unwrap_or(DEFAULT_PROJECT))?;
                let run = match input
                    .name
                    .as_deref()
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                {
                    Some(n) => validate::run_id(n)?,
                    None => new_run_id(),
                };
                match self
                    .find_run(actor, RunPath::new(&entity.name, &project, &run))
                    .await?
                {
                    Some((bucket, access)) if access < RunAccess::Write => {
                        let named = validate::echo(&bucket.run.name);
                        return Err(run_forbidden(actor, &format!("change the run {named}")));
                    }
                    Some(_) => {}
                    // A new run in an entity whose quota is used up is refused here, where
                    // `wandb.init` shows the message, rather than losing its files later.
                    None => {
                        self.storage_room(&entity).await?;
                    }
                }
                (entity, project, run, true)
            }
        };
        let person = actor.on_behalf_of.as_ref().unwrap_or(&actor.user);
        let event = actor
            .audit("run.upsert", format!("{}/{project}/{run}", entity.name))
            .with(serde_json::json!({ "user": person.username }));
        let upsert = RunUpsert {
            entity_id: entity.id,
            project,
            run,
            user_id: person.id,
            fields,
            reopen,
            now: crate::now_ms(),
        };
        let (project, run, inserted) = self.store.upsert_run(upsert, event).await?;
        Ok((
            Bucket {
                entity,
                project,
                run,
            },
            inserted,
        ))
    }

    /// Lines of a run the caller may read (the bucket came from [`Services::find_run`]).
    pub async fn run_lines(
        &self,
        bucket: &Bucket,
        page: LinePage,
    ) -> Result<Vec<(i64, String)>, ApiError> {
        let page = LinePage {
            from: page.from.max(0),
            limit: page.limit.clamp(1, 10_000),
            ..page
        };
        Ok(self.store.run_lines(bucket.run.id, page).await?)
    }

    /// The project `RunResumeStatus` and the Public API look at: in the named entity, or in
    /// the one `upsertBucket` would choose when none is named.
    pub async fn project_for(
        &self,
        actor: &Actor,
        entity: Option<&str>,
        project: &str,
    ) -> Result<Option<(Entity, Project)>, ApiError> {
        let entity = match entity.map(str::trim).filter(|e| !e.is_empty()) {
            Some(name) => match self.entity_by_name(name).await? {
                Some(e) => e,
                None => return Ok(None),
            },
            None => self.resolve_entity(actor, None).await?,
        };
        if self.entity_run_access(&actor.user, &entity).await? == RunAccess::None {
            return Ok(None);
        }
        let project = self.store.project(entity.id, project.trim()).await?;
        Ok(project.map(|p| (entity, p)))
    }

    /// Stop from the web app: the SDK learns it from its next `file_stream` answer.
    pub async fn stop_run(&self, actor: &Actor, storage_id: i64) -> Result<Bucket, ApiError> {
        let bucket = self
            .bucket_by_storage_id(storage_id)
            .await?
            .ok_or_else(|| run_not_found("with this id"))?;
        match self.run_access(actor, &bucket).await? {
            // A run the actor may not read is not theirs to know about.
            RunAccess::None => return Err(run_not_found("with this id")),
            RunAccess::Read => return Err(run_forbidden(actor, "change this run")),
            RunAccess::Write => {}
        }
        let state = crate::store::RunState::parse(&bucket.run.state);
        if state.is_none_or(|s| s.is_final()) {
            return Err(ApiError::conflict(
                "id",
                ErrorCode::RunNotLive,
                format!("the run {} has already ended", bucket.run.name),
            ));
        }
        let target = format!(
            "{}/{}/{}",
            bucket.entity.name, bucket.project.name, bucket.run.name
        );
        let event = actor.audit("run.stop", target);
        self.store
            .request_stop(bucket.run.id, crate::now_ms(), event)
            .await?;
        Ok(bucket)
    }

    /// One pass of the crash sweeper (every instance runs it; each transition happens once).
    pub async fn sweep_silent_runs(&self) -> Result<Vec<RunTransition>, ApiError> {
        let limits = &self.config.runs;
        let now = crate::now_ms();
        let silence = Silence {
            crashed_before: now - limits.heartbeat_timeout_secs * 1000,
            preempted_before: now - limits.preempting_timeout_secs * 1000,
            now,
        };
        let alerts = self.run_alert_jobs(&[crate::store::RunState::Crashed]);
        let made = self.store.sweep_silent_runs(silence, alerts).await?;
        if !made.is_empty() {
            self.job_wake.wake();
        }
        Ok(made)
    }
}
