//! Every store concern, written once for both backends.
//!
//! A statement is written once, in PostgreSQL's `$N` form; [`sql!`] derives SQLite's `?N`
//! form at compile time. Where the dialects really differ (row locks, collations, `FOR
//! UPDATE SKIP LOCKED`), `sql!(pg: …, lite: …)` keeps both texts side by side, and an empty
//! text means "nothing to do in this dialect" (SQLite has one writer, so it needs no locks).
//!
//! A [`Backend`] (SQLite in `store/sqlite/`, PostgreSQL in `store/postgres/`) only knows how
//! to hand out a connection for a read or a write transaction; [`SqlStore`] implements every
//! store trait over any backend. The fast drivers stay: rusqlite and tokio-postgres run the
//! statements, prepared and cached per connection.

mod accounts;
mod alert_routes;
mod alerts;
mod audit;
mod beta;
mod email_tokens;
mod exports;
mod github;
mod invites;
mod jobs;
mod keys;
mod lifecycle;
mod limits;
mod maintenance;
mod migrate;
mod profile;
mod runs;
mod sessions;
mod settings;
mod storage;
mod teams;

use std::future::Future;
use std::pin::Pin;

use super::outbox::NewJob;
use super::rows::FromRow;
use super::AuditEvent;
use crate::error::{StoreError, StoreResult};

/// One statement in both dialects. Build it with [`sql!`].
#[derive(Debug, Clone, Copy)]
pub struct Sql {
    pub pg: &'static str,
    pub lite: &'static str,
}

/// SQLite's text of a PostgreSQL statement: `$N` placeholders become `?N` (same length, so
/// this runs in a `const`).
pub const fn lite_form<const N: usize>(pg: &str) -> [u8; N] {
    let b = pg.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = if b[i] == b'$' && i + 1 < N && b[i + 1].is_ascii_digit() {
            b'?'
        } else {
            b[i]
        };
        i += 1;
    }
    out
}

/// `sql!("…", …)`: one statement (the parts are concatenated) for both dialects, as a
/// `&'static Sql`. `sql!(pg: "…", lite: "…")`: the two texts of a statement the dialects
/// write differently, both with `$N` placeholders; an empty text is skipped.
macro_rules! sql {
    (pg: $pg:expr, lite: $lite:expr $(,)?) => {{
        const LITE_PG: &str = $lite;
        const LITE_BYTES: [u8; LITE_PG.len()] =
            $crate::store::sql::lite_form::<{ LITE_PG.len() }>(LITE_PG);
        const S: $crate::store::sql::Sql = $crate::store::sql::Sql {
            pg: $pg,
            lite: match std::str::from_utf8(&LITE_BYTES) {
                Ok(s) => s,
                Err(_) => panic!("SQL text is not UTF-8"),
            },
        };
        &S
    }};
    ($($part:expr),+ $(,)?) => {
        $crate::store::sql::sql!(pg: concat!($($part),+), lite: concat!($($part),+))
    };
}
pub(crate) use sql;

/// `work!(self, tx, |c| { … })`: runs the block on a connection of the store, in one
/// transaction (`tx`), as one statement on the writer (`statement`) or on a reader
/// (`work!(self.0, read, …)`), without writing out the boxed future each time.
macro_rules! work {
    ($on:expr, $how:ident, |$c:ident| $body:block) => {
        $on.$how(move |$c| Box::pin(async move $body)).await
    };
}
pub(crate) use work;

/// A value both drivers can bind.
pub trait Param: rusqlite::ToSql + tokio_postgres::types::ToSql + Sync {
    fn lite(&self) -> &dyn rusqlite::ToSql;
    fn pg(&self) -> &(dyn tokio_postgres::types::ToSql + Sync);
}

impl<T: rusqlite::ToSql + tokio_postgres::types::ToSql + Sync> Param for T {
    fn lite(&self) -> &dyn rusqlite::ToSql {
        self
    }
    fn pg(&self) -> &(dyn tokio_postgres::types::ToSql + Sync) {
        self
    }
}

/// Owned arguments of one statement (a tuple), moved into the work that runs it.
pub trait Args: Send + 'static {
    fn refs(&self) -> Vec<&dyn Param>;
}

macro_rules! tuple_args {
    ($($t:ident $i:tt),*) => {
        impl<$($t: Param + Send + 'static),*> Args for ($($t,)*) {
            fn refs(&self) -> Vec<&dyn Param> {
                vec![$(&self.$i as &dyn Param),*]
            }
        }
    };
}
tuple_args!();
tuple_args!(A 0);
tuple_args!(A 0, B 1);
tuple_args!(A 0, B 1, C 2);
tuple_args!(A 0, B 1, C 2, D 3);
tuple_args!(A 0, B 1, C 2, D 3, E 4);
tuple_args!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_args!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);

