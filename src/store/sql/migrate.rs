//! Applying the embedded migrations, each exactly once, on either backend.

use super::{sql, work, Backend, Exec, Sql, SqlStore};
use crate::error::StoreError;
use crate::store::migrations::MIGRATIONS_TABLE;

/// Arbitrary constant naming Fulcrum's migration lock on PostgreSQL.
const MIGRATION_LOCK: i64 = 0x0046_756c_6372_756d;

impl<B: Backend> SqlStore<B> {
    /// Applies, in one transaction, every migration not applied yet. On PostgreSQL an
    /// advisory lock makes instances that start together apply each one exactly once;
    /// `fulcrum migrate` runs them ahead of a rollout.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        work!(self, tx, |c| {
            c.execute(
                sql!(pg: "SELECT pg_advisory_xact_lock($1)", lite: ""),
                &[&MIGRATION_LOCK],
            )
            .await?;
            c.batch(&Sql {
                pg: MIGRATIONS_TABLE,
                lite: MIGRATIONS_TABLE,
            })
            .await?;
            for m in B::MIGRATIONS {
                let done: Option<(i64,)> = c
                    .opt(
                        sql!("SELECT version FROM schema_migrations WHERE version = $1"),
                        &[&m.version],
                    )
                    .await?;
                if done.is_some() {
                    continue;
                }
                c.batch(&Sql {
                    pg: m.sql,
                    lite: m.sql,
                })
                .await
                .map_err(|e| {
                    let what = format!("{} migration {} ({}) failed", B::NAME, m.version, m.name);
                    StoreError::Other(anyhow::Error::new(e).context(what))
                })?;
                c.execute(
                    sql!("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)"),
                    &[&m.version, &m.name, &crate::now_ms()],
                )
                .await?;
            }
            Ok(())
        })?;
        Ok(())
    }

    /// With `--no-migrate`, refuses to serve a schema older than this binary expects.
    pub async fn check_migrated(&self) -> anyhow::Result<()> {
        let latest = B::MIGRATIONS.last().map_or(0, |m| m.version);
        let applied: Option<(Option<i64>,)> = self
            .read_opt(sql!("SELECT MAX(version) FROM schema_migrations"), ())
            .await
            .ok()
            .flatten();
        if applied.and_then(|(v,)| v).unwrap_or(0) < latest {
            anyhow::bail!("the database schema is behind this binary; run `fulcrum migrate` first");
        }
        Ok(())
    }
}
