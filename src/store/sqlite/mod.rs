//! SQLite backend: WAL, foreign keys, a busy timeout and exactly one writer connection.
//!
//! Reads run inline on a small pool of read connections (an indexed lookup costs a few
//! microseconds; a thread hop would cost more than the query). Writes go through the single
//! writer on the blocking pool, so they never stall the async workers and never contend for
//! SQLite's write lock among themselves.

mod accounts;
mod audit;
mod email_tokens;
mod invites;
mod jobs;
mod keys;
mod profile;
mod sessions;
mod settings;
mod teams;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::migrations::{MIGRATIONS_TABLE, SQLITE};
use super::outbox::{enqueue_sqlite, NewJob};
use super::*;
use crate::error::ErrorCode;
use crate::error::{StoreError, StoreResult};
use crate::keys::KeyHash;

pub struct SqliteStore {
    writer: Arc<Mutex<Connection>>,
    readers: Arc<Vec<Mutex<Connection>>>,
    next_reader: AtomicUsize,
}

use crate::store::rows;
pub(crate) use crate::store::rows::{
    INVITE_COLUMNS, KEY_COLUMNS, PROFILE_COLUMNS, TEAM_COLUMNS, USER_COLUMNS,
};

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
    rows::user(row, at)
}

fn key_from(row: &Row<'_>, at: usize) -> rusqlite::Result<ApiKeyRecord> {
    rows::api_key(row, at)
}

/// Ends a change: its audit row and, when it has one, its outbox job are written in the
/// change's transaction, which then commits. The change, its audit row and its job are
/// kept together or not at all.
pub(crate) fn commit_audited(
    tx: rusqlite::Transaction<'_>,
    audit: &AuditEvent,
    job: Option<&NewJob>,
    now: i64,
) -> StoreResult<()> {
    insert_audit(&tx, audit, now).map_err(map_err)?;
    if let Some(job) = job {
        enqueue_sqlite(&tx, job, now).map_err(map_err)?;
    }
    tx.commit().map_err(map_err)
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

    /// One statement and its audit row, in one transaction on the writer.
    pub(crate) async fn execute_audited(
        &self,
        sql: &'static str,
        params: impl rusqlite::Params + Send + 'static,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.write(move |conn| {
            let now = crate::now_ms();
            let tx = conn.transaction().map_err(map_err)?;
            tx.execute(sql, params).map_err(map_err)?;
            commit_audited(tx, &audit, None, now)
        })
        .await
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

fn profile_from(row: &Row<'_>) -> rusqlite::Result<Profile> {
    rows::profile(row)
}

// Helpers of the teams, invitations and email-token concerns.

fn team_from(r: &Row<'_>) -> rusqlite::Result<Team> {
    rows::team(r)
}

fn invite_from(r: &Row<'_>) -> rusqlite::Result<Invite> {
    rows::invite(r)
}

fn entity_from(r: &Row<'_>) -> rusqlite::Result<Entity> {
    rows::entity(r)
}

fn admin_count(conn: &Connection, team_id: i64) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COUNT(*) FROM team_members m JOIN users u ON u.id = m.user_id
         WHERE m.team_id = ?1 AND m.role = 'admin' AND u.deleted_at IS NULL",
        [team_id],
        |r| r.get(0),
    )
}

fn role_of(conn: &Connection, team_id: i64, user_id: i64) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT role FROM team_members WHERE team_id = ?1 AND user_id = ?2",
        [team_id, user_id],
        |r| r.get(0),
    )
    .optional()
}

fn insert_member(
    conn: &Connection,
    team_id: i64,
    user_id: i64,
    role: &str,
    now: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO team_members (team_id, user_id, role, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![team_id, user_id, role, now],
    )?;
    Ok(())
}
