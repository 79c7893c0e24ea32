//! Export my data: the archives people asked for, from pending to ready (or failed) to
//! expired, and the runs a person logged (what an archive holds).

use async_trait::async_trait;

use super::outbox::NewJob;
use super::AuditEvent;
use crate::error::StoreResult;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRow {
    pub token: String,
    pub user_id: i64,
    /// `pending`, `ready`, `failed` or `expired`.
    pub status: String,
    pub blob: Option<String>,
    pub bytes: Option<i64>,
    pub error: Option<String>,
    pub created_at: i64,
    pub ready_at: Option<i64>,
    pub expires_at: Option<i64>,
}

/// An export to build: its token, its owner, its build job, and since when a pending one
/// still counts as being built (an older one was interrupted).
#[derive(Debug, Clone)]
pub struct NewExport {
    pub token: String,
    pub user_id: i64,
    pub stale_before: i64,
    pub job: NewJob,
}

/// A built archive: where it is, and the jobs that mail its owner and later delete it.
#[derive(Debug, Clone)]
pub struct ReadyExport {
    pub token: String,
    pub blob: String,
    pub bytes: i64,
    pub now: i64,
    pub expires_at: i64,
    pub mail: NewJob,
    pub expire: NewJob,
}

#[async_trait]
pub trait ExportStore: Send + Sync {
    /// Records a pending export with its build job and audit row; `None` when the person
    /// already has one pending since `stale_before` (nothing written). An older pending one
    /// was interrupted (its instance stopped) and is marked failed.
    async fn create_export(
        &self,
        e: NewExport,
        audit: AuditEvent,
    ) -> StoreResult<Option<ExportRow>>;
    async fn export(&self, token: &str) -> StoreResult<Option<ExportRow>>;
    /// The person's latest exports, newest first.
    async fn exports_of(&self, user_id: i64, limit: i64) -> StoreResult<Vec<ExportRow>>;
    /// Marks a pending export ready, with its mail and expiry jobs; false when it was not
    /// pending any more.
    async fn finish_export(&self, ready: ReadyExport) -> StoreResult<bool>;
    async fn fail_export(&self, token: &str, error: &str) -> StoreResult<()>;
    /// Marks a ready export expired; the blob it named, to delete.
    async fn expire_export(&self, token: &str) -> StoreResult<Option<String>>;
    /// The ids of the runs a person logged, anywhere, oldest first.
    async fn runs_logged_by(&self, user_id: i64) -> StoreResult<Vec<i64>>;
}
