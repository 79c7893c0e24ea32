//! The run surface the SDK uses: `upsertBucket`, `RunResumeStatus` (`model … bucket`),
//! `RunStoppedStatus` / `RunState` (`project … run`) and `stopRun`.

use async_graphql::{Context, InputObject, Object, SimpleObject, ID};

use super::nodes::{ProjectConnection, ProjectEdge, ProjectNode, RunNode};
use super::scalars::JsonString;
use super::{ids, signed_in, IntoGql, Res};
use crate::services::runs::{BucketInput, RunPath};
use crate::store::{RunFields, RunInfo};

#[derive(Default)]
pub struct RunQuery;

#[Object]
impl RunQuery {
    /// A project (W&B's old name for it is "model"); with no entity, the one `upsertBucket`
    /// would choose. Null when it does not exist or the caller may not read it.
    async fn model(
        &self,
        ctx: &Context<'_>,
        name: String,
        entity_name: Option<String>,
    ) -> Res<Option<ProjectNode>> {
        project_node(ctx, name, entity_name).await
    }

    /// The projects of an entity the caller may read (W&B's `models`).
    async fn models(
        &self,
        ctx: &Context<'_>,
        entity_name: Option<String>,
        after: Option<String>,
        #[graphql(default = 50)] first: i32,
    ) -> Res<ProjectConnection> {
        let (rc, actor) = signed_in(ctx)?;
        let all = rc
            .services
            .list_projects(actor, entity_name.as_deref())
            .await
            .gql()?;
        let (edges, page_info) = super::paging::of(all, after.as_deref(), first);
        Ok(ProjectConnection {
            edges: edges
                .into_iter()
                .map(|((entity, project), cursor)| ProjectEdge {
                    node: ProjectNode { entity, project },
                    cursor,
                })
                .collect(),
            page_info,
        })
    }

    async fn project(
        &self,
        ctx: &Context<'_>,
        name: String,
        entity_name: Option<String>,
    ) -> Res<Option<ProjectNode>> {
        project_node(ctx, name, entity_name).await
    }
}

async fn project_node(
    ctx: &Context<'_>,
    name: String,
    entity_name: Option<String>,
) -> Res<Option<ProjectNode>> {
    let (rc, actor) = signed_in(ctx)?;
    let found = rc
        .services
        .project_for(actor, entity_name.as_deref(), &name)
        .await
        .gql()?;
    Ok(found.map(|(entity, project)| ProjectNode { entity, project }))
}

#[derive(InputObject)]
pub struct UpsertBucketInput {
    /// The bucket's node id: edit that run (the Public API's `run.update()`).
    id: Option<String>,
    /// The run ID; a new one is made when absent.
    name: Option<String>,
    group_name: Option<String>,
    model_name: Option<String>,
    entity_name: Option<String>,
    description: Option<String>,
    display_name: Option<String>,
    notes: Option<String>,
    config: Option<JsonString>,
    commit: Option<String>,
    host: Option<String>,
    debug: Option<bool>,
    job_program: Option<String>,
    job_repo: Option<String>,
    job_type: Option<String>,
    state: Option<String>,
    sweep: Option<String>,
    tags: Option<Vec<String>>,
    summary_metrics: Option<JsonString>,
}

impl UpsertBucketInput {
    fn into_service(self) -> Res<BucketInput> {
        let storage_id = match self.id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(raw) => Some(ids::decode("Run", raw).gql()?),
            None => None,
        };
        Ok(BucketInput {
            storage_id,
            name: self.name,
            project: self.model_name,
            entity: self.entity_name,
            tags: self.tags,
            fields: RunFields {
                info: RunInfo {
                    display_name: self.display_name,
                    notes: self.notes.or(self.description),
                    group_name: self.group_name,
                    job_type: self.job_type,
                    host: self.host,
                    program: self.job_program,
                    repo: self.job_repo,
                    commit_sha: self.commit,
                    sweep: self.sweep,
                },
                tags: None,
                config: self.config.map(|c| c.0),
                summary: self.summary_metrics.map(|s| s.0),
            },
        })
    }
}

