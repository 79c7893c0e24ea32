//! PostgreSQL backend: a pooled store shared by any number of Fulcrum instances.
//!
//! Statements are prepared
//! once per pooled connection (deadpool's statement cache); they live in `store/sql/`.

use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::{ClientWrapper, Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

use super::conflict_field;
use super::rows::FromRow;
use super::sql::{Atomic, Backend, Exec, Param, Sql, SqlStore, Work};
use crate::error::{StoreError, StoreResult};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The PostgreSQL side of [`SqlStore`].
pub struct Pg {
    pool: Pool,
    epoch: Arc<crate::cache::CacheEpoch>,
}

tokio::task_local! {
    /// Set by a write whose change the read caches must not outlive; the write runs in the
    /// task that awaits it, inside `Pg::write`.
    static CHANGED: Cell<bool>;
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
    if is_unavailable(&e) {
        return StoreError::Unavailable(anyhow::Error::new(e));
    }
    let unstorable = [
        SqlState::CHARACTER_NOT_IN_REPERTOIRE,
        SqlState::UNTRANSLATABLE_CHARACTER,
    ];
    if e.code().is_some_and(|c| unstorable.contains(c)) {
        return StoreError::Unstorable(anyhow::Error::new(e));
    }
    StoreError::Other(anyhow::Error::new(e))
}

/// A connection that broke or a server that is shutting down, starting or full: the same
/// request can succeed once PostgreSQL is back, so the client hears 503, not 500.
fn is_unavailable(e: &tokio_postgres::Error) -> bool {
    const UNAVAILABLE: [SqlState; 6] = [
        SqlState::ADMIN_SHUTDOWN,
        SqlState::CRASH_SHUTDOWN,
        SqlState::CANNOT_CONNECT_NOW,
        SqlState::TOO_MANY_CONNECTIONS,
        SqlState::CONNECTION_EXCEPTION,
        SqlState::CONNECTION_FAILURE,
    ];
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => UNAVAILABLE.contains(code),
        None => {
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                if c.is::<std::io::Error>() {
                    return true;
                }
                cause = c.source();
            }
            false
        }
    }
}

fn pool_err(e: deadpool_postgres::PoolError) -> StoreError {
    use deadpool_postgres::PoolError;
    match e {
        PoolError::Backend(e) => match map_err(e) {
            StoreError::Other(cause) => StoreError::Unavailable(cause),
            other => other,
        },
        PoolError::Timeout(_) | PoolError::Closed => {
            StoreError::Unavailable(anyhow::anyhow!("PostgreSQL pool: {e}"))
        }
        e => StoreError::Other(anyhow::anyhow!("PostgreSQL pool: {e}")),
    }
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

    fn mark_changed(&mut self) {
        let _ = CHANGED.try_with(|c| c.set(true));
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

    fn cache_epoch(&self) -> &Arc<crate::cache::CacheEpoch> {
        &self.epoch
    }

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
        let (out, changed) = CHANGED
            .scope(Cell::new(false), async move {
                let out = self.write_now(atomic, work).await;
                (out, CHANGED.with(Cell::get))
            })
            .await;
        // After the commit and before the caller hears of it (other instances hear of it
        // through NOTIFY fulcrum_cache).
        if changed && out.is_ok() {
            self.epoch.bump();
        }
        out
    }
}

impl Pg {
    async fn write_now<T, F>(&self, atomic: Atomic, work: F) -> StoreResult<T>
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

    async fn client(&self) -> StoreResult<Object> {
        self.pool.get().await.map_err(pool_err)
    }
}

impl SqlStore<Pg> {
    pub async fn connect(url: &str, size: usize) -> anyhow::Result<Self> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .context("database_url is not a valid PostgreSQL URL")?;
        // A database that does not answer must fail a request in seconds, not hang it:
        // connecting, and any write the network swallows, give up after these.
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(Duration::from_secs(10));
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(size)
            .wait_timeout(Some(Duration::from_secs(5)))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .context("cannot build the PostgreSQL pool")?;
        drop(pool.get().await.context("cannot connect to PostgreSQL")?);
        // Off until this instance's listener hears other instances' changes
        // (`jobs::wake::listen_postgres`): without it, a cached value could outlive a
        // change made elsewhere.
        let epoch = Arc::new(crate::cache::CacheEpoch::new(false));
        Ok(SqlStore(Pg { pool, epoch }))
    }
}
