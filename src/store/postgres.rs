//! PostgreSQL backend: a pooled store shared by any number of Fulcrum instances.
//!
//! Migrations run under an advisory lock so instances starting together apply each one
//! exactly once; `fulcrum migrate` runs them ahead of a rollout.

use anyhow::Context;
use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Row};

use super::migrations::{MIGRATIONS_TABLE, POSTGRES};
use super::*;
use crate::error::{StoreError, StoreResult};

pub struct PgStore {
    pool: Pool,
}

pub(crate) const USER_COLUMNS: &str = "u.id, u.username, u.email, u.name, u.is_admin, u.account_type, u.password_hash, u.flags, \
     u.created_at, u.deleted_at, u.default_entity_id, u.hide_teams, u.email_verified_at, u.service_team_id";
const KEY_COLUMNS: &str = "k.id, k.key_id, k.user_id, k.name, k.origin, k.created_at, k.expires_at, k.last_used_at, k.last_used_ip, k.last_used_ua, k.revoked_at";
/// Arbitrary constant naming Fulcrum's migration lock.
const MIGRATION_LOCK: i64 = 0x0046_756c_6372_756d;

pub(crate) fn map_err(e: tokio_postgres::Error) -> StoreError {
    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        let what = e
            .as_db_error()
            .and_then(|d| d.constraint().map(str::to_string))
            .unwrap_or_default();
        return StoreError::Conflict(conflict_field(&what));
    }
    StoreError::Other(anyhow::Error::new(e))
}

fn pool_err(e: deadpool_postgres::PoolError) -> StoreError {
    StoreError::Other(anyhow::anyhow!("PostgreSQL pool: {e}"))
}

pub(crate) fn user_from(row: &Row, at: usize) -> User {
    User {
        id: row.get(at),
        username: row.get(at + 1),
        email: row.get(at + 2),
        name: row.get(at + 3),
        is_admin: row.get(at + 4),
        account_type: AccountType::parse(row.get(at + 5)),
        password_hash: row.get(at + 6),
        flags: row.get(at + 7),
        created_at: row.get(at + 8),
        deleted_at: row.get(at + 9),
        default_entity_id: row.get(at + 10),
        hide_teams: row.get(at + 11),
        email_verified_at: row.get(at + 12),
        service_team_id: row.get(at + 13),
    }
}

fn key_from(row: &Row, at: usize) -> ApiKeyRecord {
    ApiKeyRecord {
        id: row.get(at),
        key_id: row.get(at + 1),
        user_id: row.get(at + 2),
        name: row.get(at + 3),
        origin: row.get(at + 4),
        created_at: row.get(at + 5),
        expires_at: row.get(at + 6),
        last_used_at: row.get(at + 7),
        last_used_ip: row.get(at + 8),
        last_used_ua: row.get(at + 9),
        revoked_at: row.get(at + 10),
    }
}

pub(crate) async fn insert_audit(
    c: &impl GenericClient,
    e: &AuditEvent,
    now: i64,
) -> StoreResult<()> {
    let stmt = c
        .prepare_cached("INSERT INTO audit_log (at, actor_user_id, action, target, ip, detail) VALUES ($1, $2, $3, $4, $5, $6)")
        .await
        .map_err(map_err)?;
    c.execute(
        &stmt,
        &[
            &now,
            &e.actor_user_id,
            &e.action,
            &e.target,
            &e.ip,
            &e.detail.to_string(),
        ],
    )
    .await
    .map_err(map_err)?;
    Ok(())
}

async fn insert_user(c: &impl GenericClient, u: &NewUser, now: i64) -> StoreResult<User> {
    let stmt = c
        .prepare_cached(&format!(
            "WITH u AS (
               INSERT INTO users (username, username_lower, email, email_lower, name, password_hash, is_admin, account_type, created_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *)
             SELECT {USER_COLUMNS} FROM u"
        ))
        .await
        .map_err(map_err)?;
    let row = c
        .query_one(
            &stmt,
            &[
                &u.username,
                &u.username.to_lowercase(),
                &u.email,
                &u.email.to_lowercase(),
                &u.name,
                &u.password_hash,
                &u.is_admin,
                &u.account_type.as_str(),
                &now,
            ],
        )
        .await
        .map_err(map_err)?;
    let user = user_from(&row, 0);
    c.execute(
        "INSERT INTO entities (name, name_lower, kind, user_id, created_at) VALUES ($1, $2, 'user', $3, $4)",
        &[&user.username, &user.username.to_lowercase(), &user.id, &now],
    )
    .await
    .map_err(map_err)?;
    Ok(user)
}

