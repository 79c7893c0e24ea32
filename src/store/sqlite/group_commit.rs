//! SQLite's one writer, with group commit. A thread owns the write connection; each write
//! arrives as a job, runs inside a SAVEPOINT of the transaction that is open, and is
//! answered only after that transaction commits. Whatever jobs queued up while one
//! transaction ran go into the next, so under load many requests share one BEGIN/COMMIT
//! (and one WAL append of the pages they touched), while an idle server commits each write
//! at once. A job that fails is rolled back to its savepoint alone; the others commit.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::map_err;
use crate::error::{StoreError, StoreResult};

/// What a job leaves to do once its transaction has ended: answer its caller.
type Answer = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// A write: runs on the connection (or, when its transaction could not begin, only fails),
/// and returns how to answer.
type Job = Box<dyn FnOnce(&mut Connection, bool) -> Answer + Send>;

/// Jobs per transaction at most, so one transaction never grows without bound.
const MAX_GROUP: usize = 256;

thread_local! {
    /// Set on the writer thread by a job whose change the read caches must not outlive.
    static CHANGED: Cell<bool> = const { Cell::new(false) };
}

/// The running job changes what the read caches may hold (`crate::cache`).
pub(super) fn mark_changed() {
    CHANGED.with(|c| c.set(true));
}

#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    pub fn start(
        conn: Connection,
        epoch: Arc<crate::cache::CacheEpoch>,
    ) -> std::io::Result<Writer> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(conn, queue, &epoch))?;
        Ok(Writer { jobs })
    }

    /// Runs `work` in the next transaction; its result arrives after the commit.
    pub async fn write<T, W>(&self, work: W) -> StoreResult<T>
    where
        T: Send + 'static,
        W: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |conn, began| {
            let out = if began {
                in_savepoint(conn, work)
            } else {
                Err(StoreError::Other(anyhow::anyhow!("no write transaction")))
            };
            Box::new(move |ended: Result<(), StoreError>| {
                let _ = tx.send(ended.and(out));
            })
        });
        self.jobs
            .send(job)
            .map_err(|_| StoreError::Other(anyhow::anyhow!("the SQLite writer has stopped")))?;
        rx.await
            .map_err(|_| StoreError::Other(anyhow::anyhow!("the SQLite writer dropped a write")))?
    }
}

/// One job between SAVEPOINT and RELEASE; an error (or a panic) undoes only this job.
fn in_savepoint<T>(
    conn: &mut Connection,
    work: impl FnOnce(&mut Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    conn.execute_batch("SAVEPOINT job").map_err(map_err)?;
    let out = catch_unwind(AssertUnwindSafe(|| work(conn)))
        .unwrap_or_else(|_| Err(StoreError::Other(anyhow::anyhow!("a store write panicked"))));
    let end = if out.is_ok() {
        "RELEASE job"
    } else {
        "ROLLBACK TO job; RELEASE job"
    };
    conn.execute_batch(end).map_err(map_err)?;
    out
}

fn run(mut conn: Connection, queue: mpsc::Receiver<Job>, epoch: &crate::cache::CacheEpoch) {
    while let Ok(first) = queue.recv() {
        let mut answers = Vec::new();
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE").map_err(map_err) {
            first(&mut conn, false)(Err(e));
            continue;
        }
        answers.push(first(&mut conn, true));
        while answers.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(job) => answers.push(job(&mut conn, true)),
                Err(_) => break,
            }
        }
        let ended = conn.execute_batch("COMMIT").map_err(map_err);
        if ended.is_err() && !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        // After the commit and before any caller hears of it, so that no caller can read
        // the old value from a cache once its change is acknowledged.
        if CHANGED.with(|c| c.replace(false)) {
            epoch.bump();
        }
        for answer in answers {
            answer(match &ended {
                Ok(()) => Ok(()),
                Err(StoreError::Unavailable(e)) => Err(StoreError::Unavailable(anyhow::anyhow!(
                    "commit failed: {e:#}"
                ))),
                Err(e) => Err(StoreError::Other(anyhow::anyhow!("commit failed: {e}"))),
            });
        }
    }
}
