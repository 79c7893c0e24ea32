//! The jobs of an account's life cycle: purging a deleted account when its window ends,
//! building a data export, and deleting the export when its link expires.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Job, JobError, JobHandler, JobKind};

/// Payload of an `account.purge` job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeAccount {
    pub user_id: i64,
}

impl JobKind for PurgeAccount {
    const KIND: &'static str = "account.purge";
}

/// Payload of an `export.build` job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildExport {
    pub token: String,
}

impl JobKind for BuildExport {
    const KIND: &'static str = "export.build";
}

/// Payload of an `export.expire` job, due when the download link ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpireExport {
    pub token: String,
}

impl JobKind for ExpireExport {
    const KIND: &'static str = "export.expire";
}

/// What the life-cycle jobs do (implemented by the services).
#[async_trait]
pub trait AccountLifecycle: Send + Sync + 'static {
    /// Purges a deleted account; one restored since is left alone.
    async fn purge(&self, user_id: i64) -> Result<(), JobError>;
    async fn build_export(&self, token: &str) -> Result<(), JobError>;
    async fn expire_export(&self, token: &str) -> Result<(), JobError>;
}

pub struct PurgeHandler(pub Arc<dyn AccountLifecycle>);
pub struct BuildExportHandler(pub Arc<dyn AccountLifecycle>);
pub struct ExpireExportHandler(pub Arc<dyn AccountLifecycle>);

#[async_trait]
impl JobHandler for PurgeHandler {
    type Payload = PurgeAccount;

    async fn run(&self, purge: PurgeAccount, _job: &Job, _now: i64) -> Result<(), JobError> {
        self.0.purge(purge.user_id).await
    }
}

#[async_trait]
impl JobHandler for BuildExportHandler {
    type Payload = BuildExport;

    /// A large archive takes longer than a job's lease (which would cut it off and hand the
    /// job to another worker), so it is built in a task of its own; an export left pending
    /// by an instance that stopped counts as failed after a while (`services::export`).
    async fn run(&self, build: BuildExport, _job: &Job, _now: i64) -> Result<(), JobError> {
        let token = build.token;
        let lifecycle = self.0.clone();
        tokio::spawn(async move {
            if let Err(e) = lifecycle.build_export(&token).await {
                tracing::warn!(error = %e.message, "an export's outcome could not be recorded");
            }
        });
        Ok(())
    }
}

#[async_trait]
impl JobHandler for ExpireExportHandler {
    type Payload = ExpireExport;

    async fn run(&self, expire: ExpireExport, _job: &Job, _now: i64) -> Result<(), JobError> {
        self.0.expire_export(&expire.token).await
    }
}