impl PgStore {
    pub async fn connect(url: &str, size: usize) -> anyhow::Result<Self> {
        let config: tokio_postgres::Config = url
            .parse()
            .context("database_url is not a valid PostgreSQL URL")?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(size)
            .wait_timeout(Some(std::time::Duration::from_secs(10)))
            .create_timeout(Some(std::time::Duration::from_secs(10)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .context("cannot build the PostgreSQL pool")?;
        drop(pool.get().await.context("cannot connect to PostgreSQL")?);
        Ok(Self { pool })
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute(MIGRATIONS_TABLE).await?;
        for m in POSTGRES {
            let done = tx
                .query_opt(
                    "SELECT version FROM schema_migrations WHERE version = $1",
                    &[&m.version],
                )
                .await?;
            if done.is_none() {
                tx.batch_execute(m.sql).await.with_context(|| {
                    format!("PostgreSQL migration {} ({}) failed", m.version, m.name)
                })?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    &[&m.version, &m.name, &crate::now_ms()],
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// With `--no-migrate`, refuse to serve a schema older than this binary expects.
    pub async fn check_migrated(&self) -> anyhow::Result<()> {
        let client = self.pool.get().await?;
        let latest = POSTGRES.last().map_or(0, |m| m.version);
        let row = client
            .query_opt("SELECT MAX(version) FROM schema_migrations", &[])
            .await
            .ok()
            .flatten();
        let applied: Option<i64> = row.and_then(|r| r.get(0));
        if applied.unwrap_or(0) < latest {
            anyhow::bail!("the database schema is behind this binary; run `fulcrum migrate` first");
        }
        Ok(())
    }

    pub(crate) async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(pool_err)
    }

    async fn one_user(
        &self,
        clause: &str,
        arg: &(dyn tokio_postgres::types::ToSql + Sync),
    ) -> StoreResult<Option<User>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users u WHERE {clause}"
            ))
            .await
            .map_err(map_err)?;
        let row = c.query_opt(&stmt, &[arg]).await.map_err(map_err)?;
        Ok(row.map(|r| user_from(&r, 0)))
    }

    async fn key_auth_where(
        &self,
        clause: &str,
        arg: &(dyn tokio_postgres::types::ToSql + Sync),
    ) -> StoreResult<Option<KeyAuth>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "SELECT {KEY_COLUMNS}, k.secret_hash, {USER_COLUMNS} FROM api_keys k JOIN users u ON u.id = k.user_id WHERE {clause}"
            ))
            .await
            .map_err(map_err)?;
        let row = c.query_opt(&stmt, &[arg]).await.map_err(map_err)?;
        Ok(row.map(|r| KeyAuth {
            key: key_from(&r, 0),
            secret_hash: r.get(11),
            user: user_from(&r, 12),
        }))
    }
}

const PROFILE_COLUMNS: &str =
    "name, institution, bio, location, website, intro, intro_html, avatar, language";

fn profile_from(row: &Row) -> Profile {
    Profile {
        name: row.get(0),
        institution: row.get(1),
        bio: row.get(2),
        location: row.get(3),
        website: row.get(4),
        intro: row.get(5),
        intro_html: row.get(6),
        avatar: row.get(7),
        language: row.get(8),
    }
}