#[derive(SimpleObject)]
pub struct UpsertBucketPayload {
    bucket: RunNode,
    inserted: bool,
}

/// `entityName`, `projectName`, `runName`: how the SDK names a run in a mutation.
#[derive(InputObject)]
pub struct RunPathInput {
    entity_name: String,
    project_name: String,
    run_name: String,
}

impl RunPathInput {
    pub fn path(&self) -> RunPath<'_> {
        RunPath::new(&self.entity_name, &self.project_name, &self.run_name)
    }
}

#[derive(InputObject)]
pub struct CreateRunFilesInput {
    #[graphql(flatten)]
    run: RunPathInput,
    files: Vec<String>,
}

#[derive(SimpleObject)]
pub struct UploadUrl {
    name: String,
    /// Null for a name this server does not accept; the SDK then skips that file.
    upload_url: Option<String>,
}

#[derive(SimpleObject)]
pub struct CreateRunFilesPayload {
    #[graphql(name = "runID")]
    run_id: ID,
    /// Extra `Name:Value` headers for the PUTs; the URLs carry everything needed.
    upload_headers: Vec<String>,
    files: Vec<UploadUrl>,
}

#[derive(InputObject)]
pub struct StopRunInput {
    id: ID,
}

#[derive(SimpleObject)]
pub struct StopRunPayload {
    success: bool,
}

#[derive(InputObject)]
pub struct DeleteRunInput {
    id: ID,
    /// Runs here have no artifacts; accepted for the SDK's sake.
    delete_artifacts: Option<bool>,
}

#[derive(SimpleObject)]
pub struct DeleteRunPayload {
    client_mutation_id: Option<String>,
}

#[derive(Default)]
pub struct RunMutation;

#[Object]
impl RunMutation {
    /// Creates a run (and its project on first use), resumes it, or edits it.
    async fn upsert_bucket(
        &self,
        ctx: &Context<'_>,
        input: UpsertBucketInput,
    ) -> Res<UpsertBucketPayload> {
        let (rc, actor) = signed_in(ctx)?;
        let (bucket, inserted) = rc
            .services
            .upsert_bucket(actor, input.into_service()?)
            .await
            .gql()?;
        Ok(UpsertBucketPayload {
            bucket: RunNode(bucket),
            inserted,
        })
    }

    /// One signed upload URL per requested file, in order.
    async fn create_run_files(
        &self,
        ctx: &Context<'_>,
        input: CreateRunFilesInput,
    ) -> Res<CreateRunFilesPayload> {
        let (rc, actor) = signed_in(ctx)?;
        let (bucket, files) = rc
            .services
            .create_run_files(actor, input.run.path(), input.files)
            .await
            .gql()?;
        Ok(CreateRunFilesPayload {
            run_id: ID(ids::encode("Run", bucket.run.id)),
            upload_headers: vec![],
            files: files
                .into_iter()
                .map(|(name, upload_url)| UploadUrl { name, upload_url })
                .collect(),
        })
    }

    /// Deletes a run with its history, console and files.
    async fn delete_run(&self, ctx: &Context<'_>, input: DeleteRunInput) -> Res<DeleteRunPayload> {
        let (rc, actor) = signed_in(ctx)?;
        let _ = input.delete_artifacts;
        let id = ids::decode("Run", &input.id).gql()?;
        rc.services.delete_run(actor, id).await.gql()?;
        Ok(DeleteRunPayload {
            client_mutation_id: None,
        })
    }

    /// Asks a live run to stop; its SDK stops at its next `file_stream` answer.
    async fn stop_run(&self, ctx: &Context<'_>, input: StopRunInput) -> Res<StopRunPayload> {
        let (rc, actor) = signed_in(ctx)?;
        let id = ids::decode("Run", &input.id).gql()?;
        rc.services.stop_run(actor, id).await.gql()?;
        Ok(StopRunPayload { success: true })
    }
}
