//! Writing a job row inside the transaction of the change that causes it (the outbox
//! pattern): the change and its job commit together or not at all. The queue itself (claim,
//! retry, give up) lives in `crate::jobs`; the row is written by `store::sql::enqueue`.

use serde_json::Value;

/// A job to run after the surrounding transaction commits.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: &'static str,
    pub payload: Value,
    /// Jobs with the same key are written once (idempotent enqueue).
    pub dedup_key: Option<String>,
    pub max_attempts: i64,
    pub run_after: i64,
}
