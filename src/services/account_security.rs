//! Account security: a person changes their password and email address, sees and ends
//! their sessions, reads their recent security events, and types their password again
//! before sensitive changes when their sign-in is old (sudo mode).

use zeroize::Zeroizing;

use super::{Actor, AuthMethod, RequestMeta, Services};
use crate::error::{ApiError, ErrorCode, StoreResult};
use crate::jobs::security_mail::{SecurityChange, SecurityNoticeMail};
use crate::jobs::{JobKind, Recipient, VerifyEmailMail};
use crate::keys::hash_key;
use crate::password;
use crate::store::{AuditRecord, NewEmailToken, PasswordChange, Session, User};

/// How many security events the section shows.
const EVENTS_SHOWN: i64 = 50;
const EMAIL_LINK_HOURS: i64 = 24;

/// A session of the caller's, and whether it is the one making the request.
#[derive(Debug, Clone)]
pub struct SessionView {
    pub session: Session,
    pub current: bool,
}

impl Services {
    /// Changes the caller's password after checking the current one; every other session
    /// ends and the owner is mailed. Returns how many sessions ended.
    pub async fn change_password(
        &self,
        actor: &Actor,
        current: Zeroizing<String>,
        new: Zeroizing<String>,
    ) -> Result<u64, ApiError> {
        let user = self.check_own_password(actor, current).await?;
        password::validate(&new)?;
        let hash = password::hash(new).await?;
        let now = crate::now_ms();
        let notice = self
            .security_notice(
                &user,
                SecurityChange::PasswordChanged,
                None,
                None,
                &actor.request,
                now,
            )
            .await?;
        let ended = self
            .store
            .set_password(PasswordChange {
                user_id: user.id,
                hash,
                keep_session: current_session(actor),
                audit: actor.audit("user.password_change", &user.username),
                notice: Some(notice),
            })
            .await?;
        self.job_wake.wake();
        Ok(ended)
    }

    /// Mails a link to `new_email`; opening it makes that the caller's address (and tells
    /// the old one). The current password is required.
    pub async fn request_email_change(
        &self,
        actor: &Actor,
        new_email: &str,
        current: Zeroizing<String>,
    ) -> Result<(), ApiError> {
        let new_email = crate::validate::email(new_email)?;
        let user = self.check_own_password(actor, current).await?;
        if new_email.eq_ignore_ascii_case(&user.email) {
            return Err(ApiError::validation(
                "email",
                ErrorCode::EmailUnchanged,
                "that is already your email address",
            ));
        }
        if self
            .store
            .user_by_username_or_email(&new_email)
            .await?
            .is_some_and(|other| {
                other.id != user.id && other.email.eq_ignore_ascii_case(&new_email)
            })
        {
            return Err(ApiError::conflict(
                "email",
                ErrorCode::EmailTaken,
                "an account with that email already exists",
            ));
        }
        self.count_mail_link(actor).await?;
        let nonce = crate::links::LinkSigner::nonce();
        let token = self.links.token(crate::links::VERIFY_EMAIL, &nonce);
        let now = crate::now_ms();
        let mail = VerifyEmailMail {
            recipient: self.recipient(&user).await?.at(new_email.clone()),
            verify_url: self.config.public_link(["verify-email"]).to_string(),
            link_nonce: Some(nonce),
            change: true,
        };
        let audit = actor
            .audit("user.email_change_request", &user.username)
            .with(serde_json::json!({ "to": new_email }));
        self.store
            .put_email_token(
                NewEmailToken {
                    hash: hash_key(&token),
                    user_id: user.id,
                    email: new_email,
                    created_at: now,
                    expires_at: now + EMAIL_LINK_HOURS * 3_600_000,
                },
                Some(mail.job(&self.config, None, now)),
                audit,
            )
            .await?;
        self.job_wake.wake();
        Ok(())
    }

    /// Makes the token's address the account's, if the token is for a new address. `None`
    /// when the token is for the account's current address (a plain verification).
    pub(crate) async fn apply_email_change(
        &self,
        token: &str,
        meta: &RequestMeta,
    ) -> Result<Option<()>, ApiError> {
        let now = crate::now_ms();
        let hash = hash_key(token);
        let Some((user_id, email)) = self.store.email_token(hash, now).await? else {
            return Ok(None);
        };
        let Some(user) = self.store.user_by_id(user_id).await? else {
            return Ok(None);
        };
        if user.email.eq_ignore_ascii_case(&email) {
            return Ok(None);
        }
        let mut audit = meta
            .audit_anonymous("user.email_change", &user.username)
            .with(serde_json::json!({ "from": user.email, "to": email }));
        audit.actor_user_id = Some(user.id);
        let notice = self
            .security_notice(
                &user,
                SecurityChange::EmailChanged,
                Some(email.clone()),
                None,
                meta,
                now,
            )
            .await?;
        let changed = self
            .store
            .change_email(crate::store::EmailChange {
                token: hash,
                user_id,
                old_email: user.email.clone(),
                new_email: email,
                now,
                audit,
                notice: Some(notice),
            })
            .await
            .map_err(|e| match e {
                crate::error::StoreError::Conflict(_) => ApiError::conflict(
                    "email",
                    ErrorCode::EmailTaken,
                    "another account took that email address meanwhile",
                ),
                other => other.into(),
            })?;
        if !changed {
            return Err(ApiError::gone(
                ErrorCode::EmailTokenInvalid,
                "this verification link is invalid, used or expired",
            ));
        }
        self.job_wake.wake();
        Ok(Some(()))
    }

