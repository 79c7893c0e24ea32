//! The account's life cycle: delete, restore, purge.

use async_trait::async_trait;

use super::{audited, enqueue, sql, work, Backend, Exec, Sql, SqlStore};
use crate::error::{ErrorCode, StoreError, StoreResult};
use crate::store::lifecycle::{AccountDeletion, DeletionCheck, LifecycleStore, Removed};
use crate::store::AuditEvent;

/// Each team of the person: its name, the person's role, the other people in it and the
/// other admins among them (deleted accounts and service accounts do not count).
const TEAMS_OF: &Sql = sql!(
    "SELECT e.id, e.name, m.role,
       (SELECT COUNT(*) FROM team_members o JOIN users u ON u.id = o.user_id
         WHERE o.team_id = m.team_id AND o.user_id <> m.user_id AND u.deleted_at IS NULL AND u.account_type = 'USER'),
       (SELECT COUNT(*) FROM team_members o JOIN users u ON u.id = o.user_id
         WHERE o.team_id = m.team_id AND o.user_id <> m.user_id AND u.deleted_at IS NULL AND u.account_type = 'USER' AND o.role = 'admin')
     FROM team_members m JOIN entities e ON e.id = m.team_id WHERE m.user_id = $1 ORDER BY e.name_lower"
);
/// The blobs of every run file in an entity's projects.
const ENTITY_BLOBS: &Sql = sql!(
    "SELECT f.blob FROM run_files f JOIN runs r ON r.id = f.run_id JOIN projects p ON p.id = r.project_id
     WHERE p.entity_id = $1"
);

type TeamRow = (i64, String, String, i64, i64);

async fn teams_of<C: Exec>(c: &mut C, user_id: i64) -> StoreResult<(DeletionCheck, Vec<i64>)> {
    let rows: Vec<TeamRow> = c.all(TEAMS_OF, &[&user_id]).await?;
    let mut check = DeletionCheck::default();
    let mut sole_ids = Vec::new();
    for (id, name, role, others, admins) in rows {
        if others == 0 {
            check.sole.push(name);
            sole_ids.push(id);
        } else if role == "admin" && admins == 0 {
            check.blocking.push(name);
        }
    }
    Ok((check, sole_ids))
}

/// Whether the person is a site admin and no other active account is.
async fn last_site_admin<C: Exec>(c: &mut C, user_id: i64) -> StoreResult<bool> {
    let (is_admin, others): (bool, i64) = c
        .one(
            sql!("SELECT u.is_admin, (SELECT COUNT(*) FROM users o WHERE o.is_admin = u.is_admin AND o.deleted_at IS NULL AND o.id <> u.id)
                  FROM users u WHERE u.id = $1"),
            &[&user_id],
        )
        .await?;
    Ok(is_admin && others == 0)
}

async fn blobs_of<C: Exec>(c: &mut C, entity_id: i64) -> StoreResult<Vec<String>> {
    let rows: Vec<(String,)> = c.all(ENTITY_BLOBS, &[&entity_id]).await?;
    Ok(rows.into_iter().map(|(b,)| b).collect())
}

#[async_trait]
impl<B: Backend> LifecycleStore for SqlStore<B> {
    async fn deletion_check(&self, user_id: i64) -> StoreResult<DeletionCheck> {
        work!(self.0, read, |c| {
            let (mut check, _) = teams_of(c, user_id).await?;
            check.last_site_admin = last_site_admin(c, user_id).await?;
            Ok(check)
        })
    }

    async fn delete_account(&self, d: AccountDeletion) -> StoreResult<Removed> {
        work!(self, tx, |c| {
            // PostgreSQL: the person's teams are locked, so an admin leaving on another
            // instance at this moment cannot leave a team without admins.
            c.execute(
                sql!(pg: "SELECT entity_id FROM teams WHERE entity_id IN (SELECT team_id FROM team_members WHERE user_id = $1) FOR UPDATE", lite: ""),
                &[&d.user_id],
            )
            .await?;
            let (check, sole_ids) = teams_of(c, d.user_id).await?;
            if !check.blocking.is_empty() {
                return Err(StoreError::Refused(ErrorCode::LastTeamAdmin));
            }
            if last_site_admin(c, d.user_id).await? {
                return Err(StoreError::Refused(ErrorCode::LastSiteAdmin));
            }
            let deleted = c
                .execute(
                    sql!("UPDATE users SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL"),
                    &[&d.user_id, &d.now],
                )
                .await?;
            if deleted == 0 {
                return Err(StoreError::Refused(ErrorCode::UserNotFound));
            }
            let mut removed = Removed {
                teams: check.sole,
                ..Removed::default()
            };
            for team in sole_ids {
                removed.run_blobs.extend(blobs_of(c, team).await?);
                c.execute(sql!("DELETE FROM entities WHERE id = $1"), &[&team])
                    .await?;
            }
            c.execute(
                sql!("DELETE FROM sessions WHERE user_id = $1"),
                &[&d.user_id],
            )
            .await?;
            c.execute(
                sql!("UPDATE api_keys SET revoked_at = $2, revoked_by = $1 WHERE user_id = $1 AND revoked_at IS NULL"),
                &[&d.user_id, &d.now],
            )
            .await?;
            enqueue(c, &d.mail, d.now).await?;
            audited(c, &d.audit, Some(&d.purge), d.now).await?;
            Ok(removed)
        })
    }

    async fn restore_account(&self, user_id: i64, audit: AuditEvent) -> StoreResult<bool> {
        let change =
            sql!("UPDATE users SET deleted_at = NULL WHERE id = $1 AND deleted_at IS NOT NULL");
        self.write_if_changed(change, (user_id,), audit, crate::now_ms())
            .await
    }

    async fn purge_account(&self, user_id: i64, audit: AuditEvent) -> StoreResult<Option<Removed>> {
        work!(self, tx, |c| {
            let row: Option<(Option<i64>, Option<String>)> = c
                .opt(
                    sql!("SELECT deleted_at, avatar FROM users WHERE id = $1"),
                    &[&user_id],
                )
                .await?;
            let Some((Some(_), avatar)) = row else {
                return Ok(None);
            };
            let personal: Vec<(i64,)> = c
                .all(
                    sql!("SELECT id FROM entities WHERE user_id = $1"),
                    &[&user_id],
                )
                .await?;
            let mut removed = Removed {
                avatar,
                ..Removed::default()
            };
            for (entity,) in personal {
                removed.run_blobs.extend(blobs_of(c, entity).await?);
            }
            let exports: Vec<(String,)> = c
                .all(
                    sql!("SELECT blob FROM exports WHERE user_id = $1 AND blob IS NOT NULL"),
                    &[&user_id],
                )
                .await?;
            removed.export_blobs = exports.into_iter().map(|(b,)| b).collect();
            // Cascades: the personal entity with its projects and runs, keys, sessions,
            // memberships, settings; team runs keep their rows with no user.
            c.execute(sql!("DELETE FROM users WHERE id = $1"), &[&user_id])
                .await?;
            audited(c, &audit, None, crate::now_ms()).await?;
            Ok(Some(removed))
        })
    }
}
