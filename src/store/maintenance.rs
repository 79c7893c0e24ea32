//! What the operator's maintenance commands ask of a backend: a consistent copy of the
//! database while the server keeps serving.

use std::path::Path;

use async_trait::async_trait;

use crate::error::StoreResult;

#[async_trait]
pub trait MaintenanceStore: Send + Sync {
    /// Writes a consistent copy of the whole database to `path` (a file that must not
    /// exist yet), from one read snapshot, without stopping writers. SQLite only: a
    /// PostgreSQL database is backed up with PostgreSQL's own tools, and the answer is
    /// `Refused(BackupUnsupported)`.
    async fn snapshot_into(&self, path: &Path) -> StoreResult<()>;
}
