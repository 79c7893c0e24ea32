//! `Run` (W&B's "bucket"), as the SDK and the Public API read it.

use async_graphql::{Context, Json, Object, SimpleObject, ID};
use serde_json::Value;

use super::{iso, ProjectNode, UserNode};
use crate::graphql::scalars::{Int64, JsonString};
use crate::graphql::{ids, request_context, signed_in, IntoGql, Res};
use crate::services::runs::Bucket;
use crate::services::runs::RunAccess;
use crate::store::{LinePage, Run, Stream};

#[derive(SimpleObject)]
#[graphql(name = "RunAlert")]
pub struct RunAlertNode {
    title: String,
    text: String,
    severity: String,
    created_at: String,
}

/// One delivery of the run's alert log.
#[derive(SimpleObject)]
#[graphql(name = "AlertDelivery")]
pub struct DeliveryNode {
    /// `runs_finished`, `run_crashed` or `scriptable`.
    event: String,
    /// `email`, `slack` or `webhook`.
    channel: String,
    /// `@username`, `#channel` or the webhook's host.
    target: String,
    title: Option<String>,
    /// `pending`, `running`, `done` or `failed`.
    status: String,
    attempts: i64,
    last_error: Option<String>,
    created_at: String,
    finished_at: Option<String>,
}

#[derive(SimpleObject)]
pub struct ConsoleLine {
    line: i64,
    text: String,
}

#[derive(SimpleObject)]
pub struct ParquetHistory {
    parquet_urls: Vec<String>,
    live_data: Vec<Json<Value>>,
}

pub struct RunNode(pub Bucket);

impl RunNode {
    fn run(&self) -> &Run {
        &self.0.run
    }

    fn github_links(&self, ctx: &Context<'_>) -> Res<Option<(String, Option<String>)>> {
        let rc = request_context(ctx)?;
        let run = self.run();
        Ok(run.info.repo.as_deref().and_then(|repo| {
            rc.services
                .github_web_links(repo, run.info.commit_sha.as_deref())
        }))
    }

    /// The last line of a stream as W&B's `…Tail`: a JSON list of JSON-line strings.
    async fn tail(&self, ctx: &Context<'_>, stream: Stream, count: i64) -> Res<String> {
        let rc = request_context(ctx)?;
        let from = (count - 1).max(0);
        let lines = rc
            .services
            .run_lines(&self.0, LinePage::new(stream, from, 1))
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
        self.run().info.display_name.as_deref()
    }

    async fn description(&self) -> Option<&str> {
        self.run().info.notes.as_deref()
    }

    async fn notes(&self) -> Option<&str> {
        self.run().info.notes.as_deref()
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
        self.run().info.sweep.as_deref()
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
        self.run().info.group_name.as_deref()
    }

    async fn job_type(&self) -> Option<&str> {
        self.run().info.job_type.as_deref()
    }

    async fn host(&self) -> Option<&str> {
        self.run().info.host.as_deref()
    }

    async fn commit(&self) -> Option<&str> {
        self.run().info.commit_sha.as_deref()
    }

    async fn created_at(&self) -> String {
        iso(self.run().created_at)
    }

    async fn finished_at(&self) -> Option<String> {
        self.run().finished_at.map(iso)
    }

    /// Seconds from start to end (or to the last request of a run that has not ended).
    async fn runtime(&self) -> f64 {
        let r = self.run();
        (r.finished_at.unwrap_or(r.heartbeat_at) - r.created_at).max(0) as f64 / 1000.0
    }

    /// The script the SDK ran (`program`) and its git remote.
    async fn program(&self) -> Option<&str> {
        self.run().info.program.as_deref()
    }

    async fn repo(&self) -> Option<&str> {
        self.run().info.repo.as_deref()
    }

    /// The repository's page, when the git remote is on this server's GitHub.
    async fn repo_url(&self, ctx: &Context<'_>) -> Res<Option<String>> {
        Ok(self.github_links(ctx)?.map(|(repo, _)| repo))
    }

    /// The commit's page on GitHub, when the remote is there.
    async fn commit_url(&self, ctx: &Context<'_>) -> Res<Option<String>> {
        Ok(self.github_links(ctx)?.and_then(|(_, commit)| commit))
    }

