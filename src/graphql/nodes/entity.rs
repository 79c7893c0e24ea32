//! `Entity` (a person's namespace or a team), `Member` and `TeamMembership`.

use crate::graphql::Res;
use async_graphql::{Context, Object, SimpleObject, ID};

use super::{ApiKeyNode, InviteNode};
use crate::graphql::scalars::Int64;
use crate::graphql::{gql_error, ids, request_context, signed_in, IntoGql, RequestContext};
use crate::services::access::sees_member_email;
use crate::store::{AccountType, Entity, Membership, Team, User};

#[derive(SimpleObject)]
pub struct Organization {
    pub core_weave_organization_id: Option<String>,
}

#[derive(SimpleObject)]
#[graphql(name = "ProjectStorage")]
pub struct ProjectStorageNode {
    name: String,
    run_count: i64,
    /// Uploaded run files.
    file_bytes: Int64,
    /// Streamed lines (history, system metrics, console), config and summary.
    data_bytes: Int64,
}

#[derive(SimpleObject)]
pub struct EntityStorage {
    /// Largest first.
    projects: Vec<ProjectStorageNode>,
    avatar_bytes: Int64,
    total_bytes: Int64,
    /// Past this, uploads are refused; null without a quota.
    quota_bytes: Option<Int64>,
}

pub struct EntityNode {
    entity: Entity,
    team: tokio::sync::OnceCell<Option<Team>>,
}

impl EntityNode {
    pub fn new(entity: Entity) -> Self {
        Self {
            entity,
            team: tokio::sync::OnceCell::new(),
        }
    }

    pub fn from_team(team: Team) -> Self {
        let entity = Entity::team(team.id, team.name.clone());
        Self {
            entity,
            team: tokio::sync::OnceCell::new_with(Some(Some(team))),
        }
    }

    async fn team(&self, ctx: &Context<'_>) -> Res<Option<&Team>> {
        if !self.entity.is_team {
            return Ok(None);
        }
        let rc = request_context(ctx)?;
        let team = self
            .team
            .get_or_try_init(|| async { rc.services.team(self.entity.id).await })
            .await
            .map_err(gql_error)?;
        Ok(team.as_ref())
    }

    async fn viewer_role_of(&self, rc: &RequestContext) -> Res<Option<String>> {
        if !self.entity.is_team {
            return Ok(None);
        }
        let role = rc
            .services
            .role_in(rc.actor.as_ref(), self.entity.id)
            .await
            .gql()?;
        Ok(role.map(|r| r.as_str().to_string()))
    }
}

#[Object(name = "Entity")]
impl EntityNode {
    async fn id(&self, ctx: &Context<'_>) -> Res<ID> {
        // A personal entity built from its user carries no id until someone asks for it.
        if self.entity.id == 0 {
            let rc = request_context(ctx)?;
            let found = rc.services.entity_named(&self.entity.name).await.gql()?;
            return Ok(ID(ids::encode("Entity", found.map_or(0, |e| e.id))));
        }
        Ok(ID(ids::encode("Entity", self.entity.id)))
    }

    async fn name(&self) -> &str {
        &self.entity.name
    }

    async fn is_team(&self) -> bool {
        self.entity.is_team
    }

    /// `TEAM` or `USER`.
    async fn entity_type(&self) -> &str {
        if self.entity.is_team {
            "TEAM"
        } else {
            "USER"
        }
    }

    /// Whether the name is free; an existing entity's never is.
    async fn available(&self) -> Option<bool> {
        Some(false)
    }

    async fn photo_url(&self) -> Option<String> {
        None
    }

    /// The GitHub organization whose members may join this team; null for none (and for
    /// people's entities).
    async fn github_organization(&self, ctx: &Context<'_>) -> Res<Option<String>> {
        if !self.entity.is_team {
            return Ok(None);
        }
        let rc = request_context(ctx)?;
        rc.services.team_github_org(self.entity.id).await.gql()
    }

    /// W&B Cloud organizations (the SDK asks for a CoreWeave id); a Fulcrum server has none.
    async fn organization(&self) -> Option<Organization> {
        None
    }

    async fn read_only(&self) -> Option<bool> {
        Some(false)
    }

    async fn read_only_admin(&self) -> bool {
        false
    }

    async fn private_only(&self) -> bool {
        false
    }

    /// Bytes stored (run files, streamed lines, config and summary, the profile image);
    /// 0 for callers who may not see it.
    async fn storage_bytes(&self, ctx: &Context<'_>) -> Res<Int64> {
        let rc = request_context(ctx)?;
        let Some(actor) = rc.actor.as_ref() else {
            return Ok(Int64(0));
        };
        Ok(Int64(
            rc.services
                .entity_storage(actor, &self.entity)
                .await
                .map(|r| r.total_bytes)
                .unwrap_or(0),
        ))
    }

    /// What the entity stores, by project, and its quota: for its person, its team's
    /// members and site admins.
    async fn storage(&self, ctx: &Context<'_>) -> Res<EntityStorage> {
        let (rc, actor) = signed_in(ctx)?;
        let report = rc
            .services
            .entity_storage(actor, &self.entity)
            .await
            .gql()?;
        Ok(EntityStorage {
            projects: report
                .projects
                .into_iter()
                .map(|p| ProjectStorageNode {
                    name: p.project,
                    run_count: p.runs,
                    file_bytes: Int64(p.file_bytes),
                    data_bytes: Int64(p.data_bytes),
                })
                .collect(),
            avatar_bytes: Int64(report.avatar_bytes),
            total_bytes: Int64(report.total_bytes),
            quota_bytes: report.quota_bytes.map(Int64),
        })
    }

