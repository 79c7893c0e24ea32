//! What the Public API and the run pages read: projects of an entity, a project's runs
//! (filtered, ordered, paged), a run's history by step or sampled, and deleting a run.

use std::collections::HashMap;

use serde_json::Value;

use super::run_query::{check_filter, matches, sort, Row};
use super::runs::{run_not_found, Bucket, RunAccess};
use super::{Actor, Services};
use crate::error::{ApiError, ErrorCode};
use crate::store::{Entity, LinePage, Project, Stream};

/// One page of a project's runs.
pub struct RunPage {
    pub runs: Vec<Bucket>,
    /// Runs that pass the filter, on every page.
    pub total: usize,
    /// Position of the first run of the next page.
    pub next: Option<usize>,
}

const MAX_SAMPLES: i64 = 100_000;

fn samples(n: i64) -> i64 {
    n.clamp(1, MAX_SAMPLES)
}

impl Services {
    /// Projects of an entity (or of the one runs go to when none is named) that the caller
    /// may read; none for an entity they may not.
    pub async fn list_projects(
        &self,
        actor: &Actor,
        entity: Option<&str>,
    ) -> Result<Vec<(Entity, Project)>, ApiError> {
        let entity = match entity.map(str::trim).filter(|e| !e.is_empty()) {
            Some(name) => match self.entity_by_name(name).await? {
                Some(e) => e,
                None => return Ok(vec![]),
            },
            None => self.resolve_entity(actor, None).await?,
        };
        if self.entity_run_access(&actor.user, &entity).await? == RunAccess::None {
            return Ok(vec![]);
        }
        let projects = self.store.projects(entity.id).await?;
        Ok(projects.into_iter().map(|p| (entity.clone(), p)).collect())
    }

    /// A page of the project's runs (the project came from `project_for`, so the caller
    /// may read it), filtered and ordered as the Public API asks.
    pub async fn list_runs(
        &self,
        entity: &Entity,
        project: &Project,
        filters: Option<&str>,
        order: Option<&str>,
        (offset, first): (usize, usize),
    ) -> Result<RunPage, ApiError> {
        let filter: Value = match filters.map(str::trim).filter(|f| !f.is_empty()) {
            Some(raw) => serde_json::from_str(raw).map_err(|_| {
                ApiError::validation(
                    "filters",
                    ErrorCode::RunFieldInvalid,
                    "filters must be JSON",
                )
            })?,
            None => Value::Null,
        };
        check_filter(&filter)?;
        let runs = self.store.project_runs(project.id).await?;
        let mut names: HashMap<i64, String> = HashMap::new();
        for id in runs.iter().filter_map(|r| r.user_id) {
            if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(id) {
                if let Some(user) = self.store.user_by_id(id).await? {
                    slot.insert(user.username);
                }
            }
        }
        let mut rows: Vec<Row<'_>> = runs
            .iter()
            .map(|r| {
                Row::new(
                    r,
                    r.user_id.and_then(|id| names.get(&id)).map(String::as_str),
                )
            })
            .filter(|row| matches(row, &filter))
            .collect();
        sort(&mut rows, order);
        let total = rows.len();
        let page: Vec<Bucket> = rows
            .iter()
            .skip(offset)
            .take(first)
            .map(|row| Bucket {
                entity: entity.clone(),
                project: project.clone(),
                run: row.run.clone(),
            })
            .collect();
        let end = offset + page.len();
        Ok(RunPage {
            runs: page,
            total,
            next: (end < total).then_some(end),
        })
    }

    /// History rows whose `_step` is in `steps` (the SDK's `HistoryPage`).
    pub async fn history_page(
        &self,
        b: &Bucket,
        steps: std::ops::Range<i64>,
        limit: i64,
    ) -> Result<Vec<String>, ApiError> {
        Ok(self
            .store
            .history_by_step(b.run.id, steps, samples(limit))
            .await?)
    }

    /// About `samples` rows spread evenly over a stream (`run.history()` without keys).
    pub async fn sampled_lines(
        &self,
        b: &Bucket,
        stream: Stream,
        n: i64,
    ) -> Result<Vec<String>, ApiError> {
        let count = match stream {
            Stream::History => b.run.history_lines,
            Stream::Events => b.run.events_lines,
            Stream::Output => b.run.output_lines,
        };
        let n = samples(n);
        let stride = (count + n - 1) / n;
        let page = LinePage::sample(stream, stride, n);
        let lines = self.store.run_lines(b.run.id, page).await?;
        Ok(lines.into_iter().map(|(_, l)| l).collect())
    }

