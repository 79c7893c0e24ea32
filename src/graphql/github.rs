//! Settings → Personal GitHub integration over GraphQL, and a team's GitHub organization.

use async_graphql::{Context, InputObject, Object, SimpleObject};

use super::nodes::{iso, EntityNode};
use super::{signed_in, IntoGql, Res};
use crate::services::github::GithubStatus;

/// The signed-in person's GitHub connection.
#[derive(SimpleObject)]
pub struct GithubConnection {
    /// Whether this server has a GitHub app (else Settings explains how to add one).
    configured: bool,
    connected: bool,
    login: Option<String>,
    avatar_url: Option<String>,
    profile_url: Option<String>,
    /// The organizations the account granted this server, at the last check.
    organizations: Vec<String>,
    connected_at: Option<String>,
    /// GitHub's page for this app, where more organizations are granted.
    grant_url: Option<String>,
}

impl From<GithubStatus> for GithubConnection {
    fn from(s: GithubStatus) -> Self {
        let link = s.link;
        GithubConnection {
            configured: s.configured,
            connected: link.is_some(),
            login: link.as_ref().map(|l| l.login.clone()),
            avatar_url: link
                .as_ref()
                .map(|l| l.avatar_url.clone())
                .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
            profile_url: s.profile_url,
            organizations: link.as_ref().map(|l| l.orgs.clone()).unwrap_or_default(),
            connected_at: link.as_ref().map(|l| iso(l.connected_at)),
            grant_url: s.grant_url,
        }
    }
}

#[derive(Default)]
pub struct GithubQuery;

#[Object]
impl GithubQuery {
    async fn github_connection(&self, ctx: &Context<'_>) -> Res<GithubConnection> {
        let (rc, actor) = signed_in(ctx)?;
        Ok(rc.services.github_status(actor).await.gql()?.into())
    }
}

#[derive(InputObject)]
pub struct SetTeamGithubOrganizationInput {
    entity_name: String,
    /// Members of this GitHub organization may join the team; null or empty stops it.
    organization: Option<String>,
}

#[derive(SimpleObject)]
pub struct SetTeamGithubOrganizationPayload {
    organization: Option<String>,
    entity: EntityNode,
}

#[derive(Default)]
pub struct GithubMutation;

#[Object]
impl GithubMutation {
    /// Revokes this server's access on GitHub and forgets the connected account.
    async fn disconnect_github(&self, ctx: &Context<'_>) -> Res<GithubConnection> {
        let (rc, actor) = signed_in(ctx)?;
        rc.services.disconnect_github(actor).await.gql()?;
        Ok(rc.services.github_status(actor).await.gql()?.into())
    }

    /// Team admins: let members of a GitHub organization join (checked with GitHub when
    /// they join).
    async fn set_team_github_organization(
        &self,
        ctx: &Context<'_>,
        input: SetTeamGithubOrganizationInput,
    ) -> Res<SetTeamGithubOrganizationPayload> {
        let (rc, actor) = signed_in(ctx)?;
        let services = &rc.services;
        let organization = services
            .set_team_github_org(actor, &input.entity_name, input.organization.as_deref())
            .await
            .gql()?;
        let entity = services
            .visible_entity(actor, &input.entity_name)
            .await
            .gql()?;
        Ok(SetTeamGithubOrganizationPayload {
            organization,
            entity: EntityNode::new(entity),
        })
    }
}
