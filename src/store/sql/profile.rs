//! The Profile section, the intro and the profile image.

use async_trait::async_trait;

use super::{audited, sql, work, Backend, Exec, Sql, SqlStore};
use crate::error::StoreResult;
use crate::store::rows::profile_cols;
use crate::store::*;

const USER_PROFILE: &Sql = sql!("SELECT ", profile_cols!(), " FROM users WHERE id = $1");
const UPDATE_PROFILE: &Sql = sql!(
    "UPDATE users SET name = COALESCE($1, name), institution = COALESCE($2, institution),
        bio = COALESCE($3, bio), location = COALESCE($4, location),
        website = COALESCE($5, website), language = COALESCE($6, language)
      WHERE id = $7"
);
const UPDATE_INTRO: &Sql = sql!("UPDATE users SET intro = $1, intro_html = $2 WHERE id = $3");

#[async_trait]
impl<B: Backend> ProfileStore for SqlStore<B> {
    async fn user_profile(&self, user_id: i64) -> StoreResult<Option<Profile>> {
        self.read_opt(USER_PROFILE, (user_id,)).await
    }

    async fn update_profile(
        &self,
        user_id: i64,
        u: ProfileUpdate,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        use ProfileField::*;
        let [name, institution, bio, location, website, language] =
            [Name, Institution, Bio, Location, Website, Language]
                .map(|f| u.get(f).map(String::from));
        let args = (name, institution, bio, location, website, language, user_id);
        self.write_audited(UPDATE_PROFILE, args, audit).await
    }

    async fn update_intro(&self, user_id: i64, intro: Intro, audit: AuditEvent) -> StoreResult<()> {
        self.write_audited(UPDATE_INTRO, (intro.markdown, intro.html, user_id), audit)
            .await
    }

    async fn set_avatar(
        &self,
        user_id: i64,
        avatar: Option<String>,
        audit: AuditEvent,
    ) -> StoreResult<Option<String>> {
        work!(self, tx, |c| {
            // The previous image is returned so its file can be removed; the row lock
            // keeps two concurrent uploads from both missing the other's file.
            let (previous,): (Option<String>,) = c
                .one(
                    sql!(pg: "SELECT avatar FROM users WHERE id = $1 FOR UPDATE",
                             lite: "SELECT avatar FROM users WHERE id = $1"),
                    &[&user_id],
                )
                .await?;
            c.execute(
                sql!("UPDATE users SET avatar = $1 WHERE id = $2"),
                &[&avatar, &user_id],
            )
            .await?;
            audited(c, &audit, None, crate::now_ms()).await?;
            Ok(previous)
        })
    }
}
