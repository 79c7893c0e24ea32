//! Settings → Export my data (GDPR art. 20; W&B has none): a person asks, a job builds one
//! ZIP archive (`services/export_archive.rs`), a mail says it is ready, and they download it
//! from Settings, signed in, for 24 hours; a job then deletes it.

use serde_json::json;

use super::{Actor, Services};
use crate::error::{ApiError, ErrorCode};
use crate::jobs::lifecycle::{BuildExport, ExpireExport};
use crate::jobs::security_mail::{SecurityChange, SecurityNoticeMail};
use crate::jobs::{JobError, JobKind};
use crate::store::exports::{ExportRow, NewExport, ReadyExport};

/// How long a built archive can be downloaded.
pub const EXPORT_TTL_MS: i64 = 24 * 3600 * 1000;
/// The exports Settings lists.
const LISTED: i64 = 5;
/// A pending export older than this was interrupted (its instance stopped): it shows as
/// failed and another may be asked for.
pub const EXPORT_STALE_MS: i64 = 6 * 3600 * 1000;

fn not_found() -> ApiError {
    ApiError::not_found(
        ErrorCode::ExportNotFound,
        "there is no such export of yours",
    )
}

impl Services {
    /// Starts building an archive of the person's data; one at a time.
    pub async fn request_export(&self, actor: &Actor) -> Result<ExportRow, ApiError> {
        Self::require_person(actor)?;
        let token = crate::keys::random_token().to_string();
        let now = crate::now_ms();
        let job = BuildExport {
            token: token.clone(),
        }
        .job(&self.config, Some(format!("export:{token}")), now);
        let audit = actor.audit("account.export", actor.user.username.clone());
        let export = NewExport {
            token,
            user_id: actor.user.id,
            stale_before: now - EXPORT_STALE_MS,
            job,
        };
        self.store
            .create_export(export, audit)
            .await?
            .ok_or_else(|| {
                ApiError::conflict(
                    "export",
                    ErrorCode::ExportInProgress,
                    "an export of your data is being built already; it is mailed to you when ready",
                )
            })
    }

    pub async fn exports_of(&self, actor: &Actor) -> Result<Vec<ExportRow>, ApiError> {
        let stale_before = crate::now_ms() - EXPORT_STALE_MS;
        let mut rows = self.store.exports_of(actor.user.id, LISTED).await?;
        for row in rows.iter_mut() {
            if row.status == "pending" && row.created_at < stale_before {
                row.status = "failed".into();
            }
        }
        Ok(rows)
    }

    /// The archive to download: the person's own, ready and not expired.
    pub async fn open_export(
        &self,
        actor: &Actor,
        token: &str,
    ) -> Result<(ExportRow, crate::blobs::BlobRead), ApiError> {
        let row = self
            .store
            .export(token)
            .await?
            .filter(|e| e.user_id == actor.user.id)
            .ok_or_else(not_found)?;
        let live = row.status == "ready" && row.expires_at.is_some_and(|t| t > crate::now_ms());
        let blob = row.blob.clone().filter(|_| live).ok_or_else(|| {
            ApiError::gone(
                ErrorCode::ExportExpired,
                "this export is not available any more; export your data again",
            )
        })?;
        let file = self
            .export_blobs
            .open(&blob)
            .await
            .map_err(ApiError::blob_failure("open an export"))?
            .ok_or_else(not_found)?;
        Ok((row, file))
    }

    /// The job: builds the archive; a failure is recorded on the export (the person may
    /// ask again) rather than retried.
    pub(crate) async fn build_data_export(&self, token: &str) -> Result<(), JobError> {
        let Some(row) = self.store.export(token).await? else {
            return Ok(());
        };
        if row.status != "pending" {
            return Ok(());
        }
        let Some(user) = self
            .store
            .user_by_id(row.user_id)
            .await?
            .filter(|u| u.deleted_at.is_none())
        else {
            return self
                .store
                .fail_export(token, "the account is gone")
                .await
                .map_err(JobError::from);
        };
        let blob = crate::blobs::FileBlobs::new_name();
        let bytes = match self.write_archive(&user, &blob).await {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::warn!(error = %e, "an export failed");
                let _ = self.export_blobs.delete(&blob).await;
                return self
                    .store
                    .fail_export(token, &e)
                    .await
                    .map_err(JobError::from);
            }
        };
        let now = crate::now_ms();
        let expires_at = now + EXPORT_TTL_MS;
        let mut expire = ExpireExport {
            token: token.to_string(),
        }
        .job(&self.config, Some(format!("export.expire:{token}")), now);
        expire.run_after = expires_at;
        let ready = ReadyExport {
            token: token.to_string(),
            blob: blob.clone(),
            bytes: bytes as i64,
            now,
            expires_at,
            mail: self
                .export_mail(&user, now)
                .await
                .map_err(|e| JobError::retry(e.message))?,
            expire,
        };
        if !self.store.finish_export(ready).await? {
            let _ = self.export_blobs.delete(&blob).await;
        }
        Ok(())
    }

    async fn export_mail(
        &self,
        user: &crate::store::User,
        now: i64,
    ) -> Result<crate::store::outbox::NewJob, ApiError> {
        let mut url = self.config.public_link(["settings"]);
        url.set_fragment(Some("export"));
        let mail = SecurityNoticeMail {
            recipient: self.recipient(user).await?,
            change: SecurityChange::ExportReady,
            new_email: None,
            ip: None,
            at: now,
            settings_url: url.to_string(),
            until: Some(now + EXPORT_TTL_MS),
        };
        Ok(mail.job(&self.config, None, now))
    }

    /// The expiry job: the archive's bytes go, the row says expired.
    pub async fn expire_data_export(&self, token: &str) -> Result<(), ApiError> {
        if let Some(blob) = self.store.expire_export(token).await? {
            if let Err(e) = self.export_blobs.delete(&blob).await {
                tracing::warn!(error = %e, "an expired export could not be deleted");
            }
        }
        Ok(())
    }
}

/// An export as Settings shows it.
pub fn export_json(e: &ExportRow) -> serde_json::Value {
    json!({
        "id": e.token,
        "status": e.status,
        "bytes": e.bytes,
        "createdAt": e.created_at,
        "readyAt": e.ready_at,
        "expiresAt": e.expires_at,
    })
}
