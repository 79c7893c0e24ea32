//! Inputs and payloads of the team mutations, named as the SDK sends and reads them.

use async_graphql::{InputObject, SimpleObject};

use super::nodes::{ApiKeyNode, EntityNode, InviteNode, UserNode};

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

impl EntityPayload {
    pub fn of_team(team: crate::store::Team) -> Self {
        EntityPayload {
            entity: Some(EntityNode::from_team(team)),
        }
    }
}

#[derive(SimpleObject)]
pub struct SuccessPayload {
    pub success: bool,
}

impl SuccessPayload {
    pub const DONE: SuccessPayload = SuccessPayload { success: true };
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
