//! Storage: what a person's or a team's entity stores (run files; streamed lines, config and
//! summary; the profile image), by project, and the operator's quota past which uploads are
//! refused with a 4xx the SDK shows (it does not retry those).

use super::{Actor, Services};
use crate::error::{ApiError, ErrorCode};
use crate::images;
use crate::store::{Entity, ProjectStorage};

#[derive(Debug, Clone)]
pub struct StorageReport {
    pub projects: Vec<ProjectStorage>,
    pub avatar_bytes: i64,
    pub total_bytes: i64,
    /// The operator's quota for this entity; `None` when there is none.
    pub quota_bytes: Option<i64>,
}

/// Room left under a quota.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Room {
    pub left: u64,
    pub quota: i64,
}

pub(crate) fn quota_exceeded(quota: i64) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::FORBIDDEN,
        ErrorCode::StorageQuotaExceeded,
        format!("this upload would pass the storage quota of {quota} bytes; delete runs or files, or ask your administrator for more"),
    )
}

impl Services {
    fn quota_of(&self, entity: &Entity) -> Option<i64> {
        let q = if entity.is_team {
            self.config.team_storage_quota_bytes
        } else {
            self.config.user_storage_quota_bytes
        };
        (q > 0).then_some(q)
    }

    async fn avatar_bytes(&self, entity: &Entity) -> Result<i64, ApiError> {
        let Some(user_id) = entity.user_id else {
            return Ok(0);
        };
        let Some(base) = self
            .store
            .user_profile(user_id)
            .await?
            .and_then(|p| p.avatar)
        else {
            return Ok(0);
        };
        let mut total = 0;
        for size in images::SIZES {
            total += self
                .blobs
                .size(&format!("{base}-{size}.png"))
                .await
                .map_err(ApiError::blob_failure("read a profile image's size"))?;
        }
        Ok(total as i64)
    }

    async fn used_bytes(
        &self,
        entity: &Entity,
    ) -> Result<(Vec<ProjectStorage>, i64, i64), ApiError> {
        let projects = self.store.entity_storage(entity.id).await?;
        let avatar = self.avatar_bytes(entity).await?;
        let total = avatar
            + projects
                .iter()
                .map(|p| p.file_bytes + p.data_bytes)
                .sum::<i64>();
        Ok((projects, avatar, total))
    }

    /// What an entity stores, for its person, its team's members and site admins.
    pub async fn entity_storage(
        &self,
        actor: &Actor,
        entity: &Entity,
    ) -> Result<StorageReport, ApiError> {
        let allowed = if entity.is_team {
            actor.user.is_admin || self.role_in(Some(actor), entity.id).await?.is_some()
        } else {
            actor.user.is_admin || entity.user_id == Some(actor.user.id)
        };
        if !allowed {
            return Err(ApiError::forbidden(
                ErrorCode::NotYourEntity,
                format!("only {}'s people see what it stores", entity.name),
            ));
        }
        let (projects, avatar_bytes, total_bytes) = self.used_bytes(entity).await?;
        Ok(StorageReport {
            projects,
            avatar_bytes,
            total_bytes,
            quota_bytes: self.quota_of(entity),
        })
    }

    /// The entity a run's project belongs to.
    pub(crate) async fn entity_of_run(&self, run: &crate::store::Run) -> Result<Entity, ApiError> {
        let gone = || ApiError::not_found(ErrorCode::RunNotFound, "the run's project is gone");
        let project = self
            .store
            .project_by_id(run.project_id)
            .await?
            .ok_or_else(gone)?;
        self.entity_by_id(project.entity_id).await?.ok_or_else(gone)
    }

    /// What `entity` may still store: the bytes left and its quota; `None` without a quota.
    /// Refused at once when nothing is left.
    pub(crate) async fn storage_room(&self, entity: &Entity) -> Result<Option<Room>, ApiError> {
        let Some(quota) = self.quota_of(entity) else {
            return Ok(None);
        };
        let (_, _, used) = self.used_bytes(entity).await?;
        if used >= quota {
            return Err(quota_exceeded(quota));
        }
        Ok(Some(Room {
            left: (quota - used) as u64,
            quota,
        }))
    }
}
