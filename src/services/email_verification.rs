//! Email verification: a mailed link proves that a person reads their address. The same
//! link, sent to a new address, changes the account's address (`account_security`).

use super::{Actor, RequestMeta, Services};
use crate::error::{ApiError, ErrorCode};
use crate::jobs::{JobKind, VerifyEmailMail};
use crate::keys::hash_key;
use crate::store::NewEmailToken;

impl Services {
    /// Mails the caller a link that proves they own their email address.
    pub async fn request_email_verification(&self, actor: &Actor) -> Result<(), ApiError> {
        Self::require_person(actor)?;
        self.count_mail_link(actor).await?;
        let nonce = crate::links::LinkSigner::nonce();
        let token = self.links.token(crate::links::VERIFY_EMAIL, &nonce);
        let now = crate::now_ms();
        let mail = VerifyEmailMail {
            recipient: self.recipient(&actor.user).await?,
            verify_url: self.config.public_link(["verify-email"]).to_string(),
            link_nonce: Some(nonce),
            change: false,
        };
        let job = mail.job(&self.config, None, now);
        let audit = actor.audit("user.verify_email_request", &actor.user.username);
        self.store
            .put_email_token(
                NewEmailToken {
                    hash: hash_key(&token),
                    user_id: actor.user.id,
                    email: actor.user.email.clone(),
                    created_at: now,
                    expires_at: now + 24 * 3_600_000,
                },
                Some(job),
                audit,
            )
            .await?;
        self.job_wake.wake();
        Ok(())
    }

    /// Counts one mailed link against the person's hourly allowance.
    pub(crate) async fn count_mail_link(&self, actor: &Actor) -> Result<(), ApiError> {
        self.mail_links_by_user
            .check_and_hit(&*self.store, &actor.user.id.to_string())
            .await
    }

    /// Uses a mailed link: it verifies the account's address, or makes the new address it
    /// was sent to the account's.
    pub async fn verify_email(&self, token: &str, meta: &RequestMeta) -> Result<(), ApiError> {
        let invalid = || {
            ApiError::gone(
                ErrorCode::EmailTokenInvalid,
                "this verification link is invalid, used or expired",
            )
        };
        if token.len() != crate::services::sessions::TOKEN_LEN {
            return Err(invalid());
        }
        if self.apply_email_change(token, meta).await?.is_some() {
            return Ok(());
        }
        self.store
            .use_email_token(hash_key(token), crate::now_ms())
            .await?
            .ok_or_else(invalid)?;
        Ok(())
    }
}
