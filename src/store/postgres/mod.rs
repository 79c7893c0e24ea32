//! PostgreSQL backend: a pooled store shared by any number of Fulcrum instances.
//!
//! Statements are prepared
//! once per pooled connection (deadpool's statement cache); they live in `store/sql/`.

use anyhow::Context;
use deadpool_postgres::{ClientWrapper, Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

use super::conflict_field;
use super::rows::FromRow;
use super::sql::{Atomic, Backend, Exec, Param, Sql, SqlStore, Work};
use crate::error::{StoreError, StoreResult};

/// The PostgreSQL side of [`SqlStore`].
pub struct Pg {
    pool: Pool,
}

pub type PgStore = SqlStore<Pg>;

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

fn pg_args<'a>(args: &'a [&'a dyn Param]) -> Vec<&'a (dyn tokio_postgres::types::ToSql + Sync)> {
    args.iter().map(|a| a.pg()).collect()
}

impl Exec for ClientWrapper {
    fn remote(&self) -> bool {
        true
    }

    async fn execute(&mut self, sql: &Sql, args: &[&dyn Param]) -> StoreResult<u64> {
        if sql.pg.is_empty() {
            return Ok(0);
        }
        let stmt = self.prepare_cached(sql.pg).await.map_err(map_err)?;
        tokio_postgres::Client::execute(self, &stmt, &pg_args(args))
            .await
            .map_err(map_err)
    }

    async fn opt<T: FromRow>(&mut self, sql: &Sql, args: &[&dyn Param]) -> StoreResult<Option<T>> {
        let stmt = self.prepare_cached(sql.pg).await.map_err(map_err)?;
        let row = self
            .query_opt(&stmt, &pg_args(args))
            .await
            .map_err(map_err)?;
        row.map(|r| T::from_row(&r)).transpose().map_err(map_err)
    }

    async fn all<T: FromRow>(&mut self, sql: &Sql, args: &[&dyn Param]) -> StoreResult<Vec<T>> {
        let stmt = self.prepare_cached(sql.pg).await.map_err(map_err)?;
        let rows = self.query(&stmt, &pg_args(args)).await.map_err(map_err)?;
        rows.iter()
            .map(T::from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    async fn batch(&mut self, sql: &Sql) -> StoreResult<()> {
        if sql.pg.is_empty() {
            return Ok(());
        }
        self.batch_execute(sql.pg).await.map_err(map_err)
    }
}

/// A pooled connection inside BEGIN … COMMIT. If the work is dropped half way (the
/// request was cancelled), the connection is closed instead of going back to the pool,
/// and PostgreSQL rolls the transaction back.
struct OpenTx(Option<Object>);

impl OpenTx {
    fn finish(mut self) -> Option<Object> {
        self.0.take()
    }
}

impl Drop for OpenTx {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            drop(Object::take(client));
        }
    }
}

impl Backend for Pg {
    const NAME: &'static str = "postgres";
    const MIGRATIONS: &'static [super::Migration] = super::migrations::POSTGRES;
    type Conn = ClientWrapper;

    async fn read<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send,
        F: for<'c> FnOnce(&'c mut ClientWrapper) -> Work<'c, T> + Send,
    {
        let mut client = self.client().await?;
        work(&mut client).await
    }

    async fn write<T, F>(&self, atomic: Atomic, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut ClientWrapper) -> Work<'c, T> + Send + 'static,
    {
        let mut client = self.client().await?;
        if atomic == Atomic::Statement {
            return work(&mut client).await;
        }
        client.batch_execute("BEGIN").await.map_err(map_err)?;
        let mut tx = OpenTx(Some(client));
        let Some(client) = tx.0.as_mut() else {
            return Err(StoreError::Other(anyhow::anyhow!(
                "transaction lost its connection"
            )));
        };
        let out = work(client).await;
        let end = if out.is_ok() { "COMMIT" } else { "ROLLBACK" };
        client.batch_execute(end).await.map_err(map_err)?;
        drop(tx.finish());
        out
    }
}

impl Pg {
    async fn client(&self) -> StoreResult<Object> {
        self.pool.get().await.map_err(pool_err)
    }
}

impl SqlStore<Pg> {
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
        Ok(SqlStore(Pg { pool }))
    }
}