    /// Console lines from line `offset`, at most `limit` (stdout lines carry an ISO time,
    /// stderr lines start with `ERROR`).
    async fn console_lines(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 0)] offset: i64,
        #[graphql(default = 1000)] limit: i64,
    ) -> Res<Vec<ConsoleLine>> {
        let rc = request_context(ctx)?;
        let lines = rc
            .services
            .run_lines(&self.0, LinePage::new(Stream::Output, offset, limit))
            .await
            .gql()?;
        Ok(lines
            .into_iter()
            .map(|(line, text)| ConsoleLine { line, text })
            .collect())
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
        Ok(super::run_file::page(
            self.0.clone(),
            files,
            first,
            after.as_deref(),
        ))
    }

    async fn read_only(&self, ctx: &Context<'_>) -> Res<bool> {
        let (rc, actor) = signed_in(ctx)?;
        let access = rc.services.run_access(actor, &self.0).await.gql()?;
        Ok(access < RunAccess::Write)
    }

    /// W&B's numeric project id.
    async fn project_id(&self) -> ID {
        ID(self.0.project.id.to_string())
    }

    async fn user(&self, ctx: &Context<'_>) -> Res<Option<UserNode>> {
        let Some(id) = self.run().user_id else {
            return Ok(None);
        };
        let rc = request_context(ctx)?;
        Ok(rc.services.user(id).await.gql()?.map(UserNode::new))
    }

    /// The latest system metrics (the last `wandb-events.jsonl` line).
    async fn system_metrics(&self, ctx: &Context<'_>) -> Res<JsonString> {
        let tail = self
            .tail(ctx, Stream::Events, self.run().events_lines)
            .await?;
        let last: Vec<String> = serde_json::from_str(&tail).unwrap_or_default();
        Ok(JsonString(
            last.into_iter().next().unwrap_or_else(|| "{}".into()),
        ))
    }

    async fn history_keys(&self, ctx: &Context<'_>) -> Res<Json<Value>> {
        let rc = request_context(ctx)?;
        Ok(Json(rc.services.history_keys(&self.0).await.gql()?))
    }

    /// History rows as JSON lines: those with `minStep <= _step < maxStep` (the SDK's
    /// `HistoryPage`), or about `samples` spread over the whole run.
    async fn history(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 500)] samples: i64,
        min_step: Option<Int64>,
        max_step: Option<Int64>,
    ) -> Res<Vec<String>> {
        let rc = request_context(ctx)?;
        let services = &rc.services;
        if min_step.is_none() && max_step.is_none() {
            return services
                .sampled_lines(&self.0, Stream::History, samples)
                .await
                .gql();
        }
        let steps = min_step.map_or(0, |s| s.0)..max_step.map_or(i64::MAX, |s| s.0);
        services.history_page(&self.0, steps, samples).await.gql()
    }

    /// System-metric rows, about `samples` spread over the run.
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 500)] samples: i64,
    ) -> Res<Vec<String>> {
        let rc = request_context(ctx)?;
        rc.services
            .sampled_lines(&self.0, Stream::Events, samples)
            .await
            .gql()
    }

    /// One list of rows per spec (`{"keys": […], "samples": n, "minStep": a, "maxStep": b}`).
    async fn sampled_history(
        &self,
        ctx: &Context<'_>,
        specs: Vec<JsonString>,
    ) -> Res<Vec<Json<Value>>> {
        let rc = request_context(ctx)?;
        let mut out = Vec::with_capacity(specs.len().min(16));
        for spec in specs.into_iter().take(16) {
            let spec: Value = serde_json::from_str(&spec.0).unwrap_or(Value::Null);
            out.push(Json(
                rc.services.sampled_history(&self.0, &spec).await.gql()?,
            ));
        }
        Ok(out)
    }

    /// No history is exported to Parquet here: every row is "live", which the SDK then
    /// reads with `HistoryPage` / `SampledHistoryPage`.
    async fn parquet_history(
        &self,
        #[graphql(name = "liveKeys")] _live_keys: Vec<String>,
    ) -> ParquetHistory {
        ParquetHistory {
            parquet_urls: vec![],
            live_data: vec![],
        }
    }

    /// The run's `run.alert()` calls that were accepted, newest first.
    async fn alerts(&self, ctx: &Context<'_>) -> Res<Vec<RunAlertNode>> {
        let rc = request_context(ctx)?;
        let alerts = rc.services.alerts_of(&self.0).await.gql()?;
        Ok(alerts
            .into_iter()
            .map(|a| RunAlertNode {
                title: a.title,
                text: a.text,
                severity: a.level,
                created_at: iso(a.created_at),
            })
            .collect())
    }

    /// Where the run's alerts went, with each delivery's status.
    async fn alert_deliveries(&self, ctx: &Context<'_>) -> Res<Vec<DeliveryNode>> {
        let (rc, actor) = signed_in(ctx)?;
        let list = rc.services.deliveries_of(actor, &self.0).await.gql()?;
        Ok(list
            .into_iter()
            .map(|d| DeliveryNode {
                event: d.info.event,
                channel: d.info.channel,
                target: d.info.target,
                title: d.info.title,
                status: d.status.unwrap_or_else(|| "done".into()),
                attempts: d.attempts,
                last_error: d.last_error,
                created_at: iso(d.created_at),
                finished_at: d.finished_at.map(iso),
            })
            .collect())
    }

    async fn project(&self) -> ProjectNode {
        ProjectNode {
            entity: self.0.entity.clone(),
            project: self.0.project.clone(),
        }
    }
}
