//! Server-side sessions for the web UI: the cookie holds a random 256-bit token, the store
//! only its SHA-256. Sessions expire when idle and absolutely, rotate on login and can all
//! be ended at once ("log out everywhere").

use zeroize::Zeroizing;

use super::{Actor, AuthMethod, RequestMeta, Services};
use crate::error::ApiError;
use crate::keys::{hash_key, random_token};
use crate::store::{NewSession, User};

const HOUR_MS: i64 = 3_600_000;
/// How stale `last_seen_at` may get before a request refreshes it (and the idle expiry).
const TOUCH_EVERY_MS: i64 = 5 * 60_000;
/// Session tokens are exactly this long; anything else is not worth a lookup.
pub const TOKEN_LEN: usize = 43;

impl Services {
    /// Starts a session after sign-in. A session token the browser already held is ended
    /// first: an id that existed before sign-in never becomes an authenticated one (fixation).
    pub async fn sign_in_session(
        &self,
        previous: Option<&str>,
        user: &User,
        meta: &RequestMeta,
    ) -> Result<Zeroizing<String>, ApiError> {
        if let Some(old) = previous {
            self.store.delete_session(&hash_key(old)).await?;
        }
        self.create_session(user, meta).await
    }

    pub async fn create_session(
        &self,
        user: &User,
        meta: &RequestMeta,
    ) -> Result<Zeroizing<String>, ApiError> {
        let token = random_token();
        let now = crate::now_ms();
        self.store
            .insert_session(NewSession {
                token_hash: hash_key(&token),
                user_id: user.id,
                created_at: now,
                idle_expires_at: now + self.config.session_idle_hours * HOUR_MS,
                absolute_expires_at: now + self.config.session_absolute_hours * HOUR_MS,
                client: meta.client.clone(),
            })
            .await?;
        Ok(token)
    }

    /// The actor behind a session cookie, or `None` when the session is unknown or expired.
    pub async fn authenticate_session(
        &self,
        token: &str,
        meta: &RequestMeta,
    ) -> Result<Option<Actor>, ApiError> {
        if token.len() != TOKEN_LEN || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(None);
        }
        let hash = hash_key(token);
        let Some((session, user)) = self.store.session_by_hash(&hash).await? else {
            return Ok(None);
        };
        let now = crate::now_ms();
        if now >= session.idle_expires_at
            || now >= session.absolute_expires_at
            || user.deleted_at.is_some()
        {
            self.store.delete_session(&hash).await?;
            return Ok(None);
        }
        if now - session.last_seen_at > TOUCH_EVERY_MS {
            let idle =
                (now + self.config.session_idle_hours * HOUR_MS).min(session.absolute_expires_at);
            self.store.touch_session(session.id, now, idle).await?;
        }
        Ok(Some(Actor {
            user,
            auth: AuthMethod::Session {
                session_id: session.id,
                token_hash: hash,
                signed_in_at: session.signed_in_at,
            },
            on_behalf_of: None,
            request: meta.clone(),
        }))
    }

    pub async fn logout(&self, actor: &Actor) -> Result<(), ApiError> {
        if let AuthMethod::Session { token_hash, .. } = &actor.auth {
            self.store.delete_session(token_hash).await?;
        }
        let event = actor.audit("session.logout", &actor.user.username);
        self.store.audit(event, crate::now_ms()).await?;
        Ok(())
    }

    pub async fn logout_everywhere(&self, actor: &Actor) -> Result<u64, ApiError> {
        let ended = self.store.delete_user_sessions(actor.user.id).await?;
        let event = actor
            .audit("session.logout_everywhere", &actor.user.username)
            .with(serde_json::json!({ "sessions": ended }));
        self.store.audit(event, crate::now_ms()).await?;
        Ok(ended)
    }
}
