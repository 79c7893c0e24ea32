//! People: first-admin setup, creating users, password sign-in and password resets.

use serde_json::json;
use zeroize::Zeroizing;

use super::{Actor, RequestMeta, Services};
use crate::error::{ApiError, ErrorCode, StoreError};
use crate::keys::{hash_key, random_token};
use crate::store::{AccountType, FirstAdmin, NewUser, OneTimeToken, PasswordChange, User};
use crate::{password, validate};

const SETUP_TOKEN_TTL_MS: i64 = 24 * 3_600_000;

/// What a failed sign-in records as its target when no account matched: the typed login only
/// when it has the shape of a username or an address (a password typed into the wrong field
/// rarely has), lower-cased and bounded; otherwise a placeholder.
fn audit_login(login: &str) -> String {
    let shaped = validate::username(login).is_ok() || validate::email(login).is_ok();
    if shaped {
        login.to_lowercase().chars().take(64).collect()
    } else {
        "(not a username or email)".into()
    }
}

pub struct NewAccount {
    /// Empty: derived from the email's local part (the SDK's `createUser` sends no username).
    pub username: String,
    pub email: String,
    pub name: String,
    pub admin: bool,
    pub password: Option<Zeroizing<String>>,
}

impl Services {
    /// On an empty database, issues a fresh one-time setup token (replacing any older one)
    /// and returns the link that creates the first admin.
    pub async fn issue_setup_link(&self) -> Result<Option<String>, ApiError> {
        if self.store.count_users().await? > 0 {
            return Ok(None);
        }
        let token = random_token();
        let now = crate::now_ms();
        self.store
            .put_setup_token(
                OneTimeToken {
                    hash: hash_key(&token),
                    expires_at: now + SETUP_TOKEN_TTL_MS,
                },
                now,
            )
            .await?;
        let mut url = self.config.public_link(["setup"]);
        // The token travels in the fragment, which browsers never send to servers or in Referer.
        url.set_fragment(Some(&format!("token={}", token.as_str())));
        Ok(Some(url.to_string()))
    }

    pub async fn needs_setup(&self) -> Result<bool, ApiError> {
        Ok(self.store.count_users().await? == 0)
    }

    pub async fn setup_first_admin(
        &self,
        token: &str,
        account: NewAccount,
        meta: &RequestMeta,
    ) -> Result<User, ApiError> {
        let refused = || {
            ApiError::forbidden(
                ErrorCode::SetupTokenInvalid,
                "this setup link is invalid, used or expired; restart the server for a new one",
            )
        };
        // Hashing the password costs tens of milliseconds of CPU: strangers get nothing of
        // it once an admin exists, and only a few tries per address before that.
        self.login_by_ip
            .check_and_hit(&*self.store, meta.client.ip.as_deref().unwrap_or_default())
            .await?;
        if !self.needs_setup().await? {
            return Err(refused());
        }
        let new_user = self.prepare_user(account, true).await?;
        let event = meta.audit_anonymous("user.create_first_admin", &new_user.username);
        self.store
            .create_first_admin(
                FirstAdmin {
                    setup_token: hash_key(token),
                    user: new_user,
                    now: crate::now_ms(),
                },
                event,
            )
            .await?
            .ok_or_else(refused)
    }

    /// Creates an account; only site admins (or the console) may.
    pub async fn create_user(&self, actor: &Actor, account: NewAccount) -> Result<User, ApiError> {
        actor.require_admin("create users")?;
        let derive = account.username.trim().is_empty();
        let mut new_user = self.prepare_user(account, false).await?;
        if derive {
            new_user.username = self.free_username_from_email(&new_user.email).await?;
        }
        let event = actor
            .audit("user.create", &new_user.username)
            .with(json!({ "admin": new_user.is_admin }));
        self.store
            .create_user(new_user, event)
            .await
            .map_err(|e| match e {
                StoreError::Conflict("email") => ApiError::conflict(
                    "email",
                    ErrorCode::EmailTaken,
                    "an account with that email already exists",
                ),
                StoreError::Conflict(_) => ApiError::conflict(
                    "username",
                    ErrorCode::UsernameTaken,
                    "that username is already taken",
                ),
                other => other.into(),
            })
    }

    async fn prepare_user(&self, a: NewAccount, force_admin: bool) -> Result<NewUser, ApiError> {
        let username = if a.username.trim().is_empty() {
            String::new()
        } else {
            validate::username(&a.username)?
        };
        let email = validate::email(&a.email)?;
        let name = validate::DISPLAY_NAME.check(&a.name)?;
        let password_hash = match a.password {
            Some(pw) => {
                password::validate(&pw)?;
                Some(password::hash(pw).await?)
            }
            None => None,
        };
        Ok(NewUser {
            name: if name.is_empty() {
                username.clone()
            } else {
                name
            },
            username,
            email,
            is_admin: a.admin || force_admin,
            account_type: AccountType::User,
            password_hash,
        })
    }