#[async_trait]
impl Store for PgStore {
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
        insert_audit(&tx, &audit, now).await?;
        tx.commit().await.map_err(map_err)?;
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
        insert_audit(&tx, &audit, now).await?;
        tx.commit().await.map_err(map_err)?;
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
        insert_audit(&tx, &audit, crate::now_ms()).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn user_profile(&self, user_id: i64) -> StoreResult<Option<Profile>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "SELECT {PROFILE_COLUMNS} FROM users WHERE id = $1"
            ))
            .await
            .map_err(map_err)?;
        let row = c.query_opt(&stmt, &[&user_id]).await.map_err(map_err)?;
        Ok(row.map(|r| profile_from(&r)))
    }

    async fn update_profile(
        &self,
        user_id: i64,
        u: ProfileUpdate,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        tx.execute(
            "UPDATE users SET name = COALESCE($1, name), institution = COALESCE($2, institution),
               bio = COALESCE($3, bio), location = COALESCE($4, location),
               website = COALESCE($5, website), language = COALESCE($6, language)
             WHERE id = $7",
            &[
                &u.name,
                &u.institution,
                &u.bio,
                &u.location,
                &u.website,
                &u.language,
                &user_id,
            ],
        )
        .await
        .map_err(map_err)?;
        insert_audit(&tx, &audit, crate::now_ms()).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn update_intro(
        &self,
        user_id: i64,
        intro: String,
        intro_html: String,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        tx.execute(
            "UPDATE users SET intro = $1, intro_html = $2 WHERE id = $3",
            &[&intro, &intro_html, &user_id],
        )
        .await
        .map_err(map_err)?;
        insert_audit(&tx, &audit, crate::now_ms()).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn set_avatar(
        &self,
        user_id: i64,
        avatar: Option<String>,
        audit: AuditEvent,
    ) -> StoreResult<Option<String>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        let previous: Option<String> = tx
            .query_one(
                "SELECT avatar FROM users WHERE id = $1 FOR UPDATE",
                &[&user_id],
            )
            .await
            .map_err(map_err)?
            .get(0);
        tx.execute(
            "UPDATE users SET avatar = $1 WHERE id = $2",
            &[&avatar, &user_id],
        )
        .await
        .map_err(map_err)?;
        insert_audit(&tx, &audit, crate::now_ms()).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(previous)
    }

    async fn insert_api_key(
        &self,
        key: NewApiKey,
        max_active: i64,
        audit: AuditEvent,
    ) -> StoreResult<ApiKeyRecord> {
        let mut c = self.client().await?;
        let now = crate::now_ms();
        let tx = c.transaction().await.map_err(map_err)?;
        // Lock the owner so concurrent creations on other instances cannot pass the cap.
        tx.execute(
            "SELECT id FROM users WHERE id = $1 FOR UPDATE",
            &[&key.user_id],
        )
        .await
        .map_err(map_err)?;
        let active: i64 = tx
            .query_one(
                "SELECT COUNT(*) FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL",
                &[&key.user_id],
            )
            .await
            .map_err(map_err)?
            .get(0);
        if active >= max_active {
            return Err(StoreError::LimitReached);
        }
        let row = tx
            .query_one(
                &format!(
                    "WITH k AS (
                       INSERT INTO api_keys (key_id, secret_hash, user_id, name, origin, created_at, created_by, expires_at)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *)
                     SELECT {KEY_COLUMNS} FROM k"
                ),
                &[
                    &key.key_id,
                    &key.secret_hash.as_slice(),
                    &key.user_id,
                    &key.name,
                    &key.origin.as_str(),
                    &now,
                    &key.created_by,
                    &key.expires_at,
                ],
            )
            .await
            .map_err(map_err)?;
        insert_audit(&tx, &audit, now).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(key_from(&row, 0))
    }

    async fn key_auth_by_key_id(&self, key_id: &str) -> StoreResult<Option<KeyAuth>> {
        self.key_auth_where("k.key_id = $1", &key_id).await
    }

    async fn key_auth_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<KeyAuth>> {
        self.key_auth_where("k.secret_hash = $1", &hash.as_slice())
            .await
    }

    async fn api_key_by_id(&self, id: i64) -> StoreResult<Option<ApiKeyRecord>> {
        let c = self.client().await?;
        let row = c
            .query_opt(
                &format!("SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.id = $1"),
                &[&id],
            )
            .await
            .map_err(map_err)?;
        Ok(row.map(|r| key_from(&r, 0)))
    }

    async fn list_api_keys(&self, user_id: i64) -> StoreResult<Vec<ApiKeyRecord>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.user_id = $1 AND k.revoked_at IS NULL ORDER BY k.created_at, k.id"
            ))
            .await
            .map_err(map_err)?;
        let rows = c.query(&stmt, &[&user_id]).await.map_err(map_err)?;
        Ok(rows.iter().map(|r| key_from(r, 0)).collect())
    }

    async fn revoke_api_key(
        &self,
        id: i64,
        now: i64,
        revoked_by: Option<i64>,
        audit: AuditEvent,
    ) -> StoreResult<bool> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        let changed = tx
            .execute(
                "UPDATE api_keys SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL",
                &[&now, &revoked_by, &id],
            )
            .await
            .map_err(map_err)?;
        if changed == 1 {
            insert_audit(&tx, &audit, now).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(changed == 1)
    }

    async fn record_key_usage(&self, batch: &[KeyUsage]) -> StoreResult<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        let stmt = tx
            .prepare_cached(
                "UPDATE api_keys SET last_used_at = $1, last_used_ip = $2, last_used_ua = $3
                 WHERE id = $4 AND (last_used_at IS NULL OR last_used_at < $1)",
            )
            .await
            .map_err(map_err)?;
        // Lock rows in key order: instances flushing overlapping batches (built from a
        // HashMap, so in any order) would otherwise deadlock on each other.
        let mut ordered: Vec<&KeyUsage> = batch.iter().collect();
        ordered.sort_by_key(|u| u.key_pk);
        for u in ordered {
            tx.execute(&stmt, &[&u.at, &u.ip, &u.user_agent, &u.key_pk])
                .await
                .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)
    }

    async fn insert_session(&self, s: NewSession) -> StoreResult<()> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, idle_expires_at, absolute_expires_at, ip, user_agent)
             VALUES ($1, $2, $3, $3, $4, $5, $6, $7)",
            &[&s.token_hash.as_slice(), &s.user_id, &s.created_at, &s.idle_expires_at, &s.absolute_expires_at, &s.ip, &s.user_agent],
        )
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn session_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<(Session, User)>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "SELECT s.id, s.user_id, s.created_at, s.last_seen_at, s.idle_expires_at, s.absolute_expires_at, {USER_COLUMNS}
                 FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1"
            ))
            .await
            .map_err(map_err)?;
        let row = c
            .query_opt(&stmt, &[&hash.as_slice()])
            .await
            .map_err(map_err)?;
        Ok(row.map(|r| {
            (
                Session {
                    id: r.get(0),
                    user_id: r.get(1),
                    created_at: r.get(2),
                    last_seen_at: r.get(3),
                    idle_expires_at: r.get(4),
                    absolute_expires_at: r.get(5),
                },
                user_from(&r, 6),
            )
        }))
    }

    async fn touch_session(&self, id: i64, now: i64, idle_expires_at: i64) -> StoreResult<()> {
        let c = self.client().await?;
        c.execute(
            "UPDATE sessions SET last_seen_at = $1, idle_expires_at = $2 WHERE id = $3",
            &[&now, &idle_expires_at, &id],
        )
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn delete_session(&self, hash: &KeyHash) -> StoreResult<()> {
        let c = self.client().await?;
        c.execute(
            "DELETE FROM sessions WHERE token_hash = $1",
            &[&hash.as_slice()],
        )
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn delete_user_sessions(&self, user_id: i64) -> StoreResult<u64> {
        let c = self.client().await?;
        c.execute("DELETE FROM sessions WHERE user_id = $1", &[&user_id])
            .await
            .map_err(map_err)
    }

    async fn audit(&self, event: AuditEvent, now: i64) -> StoreResult<()> {
        let c = self.client().await?;
        insert_audit(&c, &event, now).await
    }

    async fn recent_audit(&self, limit: i64) -> StoreResult<Vec<AuditRecord>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT id, at, actor_user_id, action, target, ip, detail FROM audit_log ORDER BY id DESC LIMIT $1",
                &[&limit],
            )
            .await
            .map_err(map_err)?;
        Ok(rows
            .iter()
            .map(|r| AuditRecord {
                id: r.get(0),
                at: r.get(1),
                actor_user_id: r.get(2),
                action: r.get(3),
                target: r.get(4),
                ip: r.get(5),
                detail: r.get(6),
            })
            .collect())
    }

    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>> {
        let c = self.client().await?;
        let row = c
            .query_opt("SELECT value FROM settings WHERE key = $1", &[&key])
            .await
            .map_err(map_err)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn put_setting(&self, key: &str, value: &str, now: i64) -> StoreResult<()> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            &[&key, &value, &now],
        )
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn put_setup_token(&self, token: OneTimeToken, now: i64) -> StoreResult<()> {
        self.put_setting(SETUP_TOKEN_KEY, &setup_token_value(&token), now)
            .await
    }
}
