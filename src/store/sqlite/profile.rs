//! The Profile section, the intro and the profile image.

use super::*;

#[async_trait]
impl ProfileStore for SqliteStore {
    async fn user_profile(&self, user_id: i64) -> StoreResult<Option<Profile>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {PROFILE_COLUMNS} FROM users WHERE id = ?1"
            ))?
            .query_row([user_id], profile_from)
            .optional()
        })
    }

    async fn update_profile(
        &self,
        user_id: i64,
        u: ProfileUpdate,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.execute_audited(
            "UPDATE users SET name = COALESCE(?1, name), institution = COALESCE(?2, institution),
                   bio = COALESCE(?3, bio), location = COALESCE(?4, location),
                   website = COALESCE(?5, website), language = COALESCE(?6, language)
                 WHERE id = ?7",
            (
                u.name,
                u.institution,
                u.bio,
                u.location,
                u.website,
                u.language,
                user_id,
            ),
            audit,
        )
        .await
    }

    async fn update_intro(
        &self,
        user_id: i64,
        intro: String,
        intro_html: String,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.execute_audited(
            "UPDATE users SET intro = ?1, intro_html = ?2 WHERE id = ?3",
            (intro, intro_html, user_id),
            audit,
        )
        .await
    }

    async fn set_avatar(
        &self,
        user_id: i64,
        avatar: Option<String>,
        audit: AuditEvent,
    ) -> StoreResult<Option<String>> {
        self.write(move |conn| {
            let now = crate::now_ms();
            let tx = conn.transaction().map_err(map_err)?;
            let previous: Option<String> = tx
                .query_row("SELECT avatar FROM users WHERE id = ?1", [user_id], |r| {
                    r.get(0)
                })
                .map_err(map_err)?;
            tx.execute(
                "UPDATE users SET avatar = ?1 WHERE id = ?2",
                params![avatar, user_id],
            )
            .map_err(map_err)?;
            commit_audited(tx, &audit, None, now)?;
            Ok(previous)
        })
        .await
    }
}