/// Runs statements on one connection of a backend.
pub trait Exec: Send {
    /// Runs a statement; the number of rows it changed.
    fn execute(
        &mut self,
        sql: &Sql,
        args: &[&dyn Param],
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    /// The statement's first row, if it has one.
    fn opt<T: FromRow>(
        &mut self,
        sql: &Sql,
        args: &[&dyn Param],
    ) -> impl Future<Output = StoreResult<Option<T>>> + Send;

    fn all<T: FromRow>(
        &mut self,
        sql: &Sql,
        args: &[&dyn Param],
    ) -> impl Future<Output = StoreResult<Vec<T>>> + Send;

    /// Whether each statement costs a network round trip (PostgreSQL), so that many rows
    /// are better sent in one statement; in-process SQLite steps a prepared one faster.
    fn remote(&self) -> bool {
        false
    }

    /// Statements without parameters, through the simple protocol (`NOTIFY`, pings).
    fn batch(&mut self, sql: &Sql) -> impl Future<Output = StoreResult<()>> + Send;

    /// This write changes what the read caches may hold (`crate::cache`): once it commits,
    /// the backend bumps the cache epoch.
    fn mark_changed(&mut self);

    /// The statement's row, which must exist (it was just written or counted).
    fn one<T: FromRow>(
        &mut self,
        sql: &Sql,
        args: &[&dyn Param],
    ) -> impl Future<Output = StoreResult<T>> + Send {
        async move {
            self.opt(sql, args)
                .await?
                .ok_or_else(|| StoreError::Other(anyhow::anyhow!("a statement returned no row")))
        }
    }
}

/// Work on a connection: an async block borrowing it.
pub type Work<'c, T> = Pin<Box<dyn Future<Output = StoreResult<T>> + Send + 'c>>;

/// Whether a write needs a transaction around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Atomic {
    /// Several statements that commit together or not at all.
    Transaction,
    /// One statement, atomic by itself: no BEGIN/COMMIT round trips.
    Statement,
}

/// What a database driver gives the shared store: connections for reads and for writes.
pub trait Backend: Send + Sync + 'static {
    const NAME: &'static str;
    /// This dialect's migrations (`store/migrations.rs`).
    const MIGRATIONS: &'static [super::Migration];
    type Conn: Exec;

    /// Bumped after every committed change that wrote an audit row (`crate::cache`).
    fn cache_epoch(&self) -> &std::sync::Arc<crate::cache::CacheEpoch>;

    /// Runs `work` on a read connection.
    fn read<T, F>(&self, work: F) -> impl Future<Output = StoreResult<T>> + Send
    where
        T: Send,
        F: for<'c> FnOnce(&'c mut Self::Conn) -> Work<'c, T> + Send;

    /// Runs `work` on a write connection; in a transaction that commits when it returns
    /// `Ok` and rolls back otherwise, unless `atomic` says one statement.
    fn write<T, F>(&self, atomic: Atomic, work: F) -> impl Future<Output = StoreResult<T>> + Send
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Self::Conn) -> Work<'c, T> + Send + 'static;
}

/// Every store trait, implemented once over a [`Backend`].
pub struct SqlStore<B>(pub(crate) B);

impl<B: Backend> SqlStore<B> {
    async fn read_opt<T: FromRow>(
        &self,
        sql: &'static Sql,
        args: impl Args,
    ) -> StoreResult<Option<T>> {
        work!(self.0, read, |c| { c.opt(sql, &args.refs()).await })
    }

    async fn read_all<T: FromRow>(
        &self,
        sql: &'static Sql,
        args: impl Args,
    ) -> StoreResult<Vec<T>> {
        work!(self.0, read, |c| { c.all(sql, &args.refs()).await })
    }

    /// Work in one write transaction, which commits when the work returns `Ok`.
    fn tx<T, F>(&self, work: F) -> impl Future<Output = StoreResult<T>> + Send + '_
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut B::Conn) -> Work<'c, T> + Send + 'static,
    {
        self.0.write(Atomic::Transaction, work)
    }

    /// Work of one statement on the writer (atomic by itself), outside a transaction.
    fn statement<T, F>(&self, work: F) -> impl Future<Output = StoreResult<T>> + Send + '_
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut B::Conn) -> Work<'c, T> + Send + 'static,
    {
        self.0.write(Atomic::Statement, work)
    }

    /// One statement on the writer, outside a transaction.
    async fn write_one(&self, sql: &'static Sql, args: impl Args) -> StoreResult<u64> {
        work!(self, statement, |c| { c.execute(sql, &args.refs()).await })
    }

    /// One statement and its audit row, in one transaction.
    async fn write_audited(
        &self,
        sql: &'static Sql,
        args: impl Args,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        work!(self, tx, |c| {
            c.execute(sql, &args.refs()).await?;
            audited(c, &audit, None, crate::now_ms()).await
        })
    }

    /// One statement and, when it changed a row, its audit row (at `at`); whether it
    /// changed one.
    async fn write_if_changed(
        &self,
        sql: &'static Sql,
        args: impl Args,
        audit: AuditEvent,
        at: i64,
    ) -> StoreResult<bool> {
        work!(self, tx, |c| {
            let rows = c.execute(sql, &args.refs()).await?;
            if rows > 0 {
                audited(c, &audit, None, at).await?;
            }
            Ok(rows > 0)
        })
    }
}

