//! Email verification tokens.

use async_trait::async_trait;

use super::*;
use crate::error::StoreResult;
use crate::keys::KeyHash;

/// A verification token for `email`, stored as its hash.
#[derive(Debug, Clone)]
pub struct NewEmailToken {
    pub hash: KeyHash,
    pub user_id: i64,
    pub email: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A token for a new address used: the address becomes the account's.
#[derive(Debug, Clone)]
pub struct EmailChange {
    pub token: KeyHash,
    pub user_id: i64,
    /// The account's address when the change was asked for; the change fails if it moved.
    pub old_email: String,
    pub new_email: String,
    pub now: i64,
    pub audit: AuditEvent,
    /// The mail that tells the old address.
    pub notice: Option<outbox::NewJob>,
}

#[async_trait]
pub trait EmailTokenStore: Send + Sync {
    /// Stores a verification token and, in the same transaction, the job that mails it and
    /// the audit row.
    async fn put_email_token(
        &self,
        token: NewEmailToken,
        job: Option<outbox::NewJob>,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    /// The account and address of an unexpired token, without using it.
    async fn email_token(&self, hash: KeyHash, now: i64) -> StoreResult<Option<(i64, String)>>;
    /// Uses a token for an address other than the account's; false when the token is gone
    /// or expired or the account's address changed meanwhile. `Conflict("email")` when
    /// another account took the address.
    async fn change_email(&self, change: EmailChange) -> StoreResult<bool>;
    /// Marks the email verified if the token is valid and still matches the account's email.
    async fn use_email_token(&self, hash: KeyHash, now: i64) -> StoreResult<Option<i64>>;
    async fn set_email_verified(&self, user_id: i64, at: Option<i64>) -> StoreResult<()>;
}
