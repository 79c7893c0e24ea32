//! Settings → Alerts.

use async_trait::async_trait;

use super::{enqueue, sql, work, Backend, Exec, Sql, SqlStore};
use crate::error::StoreResult;
use crate::store::alerts::{AlertSetting, AlertStore, NewRunAlert, RunAlert};
use crate::store::AuditEvent;
use crate::store::Owner;

const RUN_ALERT: &Sql =
    sql!("SELECT id, run_id, title, text, level, created_at FROM run_alerts WHERE id = $1");

#[async_trait]
impl<B: Backend> AlertStore for SqlStore<B> {
    async fn alert_settings(&self, owner: Owner) -> StoreResult<Vec<AlertSetting>> {
        let (statement, id) = owner.pick(
            sql!("SELECT event, channel, enabled FROM alert_settings WHERE user_id = $1 ORDER BY event, channel"),
            sql!("SELECT event, channel, enabled FROM team_alert_settings WHERE team_id = $1 ORDER BY event, channel"),
        );
        let rows: Vec<(String, String, bool)> = self.read_all(statement, (id,)).await?;
        Ok(rows.into_iter().map(AlertSetting::from).collect())
    }

    async fn set_alert_setting(
        &self,
        owner: Owner,
        s: AlertSetting,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let (statement, id) = owner.pick(
            sql!("INSERT INTO alert_settings (user_id, event, channel, enabled, updated_at) VALUES ($1, $2, $3, $4, $5)
                      ON CONFLICT (user_id, event, channel) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at"),
            sql!("INSERT INTO team_alert_settings (team_id, event, channel, enabled, updated_at) VALUES ($1, $2, $3, $4, $5)
                      ON CONFLICT (team_id, event, channel) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at"),
        );
        let values = (id, s.event, s.channel, s.enabled, crate::now_ms());
        self.write_audited(statement, values, audit).await
    }

    async fn record_run_alert(&self, a: NewRunAlert) -> StoreResult<Option<RunAlert>> {
        work!(self, tx, |c| {
            // The run's row lock serializes two alerts of one run on PostgreSQL, so the
            // throttle holds across instances; SQLite has one writer.
            c.execute(
                sql!(pg: "SELECT id FROM runs WHERE id = $1 FOR UPDATE", lite: ""),
                &[&a.run_id],
            )
            .await?;
            let (last,): (Option<i64>,) = c
                .one(
                    sql!("SELECT MAX(created_at) FROM run_alerts WHERE run_id = $1 AND title = $2"),
                    &[&a.run_id, &a.title],
                )
                .await?;
            if last.is_some_and(|at| a.now < at.saturating_add(a.wait_ms)) {
                return Ok(None);
            }
            let alert: RunAlert = c
                .one(
                    sql!("INSERT INTO run_alerts (run_id, title, text, level, created_at) VALUES ($1, $2, $3, $4, $5)
                          RETURNING id, run_id, title, text, level, created_at"),
                    &[&a.run_id, &a.title, &a.text, &a.level, &a.now],
                )
                .await?;
            let mut job = a.job.clone();
            if let serde_json::Value::Object(map) = &mut job.payload {
                map.insert("alert_id".into(), alert.id.into());
            }
            job.dedup_key = job.dedup_key.map(|k| format!("{k}:{}", alert.id));
            enqueue(c, &job, a.now).await?;
            Ok(Some(alert))
        })
    }

    async fn run_alerts(&self, run_id: i64, limit: i64) -> StoreResult<Vec<RunAlert>> {
        self.read_all(
            sql!("SELECT id, run_id, title, text, level, created_at FROM run_alerts WHERE run_id = $1
                  ORDER BY created_at DESC, id DESC LIMIT $2"),
            (run_id, limit),
        )
        .await
    }

    async fn run_alert(&self, id: i64) -> StoreResult<Option<RunAlert>> {
        self.read_opt(RUN_ALERT, (id,)).await
    }
}
