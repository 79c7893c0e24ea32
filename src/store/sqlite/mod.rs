//! SQLite backend: WAL, foreign keys, a busy timeout and exactly one writer connection.
//!
//! Reads run inline on a small pool of read connections (an indexed lookup costs a few
//! microseconds; a thread hop would cost more than the query). Writes go to the single
//! writer thread, which commits them in groups (`group_commit.rs`), so they never stall the
//! async workers and never contend for SQLite's write lock among themselves. The statements
//! themselves live in `store/sql/`.

mod group_commit;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::Context;
use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension};

use super::conflict_field;
use super::rows::FromRow;
use super::sql::{run_now, Atomic, Backend, Exec, Param, Sql, SqlStore, Work};
use crate::error::{StoreError, StoreResult};

/// The SQLite side of [`SqlStore`].
pub struct Lite {
    writer: group_commit::Writer,
    epoch: Arc<crate::cache::CacheEpoch>,
    readers: Arc<Vec<Mutex<Connection>>>,
    next_reader: AtomicUsize,
}

pub type SqliteStore = SqlStore<Lite>;

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // synchronous=NORMAL in WAL mode survives a killed process (kill -9); only an OS crash
    // or power loss can drop the last commits.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
    )?;
    conn.set_prepared_statement_cache_capacity(128);
    Ok(())
}

pub(crate) fn map_err(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode as Code;
    if let rusqlite::Error::SqliteFailure(f, msg) = &e {
        match f.code {
            Code::ConstraintViolation => {
                if let Some(m) = msg.as_deref().filter(|m| m.contains("UNIQUE")) {
                    return StoreError::Conflict(conflict_field(m));
                }
            }
            // A full disk, or a file another process keeps locked past the busy timeout:
            // the write is refused whole (SQLite rolls it back) and may succeed later.
            Code::DiskFull | Code::SystemIoFailure | Code::DatabaseBusy | Code::DatabaseLocked => {
                return StoreError::Unavailable(anyhow::Error::new(e));
            }
            _ => {}
        }
    }
    StoreError::Other(anyhow::Error::new(e))
}

fn lite_args<'a>(args: &'a [&'a dyn Param]) -> Vec<&'a dyn rusqlite::ToSql> {
    args.iter().map(|a| a.lite()).collect()
}

impl Exec for Connection {
    async fn execute(&mut self, sql: &Sql, args: &[&dyn Param]) -> StoreResult<u64> {
        if sql.lite.is_empty() {
            return Ok(0);
        }
        let mut stmt = self.prepare_cached(sql.lite).map_err(map_err)?;
        let n = stmt.execute(&*lite_args(args)).map_err(map_err)?;
        Ok(n as u64)
    }

    async fn opt<T: FromRow>(&mut self, sql: &Sql, args: &[&dyn Param]) -> StoreResult<Option<T>> {
        let mut stmt = self.prepare_cached(sql.lite).map_err(map_err)?;
        stmt.query_row(&*lite_args(args), |r| T::from_row(r))
            .optional()
            .map_err(map_err)
    }

    async fn all<T: FromRow>(&mut self, sql: &Sql, args: &[&dyn Param]) -> StoreResult<Vec<T>> {
        let mut stmt = self.prepare_cached(sql.lite).map_err(map_err)?;
        let rows = stmt
            .query_map(&*lite_args(args), |r| T::from_row(r))
            .map_err(map_err)?;
        rows.collect::<Result<_, _>>().map_err(map_err)
    }

    async fn batch(&mut self, sql: &Sql) -> StoreResult<()> {
        if sql.lite.is_empty() {
            return Ok(());
        }
        self.execute_batch(sql.lite).map_err(map_err)
    }

    /// Only the writer thread writes; it bumps the epoch after the group's commit.
    fn mark_changed(&mut self) {
        group_commit::mark_changed();
    }
}

impl Backend for Lite {
    const NAME: &'static str = "sqlite";
    const MIGRATIONS: &'static [super::Migration] = super::migrations::SQLITE;
    type Conn = Connection;

    fn cache_epoch(&self) -> &Arc<crate::cache::CacheEpoch> {
        &self.epoch
    }

    async fn read<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send,
        F: for<'c> FnOnce(&'c mut Connection) -> Work<'c, T> + Send,
    {
        let n = self.readers.len();
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if let Some(mut conn) = self.readers[(start + i) % n].try_lock() {
                return run_now(work(&mut conn));
            }
        }
        let mut conn = self.readers[start % n].lock();
        run_now(work(&mut conn))
    }

    async fn write<T, F>(&self, _atomic: Atomic, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Connection) -> Work<'c, T> + Send + 'static,
    {
        // One statement or several: either way a savepoint in the group's transaction.
        self.writer.write(move |conn| run_now(work(conn))).await
    }
}

/// SQLite's own check of a database file (opened read-only), for backups before they are
/// restored.
pub fn check_integrity(path: &Path) -> anyhow::Result<()> {
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let verdict: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .with_context(|| format!("{} is not a SQLite database", path.display()))?;
    anyhow::ensure!(
        verdict == "ok",
        "{} fails SQLite's integrity check: {verdict}",
        path.display()
    );
    Ok(())
}

impl SqlStore<Lite> {
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
        // One process serves a SQLite database (it holds the lock), and every change it
        // makes bumps the epoch, so caching is on from the start.
        let epoch = Arc::new(crate::cache::CacheEpoch::new(true));
        Ok(SqlStore(Lite {
            writer: group_commit::Writer::start(writer, epoch.clone())?,
            epoch,
            readers: Arc::new(pool),
            next_reader: AtomicUsize::new(0),
        }))
    }
}
