//! What only site admins and the operator's console do: list accounts, change server
//! settings, mark an address verified out of band.

use serde_json::json;

use super::{Actor, Services};
use crate::error::ApiError;
use crate::store::User;

use super::api_keys::SETTING_ALLOW_KEY_MINTING;

impl Services {
    /// Whether the store answers, and which backend it is (`/readyz`).
    pub async fn ready(&self) -> Result<&'static str, crate::error::StoreError> {
        self.store.ping().await?;
        Ok(self.store.backend())
    }

    /// Forgets attempt counters whose windows have ended (the sweeper calls it on every
    /// instance; deleting what another instance deleted first is harmless).
    pub async fn prune_rate_limits(&self) -> Result<u64, ApiError> {
        Ok(self.store.limit_prune(crate::now_ms()).await?)
    }

    /// Deletes jobs that finished successfully more than `job_retention_days` ago, a batch
    /// per sweep so that a backlog never makes one long transaction; how many.
    pub async fn prune_done_jobs(&self) -> Result<u64, ApiError> {
        let days = self.config.job_retention_days;
        if days == 0 {
            return Ok(0);
        }
        let before = crate::now_ms() - days * 86_400_000;
        Ok(self.jobs.prune_done(before, 1000).await?)
    }

    /// The account with this username, deleted ones included (for the console).
    pub async fn user_named(&self, username: &str) -> Result<Option<User>, ApiError> {
        if username.len() > crate::validate::USERNAME_MAX {
            return Ok(None);
        }
        Ok(self.store.user_by_username(username).await?)
    }

    pub async fn list_users(&self, actor: &Actor) -> Result<Vec<User>, ApiError> {
        actor.require_admin("list every account")?;
        Ok(self.store.list_users().await?)
    }

    pub async fn set_key_minting_with_key(
        &self,
        actor: &Actor,
        allowed: bool,
    ) -> Result<(), ApiError> {
        actor.require_admin("change server settings")?;
        let value = if allowed { "true" } else { "false" };
        let event = actor
            .audit("setting.change", SETTING_ALLOW_KEY_MINTING.to_string())
            .with(json!({ "value": allowed }));
        self.store
            .change_setting(SETTING_ALLOW_KEY_MINTING, value, event)
            .await?;
        Ok(())
    }

    /// Marks a person's address verified, for operators who check addresses themselves.
    pub async fn mark_email_verified(&self, actor: &Actor, user: &User) -> Result<(), ApiError> {
        actor.require_admin("verify someone's email address")?;
        let now = crate::now_ms();
        self.store.set_email_verified(user.id, Some(now)).await?;
        let event = actor.audit("user.email_verified", &user.username);
        self.store.audit(event, now).await?;
        Ok(())
    }
}
