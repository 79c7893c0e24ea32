//! The reads a training run repeats on every request, served from memory while the cache
//! epoch says nothing changed (`crate::cache`): the key that authenticates it, the person's
//! teams, entities by name and id, and beta-feature states. Each returns exactly what the
//! store would, or goes to the store.

use std::future::Future;
use std::sync::Arc;

use crate::cache::{CacheEpoch, Memo};
use crate::error::StoreResult;
use crate::keys::KeyHash;
use crate::store::{Entity, FeatureQuery, FeatureState, KeyAuth, Store, Team};

/// How a presented key is looked up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyLookup {
    Id(String),
    Hash(KeyHash),
}

pub struct ReadCache {
    epoch: Arc<CacheEpoch>,
    keys: Memo<KeyLookup, KeyAuth>,
    user_teams: Memo<i64, Vec<(Team, String)>>,
    entities: Memo<String, Option<Entity>>,
    entity_ids: Memo<i64, Option<Entity>>,
    features: Memo<FeatureQuery, FeatureState>,
}

/// Entries per map; past it a map starts over (`Memo::put`).
const CAPACITY: usize = 16_384;

impl ReadCache {
    pub fn new(epoch: Arc<CacheEpoch>) -> Self {
        Self {
            epoch,
            keys: Memo::new(CAPACITY),
            user_teams: Memo::new(CAPACITY),
            entities: Memo::new(CAPACITY),
            entity_ids: Memo::new(CAPACITY),
            features: Memo::new(CAPACITY),
        }
    }

    async fn through<K, V, Fut>(&self, memo: &Memo<K, V>, key: K, load: Fut) -> StoreResult<V>
    where
        K: std::hash::Hash + Eq,
        V: Clone,
        Fut: Future<Output = StoreResult<V>>,
    {
        if let Some(value) = memo.get(&self.epoch, &key) {
            return Ok(value);
        }
        // Stamped before the read: a change that commits meanwhile makes the value stale.
        let stamp = self.epoch.current();
        let value = load.await?;
        if let Some(stamp) = stamp {
            memo.put(stamp, key, value.clone());
        }
        Ok(value)
    }

    /// The key with its stored hash and owner; the caller still compares the hash.
    pub async fn key_auth(
        &self,
        store: &dyn Store,
        lookup: KeyLookup,
    ) -> StoreResult<Option<KeyAuth>> {
        if let Some(found) = self.keys.get(&self.epoch, &lookup) {
            return Ok(Some(found));
        }
        let stamp = self.epoch.current();
        let found = match &lookup {
            KeyLookup::Id(key_id) => store.key_auth_by_key_id(key_id).await?,
            KeyLookup::Hash(hash) => store.key_auth_by_hash(hash).await?,
        };
        // Unknown keys are not kept: anyone can present any number of them.
        if let (Some(stamp), Some(found)) = (stamp, &found) {
            self.keys.put(stamp, lookup, found.clone());
        }
        Ok(found)
    }

    pub async fn user_teams(
        &self,
        store: &dyn Store,
        user_id: i64,
    ) -> StoreResult<Vec<(Team, String)>> {
        self.through(&self.user_teams, user_id, store.user_teams(user_id))
            .await
    }

    pub async fn entity_by_name(
        &self,
        store: &dyn Store,
        name: &str,
    ) -> StoreResult<Option<Entity>> {
        if name.len() > 256 {
            return store.entity_by_name(name).await;
        }
        self.through(&self.entities, name.to_string(), store.entity_by_name(name))
            .await
    }

    pub async fn entity_by_id(&self, store: &dyn Store, id: i64) -> StoreResult<Option<Entity>> {
        self.through(&self.entity_ids, id, store.entity_by_id(id))
            .await
    }

    pub async fn feature_state(
        &self,
        store: &dyn Store,
        query: FeatureQuery,
    ) -> StoreResult<FeatureState> {
        let load = store.feature_state(&query);
        self.through(&self.features, query.clone(), load).await
    }
}

/// The cached reads as the services use them, in place of the store's.
impl super::Services {
    pub(crate) async fn entity_by_name(&self, name: &str) -> StoreResult<Option<Entity>> {
        self.cache.entity_by_name(&*self.store, name).await
    }

    pub(crate) async fn entity_by_id(&self, id: i64) -> StoreResult<Option<Entity>> {
        self.cache.entity_by_id(&*self.store, id).await
    }

    pub(crate) async fn user_teams(&self, user_id: i64) -> StoreResult<Vec<(Team, String)>> {
        self.cache.user_teams(&*self.store, user_id).await
    }

    /// A person's role in a team, from their cached memberships.
    pub(crate) async fn member_role(
        &self,
        team_id: i64,
        user_id: i64,
    ) -> StoreResult<Option<String>> {
        let teams = self.user_teams(user_id).await?;
        Ok(teams
            .into_iter()
            .find(|(team, _)| team.id == team_id)
            .map(|(_, role)| role))
    }
}
