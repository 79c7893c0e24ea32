//! SQLite backend: WAL, foreign keys, a busy timeout and exactly one writer connection.
//!
//! Reads run inline on a small pool of read connections (an indexed lookup costs a few
//! microseconds; a thread hop would cost more than the query). Writes go through the single
//! writer on the blocking pool, so they never stall the async workers and never contend for
//! SQLite's write lock among themselves.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::migrations::{MIGRATIONS_TABLE, SQLITE};
use super::*;
use crate::error::{StoreError, StoreResult};

pub struct SqliteStore {
    writer: Arc<Mutex<Connection>>,
    readers: Arc<Vec<Mutex<Connection>>>,
    next_reader: AtomicUsize,
}

pub(crate) const USER_COLUMNS: &str = "u.id, u.username, u.email, u.name, u.is_admin, u.account_type, u.password_hash, u.flags, \
     u.created_at, u.deleted_at, u.default_entity_id, u.hide_teams, u.email_verified_at, u.service_team_id";
const KEY_COLUMNS: &str = "k.id, k.key_id, k.user_id, k.name, k.origin, k.created_at, k.expires_at, k.last_used_at, k.last_used_ip, k.last_used_ua, k.revoked_at";

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // synchronous=NORMAL in WAL mode survives a killed process (kill -9); only an OS crash
    // or power loss can drop the last commits.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
    )?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

pub(crate) fn map_err(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, msg) = &e {
        if f.code == rusqlite::ErrorCode::ConstraintViolation {
            if let Some(m) = msg.as_deref().filter(|m| m.contains("UNIQUE")) {
                return StoreError::Conflict(conflict_field(m));
            }
        }
    }
    StoreError::Other(anyhow::Error::new(e))
}

pub(crate) fn user_from(row: &Row<'_>, at: usize) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(at)?,
        username: row.get(at + 1)?,
        email: row.get(at + 2)?,
        name: row.get(at + 3)?,
        is_admin: row.get(at + 4)?,
        account_type: AccountType::parse(&row.get::<_, String>(at + 5)?),
        password_hash: row.get(at + 6)?,
        flags: row.get(at + 7)?,
        created_at: row.get(at + 8)?,
        deleted_at: row.get(at + 9)?,
        default_entity_id: row.get(at + 10)?,
        hide_teams: row.get(at + 11)?,
        email_verified_at: row.get(at + 12)?,
        service_team_id: row.get(at + 13)?,
    })
}

fn key_from(row: &Row<'_>, at: usize) -> rusqlite::Result<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: row.get(at)?,
        key_id: row.get(at + 1)?,
        user_id: row.get(at + 2)?,
        name: row.get(at + 3)?,
        origin: row.get(at + 4)?,
        created_at: row.get(at + 5)?,
        expires_at: row.get(at + 6)?,
        last_used_at: row.get(at + 7)?,
        last_used_ip: row.get(at + 8)?,
        last_used_ua: row.get(at + 9)?,
        revoked_at: row.get(at + 10)?,
    })
}

pub(crate) fn insert_audit(conn: &Connection, e: &AuditEvent, now: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO audit_log (at, actor_user_id, action, target, ip, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![now, e.actor_user_id, e.action, e.target, e.ip, e.detail.to_string()])?;
    Ok(())
}

fn insert_user(conn: &Connection, u: &NewUser, now: i64) -> rusqlite::Result<User> {
    conn.prepare_cached(
        "INSERT INTO users (username, username_lower, email, email_lower, name, password_hash, is_admin, account_type, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        u.username,
        u.username.to_lowercase(),
        u.email,
        u.email.to_lowercase(),
        u.name,
        u.password_hash,
        u.is_admin,
        u.account_type.as_str(),
        now
    ])?;
    let id = conn.last_insert_rowid();
    conn.prepare_cached(
        "INSERT INTO entities (name, name_lower, kind, user_id, created_at) VALUES (?1, ?2, 'user', ?3, ?4)",
    )?
    .execute(params![u.username, u.username.to_lowercase(), id, now])?;
    conn.query_row(
        &format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?1"),
        [id],
        |r| user_from(r, 0),
    )
}

