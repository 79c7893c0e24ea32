//! People: accounts, look-ups, search and passwords; also what the drift test and `/readyz` ask of a backend.

use super::*;

#[async_trait]
impl AccountStore for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(())))
    }

    async fn schema_columns(&self) -> StoreResult<Vec<(String, String, String, bool)>> {
        self.read(|c| {
            let mut tables = c.prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
            )?;
            let names: Vec<String> = tables.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
            let mut out = Vec::new();
            for table in names {
                let mut info = c.prepare(&format!("PRAGMA table_info({table})"))?;
                let cols = info.query_map([], |r| {
                    let ty: String = r.get(2)?;
                    let notnull: bool = r.get(3)?;
                    let pk: bool = r.get::<_, i64>(5)? > 0;
                    Ok((r.get::<_, String>(1)?, ty, notnull || pk))
                })?;
                for col in cols {
                    let (name, ty, notnull) = col?;
                    let family = match ty.to_ascii_uppercase().as_str() {
                        "INTEGER" | "BIGINT" => "integer",
                        "BLOB" => "bytes",
                        _ => "text",
                    };
                    out.push((table.clone(), name, family.to_string(), !notnull));
                }
            }
            Ok(out)
        })
    }

    async fn count_users(&self) -> StoreResult<i64> {
        self.read(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM users WHERE deleted_at IS NULL",
                [],
                |r| r.get(0),
            )
        })
    }

    async fn create_user(&self, user: NewUser, audit: AuditEvent) -> StoreResult<User> {
        self.write(move |conn| {
            let now = crate::now_ms();
            let tx = conn.transaction().map_err(map_err)?;
            let created = insert_user(&tx, &user, now).map_err(map_err)?;
            let mut audit = audit;
            audit.target.get_or_insert_with(|| created.username.clone());
            commit_audited(tx, &audit, None, now)?;
            Ok(created)
        })
        .await
    }

    async fn create_first_admin(
        &self,
        token: KeyHash,
        now: i64,
        user: NewUser,
        audit: AuditEvent,
    ) -> StoreResult<Option<User>> {
        self.write(move |conn| {
            let tx = conn.transaction().map_err(map_err)?;
            let stored: Option<String> = tx
                .query_row(
                    "SELECT value FROM settings WHERE key = ?1",
                    [SETUP_TOKEN_KEY],
                    |r| r.get(0),
                )
                .optional()
                .map_err(map_err)?;
            let users: i64 = tx
                .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
                .map_err(map_err)?;
            if users > 0 || !stored.is_some_and(|s| setup_token_matches(&s, &token, now)) {
                return Ok(None);
            }
            tx.execute("DELETE FROM settings WHERE key = ?1", [SETUP_TOKEN_KEY])
                .map_err(map_err)?;
            let created = insert_user(&tx, &user, now).map_err(map_err)?;
            commit_audited(tx, &audit, None, now)?;
            Ok(Some(created))
        })
        .await
    }

    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?1"
            ))?
            .query_row([id], |r| user_from(r, 0))
            .optional()
        })
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        self.user_where("u.username_lower = ?1", &username.to_lowercase())
    }

    async fn user_by_username_or_email(&self, login: &str) -> StoreResult<Option<User>> {
        self.user_where(
            "u.username_lower = ?1 OR u.email_lower = ?1",
            &login.to_lowercase(),
        )
    }

    async fn search_users(
        &self,
        query: &str,
        email: EmailMatch,
        limit: i64,
    ) -> StoreResult<Vec<User>> {
        let (q, pattern, email_pattern) = search_patterns(query, email);
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users u
                 WHERE u.deleted_at IS NULL AND (u.username_lower LIKE ?1 ESCAPE '\\' OR u.email_lower LIKE ?4 ESCAPE '\\')
                 ORDER BY (u.username_lower = ?2 OR u.email_lower = ?2) DESC, u.username_lower LIMIT ?3"
            ))?;
            let rows = stmt.query_map(params![pattern, q, limit, email_pattern], |r| user_from(r, 0))?;
            rows.collect()
        })
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.id"))?;
            let rows = stmt.query_map([], |r| user_from(r, 0))?;
            rows.collect()
        })
    }

    async fn set_password(&self, user_id: i64, hash: String, audit: AuditEvent) -> StoreResult<()> {
        self.write(move |conn| {
            let now = crate::now_ms();
            let tx = conn.transaction().map_err(map_err)?;
            tx.execute(
                "UPDATE users SET password_hash = ?1 WHERE id = ?2",
                params![hash, user_id],
            )
            .map_err(map_err)?;
            tx.execute("DELETE FROM sessions WHERE user_id = ?1", [user_id])
                .map_err(map_err)?;
            commit_audited(tx, &audit, None, now)
        })
        .await
    }
}
