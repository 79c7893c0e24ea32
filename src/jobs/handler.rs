//! What runs a job: one [`JobHandler`] per kind, found in a [`Registry`]. A new kind of work
//! (alert deliveries next) adds a payload type with its [`JobKind`] and a handler; the queue,
//! the worker and the store stay as they are.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Job, JobError};
use crate::config::Config;
use crate::store::outbox::NewJob;

/// A payload type and the kind of job it is the payload of.
pub trait JobKind: Serialize + DeserializeOwned {
    const KIND: &'static str;

    /// The job carrying this payload, due now; `dedup` makes enqueueing it idempotent.
    fn job(&self, config: &Config, dedup: Option<String>, now: i64) -> NewJob {
        NewJob {
            kind: Self::KIND,
            payload: serde_json::to_value(self).unwrap_or(serde_json::Value::Null),
            dedup_key: dedup,
            max_attempts: config.job_max_attempts,
            run_after: now,
        }
    }

    /// The payload of a job of this kind; a payload that does not fit is a permanent error.
    fn from_job(job: &Job) -> Result<Self, JobError> {
        serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::permanent(format!("bad {} payload: {e}", Self::KIND)))
    }
}

/// Runs the jobs of one payload type; the registry finds it by the payload's kind and
/// hands it the payload already read (a payload that does not fit fails the job for good).
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    type Payload: JobKind + Send;

    /// Whether the payload is emptied once the job is done (mail payloads hold addresses
    /// that the queue has no reason to keep).
    const CLEARS_PAYLOAD: bool = false;

    async fn run(&self, payload: Self::Payload, job: &Job, now: i64) -> Result<(), JobError>;
}

/// A handler as the worker sees it, whatever its payload type.
#[async_trait]
pub trait Runner: Send + Sync {
    fn clears_payload(&self) -> bool;
    async fn run_job(&self, job: &Job, now: i64) -> Result<(), JobError>;
}

#[async_trait]
impl<H: JobHandler> Runner for H {
    fn clears_payload(&self) -> bool {
        H::CLEARS_PAYLOAD
    }

    async fn run_job(&self, job: &Job, now: i64) -> Result<(), JobError> {
        self.run(H::Payload::from_job(job)?, job, now).await
    }
}

/// Every handler, by kind.
#[derive(Default, Clone)]
pub struct Registry {
    handlers: HashMap<&'static str, Arc<dyn Runner>>,
}

impl Registry {
    pub fn with<H: JobHandler>(mut self, handler: H) -> Self {
        self.handlers.insert(H::Payload::KIND, Arc::new(handler));
        self
    }

    pub fn get(&self, kind: &str) -> Option<&Arc<dyn Runner>> {
        self.handlers.get(kind)
    }

    pub fn kinds(&self) -> impl Iterator<Item = &&'static str> {
        self.handlers.keys()
    }
}