impl SqliteStore {
    pub fn open(path: &Path, readers: usize) -> anyhow::Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let writer = Connection::open(path)
            .with_context(|| format!("cannot open SQLite database {}", path.display()))?;
        configure(&writer)?;
        let mut pool = Vec::with_capacity(readers);
        for _ in 0..readers.max(1) {
            let conn = Connection::open(path)?;
            configure(&conn)?;
            pool.push(Mutex::new(conn));
        }
        Ok(Self {
            writer: Arc::new(Mutex::new(writer)),
            readers: Arc::new(pool),
            next_reader: AtomicUsize::new(0),
        })
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        self.write(|conn| {
            let tx = conn.transaction().map_err(map_err)?;
            tx.execute_batch(MIGRATIONS_TABLE).map_err(map_err)?;
            for m in SQLITE {
                let done: Option<i64> = tx
                    .query_row("SELECT version FROM schema_migrations WHERE version = ?1", [m.version], |r| r.get(0))
                    .optional()
                    .map_err(map_err)?;
                if done.is_none() {
                    tx.execute_batch(m.sql)
                        .with_context(|| format!("SQLite migration {} ({}) failed", m.version, m.name))?;
                    tx.execute(
                        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                        params![m.version, m.name, crate::now_ms()],
                    )
                    .map_err(map_err)?;
                }
            }
            tx.commit().map_err(map_err)
        })
        .await?;
        Ok(())
    }

    /// Runs a short read on one of the read connections, inline.
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> StoreResult<T> {
        let n = self.readers.len();
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if let Some(conn) = self.readers[(start + i) % n].try_lock() {
                return f(&conn).map_err(map_err);
            }
        }
        let conn = self.readers[start % n].lock();
        f(&conn).map_err(map_err)
    }

    pub(crate) async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let writer = Arc::clone(&self.writer);
        tokio::task::spawn_blocking(move || {
            let mut conn = writer.lock();
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Other(anyhow::anyhow!("SQLite writer task failed: {e}")))?
    }

    fn user_where(&self, clause: &str, arg: &str) -> StoreResult<Option<User>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users u WHERE {clause}"
            ))?
            .query_row([arg], |r| user_from(r, 0))
            .optional()
        })
    }

    fn key_auth_where(
        &self,
        clause: &str,
        arg: &dyn rusqlite::ToSql,
    ) -> StoreResult<Option<KeyAuth>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {KEY_COLUMNS}, k.secret_hash, {USER_COLUMNS} FROM api_keys k JOIN users u ON u.id = k.user_id WHERE {clause}"
            ))?
            .query_row([arg], |r| {
                Ok(KeyAuth {
                    key: key_from(r, 0)?,
                    secret_hash: r.get(11)?,
                    user: user_from(r, 12)?,
                })
            })
            .optional()
        })
    }
}

const PROFILE_COLUMNS: &str =
    "name, institution, bio, location, website, intro, intro_html, avatar, language";

fn profile_from(row: &Row<'_>) -> rusqlite::Result<Profile> {
    Ok(Profile {
        name: row.get(0)?,
        institution: row.get(1)?,
        bio: row.get(2)?,
        location: row.get(3)?,
        website: row.get(4)?,
        intro: row.get(5)?,
        intro_html: row.get(6)?,
        avatar: row.get(7)?,
        language: row.get(8)?,
    })
}

