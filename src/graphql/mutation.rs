use async_graphql::{Context, InputObject, Object, SimpleObject};

use super::nodes::{ApiKeyNode, UserNode};
use super::Res;
use super::{ids, signed_in, IntoGql};
use crate::services::accounts::NewAccount;
use crate::store::ProfileField;

#[derive(Default)]
pub struct AccountMutation;

#[derive(InputObject)]
pub struct GenerateApiKeyInput {
    pub description: Option<String>,
    /// Days until the key stops working; never when absent.
    pub expires_in_days: Option<i32>,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct GenerateApiKeyPayload {
    /// `name` holds the full key here, and only here: it is never shown again.
    pub api_key: ApiKeyNode,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
pub struct DeleteApiKeyInput {
    pub id: String,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct DeleteApiKeyPayload {
    pub success: bool,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
pub struct CreateUserInput {
    pub email: String,
    pub admin: Option<bool>,
    pub username: Option<String>,
    pub name: Option<String>,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct CreateUserPayload {
    pub user: UserNode,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateProfileInput {
    pub name: Option<String>,
    pub institution: Option<String>,
    pub bio: Option<String>,
    pub location: Option<String>,
    pub website: Option<String>,
    /// The language of the mails the server sends this person: `en` or `ko`.
    pub language: Option<String>,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateIntroInput {
    /// Markdown.
    pub intro: String,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct UpdateUserPayload {
    pub user: UserNode,
    pub client_mutation_id: Option<String>,
}

#[Object]
impl AccountMutation {
    /// Changes the caller's Profile section fields; absent fields stay as they are.
    async fn update_profile(
        &self,
        ctx: &Context<'_>,
        input: UpdateProfileInput,
    ) -> Res<UpdateUserPayload> {
        let (rc, actor) = signed_in(ctx)?;
        let profile = [
            (ProfileField::Name, input.name),
            (ProfileField::Institution, input.institution),
            (ProfileField::Bio, input.bio),
            (ProfileField::Location, input.location),
            (ProfileField::Website, input.website),
            (ProfileField::Language, input.language),
        ];
        let profile = profile.into_iter().filter_map(|(f, v)| Some((f, v?)));
        rc.services
            .update_profile(actor, profile.collect())
            .await
            .gql()?;
        Ok(UpdateUserPayload {
            user: super::teams::fresh_user(rc, actor.user.id).await?,
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Replaces the caller's intro (Markdown); the server renders and sanitizes it.
    async fn update_intro(
        &self,
        ctx: &Context<'_>,
        input: UpdateIntroInput,
    ) -> Res<UpdateUserPayload> {
        let (rc, actor) = signed_in(ctx)?;
        rc.services.update_intro(actor, &input.intro).await.gql()?;
        Ok(UpdateUserPayload {
            user: super::teams::fresh_user(rc, actor.user.id).await?,
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Creates an API key for the caller.
    async fn generate_api_key(
        &self,
        ctx: &Context<'_>,
        input: GenerateApiKeyInput,
    ) -> Res<GenerateApiKeyPayload> {
        let (rc, actor) = signed_in(ctx)?;
        let name = input.description.unwrap_or_default();
        let (record, full) = rc
            .services
            .generate_key(actor, &name, input.expires_in_days.map(i64::from))
            .await
            .gql()?;
        let mut node = ApiKeyNode::listed(record);
        node.name = full.to_string();
        Ok(GenerateApiKeyPayload {
            api_key: node,
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Revokes a key by node id; owners and site admins only.
    async fn delete_api_key(
        &self,
        ctx: &Context<'_>,
        input: DeleteApiKeyInput,
    ) -> Res<DeleteApiKeyPayload> {
        let (rc, actor) = signed_in(ctx)?;
        let pk = ids::decode("ApiKey", &input.id).gql()?;
        rc.services.revoke_key(actor, pk).await.gql()?;
        Ok(DeleteApiKeyPayload {
            success: true,
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Creates an account (site admins only). Without a username one is derived from the
    /// email. The new person sets a password through a reset.
    async fn create_user(
        &self,
        ctx: &Context<'_>,
        input: CreateUserInput,
    ) -> Res<CreateUserPayload> {
        let (rc, actor) = signed_in(ctx)?;
        let account = NewAccount {
            username: input.username.unwrap_or_default(),
            email: input.email,
            name: input.name.unwrap_or_default(),
            admin: input.admin.unwrap_or(false),
            password: None,
        };
        let user = rc.services.create_user(actor, account).await.gql()?;
        Ok(CreateUserPayload {
            user: UserNode::new(user),
            client_mutation_id: input.client_mutation_id,
        })
    }
}