    /// The caller's live sessions, the most recently seen first.
    pub async fn list_sessions(&self, actor: &Actor) -> Result<Vec<SessionView>, ApiError> {
        let current = current_session(actor);
        let sessions = self
            .store
            .sessions_of(actor.user.id, crate::now_ms())
            .await?;
        Ok(sessions
            .into_iter()
            .map(|session| SessionView {
                current: Some(session.id) == current,
                session,
            })
            .collect())
    }

    /// Ends one of the caller's sessions (their current one too, which signs them out).
    pub async fn end_session(&self, actor: &Actor, id: i64) -> Result<(), ApiError> {
        let audit = actor
            .audit("session.end", &actor.user.username)
            .with(serde_json::json!({ "session": id }));
        if self.store.end_session(actor.user.id, id, audit).await? {
            Ok(())
        } else {
            Err(ApiError::not_found(
                ErrorCode::SessionNotFound,
                "no such session of yours; it may have ended already",
            ))
        }
    }

    /// Ends every session of the caller's but the one making the request.
    pub async fn end_other_sessions(&self, actor: &Actor) -> Result<u64, ApiError> {
        let audit = actor.audit("session.end_others", &actor.user.username);
        let keep = current_session(actor).unwrap_or(0);
        Ok(self
            .store
            .end_other_sessions(actor.user.id, keep, audit)
            .await?)
    }

    /// Sudo mode: the caller typed their password again, so this session may make
    /// sensitive changes for `sudo_seconds`.
    pub async fn confirm_password(
        &self,
        actor: &Actor,
        current: Zeroizing<String>,
    ) -> Result<(), ApiError> {
        let user = self.check_own_password(actor, current).await?;
        if let Some(id) = current_session(actor) {
            let audit = actor.audit("session.reauth", &user.username);
            self.store.mark_reauth(id, crate::now_ms(), audit).await?;
        }
        Ok(())
    }

    /// Refuses a sensitive change in a session whose password was typed more than
    /// `sudo_seconds` ago. API keys are not asked: they carry no password to type.
    pub fn require_recent_password(&self, actor: &Actor) -> Result<(), ApiError> {
        let AuthMethod::Session { signed_in_at, .. } = actor.auth else {
            return Ok(());
        };
        if crate::now_ms() - signed_in_at > self.config.sudo_seconds * 1_000 {
            return Err(ApiError::forbidden(
                ErrorCode::ReauthRequired,
                "confirm your password to continue",
            ));
        }
        Ok(())
    }

    /// The caller's recent sign-ins, failed sign-ins and security changes, newest first.
    pub async fn security_events(&self, actor: &Actor) -> Result<Vec<AuditRecord>, ApiError> {
        Self::require_person(actor)?;
        Ok(self
            .store
            .security_events(actor.user.id, &actor.user.username, EVENTS_SHOWN)
            .await?)
    }

    /// The caller as stored now, if `typed` is their password. Wrong guesses count against
    /// the account from this IP, as sign-in failures do, and are audited.
    pub(super) async fn check_own_password(
        &self,
        actor: &Actor,
        typed: Zeroizing<String>,
    ) -> Result<User, ApiError> {
        Self::require_person(actor)?;
        if typed.is_empty() || typed.len() > password::MAX_LEN {
            return Err(ApiError::validation(
                "currentPassword",
                ErrorCode::PasswordIncorrect,
                "enter your current password",
            ));
        }
        let pair_key = format!(
            "{} user:{}",
            actor.request.client.ip.as_deref().unwrap_or_default(),
            actor.user.id
        );
        let store = &*self.store;
        if let Some(wait) = self.login_by_account.blocked_for(store, &pair_key).await? {
            return Err(ApiError::rate_limited(wait));
        }
        let user = self
            .store
            .user_by_id(actor.user.id)
            .await?
            .filter(|u| u.deleted_at.is_none())
            .ok_or_else(ApiError::unauthenticated)?;
        if password::verify(typed, user.password_hash.clone()).await {
            self.login_by_account.reset(store, &pair_key).await?;
            return Ok(user);
        }
        self.login_by_account.hit(store, &pair_key).await?;
        self.metrics.record_auth_failure("password");
        let audit = actor
            .audit("login.failure", &user.username)
            .with(serde_json::json!({ "during": "password_confirm" }));
        self.store.audit(audit, crate::now_ms()).await?;
        Err(ApiError::forbidden(
            ErrorCode::PasswordIncorrect,
            "that is not your current password",
        ))
    }

    pub(super) async fn security_notice(
        &self,
        user: &User,
        change: SecurityChange,
        new_email: Option<String>,
        until: Option<i64>,
        meta: &RequestMeta,
        now: i64,
    ) -> Result<crate::store::outbox::NewJob, ApiError> {
        let mail = SecurityNoticeMail {
            recipient: self.recipient(user).await?,
            change,
            new_email,
            ip: meta.client.ip.clone(),
            at: now,
            settings_url: self.security_settings_url(),
            until,
        };
        Ok(mail.job(&self.config, None, now))
    }

    /// Settings → Account security, under the public URL (which may have a path).
    fn security_settings_url(&self) -> String {
        let mut url = self.config.public_link(["settings"]);
        url.set_fragment(Some("security"));
        url.to_string()
    }

    /// Whom a mail to `user` goes to, in the language they chose for their mail.
    pub(crate) async fn recipient(&self, user: &User) -> StoreResult<Recipient> {
        let profile = self.store.user_profile(user.id).await?;
        Ok(Recipient::of(user, profile.and_then(|p| p.language)))
    }
}

fn current_session(actor: &Actor) -> Option<i64> {
    match actor.auth {
        AuthMethod::Session { session_id, .. } => Some(session_id),
        _ => None,
    }
}
