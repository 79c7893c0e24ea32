//! API keys: verifying a presented key, creating, importing, listing and revoking keys.

use serde_json::json;
use zeroize::Zeroizing;

use super::read_cache::KeyLookup;
use super::{Actor, AuthMethod, RequestMeta, Services};
use crate::error::{ApiError, ErrorCode, StoreError};
use crate::keys::{self, KeyKind, Presented};
use crate::store::{ApiKeyRecord, KeyOrigin, KeyRevocation, NewApiKey, User};
use crate::validate;

/// Server setting (`fulcrum admin setting`) that forbids minting keys with a key.
pub const SETTING_ALLOW_KEY_MINTING: &str = "allow_key_minting_with_key";
/// Longest lifetime a key can be given at creation (ten years).
pub const MAX_EXPIRY_DAYS: i64 = 3650;

impl Services {
    /// Resolves an API key to its owner. Shape and checksum are checked before the store is
    /// touched; every store-level refusal gets the same generic answer.
    pub async fn authenticate_key(
        &self,
        presented: &str,
        meta: &RequestMeta,
    ) -> Result<Actor, ApiError> {
        let classified = keys::classify(presented).map_err(|e| {
            self.metrics.record_auth_failure("malformed_key");
            ApiError::malformed_credentials(format!("invalid api key: {e}"))
        })?;
        let (lookup, hash) = match classified {
            Presented::Native { key_id, hash } => (KeyLookup::Id(key_id), hash),
            Presented::Foreign { hash } => (KeyLookup::Hash(hash), hash),
        };
        // From memory while nothing changed (`crate::cache`); the hash is compared below
        // either way, so the cache never accepts a key the store would refuse.
        let found = self.cache.key_auth(&*self.store, lookup).await?;
        let now = crate::now_ms();
        let refusal = match &found {
            None => Some("unknown_key"),
            Some(k) if !keys::hashes_equal(&hash, &k.secret_hash) => Some("wrong_secret"),
            Some(k) if k.key.revoked_at.is_some() => Some("revoked_key"),
            Some(k) if k.key.expires_at.is_some_and(|t| t <= now) => Some("expired_key"),
            Some(k) if k.user.deleted_at.is_some() => Some("deleted_user"),
            Some(_) => None,
        };
        match (found, refusal) {
            (Some(k), None) => {
                self.usage.note(k.key.id, now, &meta.client);
                Ok(Actor {
                    user: k.user,
                    auth: AuthMethod::ApiKey {
                        key_pk: k.key.id,
                        key_id: k.key.key_id,
                    },
                    on_behalf_of: None,
                    request: meta.clone(),
                })
            }
            (_, reason) => {
                let reason = reason.unwrap_or("unknown_key");
                self.metrics.record_auth_failure(reason);
                tracing::info!(reason, "api key refused");
                Err(ApiError::invalid_api_key())
            }
        }
    }

    /// Creates a key for the actor. Returns the record and the only copy of the full key.
    pub async fn generate_key(
        &self,
        actor: &Actor,
        name: &str,
        expires_in_days: Option<i64>,
    ) -> Result<(ApiKeyRecord, Zeroizing<String>), ApiError> {
        self.mint_key(&actor.user, actor, name, expires_in_days)
            .await
    }

    /// Creates a key owned by `owner` on `author`'s behalf (the same person, or a team admin
    /// minting a service account's key).
    pub(crate) async fn mint_key(
        &self,
        owner: &User,
        actor: &Actor,
        name: &str,
        expires_in_days: Option<i64>,
    ) -> Result<(ApiKeyRecord, Zeroizing<String>), ApiError> {
        self.require_recent_password(actor)?;
        if matches!(actor.auth, AuthMethod::ApiKey { .. })
            && !self.key_minting_with_key_allowed().await?
        {
            return Err(ApiError::forbidden(
                ErrorCode::KeyMintingForbidden,
                "this server does not allow creating API keys with an API key; create one in Settings",
            ));
        }
        let name = validate::KEY_NAME.check(name)?;
        let expires_at = match expires_in_days {
            None => None,
            Some(days @ 1..=MAX_EXPIRY_DAYS) => Some(crate::now_ms() + days * 86_400_000),
            Some(_) => {
                return Err(ApiError::validation(
                    "expiresInDays",
                    ErrorCode::ExpiryInvalid,
                    format!("a key expires after 1 to {MAX_EXPIRY_DAYS} days, or never"),
                ))
            }
        };
        let kind = if owner.account_type == crate::store::AccountType::Service {
            KeyKind::Service
        } else {
            KeyKind::Personal
        };
        let generated = keys::generate(kind);
        let event = actor
            .audit("api_key.create", &generated.key_id)
            .with(json!({ "owner": owner.username, "name": name, "expires_at": expires_at }));
        let record = self
            .store
            .insert_api_key(
                NewApiKey {
                    key_id: generated.key_id.clone(),
                    secret_hash: generated.hash,
                    user_id: owner.id,
                    name,
                    origin: KeyOrigin::Generated,
                    created_by: actor.recorded_id(),
                    expires_at,
                },
                self.config.max_keys_per_user,
                event,
            )
            .await
            .map_err(|e| self.key_store_error(e))?;
        Ok((record, generated.full))
    }

