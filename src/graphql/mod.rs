//! The one GraphQL schema at `/graphql`, shared by the `wandb` SDK and the web UI. Field and
//! operation names follow W&B's wherever the SDK uses them. The schema is checked in as SDL
//! (`schema/fulcrum.graphql`); a test fails when it changes unnoticed.

mod alert_channels;
mod alerts;
mod beta;
mod cache;
mod github;
mod ids;
mod limits;
mod mutation;
mod nodes;
mod paging;
mod query;
mod runs;
mod scalars;
mod team_inputs;
mod teams;

use std::sync::Arc;

use async_graphql::{EmptySubscription, ErrorExtensions, Schema};

use crate::config::Config;
use crate::error::ApiError;
use crate::services::{Actor, RequestMeta, Services};

/// Every query field; split by area.
#[derive(async_graphql::MergedObject, Default)]
#[graphql(name = "Query")]
pub struct Query(
    query::AccountQuery,
    teams::TeamQuery,
    runs::RunQuery,
    alerts::AlertQuery,
    alert_channels::AlertChannelQuery,
    beta::BetaQuery,
    github::GithubQuery,
);

/// Every mutation; split by area.
#[derive(async_graphql::MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct Mutation(
    mutation::AccountMutation,
    teams::TeamMutation,
    runs::RunMutation,
    alerts::AlertMutation,
    alert_channels::AlertChannelMutation,
    beta::BetaMutation,
    github::GithubMutation,
);

pub type FulcrumSchema = Schema<Query, Mutation, EmptySubscription>;

/// What a resolver returns.
pub(crate) type Res<T> = async_graphql::Result<T>;

/// Per-request context handed to every resolver.
pub struct RequestContext {
    pub services: Arc<Services>,
    pub actor: Option<Actor>,
    pub meta: RequestMeta,
}

impl RequestContext {
    pub fn actor(&self) -> Result<&Actor, ApiError> {
        self.actor.as_ref().ok_or_else(ApiError::unauthenticated)
    }
}

/// Parse depth guards the parser itself against deeply nested documents.
const MAX_RECURSIVE_DEPTH: usize = 64;

pub fn build_schema(config: &Config) -> FulcrumSchema {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .limit_depth(config.graphql_max_depth)
        .limit_complexity(config.graphql_max_complexity)
        .limit_recursive_depth(MAX_RECURSIVE_DEPTH)
        .limit_directives(16)
        .extension(cache::DocumentCache::new(1024))
        .finish()
}

/// The SDL the checked-in schema file must match.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .finish()
        .sdl()
}

pub(crate) fn gql_error(e: ApiError) -> async_graphql::Error {
    let status = e.status.as_u16();
    let field = e.field;
    let retry_after = e.retry_after;
    async_graphql::Error::new(e.message).extend_with(|_, ext| {
        ext.set("code", e.code.as_str());
        ext.set("status", status);
        if let Some(secs) = retry_after {
            ext.set("retry_after", secs);
        }
        if let Some(f) = field {
            ext.set("field", f);
        }
    })
}

pub(crate) trait IntoGql<T> {
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> IntoGql<T> for Result<T, ApiError> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(gql_error)
    }
}

/// The signed-in caller and whose settings they act on: their own (`team` none) or a
/// team's they administer.
pub(crate) async fn acting<'a>(
    ctx: &'a async_graphql::Context<'_>,
    team: Option<&str>,
) -> async_graphql::Result<(&'a RequestContext, &'a Actor, crate::store::Owner)> {
    let (rc, actor) = signed_in(ctx)?;
    let owner = rc.services.acting_owner(actor, team).await.gql()?;
    Ok((rc, actor, owner))
}

/// The request and its signed-in caller; `unauthenticated` when nobody is signed in.
pub(crate) fn signed_in<'a>(
    ctx: &'a async_graphql::Context<'_>,
) -> async_graphql::Result<(&'a RequestContext, &'a Actor)> {
    let rc = request_context(ctx)?;
    Ok((rc, rc.actor().gql()?))
}

pub(crate) fn request_context<'a>(
    ctx: &'a async_graphql::Context<'_>,
) -> async_graphql::Result<&'a RequestContext> {
    ctx.data::<RequestContext>()
}
