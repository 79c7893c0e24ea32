//! The mail jobs: one handler runs every payload that renders itself as a mail
//! ([`MailPayload`]), in its recipient's language, through the mailer's transport.

use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;

use super::mail::{MailPayload, Mailer};
use super::{Job, JobError, JobHandler};

/// Sends the mail of a `P` job.
pub struct SendMail<P>(Arc<Mailer>, PhantomData<fn() -> P>);

impl<P> SendMail<P> {
    pub fn new(mailer: Arc<Mailer>) -> Self {
        SendMail(mailer, PhantomData)
    }
}

#[async_trait]
impl<P: MailPayload> JobHandler for SendMail<P> {
    fn kind(&self) -> &'static str {
        P::KIND
    }

    /// A sent mail's payload (addresses, names, link nonces) is not kept.
    fn clear_payload_when_done(&self) -> bool {
        true
    }

    async fn run(&self, job: &Job, now: i64) -> Result<(), JobError> {
        self.0.send_job::<P>(job, now).await
    }
}
