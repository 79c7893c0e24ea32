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

#[async_trait]
pub trait EmailTokenStore: Send + Sync {
    /// Stores a verification token and, in the same transaction, the job that mails it.
    async fn put_email_token(
        &self,
        token: NewEmailToken,
        job: Option<outbox::NewJob>,
    ) -> StoreResult<()>;
    /// Marks the email verified if the token is valid and still matches the account's email.
    async fn use_email_token(&self, hash: KeyHash, now: i64) -> StoreResult<Option<i64>>;
    async fn set_email_verified(&self, user_id: i64, at: Option<i64>) -> StoreResult<()>;
}
