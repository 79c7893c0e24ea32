//! Storage used by an entity.

use async_trait::async_trait;

use super::{sql, Backend, Sql, SqlStore};
use crate::error::StoreResult;
use crate::store::storage::{ProjectStorage, StorageStore};

/// Per project: its runs, their files' sizes, and their lines, config and summary (bytes:
/// `OCTET_LENGTH` on PostgreSQL, a text's length as a blob on SQLite).
const ENTITY_STORAGE: &Sql = sql!(
    pg: "SELECT p.name, COUNT(r.id),
            COALESCE(SUM((SELECT COALESCE(SUM(f.size_bytes), 0) FROM run_files f WHERE f.run_id = r.id)), 0)::BIGINT,
            COALESCE(SUM(r.data_bytes + OCTET_LENGTH(r.config) + OCTET_LENGTH(r.summary)), 0)::BIGINT
         FROM projects p LEFT JOIN runs r ON r.project_id = p.id
         WHERE p.entity_id = $1 GROUP BY p.id, p.name",
    lite: "SELECT p.name, COUNT(r.id),
            COALESCE(SUM((SELECT COALESCE(SUM(f.size_bytes), 0) FROM run_files f WHERE f.run_id = r.id)), 0),
            COALESCE(SUM(r.data_bytes + LENGTH(CAST(r.config AS BLOB)) + LENGTH(CAST(r.summary AS BLOB))), 0)
         FROM projects p LEFT JOIN runs r ON r.project_id = p.id
         WHERE p.entity_id = $1 GROUP BY p.id, p.name"
);

#[async_trait]
impl<B: Backend> StorageStore for SqlStore<B> {
    async fn entity_storage(&self, entity_id: i64) -> StoreResult<Vec<ProjectStorage>> {
        let rows: Vec<(String, i64, i64, i64)> =
            self.read_all(ENTITY_STORAGE, (entity_id,)).await?;
        let mut projects: Vec<ProjectStorage> = rows
            .into_iter()
            .map(|(project, runs, file_bytes, data_bytes)| ProjectStorage {
                project,
                runs,
                file_bytes,
                data_bytes,
            })
            .collect();
        projects.sort_by_key(|p| {
            (
                std::cmp::Reverse(p.file_bytes + p.data_bytes),
                p.project.clone(),
            )
        });
        Ok(projects)
    }
}