    /// Imports an existing key (any shape the SDK accepts) for `owner`, for migrations from
    /// another W&B server. Console or site admins only.
    pub async fn import_key(
        &self,
        actor: &Actor,
        owner: &User,
        name: &str,
        raw: &str,
    ) -> Result<ApiKeyRecord, ApiError> {
        actor.require_admin("import API keys")?;
        let raw = raw.trim();
        let name = validate::KEY_NAME.check(name)?;
        let (key_id, hash) = match keys::classify(raw) {
            Ok(Presented::Native { key_id, hash }) => (key_id, hash),
            Ok(Presented::Foreign { hash }) => (keys::imported_key_id(raw), hash),
            Err(e) => {
                return Err(ApiError::validation(
                    "key",
                    ErrorCode::KeyInvalid,
                    format!("cannot import: {e}"),
                ))
            }
        };
        let event = actor
            .audit("api_key.import", &key_id)
            .with(json!({ "owner": owner.username, "name": name }));
        self.store
            .insert_api_key(
                NewApiKey {
                    key_id,
                    secret_hash: hash,
                    user_id: owner.id,
                    name,
                    origin: KeyOrigin::Imported,
                    created_by: actor.recorded_id(),
                    expires_at: None,
                },
                self.config.max_keys_per_user,
                event,
            )
            .await
            .map_err(|e| self.key_store_error(e))
    }

    fn key_store_error(&self, e: StoreError) -> ApiError {
        match e {
            StoreError::LimitReached => ApiError::bad_request(
                ErrorCode::KeyLimitReached,
                format!(
                    "an account can have at most {} API keys; delete one first",
                    self.config.max_keys_per_user
                ),
            ),
            StoreError::Conflict(_) => ApiError::conflict(
                "key",
                ErrorCode::KeyExists,
                "that API key is already registered",
            ),
            other => other.into(),
        }
    }

    pub async fn list_keys(
        &self,
        actor: &Actor,
        owner_id: i64,
    ) -> Result<Vec<ApiKeyRecord>, ApiError> {
        if actor.user.id != owner_id
            && !actor.user.is_admin
            && !self.manages_service_account(actor, owner_id).await?
        {
            return Err(ApiError::forbidden(
                ErrorCode::NotYourKeys,
                "you can only list your own API keys",
            ));
        }
        Ok(self.store.list_api_keys(owner_id).await?)
    }

    /// Revokes a key at once. Owners and site admins only; anyone else is told it does not
    /// exist, so key ids cannot be probed.
    pub async fn revoke_key(&self, actor: &Actor, key_pk: i64) -> Result<ApiKeyRecord, ApiError> {
        let not_found = || ApiError::not_found(ErrorCode::ApiKeyNotFound, "no such API key");
        let key = self
            .store
            .api_key_by_id(key_pk)
            .await?
            .ok_or_else(not_found)?;
        if key.user_id != actor.user.id
            && !actor.user.is_admin
            && !self.manages_service_account(actor, key.user_id).await?
        {
            return Err(not_found());
        }
        let event = actor
            .audit("api_key.revoke", &key.key_id)
            .with(json!({ "owner_id": key.user_id }));
        if !self
            .store
            .revoke_api_key(
                KeyRevocation {
                    key: key.id,
                    at: crate::now_ms(),
                    by: Some(actor.user.id),
                },
                event,
            )
            .await?
        {
            return Err(not_found());
        }
        Ok(key)
    }

    /// Team admins manage the keys of their team's service accounts.
    async fn manages_service_account(
        &self,
        actor: &Actor,
        owner_id: i64,
    ) -> Result<bool, ApiError> {
        let Some(owner) = self.store.user_by_id(owner_id).await? else {
            return Ok(false);
        };
        let Some(team_id) = owner.service_team_id else {
            return Ok(false);
        };
        Ok(self.access_to(actor, team_id).await? == super::access::TeamAccess::Manage)
    }

    pub async fn key_minting_with_key_allowed(&self) -> Result<bool, ApiError> {
        Ok(self
            .store
            .get_setting(SETTING_ALLOW_KEY_MINTING)
            .await?
            .as_deref()
            != Some("false"))
    }
}
