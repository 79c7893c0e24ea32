//! Email verification: a mailed link proves that a person reads their address.

use super::{Actor, RequestMeta, Services};
use crate::error::{ApiError, ErrorCode};
use crate::jobs::{JobKind, VerifyEmailMail};
use crate::keys::hash_key;
use crate::store::NewEmailToken;

impl Services {
    /// Mails the caller a link that proves they own their email address.
    pub async fn request_email_verification(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<(), ApiError> {
        Self::require_person(actor)?;
        let nonce = crate::links::LinkSigner::nonce();
        let token = self.links.token(crate::links::VERIFY_EMAIL, &nonce);
        let now = crate::now_ms();
        let language = self
            .store
            .user_profile(actor.user.id)
            .await?
            .and_then(|p| p.language);
        let mut url = self.config.public_url.clone();
        url.set_path("/verify-email");
        let mail = VerifyEmailMail {
            to: actor.user.email.clone(),
            language,
            name: actor.user.name.clone(),
            verify_url: url.to_string(),
            link_nonce: Some(nonce),
        };
        let job = mail.job(&self.config, None, now);
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
            )
            .await?;
        self.job_wake.wake();
        let event = meta.audit(actor, "user.verify_email_request", &actor.user.username);
        self.store.audit(event, now).await?;
        Ok(())
    }

    pub async fn verify_email(&self, token: &str) -> Result<(), ApiError> {
        let invalid = || {
            ApiError::gone(
                ErrorCode::EmailTokenInvalid,
                "this verification link is invalid, used or expired",
            )
        };
        if token.len() != crate::services::sessions::TOKEN_LEN {
            return Err(invalid());
        }
        self.store
            .use_email_token(hash_key(token), crate::now_ms())
            .await?
            .ok_or_else(invalid)?;
        Ok(())
    }
}
