//! Settings → Delete account, and what follows: at once sign-in is refused, every key and
//! session is revoked, the public profile is gone and teams where the person was alone are
//! deleted; after `account_purge_days` a job purges the personal entity's runs and files and
//! the avatar, and frees the username and email address. Until then a site admin may
//! restore the account (`fulcrum admin restore-user`).

use serde_json::json;
use zeroize::Zeroizing;

use super::{Actor, Services};
use crate::error::{ApiError, ErrorCode, StoreError};
use crate::jobs::lifecycle::{AccountLifecycle, PurgeAccount};
use crate::jobs::security_mail::SecurityChange;
use crate::jobs::{JobError, JobKind};
use crate::store::lifecycle::{AccountDeletion, DeletionCheck, Removed};
use crate::store::AuditEvent;

const DAY_MS: i64 = 86_400_000;

fn last_admin(teams: &[String]) -> ApiError {
    ApiError::conflict(
        "teams",
        ErrorCode::LastTeamAdmin,
        format!(
            "you are the last admin of {}, which have other members; make someone else an admin or delete those teams first",
            teams.join(", ")
        ),
    )
}

fn last_site_admin() -> ApiError {
    ApiError::conflict(
        "account",
        ErrorCode::LastSiteAdmin,
        "you are this server's only site admin; make someone else an admin first (fulcrum admin create-user --admin)",
    )
}

impl Services {
    /// What deleting the account would do to the person's teams.
    pub async fn account_deletion_check(&self, actor: &Actor) -> Result<DeletionCheck, ApiError> {
        Ok(self.store.deletion_check(actor.user.id).await?)
    }

    /// Deletes the signed-in person's account; they type their password and username.
    pub async fn delete_own_account(
        &self,
        actor: &Actor,
        password: Zeroizing<String>,
        typed_username: &str,
    ) -> Result<DeletionCheck, ApiError> {
        Self::require_person(actor)?;
        if typed_username.trim() != actor.user.username {
            return Err(ApiError::validation(
                "username",
                ErrorCode::ConfirmationMismatch,
                "type your username exactly to confirm",
            ));
        }
        let user = self.check_own_password(actor, password).await?;
        let check = self.store.deletion_check(user.id).await?;
        if !check.blocking.is_empty() {
            return Err(last_admin(&check.blocking));
        }
        if check.last_site_admin {
            return Err(last_site_admin());
        }
        let now = crate::now_ms();
        let purge_at = now + self.config.account_purge_days * DAY_MS;
        let mut purge = PurgeAccount { user_id: user.id }.job(
            &self.config,
            Some(format!("account.purge:{}:{now}", user.id)),
            now,
        );
        purge.run_after = purge_at;
        let mail = self
            .security_notice(
                &user,
                SecurityChange::AccountDeleted,
                None,
                Some(purge_at),
                &actor.request,
                now,
            )
            .await?;
        let audit = actor
            .audit("account.delete", user.username.clone())
            .with(json!({ "purge_at": purge_at, "teams_deleted": check.sole }));
        let deletion = AccountDeletion {
            user_id: user.id,
            now,
            purge,
            mail,
            audit,
        };
        let removed = match self.store.delete_account(deletion).await {
            Err(StoreError::Refused(ErrorCode::LastSiteAdmin)) => return Err(last_site_admin()),
            Err(StoreError::Refused(ErrorCode::LastTeamAdmin)) => {
                let now_blocking = self.store.deletion_check(user.id).await?.blocking;
                return Err(last_admin(&now_blocking));
            }
            other => other?,
        };
        self.remove_bytes(&removed).await;
        Ok(check)
    }

    /// Undoes a deletion within the purge window (site admins and the console). Keys and
    /// sessions stay revoked: the person signs in with their password again.
    pub async fn restore_user(&self, actor: &Actor, username: &str) -> Result<(), ApiError> {
        actor.require_admin("restore deleted accounts")?;
        let user = self
            .store
            .user_by_username(username.trim())
            .await?
            .filter(|u| u.deleted_at.is_some())
            .ok_or_else(|| {
                ApiError::not_found(
                    ErrorCode::UserNotFound,
                    format!(
                        "there is no deleted account `{}` waiting to be purged",
                        crate::validate::echo(username)
                    ),
                )
            })?;
        let audit = actor.audit("account.restore", user.username.clone());
        self.store.restore_account(user.id, audit).await?;
        Ok(())
    }

    /// The purge job: removes a still-deleted account for good, and its bytes.
    pub async fn purge_account(&self, user_id: i64) -> Result<bool, ApiError> {
        let audit = AuditEvent {
            action: "account.purge",
            target: Some(format!("user:{user_id}")),
            detail: json!({ "via": "job" }),
            ..Default::default()
        };
        if let Some(link) = self.store.github_link(user_id).await? {
            self.revoke_github_quietly(&link).await;
        }
        match self.store.purge_account(user_id, audit).await? {
            Some(removed) => {
                self.remove_bytes(&removed).await;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn remove_bytes(&self, removed: &Removed) {
        for blob in &removed.run_blobs {
            if let Err(e) = self.run_blobs.delete(blob).await {
                tracing::warn!(error = %e, "a removed run file could not be deleted");
            }
        }
        for blob in &removed.export_blobs {
            if let Err(e) = self.export_blobs.delete(blob).await {
                tracing::warn!(error = %e, "a purged account's export could not be deleted");
            }
        }
        if let Some(avatar) = &removed.avatar {
            self.delete_avatar_blobs(Some(avatar.clone())).await;
        }
    }
}

#[async_trait::async_trait]
impl AccountLifecycle for Services {
    async fn purge(&self, user_id: i64) -> Result<(), JobError> {
        self.purge_account(user_id)
            .await
            .map(|_| ())
            .map_err(|e| JobError::retry(format!("account purge: {}", e.message)))
    }

    async fn build_export(&self, token: &str) -> Result<(), JobError> {
        self.build_data_export(token).await
    }

    async fn expire_export(&self, token: &str) -> Result<(), JobError> {
        self.expire_data_export(token)
            .await
            .map_err(|e| JobError::retry(format!("export expiry: {}", e.message)))
    }
}