    /// The Code saving beta switch: a team's, or the person's own setting.
    async fn code_saving_enabled(&self, ctx: &Context<'_>) -> Res<bool> {
        let rc = request_context(ctx)?;
        rc.services.entity_code_saving(&self.entity).await.gql()
    }

    async fn default_access(&self) -> &str {
        "MEMBER"
    }

    async fn is_paid(&self) -> Option<bool> {
        Some(false)
    }

    /// Plan limits as a JSON string; self-hosted Fulcrum has none.
    async fn limits(&self) -> Option<String> {
        Some("{}".into())
    }

    async fn description(&self, ctx: &Context<'_>) -> Res<String> {
        Ok(self
            .team(ctx)
            .await?
            .map(|t| t.description.clone())
            .unwrap_or_default())
    }

    /// `INVITE`, `DOMAIN_DIRECT` or `DOMAIN_REQUEST`.
    async fn join_policy(&self, ctx: &Context<'_>) -> Res<String> {
        Ok(self
            .team(ctx)
            .await?
            .map_or("INVITE".into(), |t| t.join_policy.clone()))
    }

    async fn email_domain(&self, ctx: &Context<'_>) -> Res<Option<String>> {
        Ok(self.team(ctx).await?.and_then(|t| t.email_domain.clone()))
    }

    /// The caller's role in this team, or null.
    async fn viewer_role(&self, ctx: &Context<'_>) -> Res<Option<String>> {
        self.viewer_role_of(request_context(ctx)?).await
    }

    /// Members by join time, so a new service account is last. Members and site admins only.
    async fn members(&self, ctx: &Context<'_>) -> Res<Vec<MemberNode>> {
        let (rc, actor) = signed_in(ctx)?;
        let (members, team_admin) = rc.services.members_of(actor, &self.entity).await.gql()?;
        Ok(members
            .into_iter()
            .map(|membership| MemberNode {
                membership,
                team_admin,
            })
            .collect())
    }

    /// Pending invitations and join requests; team admins only, others see none.
    async fn invites(&self, ctx: &Context<'_>) -> Res<Vec<InviteNode>> {
        let rc = request_context(ctx)?;
        let invites = rc
            .services
            .invites_of(rc.actor.as_ref(), &self.entity)
            .await
            .gql()?;
        Ok(invites.into_iter().map(InviteNode).collect())
    }
}

pub struct MemberNode {
    membership: Membership,
    /// Whether the caller administers the team (sees emails and service-account keys).
    team_admin: bool,
}

#[Object(name = "Member")]
impl MemberNode {
    /// The member's user id (what `deleteInvite` takes to remove a member).
    async fn id(&self) -> ID {
        ID(ids::encode("User", self.membership.user.id))
    }

    async fn username(&self) -> Option<&str> {
        Some(&self.membership.user.username)
    }

    async fn name(&self) -> &str {
        self.membership.user.shown_name()
    }

    async fn email(&self, ctx: &Context<'_>) -> Option<String> {
        let viewer = request_context(ctx).ok().and_then(|rc| rc.actor.as_ref());
        let member = &self.membership.user;
        sees_member_email(viewer, member, self.team_admin).then(|| member.email.clone())
    }

    async fn photo_url(&self) -> Option<String> {
        None
    }

    async fn admin(&self) -> Option<bool> {
        Some(self.membership.role == "admin")
    }

    async fn pending(&self) -> Option<bool> {
        Some(false)
    }

    /// `USER` or `SERVICE`.
    async fn account_type(&self) -> Option<&str> {
        Some(self.membership.user.account_type.as_str())
    }

    async fn role(&self) -> &str {
        &self.membership.role
    }

    /// Keys are stored hashed, so no key can be read back.
    async fn api_key(&self) -> Option<String> {
        None
    }

    async fn description(&self) -> &str {
        &self.membership.description
    }

    /// A service account's keys, for team admins.
    async fn api_keys(&self, ctx: &Context<'_>) -> Res<Vec<ApiKeyNode>> {
        if !self.team_admin || self.membership.user.account_type != AccountType::Service {
            return Ok(vec![]);
        }
        let (rc, actor) = signed_in(ctx)?;
        let keys = rc
            .services
            .list_keys(actor, self.membership.user.id)
            .await
            .gql()?;
        Ok(keys.into_iter().map(ApiKeyNode::listed).collect())
    }
}

#[derive(SimpleObject)]
pub struct TeamMembership {
    pub entity: EntityNode,
    pub role: String,
}

/// The personal entity (people only) then the teams the caller may see.
pub(crate) async fn user_entities(rc: &RequestContext, user: &User) -> Res<Vec<EntityNode>> {
    let entities = rc
        .services
        .entities_of(rc.actor.as_ref(), user)
        .await
        .gql()?;
    Ok(entities.into_iter().map(EntityNode::new).collect())
}

pub(crate) async fn memberships(rc: &RequestContext, user: &User) -> Res<Vec<TeamMembership>> {
    let teams = rc.services.teams_of(rc.actor.as_ref(), user).await.gql()?;
    Ok(teams
        .into_iter()
        .map(|(t, role)| TeamMembership {
            entity: EntityNode::from_team(t),
            role,
        })
        .collect())
}

#[derive(SimpleObject)]
pub struct EntityConnection {
    pub edges: Vec<EntityEdge>,
}

#[derive(SimpleObject)]
pub struct EntityEdge {
    pub node: EntityNode,
}
