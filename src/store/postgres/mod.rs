//! PostgreSQL backend: a pooled store shared by any number of Fulcrum instances.
//!
//! Migrations run under an advisory lock so instances starting together apply each one
//! exactly once; `fulcrum migrate` runs them ahead of a rollout.

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

use anyhow::Context;
use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Row};

use super::migrations::{MIGRATIONS_TABLE, POSTGRES};
use super::outbox::{enqueue_pg, NewJob};
use super::*;
use crate::error::ErrorCode;
use crate::error::{StoreError, StoreResult};
use crate::keys::KeyHash;

pub struct PgStore {
    pool: Pool,
}

use crate::store::rows;
pub(crate) use crate::store::rows::{
    INVITE_COLUMNS, KEY_COLUMNS, PROFILE_COLUMNS, TEAM_COLUMNS, USER_COLUMNS,
};
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
    let Ok(user) = rows::user(row, at);
    user
}

fn key_from(row: &Row, at: usize) -> ApiKeyRecord {
    let Ok(key) = rows::api_key(row, at);
    key
}

/// Ends a change: its audit row and, when it has one, its outbox job are written in the
/// change's transaction, which then commits. The change, its audit row and its job are
/// kept together or not at all.
pub(crate) async fn commit_audited(
    tx: deadpool_postgres::Transaction<'_>,
    audit: &AuditEvent,
    job: Option<&NewJob>,
    now: i64,
) -> StoreResult<()> {
    insert_audit(&tx, audit, now).await?;
    if let Some(job) = job {
        enqueue_pg(&tx, job, now).await?;
    }
    tx.commit().await.map_err(map_err)
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

    /// One statement and its audit row, in one transaction.
    pub(crate) async fn execute_audited(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        tx.execute(sql, params).await.map_err(map_err)?;
        commit_audited(tx, &audit, None, crate::now_ms()).await
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

fn profile_from(row: &Row) -> Profile {
    let Ok(profile) = rows::profile(row);
    profile
}

// Helpers of the teams, invitations and email-token concerns.

fn team_from(r: &Row) -> Team {
    let Ok(v) = rows::team(r);
    v
}

fn invite_from(r: &Row) -> Invite {
    let Ok(v) = rows::invite(r);
    v
}

fn entity_from(r: &Row) -> Entity {
    let Ok(v) = rows::entity(r);
    v
}

/// Locks the team's membership rows for the rest of the transaction.
async fn lock_team(c: &impl GenericClient, team_id: i64) -> StoreResult<()> {
    c.execute(
        "SELECT entity_id FROM teams WHERE entity_id = $1 FOR UPDATE",
        &[&team_id],
    )
    .await
    .map_err(map_err)?;
    Ok(())
}

async fn admin_count(c: &impl GenericClient, team_id: i64) -> StoreResult<i64> {
    let row = c
        .query_one(
            "SELECT COUNT(*) FROM team_members m JOIN users u ON u.id = m.user_id
             WHERE m.team_id = $1 AND m.role = 'admin' AND u.deleted_at IS NULL",
            &[&team_id],
        )
        .await
        .map_err(map_err)?;
    Ok(row.get(0))
}

async fn role_of(
    c: &impl GenericClient,
    team_id: i64,
    user_id: i64,
) -> StoreResult<Option<String>> {
    let row = c
        .query_opt(
            "SELECT role FROM team_members WHERE team_id = $1 AND user_id = $2",
            &[&team_id, &user_id],
        )
        .await
        .map_err(map_err)?;
    Ok(row.map(|r| r.get(0)))
}

async fn insert_member(
    c: &impl GenericClient,
    team_id: i64,
    user_id: i64,
    role: &str,
    now: i64,
) -> StoreResult<()> {
    c.execute(
        "INSERT INTO team_members (team_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
        &[&team_id, &user_id, &role, &now],
    )
    .await
    .map_err(map_err)?;
    Ok(())
}
