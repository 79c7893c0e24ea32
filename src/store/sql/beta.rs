//! Settings → Beta features.

use async_trait::async_trait;

use super::{audited, sql, work, Backend, Exec, SqlStore};
use crate::error::StoreResult;
use crate::store::beta::{BetaChoice, BetaStore, ChoiceChange, FeatureQuery, FeatureState};
use crate::store::{AuditEvent, Owner};

#[async_trait]
impl<B: Backend> BetaStore for SqlStore<B> {
    async fn feature_state(&self, q: &FeatureQuery) -> StoreResult<FeatureState> {
        let row: Option<(Option<String>, Option<bool>, Option<bool>)> = self
            .read_opt(
                sql!("SELECT (SELECT value FROM settings WHERE key = $2),
                        (SELECT enabled FROM user_beta_features WHERE user_id = $3 AND feature = $1),
                        (SELECT enabled FROM team_beta_features WHERE team_id = $4 AND feature = $1)"),
                (q.feature.clone(), q.setting.clone(), q.user_id, q.team_id.unwrap_or(-1)),
            )
            .await?;
        let (available, mine, team) = row.unwrap_or_default();
        Ok(FeatureState {
            available,
            mine,
            team,
        })
    }

    async fn beta_choices(&self, owner: Owner) -> StoreResult<Vec<BetaChoice>> {
        let (statement, id) = owner.pick(
            sql!("SELECT feature, enabled FROM user_beta_features WHERE user_id = $1 ORDER BY feature"),
            sql!("SELECT feature, enabled FROM team_beta_features WHERE team_id = $1 ORDER BY feature"),
        );
        let rows: Vec<(String, bool)> = self.read_all(statement, (id,)).await?;
        Ok(rows.into_iter().map(BetaChoice::from).collect())
    }

    async fn set_beta_choice(&self, change: ChoiceChange, audit: AuditEvent) -> StoreResult<()> {
        let ChoiceChange {
            owner,
            feature,
            enabled,
        } = change;
        let now = crate::now_ms();
        let ((upsert, forget), id) = owner.pick(
            (
                sql!("INSERT INTO user_beta_features (user_id, feature, enabled, updated_at) VALUES ($1, $2, $3, $4)
                      ON CONFLICT (user_id, feature) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at"),
                sql!("DELETE FROM user_beta_features WHERE user_id = $1 AND feature = $2"),
            ),
            (
                sql!("INSERT INTO team_beta_features (team_id, feature, enabled, updated_at) VALUES ($1, $2, $3, $4)
                      ON CONFLICT (team_id, feature) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at"),
                sql!("DELETE FROM team_beta_features WHERE team_id = $1 AND feature = $2"),
            ),
        );
        work!(self, tx, |c| {
            match enabled {
                Some(on) => c.execute(upsert, &[&id, &feature, &on, &now]).await?,
                None => c.execute(forget, &[&id, &feature]).await?,
            };
            audited(c, &audit, None, now).await
        })
    }
}