#[async_trait]
impl Store for SqliteStore {
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
            insert_audit(&tx, &audit, now).map_err(map_err)?;
            tx.commit().map_err(map_err)?;
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
            insert_audit(&tx, &audit, now).map_err(map_err)?;
            tx.commit().map_err(map_err)?;
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
            insert_audit(&tx, &audit, now).map_err(map_err)?;
            tx.commit().map_err(map_err)
        })
        .await
    }

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
        self.write(move |conn| {
            let now = crate::now_ms();
            let tx = conn.transaction().map_err(map_err)?;
            tx.execute(
                "UPDATE users SET name = COALESCE(?1, name), institution = COALESCE(?2, institution),
                   bio = COALESCE(?3, bio), location = COALESCE(?4, location),
                   website = COALESCE(?5, website), language = COALESCE(?6, language)
                 WHERE id = ?7",
                params![u.name, u.institution, u.bio, u.location, u.website, u.language, user_id],
            )
            .map_err(map_err)?;
            insert_audit(&tx, &audit, now).map_err(map_err)?;
            tx.commit().map_err(map_err)
        })
        .await
    }

    async fn update_intro(
        &self,
        user_id: i64,
        intro: String,
        intro_html: String,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.write(move |conn| {
            let now = crate::now_ms();
            let tx = conn.transaction().map_err(map_err)?;
            tx.execute(
                "UPDATE users SET intro = ?1, intro_html = ?2 WHERE id = ?3",
                params![intro, intro_html, user_id],
            )
            .map_err(map_err)?;
            insert_audit(&tx, &audit, now).map_err(map_err)?;
            tx.commit().map_err(map_err)
        })
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
            insert_audit(&tx, &audit, now).map_err(map_err)?;
            tx.commit().map_err(map_err)?;
            Ok(previous)
        })
        .await
    }

    async fn insert_api_key(
        &self,
        key: NewApiKey,
        max_active: i64,
        audit: AuditEvent,
    ) -> StoreResult<ApiKeyRecord> {
        self.write(move |conn| {
            let now = crate::now_ms();
            let tx = conn.transaction().map_err(map_err)?;
            let active: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM api_keys WHERE user_id = ?1 AND revoked_at IS NULL",
                    [key.user_id],
                    |r| r.get(0),
                )
                .map_err(map_err)?;
            if active >= max_active {
                return Err(StoreError::LimitReached);
            }
            tx.execute(
                "INSERT INTO api_keys (key_id, secret_hash, user_id, name, origin, created_at, created_by, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    key.key_id,
                    key.secret_hash.as_slice(),
                    key.user_id,
                    key.name,
                    key.origin.as_str(),
                    now,
                    key.created_by,
                    key.expires_at
                ],
            )
            .map_err(map_err)?;
            let id = tx.last_insert_rowid();
            let record = tx
                .query_row(&format!("SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.id = ?1"), [id], |r| key_from(r, 0))
                .map_err(map_err)?;
            insert_audit(&tx, &audit, now).map_err(map_err)?;
            tx.commit().map_err(map_err)?;
            Ok(record)
        })
        .await
    }

    async fn key_auth_by_key_id(&self, key_id: &str) -> StoreResult<Option<KeyAuth>> {
        self.key_auth_where("k.key_id = ?1", &key_id)
    }

    async fn key_auth_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<KeyAuth>> {
        self.key_auth_where("k.secret_hash = ?1", &hash.as_slice())
    }

    async fn api_key_by_id(&self, id: i64) -> StoreResult<Option<ApiKeyRecord>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.id = ?1"
            ))?
            .query_row([id], |r| key_from(r, 0))
            .optional()
        })
    }

    async fn list_api_keys(&self, user_id: i64) -> StoreResult<Vec<ApiKeyRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.user_id = ?1 AND k.revoked_at IS NULL ORDER BY k.created_at, k.id"
            ))?;
            let rows = stmt.query_map([user_id], |r| key_from(r, 0))?;
            rows.collect()
        })
    }

    async fn revoke_api_key(
        &self,
        id: i64,
        now: i64,
        revoked_by: Option<i64>,
        audit: AuditEvent,
    ) -> StoreResult<bool> {
        self.write(move |conn| {
            let tx = conn.transaction().map_err(map_err)?;
            let changed = tx
                .execute(
                    "UPDATE api_keys SET revoked_at = ?1, revoked_by = ?2 WHERE id = ?3 AND revoked_at IS NULL",
                    params![now, revoked_by, id],
                )
                .map_err(map_err)?;
            if changed == 1 {
                insert_audit(&tx, &audit, now).map_err(map_err)?;
            }
            tx.commit().map_err(map_err)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn record_key_usage(&self, batch: &[KeyUsage]) -> StoreResult<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let batch = batch.to_vec();
        self.write(move |conn| {
            let tx = conn.transaction().map_err(map_err)?;
            {
                let mut stmt = tx
                    .prepare_cached(
                        "UPDATE api_keys SET last_used_at = ?1, last_used_ip = ?2, last_used_ua = ?3
                         WHERE id = ?4 AND (last_used_at IS NULL OR last_used_at < ?1)",
                    )
                    .map_err(map_err)?;
                for u in &batch {
                    stmt.execute(params![u.at, u.ip, u.user_agent, u.key_pk])
                        .map_err(map_err)?;
                }
            }
            tx.commit().map_err(map_err)
        })
        .await
    }

    async fn insert_session(&self, s: NewSession) -> StoreResult<()> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, idle_expires_at, absolute_expires_at, ip, user_agent)
                 VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7)",
                params![s.token_hash.as_slice(), s.user_id, s.created_at, s.idle_expires_at, s.absolute_expires_at, s.ip, s.user_agent],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn session_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<(Session, User)>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT s.id, s.user_id, s.created_at, s.last_seen_at, s.idle_expires_at, s.absolute_expires_at, {USER_COLUMNS}
                 FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1"
            ))?
            .query_row([hash.as_slice()], |r| {
                Ok((
                    Session {
                        id: r.get(0)?,
                        user_id: r.get(1)?,
                        created_at: r.get(2)?,
                        last_seen_at: r.get(3)?,
                        idle_expires_at: r.get(4)?,
                        absolute_expires_at: r.get(5)?,
                    },
                    user_from(r, 6)?,
                ))
            })
            .optional()
        })
    }

    async fn touch_session(&self, id: i64, now: i64, idle_expires_at: i64) -> StoreResult<()> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE sessions SET last_seen_at = ?1, idle_expires_at = ?2 WHERE id = ?3",
                params![now, idle_expires_at, id],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn delete_session(&self, hash: &KeyHash) -> StoreResult<()> {
        let hash = *hash;
        self.write(move |conn| {
            conn.execute(
                "DELETE FROM sessions WHERE token_hash = ?1",
                [hash.as_slice()],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn delete_user_sessions(&self, user_id: i64) -> StoreResult<u64> {
        self.write(move |conn| {
            let n = conn
                .execute("DELETE FROM sessions WHERE user_id = ?1", [user_id])
                .map_err(map_err)?;
            Ok(n as u64)
        })
        .await
    }

    async fn audit(&self, event: AuditEvent, now: i64) -> StoreResult<()> {
        self.write(move |conn| insert_audit(conn, &event, now).map_err(map_err))
            .await
    }

    async fn recent_audit(&self, limit: i64) -> StoreResult<Vec<AuditRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, at, actor_user_id, action, target, ip, detail FROM audit_log ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = stmt.query_map([limit], |r| {
                Ok(AuditRecord {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    actor_user_id: r.get(2)?,
                    action: r.get(3)?,
                    target: r.get(4)?,
                    ip: r.get(5)?,
                    detail: r.get(6)?,
                })
            })?;
            rows.collect()
        })
    }

    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>> {
        self.read(|c| {
            c.prepare_cached("SELECT value FROM settings WHERE key = ?1")?
                .query_row([key], |r| r.get(0))
                .optional()
        })
    }

    async fn put_setting(&self, key: &str, value: &str, now: i64) -> StoreResult<()> {
        let (key, value) = (key.to_string(), value.to_string());
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                params![key, value, now],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn put_setup_token(&self, token: OneTimeToken, now: i64) -> StoreResult<()> {
        self.put_setting(SETUP_TOKEN_KEY, &setup_token_value(&token), now)
            .await
    }
}