/// Ends a change: its audit row and, when it has one, its outbox job, written in the
/// change's transaction so the three are kept together or not at all.
pub(crate) async fn audited<C: Exec>(
    c: &mut C,
    audit: &AuditEvent,
    job: Option<&NewJob>,
    now: i64,
) -> StoreResult<()> {
    insert_audit(c, audit, now).await?;
    if let Some(job) = job {
        enqueue(c, job, now).await?;
    }
    changed(c).await
}

/// The write changes what the read caches may hold (`crate::cache`), here and on every
/// other instance (notified at commit, like the job wake-up). Every audited change calls
/// it; the few unaudited writes to accounts call it themselves.
pub(crate) async fn changed<C: Exec>(c: &mut C) -> StoreResult<()> {
    c.mark_changed();
    c.batch(NOTIFY_CACHE).await
}

pub(crate) async fn insert_audit<C: Exec>(c: &mut C, e: &AuditEvent, now: i64) -> StoreResult<()> {
    c.execute(
        sql!("INSERT INTO audit_log (at, actor_user_id, action, target, ip, user_agent, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)"),
        &[&now, &e.actor_user_id, &e.action, &e.target, &e.client.ip, &e.client.user_agent, &e.detail.to_string()],
    )
    .await?;
    Ok(())
}

/// Writes a pending job (the outbox) and, on PostgreSQL, wakes every instance's workers
/// when the transaction commits (`jobs::wake`). `None` when the dedup key already exists.
pub(crate) async fn enqueue<C: Exec>(
    c: &mut C,
    job: &NewJob,
    now: i64,
) -> StoreResult<Option<i64>> {
    let id: Option<(i64,)> = c
        .opt(
            sql!("INSERT INTO jobs (kind, payload, dedup_key, status, attempts, max_attempts, run_after, created_at)
                  VALUES ($1, $2, $3, 'pending', 0, $4, $5, $6) ON CONFLICT (dedup_key) DO NOTHING RETURNING id"),
            &[&job.kind, &job.payload.to_string(), &job.dedup_key, &job.max_attempts, &job.run_after, &now],
        )
        .await?;
    if id.is_some() {
        c.batch(NOTIFY_JOBS).await?;
    }
    Ok(id.map(|(id,)| id))
}

/// PostgreSQL delivers a notification when its transaction commits, so a listening worker
/// never looks before the job is visible. SQLite's workers are in this process and are
/// woken by `JobWake`.
pub(crate) const NOTIFY_JOBS: &Sql = sql!(pg: "NOTIFY fulcrum_jobs", lite: "");

/// Tells every instance's listener that cached reads may be stale (`crate::cache`).
pub(crate) const NOTIFY_CACHE: &Sql = sql!(pg: "NOTIFY fulcrum_cache", lite: "");

/// Runs work that never waits on anything but SQLite (whose calls complete at once) to its
/// end: one poll, no executor.
pub(crate) fn run_now<T>(mut work: Work<'_, T>) -> StoreResult<T> {
    use std::task::{Context, Poll, Waker};
    let mut cx = Context::from_waker(Waker::noop());
    match work.as_mut().poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => Err(StoreError::Other(anyhow::anyhow!(
            "SQLite work awaited something other than SQLite"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::Sql;

    #[test]
    fn sqlite_text_numbers_the_same_placeholders() {
        let s: &Sql = sql!(
            "SELECT a FROM t WHERE b = $1 AND c = $12 OR d = $1",
            " LIMIT $2"
        );
        assert_eq!(
            s.pg,
            "SELECT a FROM t WHERE b = $1 AND c = $12 OR d = $1 LIMIT $2"
        );
        assert_eq!(
            s.lite,
            "SELECT a FROM t WHERE b = ?1 AND c = ?12 OR d = ?1 LIMIT ?2"
        );
    }

    #[test]
    fn only_placeholders_change_and_dialect_pairs_keep_both_texts() {
        let s: &Sql = sql!("SELECT json_extract(x, '$.a'), '$' FROM t WHERE y = $3");
        assert_eq!(
            s.lite,
            "SELECT json_extract(x, '$.a'), '$' FROM t WHERE y = ?3"
        );
        let pair: &Sql = sql!(pg: "SELECT 1 FROM t WHERE id = $1 FOR UPDATE", lite: "");
        assert_eq!(pair.pg, "SELECT 1 FROM t WHERE id = $1 FOR UPDATE");
        assert!(
            pair.lite.is_empty(),
            "an empty text skips the statement in that dialect"
        );
    }
}
