//! The Profile section, the intro and the profile image.

use async_trait::async_trait;

use super::*;
use crate::error::StoreResult;

/// The intro as written (Markdown) and as rendered and sanitized when it was saved.
#[derive(Debug, Clone, Default)]
pub struct Intro {
    pub markdown: String,
    pub html: String,
}

#[async_trait]
pub trait ProfileStore: Send + Sync {
    /// The Profile section's fields, the intro and the image; kept apart from `User` so the
    /// authentication path never reads a long intro.
    async fn user_profile(&self, user_id: i64) -> StoreResult<Option<Profile>>;
    async fn update_profile(
        &self,
        user_id: i64,
        update: ProfileUpdate,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    async fn update_intro(&self, user_id: i64, intro: Intro, audit: AuditEvent) -> StoreResult<()>;
    /// Sets or clears the profile image; returns the previous blob name so it can be deleted.
    async fn set_avatar(
        &self,
        user_id: i64,
        avatar: Option<String>,
        audit: AuditEvent,
    ) -> StoreResult<Option<String>>;
}
