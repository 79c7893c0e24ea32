//! `Project` (W&B's "model"): its runs, filtered and paged as the Public API asks.

use async_graphql::{Context, Object, SimpleObject, ID};

use super::{iso, EntityNode, RunNode, UserNode};
use crate::graphql::paging::{self, PageInfo};
use crate::graphql::scalars::JsonString;
use crate::graphql::{ids, request_context, signed_in, IntoGql, Res};
use crate::services::runs::RunPath;
use crate::store::{Entity, Project};

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

    async fn is_benchmark(&self) -> bool {
        false
    }

    async fn read_only(&self, ctx: &Context<'_>) -> Res<bool> {
        let (rc, actor) = signed_in(ctx)?;
        let access = rc
            .services
            .entity_run_access(&actor.user, &self.entity)
            .await
            .gql()?;
        Ok(access < crate::services::runs::RunAccess::Write)
    }

    /// Who made the project (its first run).
    async fn user(&self, ctx: &Context<'_>) -> Res<Option<UserNode>> {
        let Some(id) = self.project.created_by else {
            return Ok(None);
        };
        let rc = request_context(ctx)?;
        Ok(rc.services.user(id).await.gql()?.map(UserNode::new))
    }

    async fn run_count(&self, ctx: &Context<'_>, filters: Option<JsonString>) -> Res<i64> {
        let page = self.page(ctx, filters, None, None, 0).await?;
        Ok(page.total as i64)
    }

    /// Runs that pass `filters` (W&B's MongoDB-style JSON), in `order` (`-created_at` by
    /// default), `first` at a time after the cursor `after`.
    async fn runs(
        &self,
        ctx: &Context<'_>,
        filters: Option<JsonString>,
        after: Option<String>,
        #[graphql(default = 50)] first: i32,
        order: Option<String>,
    ) -> Res<RunConnection> {
        let offset = paging::start(after.as_deref());
        let page = self
            .page(ctx, filters, order, Some(offset), paging::size(first))
            .await?;
        let (edges, page_info) = paging::edges(page.runs, offset, page.next.is_some());
        Ok(RunConnection {
            edges: edges
                .into_iter()
                .map(|(bucket, cursor)| RunEdge {
                    node: RunNode(bucket),
                    cursor,
                })
                .collect(),
            page_info,
        })
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
        let (rc, actor) = signed_in(ctx)?;
        let found = rc
            .services
            .find_run(
                actor,
                RunPath::new(&self.entity.name, &self.project.name, name),
            )
            .await
            .gql()?;
        Ok(found.map(|(bucket, _)| RunNode(bucket)))
    }
}

impl ProjectNode {
    async fn page(
        &self,
        ctx: &Context<'_>,
        filters: Option<JsonString>,
        order: Option<String>,
        offset: Option<usize>,
        first: usize,
    ) -> Res<crate::services::run_reads::RunPage> {
        let rc = request_context(ctx)?;
        rc.services
            .list_runs(
                &self.entity,
                &self.project,
                filters.as_ref().map(|f| f.0.as_str()),
                order.as_deref(),
                (offset.unwrap_or(0), first),
            )
            .await
            .gql()
    }
}

#[derive(SimpleObject)]
pub struct RunEdge {
    pub node: RunNode,
    pub cursor: String,
}

#[derive(SimpleObject)]
pub struct RunConnection {
    pub edges: Vec<RunEdge>,
    pub page_info: PageInfo,
}

#[derive(SimpleObject)]
pub struct ProjectEdge {
    pub node: ProjectNode,
    pub cursor: String,
}

#[derive(SimpleObject)]
pub struct ProjectConnection {
    pub edges: Vec<ProjectEdge>,
    pub page_info: PageInfo,
}
