//! Settings → Beta features: the switches a person or a team has set. A feature nobody set
//! is at the registry's default (`services::beta`), so only choices are stored.

use async_trait::async_trait;

use super::{AuditEvent, Owner};
use crate::error::StoreResult;

/// One stored choice: a feature key and whether its owner turned it on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BetaChoice {
    pub feature: String,
    pub enabled: bool,
}

impl From<(String, bool)> for BetaChoice {
    fn from((feature, enabled): (String, bool)) -> Self {
        BetaChoice { feature, enabled }
    }
}

/// An owner's choice for one feature: `Some` records it, `None` forgets it (back to the
/// default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoiceChange {
    pub owner: Owner,
    pub feature: String,
    pub enabled: Option<bool>,
}

/// One feature for one person, read in one statement (the SDK's Viewer asks on every
/// `wandb.init`): the server's availability setting, the person's choice and their default
/// team's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeatureState {
    /// The stored availability (`"false"` when withdrawn), if any.
    pub available: Option<String>,
    pub mine: Option<bool>,
    pub team: Option<bool>,
}

/// A feature for a person and, when given, their default team; `setting` is the key of
/// its availability. Also the read cache's key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FeatureQuery {
    pub feature: String,
    pub setting: String,
    pub user_id: i64,
    pub team_id: Option<i64>,
}

#[async_trait]
pub trait BetaStore: Send + Sync {
    async fn feature_state(&self, query: &FeatureQuery) -> StoreResult<FeatureState>;
    /// The choices an owner made, by feature key.
    async fn beta_choices(&self, owner: Owner) -> StoreResult<Vec<BetaChoice>>;
    /// Records or forgets a choice, with its audit row in the same transaction.
    async fn set_beta_choice(&self, change: ChoiceChange, audit: AuditEvent) -> StoreResult<()>;
}
