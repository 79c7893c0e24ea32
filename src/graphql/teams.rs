//! Teams in the schema: `entity(name)` (the SDK's `GetTeamEntity`), members, invitations and
//! the team mutations. Every rule lives in `services::teams`; this only translates.

use async_graphql::{Context, InputObject, Object, SimpleObject, ID};

use super::types::{iso, ApiKeyNode, UserNode};
use super::{gql_error, ids, request_context, IntoGql, RequestContext};
use crate::error::ApiError;
use crate::services::Actor;
use crate::store::{AccountType, Entity, Invite, Membership, Team, User};

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
        let entity = Entity {
            id: team.id,
            name: team.name.clone(),
            is_team: true,
            user_id: None,
        };
        Self {
            entity,
            team: tokio::sync::OnceCell::new_with(Some(Some(team))),
        }
    }

    async fn team(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&Team>> {
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

    async fn viewer_role_of(&self, rc: &RequestContext) -> async_graphql::Result<Option<String>> {
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
    async fn id(&self, ctx: &Context<'_>) -> async_graphql::Result<ID> {
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

    async fn read_only(&self) -> Option<bool> {
        Some(false)
    }

    async fn read_only_admin(&self) -> bool {
        false
    }

    async fn private_only(&self) -> bool {
        false
    }

    async fn storage_bytes(&self) -> i32 {
        0
    }

    async fn code_saving_enabled(&self) -> bool {
        false
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

    async fn description(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(self
            .team(ctx)
            .await?
            .map(|t| t.description.clone())
            .unwrap_or_default())
    }

    /// `INVITE`, `DOMAIN_DIRECT` or `DOMAIN_REQUEST`.
    async fn join_policy(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(self
            .team(ctx)
            .await?
            .map_or("INVITE".into(), |t| t.join_policy.clone()))
    }

    async fn email_domain(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        Ok(self.team(ctx).await?.and_then(|t| t.email_domain.clone()))
    }

    /// The caller's role in this team, or null.
    async fn viewer_role(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        self.viewer_role_of(request_context(ctx)?).await
    }

    /// Members by join time, so a new service account is last. Members and site admins only.
    async fn members(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<MemberNode>> {
        let rc = request_context(ctx)?;
        let actor = rc.actor().gql()?;
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
    async fn invites(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<InviteNode>> {
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
        if self.membership.user.name.is_empty() {
            &self.membership.user.username
        } else {
            &self.membership.user.name
        }
    }

    async fn email(&self, ctx: &Context<'_>) -> Option<String> {
        let own = request_context(ctx)
            .ok()
            .and_then(|rc| rc.actor.as_ref())
            .is_some_and(|a| a.user.id == self.membership.user.id);
        let service = self.membership.user.account_type == AccountType::Service;
        ((self.team_admin || own) && !service).then(|| self.membership.user.email.clone())
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
    async fn api_keys(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ApiKeyNode>> {
        if !self.team_admin || self.membership.user.account_type != AccountType::Service {
            return Ok(vec![]);
        }
        let rc = request_context(ctx)?;
        let keys = rc
            .services
            .list_keys(rc.actor().gql()?, self.membership.user.id)
            .await
            .gql()?;
        Ok(keys.into_iter().map(ApiKeyNode::listed).collect())
    }
}

pub struct InviteNode(pub Invite);

#[Object(name = "Invite")]
impl InviteNode {
    async fn id(&self) -> ID {
        ID(ids::encode("Invite", self.0.id))
    }

    /// `INVITE` (sent by a team admin) or `REQUEST` (someone asked to join).
    async fn kind(&self) -> String {
        self.0.kind.to_ascii_uppercase()
    }

    /// Who is invited (username, or email).
    async fn name(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        Ok(self
            .to_user_inner(ctx)
            .await?
            .map(|u| u.username)
            .or_else(|| self.0.email.clone()))
    }

    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }

    async fn role(&self) -> &str {
        &self.0.role
    }

    async fn created_at(&self) -> String {
        iso(self.0.created_at)
    }

    async fn expires_at(&self) -> String {
        iso(self.0.expires_at)
    }

    async fn entity(&self) -> EntityNode {
        EntityNode::new(Entity {
            id: self.0.team_id,
            name: self.0.team_name.clone(),
            is_team: true,
            user_id: None,
        })
    }

    async fn to_user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        Ok(self.to_user_inner(ctx).await?.map(UserNode::new))
    }

    /// Who sent the invitation.
    #[graphql(name = "fromUser")]
    async fn sender(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        let Some(id) = self.0.invited_by else {
            return Ok(None);
        };
        let rc = request_context(ctx)?;
        let user = rc.services.user(id).await.gql()?;
        Ok(user.map(UserNode::new))
    }
}

impl InviteNode {
    async fn to_user_inner(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = self.0.user_id else {
            return Ok(None);
        };
        let rc = request_context(ctx)?;
        rc.services.user(id).await.gql()
    }
}

#[derive(SimpleObject)]
pub struct TeamMembership {
    pub entity: EntityNode,
    pub role: String,
}

/// The personal entity (people only) then the teams the caller may see.
pub(crate) async fn user_entities(
    rc: &RequestContext,
    user: &User,
) -> async_graphql::Result<Vec<EntityNode>> {
    let entities = rc
        .services
        .entities_of(rc.actor.as_ref(), user)
        .await
        .gql()?;
    Ok(entities.into_iter().map(EntityNode::new).collect())
}

pub(crate) async fn memberships(
    rc: &RequestContext,
    user: &User,
) -> async_graphql::Result<Vec<TeamMembership>> {
    let teams = rc.services.teams_of(rc.actor.as_ref(), user).await.gql()?;
    Ok(teams
        .into_iter()
        .map(|(t, role)| TeamMembership {
            entity: EntityNode::from_team(t),
            role,
        })
        .collect())
}

#[derive(Default)]
pub struct TeamQuery;

#[Object]
impl TeamQuery {
    /// The pending invitation behind a mailed link, for its invitee only.
    async fn invite(&self, ctx: &Context<'_>, token: String) -> async_graphql::Result<InviteNode> {
        let rc = request_context(ctx)?;
        let (invite, _) = rc
            .services
            .own_invite(actor(rc)?, None, Some(&token))
            .await
            .gql()?;
        Ok(InviteNode(invite))
    }

    /// A team (members and site admins) or a personal entity (its person and site admins).
    async fn entity(
        &self,
        ctx: &Context<'_>,
        name: String,
    ) -> async_graphql::Result<Option<EntityNode>> {
        let rc = request_context(ctx)?;
        let entity = rc
            .services
            .visible_entity(rc.actor().gql()?, &name)
            .await
            .gql()?;
        Ok(Some(EntityNode::new(entity)))
    }
}

fn actor(rc: &RequestContext) -> async_graphql::Result<&Actor> {
    rc.actor().gql()
}

#[derive(InputObject)]
pub struct CreateTeamInput {
    pub team_name: String,
    pub team_admin_user_name: Option<String>,
    pub description: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateTeamInput {
    pub entity_name: String,
    pub description: Option<String>,
    pub join_policy: Option<String>,
    pub email_domain: Option<String>,
}

#[derive(InputObject)]
pub struct EntityNameInput {
    pub entity_name: String,
}

#[derive(InputObject)]
pub struct CreateInviteInput {
    pub entity_name: String,
    pub email: Option<String>,
    pub username: Option<String>,
    pub admin: Option<bool>,
    pub role: Option<String>,
}

#[derive(InputObject)]
pub struct DeleteInviteInput {
    pub id: Option<String>,
    pub entity_name: Option<String>,
}

#[derive(InputObject)]
pub struct AnswerInviteInput {
    pub id: Option<String>,
    pub token: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateMemberRoleInput {
    pub entity_name: String,
    pub username: String,
    pub role: String,
}

#[derive(InputObject)]
pub struct ResolveJoinRequestInput {
    pub id: String,
    pub approve: bool,
}

#[derive(InputObject)]
pub struct CreateServiceAccountInput {
    pub entity_name: String,
    pub description: String,
    pub name: Option<String>,
}

#[derive(InputObject)]
pub struct CreateServiceAccountApiKeyInput {
    pub entity_name: String,
    pub service_account_id: String,
    pub description: Option<String>,
}

#[derive(InputObject)]
pub struct SetDefaultEntityInput {
    pub entity_name: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateUserSettingsInput {
    pub hide_teams_in_profile: Option<bool>,
}

#[derive(InputObject)]
pub struct VerifyEmailInput {
    pub token: String,
}

#[derive(SimpleObject)]
pub struct EntityPayload {
    pub entity: Option<EntityNode>,
}

#[derive(SimpleObject)]
pub struct SuccessPayload {
    pub success: bool,
}

#[derive(SimpleObject)]
pub struct InvitePayload {
    pub invite: InviteNode,
}

#[derive(SimpleObject)]
pub struct JoinTeamPayload {
    /// The team, when joined directly.
    pub entity: Option<EntityNode>,
    /// The pending request, when an admin must approve.
    pub request: Option<InviteNode>,
}

#[derive(SimpleObject)]
pub struct ServiceAccountPayload {
    pub user: UserNode,
}

#[derive(SimpleObject)]
pub struct ServiceAccountKeyPayload {
    /// `name` holds the full key here, and only here.
    pub api_key: ApiKeyNode,
}

#[derive(SimpleObject)]
pub struct UserPayload {
    pub user: UserNode,
}

async fn team_payload(rc: &RequestContext, name: &str) -> async_graphql::Result<EntityPayload> {
    let entity = rc.services.entity_named(name).await.gql()?;
    Ok(EntityPayload {
        entity: entity.map(EntityNode::new),
    })
}

pub(crate) async fn fresh_user(rc: &RequestContext, id: i64) -> async_graphql::Result<UserNode> {
    let user = rc.services.user(id).await.gql()?;
    user.map(UserNode::new)
        .ok_or_else(|| gql_error(ApiError::not_found("user_not_found", "no such user")))
}

#[derive(Default)]
pub struct TeamMutation;

#[Object]
impl TeamMutation {
    async fn create_team(
        &self,
        ctx: &Context<'_>,
        input: CreateTeamInput,
    ) -> async_graphql::Result<EntityPayload> {
        let rc = request_context(ctx)?;
        let description = input.description.unwrap_or_default();
        let team = rc
            .services
            .create_team(
                actor(rc)?,
                &input.team_name,
                input.team_admin_user_name.as_deref(),
                &description,
                &rc.meta,
            )
            .await
            .gql()?;
        Ok(EntityPayload {
            entity: Some(EntityNode::from_team(team)),
        })
    }

    async fn update_team(
        &self,
        ctx: &Context<'_>,
        input: UpdateTeamInput,
    ) -> async_graphql::Result<EntityPayload> {
        let rc = request_context(ctx)?;
        let team = rc
            .services
            .update_team(
                actor(rc)?,
                &input.entity_name,
                input.description.as_deref(),
                input.join_policy.as_deref(),
                input.email_domain.as_deref(),
                &rc.meta,
            )
            .await
            .gql()?;
        Ok(EntityPayload {
            entity: Some(EntityNode::from_team(team)),
        })
    }

    async fn delete_team(
        &self,
        ctx: &Context<'_>,
        input: EntityNameInput,
    ) -> async_graphql::Result<SuccessPayload> {
        let rc = request_context(ctx)?;
        rc.services
            .delete_team(actor(rc)?, &input.entity_name, &rc.meta)
            .await
            .gql()?;
        Ok(SuccessPayload { success: true })
    }

    /// Invites a person by username or email; `admin: true` means the admin role.
    async fn create_invite(
        &self,
        ctx: &Context<'_>,
        input: CreateInviteInput,
    ) -> async_graphql::Result<InvitePayload> {
        let rc = request_context(ctx)?;
        let who = input.username.or(input.email).unwrap_or_default();
        if who.trim().is_empty() {
            return Err(gql_error(ApiError::validation(
                "username",
                "username_required",
                "name the person to invite",
            )));
        }
        let role = input.role.unwrap_or_else(|| {
            if input.admin.unwrap_or(false) {
                "admin".into()
            } else {
                "member".into()
            }
        });
        let invite = rc
            .services
            .invite(actor(rc)?, &input.entity_name, &who, &role, &rc.meta)
            .await
            .gql()?;
        Ok(InvitePayload {
            invite: InviteNode(invite),
        })
    }

    /// Withdraws an invitation (an `Invite` id) or removes a member (a `User` id).
    async fn delete_invite(
        &self,
        ctx: &Context<'_>,
        input: DeleteInviteInput,
    ) -> async_graphql::Result<SuccessPayload> {
        let rc = request_context(ctx)?;
        let id = input.id.unwrap_or_default();
        if let Ok(invite_id) = ids::decode("Invite", &id) {
            rc.services
                .cancel_invite(actor(rc)?, invite_id, &rc.meta)
                .await
                .gql()?;
            return Ok(SuccessPayload { success: true });
        }
        let user_id = ids::decode("User", &id).gql()?;
        let team = input.entity_name.ok_or_else(|| {
            gql_error(ApiError::validation(
                "entityName",
                "entity_required",
                "name the team to remove the member from",
            ))
        })?;
        rc.services
            .remove_member(actor(rc)?, &team, user_id, &rc.meta)
            .await
            .gql()?;
        Ok(SuccessPayload { success: true })
    }

    async fn accept_invite(
        &self,
        ctx: &Context<'_>,
        input: AnswerInviteInput,
    ) -> async_graphql::Result<EntityPayload> {
        let rc = request_context(ctx)?;
        let id = input
            .id
            .as_deref()
            .map(|i| ids::decode("Invite", i))
            .transpose()
            .gql()?;
        let invite = rc
            .services
            .answer_invite(actor(rc)?, id, input.token.as_deref(), true, &rc.meta)
            .await
            .gql()?;
        team_payload(rc, &invite.team_name).await
    }

    async fn decline_invite(
        &self,
        ctx: &Context<'_>,
        input: AnswerInviteInput,
    ) -> async_graphql::Result<SuccessPayload> {
        let rc = request_context(ctx)?;
        let id = input
            .id
            .as_deref()
            .map(|i| ids::decode("Invite", i))
            .transpose()
            .gql()?;
        rc.services
            .answer_invite(actor(rc)?, id, input.token.as_deref(), false, &rc.meta)
            .await
            .gql()?;
        Ok(SuccessPayload { success: true })
    }

    async fn update_member_role(
        &self,
        ctx: &Context<'_>,
        input: UpdateMemberRoleInput,
    ) -> async_graphql::Result<EntityPayload> {
        let rc = request_context(ctx)?;
        rc.services
            .set_member_role(
                actor(rc)?,
                &input.entity_name,
                &input.username,
                &input.role,
                &rc.meta,
            )
            .await
            .gql()?;
        team_payload(rc, &input.entity_name).await
    }

    async fn leave_team(
        &self,
        ctx: &Context<'_>,
        input: EntityNameInput,
    ) -> async_graphql::Result<SuccessPayload> {
        let rc = request_context(ctx)?;
        let a = actor(rc)?;
        rc.services
            .remove_member(a, &input.entity_name, a.user.id, &rc.meta)
            .await
            .gql()?;
        Ok(SuccessPayload { success: true })
    }

    async fn join_team(
        &self,
        ctx: &Context<'_>,
        input: EntityNameInput,
    ) -> async_graphql::Result<JoinTeamPayload> {
        let rc = request_context(ctx)?;
        match rc
            .services
            .join_team(actor(rc)?, &input.entity_name, &rc.meta)
            .await
            .gql()?
        {
            Some(request) => Ok(JoinTeamPayload {
                entity: None,
                request: Some(InviteNode(request)),
            }),
            None => Ok(JoinTeamPayload {
                entity: team_payload(rc, &input.entity_name).await?.entity,
                request: None,
            }),
        }
    }

    async fn resolve_join_request(
        &self,
        ctx: &Context<'_>,
        input: ResolveJoinRequestInput,
    ) -> async_graphql::Result<SuccessPayload> {
        let rc = request_context(ctx)?;
        let id = ids::decode("Invite", &input.id).gql()?;
        rc.services
            .resolve_join_request(actor(rc)?, id, input.approve, &rc.meta)
            .await
            .gql()?;
        Ok(SuccessPayload { success: true })
    }

    async fn create_service_account(
        &self,
        ctx: &Context<'_>,
        input: CreateServiceAccountInput,
    ) -> async_graphql::Result<ServiceAccountPayload> {
        let rc = request_context(ctx)?;
        let user = rc
            .services
            .create_service_account(
                actor(rc)?,
                &input.entity_name,
                input.name.as_deref(),
                &input.description,
                &rc.meta,
            )
            .await
            .gql()?;
        Ok(ServiceAccountPayload {
            user: UserNode::new(user),
        })
    }

    async fn create_service_account_api_key(
        &self,
        ctx: &Context<'_>,
        input: CreateServiceAccountApiKeyInput,
    ) -> async_graphql::Result<ServiceAccountKeyPayload> {
        let rc = request_context(ctx)?;
        let id = ids::decode("User", &input.service_account_id).gql()?;
        let name = input.description.unwrap_or_default();
        let (record, full) = rc
            .services
            .create_service_account_key(actor(rc)?, &input.entity_name, id, &name, &rc.meta)
            .await
            .gql()?;
        let mut node = ApiKeyNode::listed(record);
        node.name = full.to_string();
        Ok(ServiceAccountKeyPayload { api_key: node })
    }

    /// Chooses the default team; null (or the person's own name) means the personal entity.
    async fn set_default_entity(
        &self,
        ctx: &Context<'_>,
        input: SetDefaultEntityInput,
    ) -> async_graphql::Result<UserPayload> {
        let rc = request_context(ctx)?;
        let a = actor(rc)?;
        rc.services
            .set_default_entity(a, input.entity_name.as_deref(), &rc.meta)
            .await
            .gql()?;
        Ok(UserPayload {
            user: fresh_user(rc, a.user.id).await?,
        })
    }

    async fn update_user_settings(
        &self,
        ctx: &Context<'_>,
        input: UpdateUserSettingsInput,
    ) -> async_graphql::Result<UserPayload> {
        let rc = request_context(ctx)?;
        let a = actor(rc)?;
        if let Some(hide) = input.hide_teams_in_profile {
            rc.services.set_hide_teams(a, hide, &rc.meta).await.gql()?;
        }
        Ok(UserPayload {
            user: fresh_user(rc, a.user.id).await?,
        })
    }

    /// Mails a verification link to the caller's address.
    async fn request_email_verification(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<SuccessPayload> {
        let rc = request_context(ctx)?;
        rc.services
            .request_email_verification(actor(rc)?, &rc.meta)
            .await
            .gql()?;
        Ok(SuccessPayload { success: true })
    }

    async fn verify_email(
        &self,
        ctx: &Context<'_>,
        input: VerifyEmailInput,
    ) -> async_graphql::Result<SuccessPayload> {
        let rc = request_context(ctx)?;
        rc.services.verify_email(&input.token).await.gql()?;
        Ok(SuccessPayload { success: true })
    }
}
