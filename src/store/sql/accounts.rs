//! People: accounts, look-ups, search and passwords; also what the drift test and `/readyz` ask of a backend.

use async_trait::async_trait;

use super::{audited, sql, work, Backend, Exec, Sql, SqlStore};
use crate::error::StoreResult;
use crate::store::rows::user_cols;
use crate::store::*;

pub(super) const USER_BY_ID: &Sql = sql!("SELECT ", user_cols!(), " FROM users u WHERE u.id = $1");

/// Inserts a person and the entity that owns their projects.
pub(super) async fn insert_user<C: Exec>(c: &mut C, u: &NewUser, now: i64) -> StoreResult<User> {
    let (id,): (i64,) = c
        .one(
            sql!("INSERT INTO users (username, username_lower, email, email_lower, name, password_hash, is_admin, account_type, created_at)
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id"),
            &[&u.username, &u.username.to_lowercase(), &u.email, &u.email.to_lowercase(), &u.name,
              &u.password_hash, &u.is_admin, &u.account_type.as_str(), &now],
        )
        .await?;
    c.execute(
        sql!("INSERT INTO entities (name, name_lower, kind, user_id, created_at) VALUES ($1, $2, 'user', $3, $4)"),
        &[&u.username, &u.username.to_lowercase(), &id, &now],
    )
    .await?;
    c.one(USER_BY_ID, &[&id]).await
}

const USER_BY_USERNAME: &Sql = sql!(
    "SELECT ",
    user_cols!(),
    " FROM users u WHERE u.username_lower = $1"
);
const USER_BY_USERNAME_OR_EMAIL: &Sql = sql!(
    "SELECT ",
    user_cols!(),
    " FROM users u WHERE u.username_lower = $1 OR u.email_lower = $1"
);
/// Every column as (table, column, declared type, nullable), for the drift test.
const SCHEMA_COLUMNS: &Sql = sql!(
    pg: "SELECT table_name::text, column_name::text, data_type::text, is_nullable = 'YES'
         FROM information_schema.columns WHERE table_schema = current_schema()
         ORDER BY table_name, ordinal_position",
    lite: "SELECT m.name, p.name, p.type, NOT (p.\"notnull\" OR p.pk > 0)
           FROM sqlite_master m JOIN pragma_table_info(m.name) p
           WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid",
);
const LIST_USERS: &Sql = sql!("SELECT ", user_cols!(), " FROM users u ORDER BY u.id");

#[async_trait]
impl<B: Backend> AccountStore for SqlStore<B> {
    fn backend(&self) -> &'static str {
        B::NAME
    }

    fn cache_epoch(&self) -> std::sync::Arc<crate::cache::CacheEpoch> {
        self.0.cache_epoch().clone()
    }

    async fn ping(&self) -> StoreResult<()> {
        work!(self.0, read, |c| { c.batch(sql!("SELECT 1")).await })
    }

    async fn schema_columns(&self) -> StoreResult<Vec<(String, String, String, bool)>> {
        let cols: Vec<(String, String, String, bool)> = self.read_all(SCHEMA_COLUMNS, ()).await?;
        let family = |ty: &str| match ty.to_ascii_lowercase().as_str() {
            "integer" | "bigint" | "boolean" => "integer",
            "blob" | "bytea" => "bytes",
            _ => "text",
        };
        let cols = cols.into_iter();
        Ok(cols
            .map(|(t, c, ty, null)| (t, c, family(&ty).into(), null))
            .collect())
    }

    async fn count_users(&self) -> StoreResult<i64> {
        let (n,) = self
            .read_opt(
                sql!("SELECT COUNT(*) FROM users WHERE deleted_at IS NULL"),
                (),
            )
            .await?
            .unwrap_or((0,));
        Ok(n)
    }

    async fn create_user(&self, user: NewUser, mut audit: AuditEvent) -> StoreResult<User> {
        work!(self, tx, |c| {
            let now = crate::now_ms();
            let created = insert_user(c, &user, now).await?;
            audit.target.get_or_insert_with(|| created.username.clone());
            audited(c, &audit, None, now).await?;
            Ok(created)
        })
    }

    async fn create_first_admin(
        &self,
        admin: FirstAdmin,
        audit: AuditEvent,
    ) -> StoreResult<Option<User>> {
        let FirstAdmin {
            setup_token: token,
            user,
            now,
        } = admin;
        work!(self, tx, |c| {
            let stored: Option<(String,)> = c
                .opt(
                    sql!(pg: "SELECT value FROM settings WHERE key = $1 FOR UPDATE",
                             lite: "SELECT value FROM settings WHERE key = $1"),
                    &[&SETUP_TOKEN_KEY],
                )
                .await?;
            let (users,): (i64,) = c.one(sql!("SELECT COUNT(*) FROM users"), &[]).await?;
            if users > 0 || !stored.is_some_and(|(s,)| setup_token_matches(&s, &token, now)) {
                return Ok(None);
            }
            c.execute(
                sql!("DELETE FROM settings WHERE key = $1"),
                &[&SETUP_TOKEN_KEY],
            )
            .await?;
            let created = insert_user(c, &user, now).await?;
            audited(c, &audit, None, now).await?;
            Ok(Some(created))
        })
    }

    async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        self.read_opt(USER_BY_ID, (id,)).await
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        self.read_opt(USER_BY_USERNAME, (username.to_lowercase(),))
            .await
    }

    async fn user_by_username_or_email(&self, login: &str) -> StoreResult<Option<User>> {
        self.read_opt(USER_BY_USERNAME_OR_EMAIL, (login.to_lowercase(),))
            .await
    }

    async fn search_users(
        &self,
        query: &str,
        email: EmailMatch,
        limit: i64,
    ) -> StoreResult<Vec<User>> {
        let (q, pattern, email_pattern) = search_patterns(query, email);
        // Ties sort by bytes on both: SQLite's default, PostgreSQL's `COLLATE "C"`,
        // whatever the database's collation.
        self.read_all(
            sql!(
                pg: concat!("SELECT ", user_cols!(), " FROM users u
                     WHERE u.deleted_at IS NULL AND (u.username_lower LIKE $1 ESCAPE '\\' OR u.email_lower LIKE $4 ESCAPE '\\')
                     ORDER BY (u.username_lower = $2 OR u.email_lower = $2) DESC, u.username_lower COLLATE \"C\" LIMIT $3"),
                lite: concat!("SELECT ", user_cols!(), " FROM users u
                     WHERE u.deleted_at IS NULL AND (u.username_lower LIKE $1 ESCAPE '\\' OR u.email_lower LIKE $4 ESCAPE '\\')
                     ORDER BY (u.username_lower = $2 OR u.email_lower = $2) DESC, u.username_lower LIMIT $3"),
            ),
            (pattern, q, limit, email_pattern),
        )
        .await
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        self.read_all(LIST_USERS, ()).await
    }

    async fn set_password(&self, change: PasswordChange) -> StoreResult<u64> {
        work!(self, tx, |c| {
            let PasswordChange {
                user_id,
                hash,
                keep_session,
                audit,
                notice,
            } = &change;
            c.execute(
                sql!("UPDATE users SET password_hash = $1 WHERE id = $2"),
                &[hash, user_id],
            )
            .await?;
            let ended = c
                .execute(
                    sql!("DELETE FROM sessions WHERE user_id = $1 AND id <> $2"),
                    &[user_id, &keep_session.unwrap_or(0)],
                )
                .await?;
            let audit = audit.clone().with(serde_json::json!({ "sessions": ended }));
            audited(c, &audit, notice.as_ref(), crate::now_ms()).await?;
            Ok(ended)
        })
    }
}
