//! Alert channels, team switches, mutes, minimum durations and the delivery log.

use async_trait::async_trait;

use super::{enqueue, sql, work, Backend, Exec, Sql, SqlStore};
use crate::error::StoreResult;
use crate::store::alert_routes::{
    AlertChannelRow, AlertMute, AlertRouteStore, BrokenChannel, Delivery, NewAlertChannel,
    NewDelivery,
};
use crate::store::{AuditEvent, Owner};

macro_rules! channel_cols {
    () => {
        "id, owner, kind, project_id, url_sealed, secret_sealed, hint, slack_team, slack_channel,
         broken_at, broken_reason, created_by, created_at"
    };
}

const CHANNEL: &Sql = sql!(
    "SELECT ",
    channel_cols!(),
    " FROM alert_channels WHERE id = $1"
);

fn owner_ids(owner: Owner) -> (Option<i64>, Option<i64>) {
    match owner {
        Owner::User(id) => (Some(id), None),
        Owner::Team(id) => (None, Some(id)),
    }
}

#[async_trait]
impl<B: Backend> AlertRouteStore for SqlStore<B> {
    async fn alert_channels(&self, owner: Owner) -> StoreResult<Vec<AlertChannelRow>> {
        self.read_all(
            sql!(
                "SELECT ",
                channel_cols!(),
                " FROM alert_channels WHERE owner = $1 ORDER BY project_id, kind"
            ),
            (owner.key(),),
        )
        .await
    }

    async fn alert_channel(&self, id: i64) -> StoreResult<Option<AlertChannelRow>> {
        self.read_opt(CHANNEL, (id,)).await
    }

    async fn connect_alert_channel(
        &self,
        ch: NewAlertChannel,
        audit: AuditEvent,
    ) -> StoreResult<AlertChannelRow> {
        work!(self, tx, |c| {
            let (user_id, team_id) = owner_ids(ch.owner);
            let owner = ch.owner.key();
            let s = &ch.spec;
            c.execute(
                sql!(
                    "DELETE FROM alert_channels WHERE owner = $1 AND kind = $2 AND project_id = $3"
                ),
                &[&owner, &s.kind, &s.project_id],
            )
            .await?;
            let row: AlertChannelRow = c
                .one(
                    sql!(
                        "INSERT INTO alert_channels (owner, user_id, team_id, kind, project_id, url_sealed, secret_sealed,
                           hint, slack_team, slack_channel, created_by, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING ",
                        channel_cols!()
                    ),
                    &[
                        &owner, &user_id, &team_id, &s.kind, &s.project_id, &s.url_sealed,
                        &s.secret_sealed, &s.hint, &s.slack_team, &s.slack_channel,
                        &ch.created_by, &ch.now,
                    ],
                )
                .await?;
            super::audited(c, &audit, None, ch.now).await?;
            Ok(row)
        })
    }

    async fn disconnect_alert_channel(&self, id: i64, audit: AuditEvent) -> StoreResult<bool> {
        let change = sql!("DELETE FROM alert_channels WHERE id = $1");
        self.write_if_changed(change, (id,), audit, crate::now_ms())
            .await
    }

    async fn mark_alert_channel_broken(&self, b: BrokenChannel) -> StoreResult<bool> {
        work!(self, tx, |c| {
            let changed = c
                .execute(
                    sql!("UPDATE alert_channels SET broken_at = $1, broken_reason = $2 WHERE id = $3 AND broken_at IS NULL"),
                    &[&b.at, &b.reason, &b.id],
                )
                .await?;
            if changed > 0 {
                if let Some(job) = &b.notice {
                    enqueue(c, job, b.at).await?;
                }
            }
            Ok(changed > 0)
        })
    }

    async fn alert_mutes(&self, owner: Owner) -> StoreResult<Vec<i64>> {
        let rows: Vec<(i64,)> = self
            .read_all(
                sql!("SELECT project_id FROM alert_mutes WHERE owner = $1 ORDER BY project_id"),
                (owner.key(),),
            )
            .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn set_alert_mute(&self, m: AlertMute, audit: AuditEvent) -> StoreResult<()> {
        let statement = if m.muted {
            sql!("INSERT INTO alert_mutes (owner, project_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (owner, project_id) DO NOTHING")
        } else {
            sql!("DELETE FROM alert_mutes WHERE owner = $1 AND project_id = $2 AND CAST($3 AS BIGINT) >= 0")
        };
        self.write_audited(
            statement,
            (m.owner.key(), m.project_id, crate::now_ms()),
            audit,
        )
        .await
    }

    async fn alert_min_run_secs(&self, owner: Owner) -> StoreResult<i64> {
        let row: Option<(i64,)> = self
            .read_opt(
                sql!("SELECT min_run_secs FROM alert_prefs WHERE owner = $1"),
                (owner.key(),),
            )
            .await?;
        Ok(row.map_or(0, |(s,)| s))
    }

    async fn set_alert_min_run_secs(
        &self,
        owner: Owner,
        secs: i64,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.write_audited(
            sql!(
                "INSERT INTO alert_prefs (owner, min_run_secs) VALUES ($1, $2)
                  ON CONFLICT (owner) DO UPDATE SET min_run_secs = excluded.min_run_secs"
            ),
            (owner.key(), secs),
            audit,
        )
        .await
    }

    async fn record_deliveries(&self, deliveries: Vec<NewDelivery>) -> StoreResult<usize> {
        work!(self, tx, |c| {
            let now = crate::now_ms();
            let mut new = 0;
            for delivery in &deliveries {
                if enqueue(c, &delivery.job, now).await?.is_none() {
                    continue;
                }
                let d = &delivery.info;
                c.execute(
                    sql!("INSERT INTO alert_deliveries (run_id, event, channel, owner, target, title, dedup_key, seq, created_at)
                          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (dedup_key) DO NOTHING"),
                    &[&d.run_id, &d.event, &d.channel, &d.owner, &d.target, &d.title, &delivery.job.dedup_key, &delivery.seq, &now],
                )
                .await?;
                new += 1;
            }
            Ok(new)
        })
    }

    async fn run_deliveries(&self, run_id: i64, limit: i64) -> StoreResult<Vec<Delivery>> {
        self.read_all(
            sql!("SELECT d.id, d.run_id, d.event, d.channel, d.owner, d.target, d.title, d.created_at,
                         j.status, COALESCE(j.attempts, 0), j.last_error, j.finished_at
                  FROM alert_deliveries d LEFT JOIN jobs j ON j.dedup_key = d.dedup_key
                  WHERE d.run_id = $1 ORDER BY d.seq, d.id LIMIT $2"),
            (run_id, limit),
        )
        .await
    }

    async fn earlier_delivery_waiting(&self, dedup_key: &str) -> StoreResult<bool> {
        let row: Option<(i64,)> = self
            .read_opt(
                sql!("SELECT e.id FROM alert_deliveries d
                      JOIN alert_deliveries e ON e.run_id = d.run_id AND e.owner = d.owner AND e.channel = d.channel
                           AND (e.seq < d.seq OR (e.seq = d.seq AND e.id < d.id))
                      JOIN jobs j ON j.dedup_key = e.dedup_key
                      WHERE d.dedup_key = $1 AND j.status IN ('pending', 'running') LIMIT 1"),
                (dedup_key.to_string(),),
            )
            .await?;
        Ok(row.is_some())
    }
}
