//! People: accounts, look-ups, search and passwords; also what the drift test and `/readyz` ask of a backend.

use super::*;

#[async_trait]
impl AccountStore for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> StoreResult<()> {
        let c = self.client().await?;
        c.simple_query("SELECT 1").await.map_err(map_err)?;
        Ok(())
    }

    async fn schema_columns(&self) -> StoreResult<Vec<(String, String, String, bool)>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT table_name::text, column_name::text, data_type::text, is_nullable = 'YES'
                 FROM information_schema.columns WHERE table_schema = current_schema()
                 ORDER BY table_name, ordinal_position",
                &[],
            )
            .await
            .map_err(map_err)?;
        Ok(rows
            .iter()
            .map(|r| {
                let ty: String = r.get(2);
                let family = match ty.as_str() {
                    "bigint" | "integer" | "boolean" => "integer",
                    "bytea" => "bytes",
                    _ => "text",
                };
                (r.get(0), r.get(1), family.to_string(), r.get(3))
            })
            .collect())
    }

    async fn count_users(&self) -> StoreResult<i64> {
        let c = self.client().await?;
        let row = c
            .query_one("SELECT COUNT(*) FROM users WHERE deleted_at IS NULL", &[])
            .await
            .map_err(map_err)?;
        Ok(row.get(0))
    }

    async fn create_user(&self, user: NewUser, mut audit: AuditEvent) -> StoreResult<User> {
        let mut c = self.client().await?;
        let now = crate::now_ms();
        let tx = c.transaction().await.map_err(map_err)?;
        let created = insert_user(&tx, &user, now).await?;
        audit.target.get_or_insert_with(|| created.username.clone());
        commit_audited(tx, &audit, None, now).await?;
        Ok(created)
    }

    async fn create_first_admin(
        &self,
        token: KeyHash,
        now: i64,
        user: NewUser,
        audit: AuditEvent,
    ) -> StoreResult<Option<User>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        let stored = tx
            .query_opt(
                "SELECT value FROM settings WHERE key = $1 FOR UPDATE",
                &[&SETUP_TOKEN_KEY],
            )
            .await
            .map_err(map_err)?
            .map(|r| r.get::<_, String>(0));
        let users: i64 = tx
            .query_one("SELECT COUNT(*) FROM users", &[])
            .await
            .map_err(map_err)?
            .get(0);
        if users > 0 || !stored.is_some_and(|s| setup_token_matches(&s, &token, now)) {
            return Ok(None);
        }
        tx.execute("DELETE FROM settings WHERE key = $1", &[&SETUP_TOKEN_KEY])
            .await
            .map_err(map_err)?;
        let created = insert_user(&tx, &user, now).await?;
        commit_audited(tx, &audit, None, now).await?;
        Ok(Some(created))
    }

    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        self.one_user("u.id = $1", &id).await
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        self.one_user("u.username_lower = $1", &username.to_lowercase())
            .await
    }

    async fn user_by_username_or_email(&self, login: &str) -> StoreResult<Option<User>> {
        self.one_user(
            "u.username_lower = $1 OR u.email_lower = $1",
            &login.to_lowercase(),
        )
        .await
    }

    async fn search_users(
        &self,
        query: &str,
        email: EmailMatch,
        limit: i64,
    ) -> StoreResult<Vec<User>> {
        let (q, pattern, email_pattern) = search_patterns(query, email);
        let c = self.client().await?;
        // Ties sort by bytes (COLLATE "C"), as SQLite does, whatever the database's collation.
        let stmt = c
            .prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users u
                 WHERE u.deleted_at IS NULL AND (u.username_lower LIKE $1 OR u.email_lower LIKE $4)
                 ORDER BY (u.username_lower = $2 OR u.email_lower = $2) DESC, u.username_lower COLLATE \"C\" LIMIT $3"
            ))
            .await
            .map_err(map_err)?;
        let rows = c
            .query(&stmt, &[&pattern, &q, &limit, &email_pattern])
            .await
            .map_err(map_err)?;
        Ok(rows.iter().map(|r| user_from(r, 0)).collect())
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let c = self.client().await?;
        let rows = c
            .query(
                &format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.id"),
                &[],
            )
            .await
            .map_err(map_err)?;
        Ok(rows.iter().map(|r| user_from(r, 0)).collect())
    }

    async fn set_password(&self, user_id: i64, hash: String, audit: AuditEvent) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        tx.execute(
            "UPDATE users SET password_hash = $1 WHERE id = $2",
            &[&hash, &user_id],
        )
        .await
        .map_err(map_err)?;
        tx.execute("DELETE FROM sessions WHERE user_id = $1", &[&user_id])
            .await
            .map_err(map_err)?;
        commit_audited(tx, &audit, None, crate::now_ms()).await
    }
}
