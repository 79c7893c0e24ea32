//! The jobs of an account's life cycle: purging a deleted account when its window ends.

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

/// Purges a deleted account (implemented by the services); an account restored since is
/// left alone.
#[async_trait]
pub trait AccountPurger: Send + Sync + 'static {
    async fn purge(&self, user_id: i64) -> Result<(), JobError>;
}

pub struct PurgeHandler(pub Arc<dyn AccountPurger>);

#[async_trait]
impl JobHandler for PurgeHandler {
    fn kind(&self) -> &'static str {
        PurgeAccount::KIND
    }

    async fn run(&self, job: &Job, _now: i64) -> Result<(), JobError> {
        self.0.purge(PurgeAccount::from_job(job)?.user_id).await
    }
}
