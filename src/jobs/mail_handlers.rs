//! The mail jobs: an invitation and an address verification, each rendered in the
//! recipient's language and sent through the mailer's transport.

use std::sync::Arc;

use async_trait::async_trait;

use super::mail::Mailer;
use super::{Job, JobError, JobHandler, TEAM_INVITE, VERIFY_EMAIL};

pub struct TeamInvite(pub Arc<Mailer>);

#[async_trait]
impl JobHandler for TeamInvite {
    fn kind(&self) -> &'static str {
        TEAM_INVITE
    }

    fn clear_payload_when_done(&self) -> bool {
        true
    }

    async fn run(&self, job: &Job, now: i64) -> Result<(), JobError> {
        self.0.send_team_invite(job, now).await
    }
}

pub struct VerifyEmail(pub Arc<Mailer>);

#[async_trait]
impl JobHandler for VerifyEmail {
    fn kind(&self) -> &'static str {
        VERIFY_EMAIL
    }

    fn clear_payload_when_done(&self) -> bool {
        true
    }

    async fn run(&self, job: &Job, _now: i64) -> Result<(), JobError> {
        self.0.send_verify_email(job).await
    }
}