    /// W&B's `sampledHistory` for one spec: rows (within `minStep..=maxStep`) that have
    /// every key asked for, with only those keys and `_step`, at most `samples`.
    pub async fn sampled_history(&self, b: &Bucket, spec: &Value) -> Result<Value, ApiError> {
        let keys: Vec<String> = spec["keys"]
            .as_array()
            .map(|k| {
                k.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let min = spec["minStep"].as_i64().unwrap_or(0);
        let max = spec["maxStep"]
            .as_i64()
            .map_or(i64::MAX, |m| m.saturating_add(1));
        let n = samples(spec["samples"].as_i64().unwrap_or(500));
        let rows = self
            .store
            .history_by_step(b.run.id, min..max, MAX_SAMPLES)
            .await?;
        let picked: Vec<Value> = rows
            .iter()
            .filter_map(|line| serde_json::from_str::<serde_json::Map<String, Value>>(line).ok())
            .filter(|row| keys.iter().all(|k| k == "_step" || row.contains_key(k)))
            .map(|row| {
                let mut out = serde_json::Map::new();
                for k in keys.iter().map(String::as_str).chain(["_step"]) {
                    if let Some(v) = row.get(k) {
                        out.insert(k.to_string(), v.clone());
                    }
                }
                Value::Object(out)
            })
            .collect();
        let stride = picked.len().div_ceil(n as usize).max(1);
        Ok(Value::Array(picked.into_iter().step_by(stride).collect()))
    }

    /// A run's `run.alert()` log, newest first (the bucket came from `find_run`).
    pub async fn alerts_of(&self, b: &Bucket) -> Result<Vec<crate::store::RunAlert>, ApiError> {
        Ok(self.store.run_alerts(b.run.id, 100).await?)
    }

    /// The run's alert deliveries (its alert log), oldest first. Owners are shown as
    /// `@username` or the team's name, never an address.
    /// Where the run's alerts went, as far as this reader may know: the team's channels to
    /// every reader, a person's own deliveries (their address, their webhook's host) only
    /// to that person and site admins.
    pub async fn deliveries_of(
        &self,
        actor: &Actor,
        b: &Bucket,
    ) -> Result<Vec<crate::store::Delivery>, ApiError> {
        let mine = crate::store::Owner::User(actor.user.id).key();
        let all = self.store.run_deliveries(b.run.id, 200).await?;
        Ok(all
            .into_iter()
            .filter(|d| {
                actor.user.is_admin || d.info.owner == mine || d.info.owner.starts_with("t:")
            })
            .collect())
    }

    /// `historyKeys`: the last step and the summary's keys with their types.
    pub async fn history_keys(&self, b: &Bucket) -> Result<Value, ApiError> {
        let last = self.store.last_step(b.run.id).await?.unwrap_or(-1);
        let summary: serde_json::Map<String, Value> =
            serde_json::from_str(&b.run.summary).unwrap_or_default();
        let keys: serde_json::Map<String, Value> = summary
            .iter()
            .filter(|(k, _)| !k.starts_with("_wandb"))
            .map(|(k, v)| {
                let ty = match v {
                    Value::Number(_) => "number",
                    Value::String(_) => "string",
                    Value::Bool(_) => "boolean",
                    _ => "map",
                };
                (
                    k.clone(),
                    serde_json::json!({"typeCounts": [{"type": ty, "count": 1}]}),
                )
            })
            .collect();
        Ok(serde_json::json!({ "lastStep": last, "keys": keys }))
    }

    /// Deletes a run with its history, console and files (the Public API's `run.delete()`).
    pub async fn delete_run(&self, actor: &Actor, storage_id: i64) -> Result<(), ApiError> {
        let run = self
            .store
            .run_by_id(storage_id)
            .await?
            .ok_or_else(|| run_not_found("with this id"))?;
        let project = self
            .store
            .project_by_id(run.project_id)
            .await?
            .ok_or_else(|| run_not_found("with this id"))?;
        let entity = self
            .entity_by_id(project.entity_id)
            .await?
            .ok_or_else(|| run_not_found("with this id"))?;
        let bucket = Bucket {
            entity,
            project,
            run,
        };
        match self.run_access(actor, &bucket).await? {
            RunAccess::None => return Err(run_not_found("with this id")),
            RunAccess::Read => {
                return Err(ApiError::forbidden(
                    ErrorCode::RunForbidden,
                    format!(
                        "the account {} may not delete this run",
                        actor.user.username
                    ),
                ))
            }
            RunAccess::Write => {}
        }
        let target = format!(
            "{}/{}/{}",
            bucket.entity.name, bucket.project.name, bucket.run.name
        );
        let blobs = self
            .store
            .delete_run(bucket.run.id, actor.audit("run.delete", target))
            .await?;
        for blob in blobs {
            if let Err(e) = self.run_blobs.delete(&blob).await {
                tracing::warn!(error = %e, "a deleted run's file could not be removed");
            }
        }
        Ok(())
    }
}
