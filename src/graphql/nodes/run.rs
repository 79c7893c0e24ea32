//! `Project` (W&B's "model") and `Run` (W&B's "bucket"), as the SDK reads them.

use async_graphql::{Context, Object, ID};
use serde_json::Value;

use super::{iso, EntityNode};
use crate::graphql::scalars::JsonString;
use crate::graphql::{ids, request_context, IntoGql, Res};
use crate::services::runs::Bucket;
use crate::store::{Entity, Project, Run, Stream};

pub struct ProjectNode {
    pub entity: Entity,
    pub project: Project,
}

#[Object(name = "Project")]
impl ProjectNode {
    async fn id(&self) -> ID {
        ID(ids::encode("Project", self.project.id))
    }

    async fn name(&self) -> &str {
        &self.project.name
    }

    async fn entity_name(&self) -> &str {
        &self.entity.name
    }

    async fn entity(&self) -> EntityNode {
        EntityNode::new(self.entity.clone())
    }

    async fn created_at(&self) -> String {
        iso(self.project.created_at)
    }

    /// W&B's numeric project id.
    async fn internal_id(&self) -> ID {
        ID(self.project.id.to_string())
    }

    /// One run by its ID; null when it does not exist (`missingOk`) or the caller may not
    /// read it.
    async fn bucket(
        &self,
        ctx: &Context<'_>,
        name: String,
        #[graphql(name = "missingOk", default = true)] _missing_ok: bool,
    ) -> Res<Option<RunNode>> {
        self.find(ctx, &name).await
    }

    async fn run(&self, ctx: &Context<'_>, name: String) -> Res<Option<RunNode>> {
        self.find(ctx, &name).await
    }
}

impl ProjectNode {
    async fn find(&self, ctx: &Context<'_>, name: &str) -> Res<Option<RunNode>> {
        let rc = request_context(ctx)?;
        let found = rc
            .services
            .find_run(
                rc.actor().gql()?,
                &self.entity.name,
                &self.project.name,
                name,
            )
            .await
            .gql()?;
        Ok(found.map(|(bucket, _)| RunNode(bucket)))
    }
}

pub struct RunNode(pub Bucket);

impl RunNode {
    fn run(&self) -> &Run {
        &self.0.run
    }

    /// The last line of a stream as W&B's `…Tail`: a JSON list of JSON-line strings.
    async fn tail(&self, ctx: &Context<'_>, stream: Stream, count: i64) -> Res<String> {
        let rc = request_context(ctx)?;
        let from = (count - 1).max(0);
        let lines = rc
            .services
            .run_lines(&self.0, stream, from, 1)
            .await
            .gql()?;
        let tail: Vec<String> = lines.into_iter().map(|(_, l)| l).collect();
        Ok(Value::from(tail).to_string())
    }
}

#[Object(name = "Run")]
impl RunNode {
    async fn id(&self) -> ID {
        ID(ids::encode("Run", self.run().id))
    }

    /// The run ID (W&B calls a run a bucket and its ID the bucket's name).
    async fn name(&self) -> &str {
        &self.run().name
    }

    async fn display_name(&self) -> Option<&str> {
        self.run().display_name.as_deref()
    }

    async fn description(&self) -> Option<&str> {
        self.run().notes.as_deref()
    }

    async fn notes(&self) -> Option<&str> {
        self.run().notes.as_deref()
    }

    async fn config(&self) -> JsonString {
        JsonString(self.run().config.clone())
    }

    async fn summary_metrics(&self) -> JsonString {
        JsonString(self.run().summary.clone())
    }

    /// Keys of the SDK's own `_wandb` config entry, as a JSON object (the SDK asks for `t`
    /// to tell a started run from one created ahead of time).
    async fn wandb_config(&self, keys: Option<Vec<String>>) -> JsonString {
        let config: Value = serde_json::from_str(&self.run().config).unwrap_or(Value::Null);
        let wandb = &config["_wandb"]["value"];
        let picked: serde_json::Map<String, Value> = match (wandb.as_object(), keys) {
            (Some(all), Some(keys)) => keys
                .into_iter()
                .filter_map(|k| all.get(&k).map(|v| (k, v.clone())))
                .collect(),
            (Some(all), None) => all.clone(),
            (None, _) => serde_json::Map::new(),
        };
        JsonString(Value::Object(picked).to_string())
    }

    async fn sweep_name(&self) -> Option<&str> {
        self.run().sweep.as_deref()
    }

    async fn state(&self) -> &str {
        &self.run().state
    }

    async fn stopped(&self) -> bool {
        self.run().stop_requested_at.is_some()
    }

    async fn exitcode(&self) -> Option<i64> {
        self.run().exit_code
    }

    async fn history_line_count(&self) -> i64 {
        self.run().history_lines
    }

    async fn events_line_count(&self) -> i64 {
        self.run().events_lines
    }

    async fn log_line_count(&self) -> i64 {
        self.run().output_lines
    }

    async fn history_tail(&self, ctx: &Context<'_>) -> Res<String> {
        self.tail(ctx, Stream::History, self.run().history_lines)
            .await
    }

    async fn events_tail(&self, ctx: &Context<'_>) -> Res<String> {
        self.tail(ctx, Stream::Events, self.run().events_lines)
            .await
    }

    async fn tags(&self) -> Vec<String> {
        serde_json::from_str(&self.run().tags).unwrap_or_default()
    }

    async fn group(&self) -> Option<&str> {
        self.run().group_name.as_deref()
    }

    async fn job_type(&self) -> Option<&str> {
        self.run().job_type.as_deref()
    }

    async fn host(&self) -> Option<&str> {
        self.run().host.as_deref()
    }

    async fn commit(&self) -> Option<&str> {
        self.run().commit_sha.as_deref()
    }

    async fn created_at(&self) -> String {
        iso(self.run().created_at)
    }

    async fn heartbeat_at(&self) -> String {
        iso(self.run().heartbeat_at)
    }

    async fn file_count(&self, ctx: &Context<'_>) -> Res<i64> {
        let rc = request_context(ctx)?;
        Ok(rc.services.list_run_files(&self.0).await.gql()?.len() as i64)
    }

    /// The run's files: all, or those named, or those matching `pattern`; 50 a page.
    async fn files(
        &self,
        ctx: &Context<'_>,
        names: Option<Vec<Option<String>>>,
        after: Option<String>,
        #[graphql(default = 50)] first: i32,
        pattern: Option<String>,
    ) -> Res<super::run_file::FileConnection> {
        let rc = request_context(ctx)?;
        let names: Vec<String> = names.unwrap_or_default().into_iter().flatten().collect();
        let files = rc.services.list_run_files(&self.0).await.gql()?;
        let files = files
            .into_iter()
            .filter(|f| names.is_empty() || names.contains(&f.name))
            .filter(|f| {
                pattern
                    .as_deref()
                    .is_none_or(|p| super::run_file::matches_pattern(p, &f.name))
            })
            .collect();
        let first = first.clamp(1, 1000) as usize;
        Ok(super::run_file::page(
            self.0.clone(),
            files,
            first,
            after.as_deref(),
        ))
    }

    async fn project(&self) -> ProjectNode {
        ProjectNode {
            entity: self.0.entity.clone(),
            project: self.0.project.clone(),
        }
    }
}
