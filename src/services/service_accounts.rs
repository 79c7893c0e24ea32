//! Service accounts: team-owned users without a password, and their keys.

use serde_json::json;

use super::teams::DESCRIPTION;
use super::{Actor, Services};
use crate::error::{ApiError, ErrorCode};
use crate::keys::random_token;
use crate::store::{AccountType, NewServiceAccount, NewUser, User};
use crate::validate;

impl Services {
    /// Creates a service account owned by the team, listed after every existing member.
    pub async fn create_service_account(
        &self,
        actor: &Actor,
        team: &str,
        name: Option<&str>,
        desc: &str,
    ) -> Result<User, ApiError> {
        let team = self.managed_team(actor, team).await?;
        let desc = DESCRIPTION.check(desc)?;
        let base = match name.map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => validate::DISPLAY_NAME.check(n)?,
            None => "service".into(),
        };
        let username = format!(
            "{}-{}-{}",
            team.name,
            base,
            &random_token()[..6].to_lowercase()
        );
        let username: String = username
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .take(validate::USERNAME_MAX)
            .collect();
        let user = NewUser {
            email: format!("{}@service-accounts.invalid", username.to_lowercase()),
            name: if base == "service" {
                desc.chars().take(validate::DISPLAY_NAME_MAX).collect()
            } else {
                base
            },
            username,
            is_admin: false,
            account_type: AccountType::Service,
            password_hash: None,
        };
        let event = actor
            .audit("team.service_account_create", &team.name)
            .with(json!({ "username": user.username }));
        let account = NewServiceAccount {
            team_id: team.id,
            user,
            description: desc,
        };
        Ok(self.store.create_service_account(account, event).await?)
    }

    /// A key for one of the team's service accounts, shown once.
    pub async fn create_service_account_key(
        &self,
        actor: &Actor,
        team: &str,
        service_account_id: i64,
        name: &str,
    ) -> Result<(crate::store::ApiKeyRecord, zeroize::Zeroizing<String>), ApiError> {
        let team = self.managed_team(actor, team).await?;
        let account = self
            .store
            .user_by_id(service_account_id)
            .await?
            .filter(|u| u.service_team_id == Some(team.id))
            .ok_or_else(|| {
                ApiError::not_found(
                    ErrorCode::UserNotFound,
                    "no such service account in this team",
                )
            })?;
        self.mint_key(&account, actor, name, None).await
    }
}
