//! The Profile section, the intro and the profile image.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::*;
use crate::error::StoreResult;

/// The intro as written (Markdown) and as rendered and sanitized when it was saved.
#[derive(Debug, Clone, Default)]
pub struct Intro {
    pub markdown: String,
    pub html: String,
}

/// A field people edit in the Profile section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProfileField {
    Name,
    Institution,
    Bio,
    Location,
    Website,
    /// The language of the mails the server sends the person.
    Language,
}

impl ProfileField {
    /// Its name in audit rows (and its column).
    pub fn key(self) -> &'static str {
        match self {
            ProfileField::Name => "name",
            ProfileField::Institution => "institution",
            ProfileField::Bio => "bio",
            ProfileField::Location => "location",
            ProfileField::Website => "website",
            ProfileField::Language => "language",
        }
    }
}

/// Profile fields to change, with their new values; a field not named stays as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileUpdate(BTreeMap<ProfileField, String>);

impl ProfileUpdate {
    pub fn get(&self, field: ProfileField) -> Option<&str> {
        self.0.get(&field).map(String::as_str)
    }

    /// The fields it changes, in declaration order.
    pub fn fields(&self) -> impl Iterator<Item = ProfileField> + '_ {
        self.0.keys().copied()
    }
}

impl FromIterator<(ProfileField, String)> for ProfileUpdate {
    fn from_iter<I: IntoIterator<Item = (ProfileField, String)>>(iter: I) -> Self {
        ProfileUpdate(iter.into_iter().collect())
    }
}

impl IntoIterator for ProfileUpdate {
    type Item = (ProfileField, String);
    type IntoIter = std::collections::btree_map::IntoIter<ProfileField, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
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
