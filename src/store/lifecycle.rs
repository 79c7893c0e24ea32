//! The account's own life cycle: deleting it (at once: sign-in refused, keys and sessions
//! revoked, teams where the person was the only member deleted), restoring it within the
//! purge window, and purging it (the row and, by cascade, the personal entity's projects and
//! runs; runs in team projects stay with the team, attributed to nobody).

use async_trait::async_trait;

use super::outbox::NewJob;
use super::AuditEvent;
use crate::error::StoreResult;

/// Where the person stands in their teams, for deletion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeletionCheck {
    /// Teams with other people where the person is the only admin: deletion waits.
    pub blocking: Vec<String>,
    /// Teams where the person is the only one: deleted with the account.
    pub sole: Vec<String>,
    /// The person is the server's only site admin: deletion waits for another.
    pub last_site_admin: bool,
}

#[derive(Debug, Clone)]
pub struct AccountDeletion {
    pub user_id: i64,
    pub now: i64,
    /// The purge, due when the window ends.
    pub purge: NewJob,
    /// The confirmation mail.
    pub mail: NewJob,
    pub audit: AuditEvent,
}

/// What a deletion or a purge removed from the database; the bytes are removed after.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removed {
    /// Teams deleted with the account.
    pub teams: Vec<String>,
    /// Run-file blobs no row names any more.
    pub run_blobs: Vec<String>,
    /// The avatar's blob base name.
    pub avatar: Option<String>,
    /// Data exports' archives.
    pub export_blobs: Vec<String>,
}

#[async_trait]
pub trait LifecycleStore: Send + Sync {
    async fn deletion_check(&self, user_id: i64) -> StoreResult<DeletionCheck>;
    /// Deletes the account in one transaction with its audit row, purge job and mail.
    /// `Refused(LastTeamAdmin)` when, at that moment, the person is the last admin of a
    /// team with other people, `Refused(LastSiteAdmin)` when the server's only site admin;
    /// `Refused(UserNotFound)` when already deleted.
    async fn delete_account(&self, d: AccountDeletion) -> StoreResult<Removed>;
    /// Undoes a deletion not yet purged; whether there was one.
    async fn restore_account(&self, user_id: i64, audit: AuditEvent) -> StoreResult<bool>;
    /// Removes a deleted account for good; `None` when it was restored (or is gone).
    async fn purge_account(&self, user_id: i64, audit: AuditEvent) -> StoreResult<Option<Removed>>;
}