    async fn free_username_from_email(&self, email: &str) -> Result<String, ApiError> {
        let local = email.split('@').next().unwrap_or("user");
        let mut base: String = local
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .take(24)
            .collect();
        if validate::username(&base).is_err() {
            base = format!("user-{base}").chars().take(24).collect();
        }
        for n in 0..1000 {
            let candidate = if n == 0 {
                base.clone()
            } else {
                format!("{base}{n}")
            };
            if validate::username(&candidate).is_ok()
                && self.store.user_by_username(&candidate).await?.is_none()
            {
                return Ok(candidate);
            }
        }
        Err(ApiError::conflict(
            "username",
            ErrorCode::UsernameTaken,
            "no free username could be derived from that email",
        ))
    }

    /// Password sign-in. One generic error for an unknown account or a wrong password;
    /// attempts are limited per IP and failures per account.
    pub async fn login(
        &self,
        login: &str,
        pw: Zeroizing<String>,
        meta: &RequestMeta,
    ) -> Result<User, ApiError> {
        let login = login.trim();
        if login.is_empty() || login.len() > validate::EMAIL_MAX || pw.len() > password::MAX_LEN {
            return Err(ApiError::validation(
                "login",
                ErrorCode::LoginInvalid,
                "enter your username or email and password",
            ));
        }
        let ip_key = meta.client.ip.clone().unwrap_or_default();
        self.login_by_ip
            .check_and_hit(&*self.store, &ip_key)
            .await?;
        let user = self.store.user_by_username_or_email(login).await?;
        // Failures count against the account, whichever of its names was typed; per IP, so
        // a stranger's guesses do not lock its owner out, with a far higher cap across all
        // IPs against a distributed guesser.
        let account_key = match &user {
            Some(u) => format!("user:{}", u.id),
            None => format!("login:{}", login.to_lowercase()),
        };
        let pair_key = format!("{ip_key} {account_key}");
        let store = &*self.store;
        let blocked = match self.login_by_account.blocked_for(store, &pair_key).await? {
            Some(wait) => Some(wait),
            None => {
                self.login_by_account_global
                    .blocked_for(store, &account_key)
                    .await?
            }
        };
        if let Some(wait) = blocked {
            return Err(ApiError::rate_limited(wait));
        }
        let stored = user
            .as_ref()
            .filter(|u| u.deleted_at.is_none())
            .and_then(|u| u.password_hash.clone());
        let ok = password::verify(pw, stored).await;
        let known = user.as_ref().map(|u| u.username.clone());
        match user.filter(|_| ok) {
            Some(user) => {
                self.login_by_account.reset(store, &pair_key).await?;
                self.login_by_account_global
                    .reset(store, &account_key)
                    .await?;
                let mut event = meta.audit_anonymous("login.success", &user.username);
                event.actor_user_id = Some(user.id);
                self.store.audit(event, crate::now_ms()).await?;
                Ok(user)
            }
            None => {
                self.login_by_account.hit(store, &pair_key).await?;
                self.login_by_account_global
                    .hit(store, &account_key)
                    .await?;
                self.metrics.record_auth_failure("password");
                let target = known.unwrap_or_else(|| audit_login(login));
                let event = meta.audit_anonymous("login.failure", target);
                self.store.audit(event, crate::now_ms()).await?;
                Err(ApiError::new(
                    axum::http::StatusCode::UNAUTHORIZED,
                    ErrorCode::LoginFailed,
                    "incorrect username, email or password",
                ))
            }
        }
    }

    pub async fn reset_password(
        &self,
        actor: &Actor,
        username: &str,
        pw: Zeroizing<String>,
    ) -> Result<(), ApiError> {
        if !actor.user.is_admin && !actor.user.username.eq_ignore_ascii_case(username) {
            return Err(ApiError::forbidden(
                ErrorCode::AdminRequired,
                "only site admins can reset another person's password",
            ));
        }
        let user = self
            .store
            .user_by_username(username)
            .await?
            .ok_or_else(|| {
                ApiError::not_found(ErrorCode::UserNotFound, format!("no user named {username}"))
            })?;
        password::validate(&pw)?;
        let hash = password::hash(pw).await?;
        self.store
            .set_password(PasswordChange {
                user_id: user.id,
                hash,
                keep_session: None,
                audit: actor.audit("user.reset_password", &user.username),
                notice: None,
            })
            .await?;
        Ok(())
    }
}
