//! The database's own copy of itself.

use std::path::Path;

use async_trait::async_trait;

use super::{sql, work, Backend, Exec, SqlStore};
use crate::error::{ErrorCode, StoreError, StoreResult};
use crate::store::maintenance::MaintenanceStore;

/// `VACUUM INTO` reads one snapshot (a read transaction, so writers go on under WAL) and
/// writes a compact, self-contained database file: no `-wal` file to forget.
const SNAPSHOT_INTO: &super::Sql = sql!(pg: "", lite: "VACUUM INTO $1");

#[async_trait]
impl<B: Backend> MaintenanceStore for SqlStore<B> {
    async fn snapshot_into(&self, path: &Path) -> StoreResult<()> {
        if B::NAME != "sqlite" {
            return Err(StoreError::Refused(ErrorCode::BackupUnsupported));
        }
        let target = path
            .to_str()
            .ok_or_else(|| StoreError::Other(anyhow::anyhow!("backup path is not UTF-8")))?
            .to_string();
        work!(self.0, read, |c| {
            c.execute(SNAPSHOT_INTO, &[&target]).await.map(|_| ())
        })
    }
}
