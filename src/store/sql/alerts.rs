//! Settings → Alerts.

use async_trait::async_trait;

use super::{sql, Backend, SqlStore};
use crate::error::StoreResult;
use crate::store::alerts::{AlertSetting, AlertStore};
use crate::store::AuditEvent;

#[async_trait]
impl<B: Backend> AlertStore for SqlStore<B> {
    async fn alert_settings(&self, user_id: i64) -> StoreResult<Vec<AlertSetting>> {
        let rows: Vec<(String, String, bool)> = self
            .read_all(
                sql!("SELECT event, channel, enabled FROM alert_settings WHERE user_id = $1 ORDER BY event, channel"),
                (user_id,),
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(event, channel, enabled)| AlertSetting {
                event,
                channel,
                enabled,
            })
            .collect())
    }

    async fn set_alert_setting(
        &self,
        user_id: i64,
        s: AlertSetting,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.write_audited(
            sql!("INSERT INTO alert_settings (user_id, event, channel, enabled, updated_at) VALUES ($1, $2, $3, $4, $5)
                  ON CONFLICT (user_id, event, channel) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at"),
            (user_id, s.event, s.channel, s.enabled, crate::now_ms()),
            audit,
        )
        .await
    }
}
