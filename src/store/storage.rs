//! Storage used by an entity, by project: run files, and the runs' streamed lines, config
//! and summary. Read from counters and file sizes, never by scanning lines.

use async_trait::async_trait;

use crate::error::StoreResult;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectStorage {
    pub project: String,
    pub runs: i64,
    /// Uploaded run files (`config.yaml`, saved code, `wandb.save()`, media…).
    pub file_bytes: i64,
    /// History, system metrics and console lines, config and summary.
    pub data_bytes: i64,
}

#[async_trait]
pub trait StorageStore: Send + Sync {
    /// Every project of the entity with what it stores, largest first.
    async fn entity_storage(&self, entity_id: i64) -> StoreResult<Vec<ProjectStorage>>;
}
