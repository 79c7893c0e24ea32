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
impl<P: MailPayload + Send + 'static> JobHandler for SendMail<P> {
    type Payload = P;
    /// A sent mail's payload (addresses, names, link nonces) is not kept.
    const CLEARS_PAYLOAD: bool = true;

    async fn run(&self, mail: P, job: &Job, now: i64) -> Result<(), JobError> {
        self.0.send_job(mail, job, now).await
    }
}
