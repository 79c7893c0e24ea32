//! Sending channel alerts: open the channel's sealed URL, say it in Block Kit or as a signed
//! JSON event, and act on the answer. A channel that is gone for good (Slack's 404/410/403,
//! a webhook's 410 or redirect) is marked broken once, its owner is told by email, and no
//! more alerts are routed to it until it is connected again.

use async_trait::async_trait;
use serde_json::json;

use super::alert_channels::{SEAL_SECRET, SEAL_URL};
use super::Services;
use crate::jobs::alert_text;
use crate::jobs::alerts::{AlertSender, ChannelAlert, ChannelBrokenMail};
use crate::jobs::mail::Lang;
use crate::jobs::{Job, JobError, JobKind};
use crate::notify::{slack, webhook, DeliveryError};
use crate::store::{AlertChannelRow, BrokenChannel};

impl Services {
    /// The channel's row and its URL, unsealed.
    async fn channel_target(&self, id: i64) -> Result<(AlertChannelRow, url::Url), JobError> {
        let row = self.channel_row(id).await?;
        let url = self.open_sealed(SEAL_URL, &row.spec.url_sealed)?;
        let url = url::Url::parse(&url)
            .map_err(|_| JobError::permanent("the stored URL is not a URL"))?;
        Ok((row, url))
    }

    async fn channel_row(&self, id: i64) -> Result<AlertChannelRow, JobError> {
        let row = self
            .store
            .alert_channel(id)
            .await?
            .ok_or_else(|| JobError::permanent("the channel was disconnected"))?;
        if let Some(reason) = &row.broken_reason {
            return Err(JobError::permanent(format!(
                "the channel is broken: {reason}"
            )));
        }
        Ok(row)
    }

    fn open_sealed(&self, purpose: &str, sealed: &str) -> Result<String, JobError> {
        self.sealer
            .open(purpose, sealed)
            .map(|s| s.to_string())
            .map_err(|e| JobError::permanent(e.to_string()))
    }

    /// Acts on a failed delivery: a broken channel is marked and its owner told.
    async fn delivery_failed(&self, row: &AlertChannelRow, e: DeliveryError) -> JobError {
        if e.broken {
            if let Err(store) = self.mark_broken(row, &e.message).await {
                return store;
            }
        }
        JobError::from(e)
    }

    async fn mark_broken(&self, row: &AlertChannelRow, reason: &str) -> Result<(), JobError> {
        let notice = self.broken_notice(row, reason).await?;
        let now = crate::now_ms();
        let job = notice.map(|mail| {
            mail.job(
                &self.config,
                Some(format!(
                    "alert_channel_broken:{}:{}",
                    row.id, row.created_at
                )),
                now,
            )
        });
        let first = self
            .store
            .mark_alert_channel_broken(BrokenChannel {
                id: row.id,
                reason: reason.to_string(),
                at: now,
                notice: job,
            })
            .await?;
        if first {
            tracing::warn!(channel = row.id, kind = %row.spec.kind, %reason, "alert channel marked broken");
            self.job_wake.wake();
        }
        Ok(())
    }

    /// The mail to the person who owns (or, for a team, connected) the channel.
    async fn broken_notice(
        &self,
        row: &AlertChannelRow,
        reason: &str,
    ) -> Result<Option<ChannelBrokenMail>, JobError> {
        let team = match row.owner.strip_prefix("t:").and_then(|id| id.parse().ok()) {
            Some(id) => self.store.entity_by_id(id).await?.map(|e| e.name),
            None => None,
        };
        let user_id = match row.owner.strip_prefix("u:").and_then(|id| id.parse().ok()) {
            Some(id) => Some(id),
            None => row.created_by,
        };
        let Some(user_id) = user_id else {
            return Ok(None);
        };
        let Some(user) = self.store.user_by_id(user_id).await? else {
            return Ok(None);
        };
        let recipient = self.recipient(&user).await?;
        let mut settings_url = match &team {
            Some(name) => self.config.public_link([name.as_str()]),
            None => self.config.public_link(["settings"]),
        };
        settings_url.set_fragment(Some("alerts"));
        let spec = &row.spec;
        let channel = match (&spec.kind[..], &spec.slack_channel) {
            ("slack", Some(c)) => format!("Slack {c}"),
            ("slack", None) => format!("Slack ({})", spec.hint),
            _ => format!("webhook {}", spec.hint),
        };
        Ok(Some(ChannelBrokenMail {
            recipient,
            team,
            channel,
            reason: reason.to_string(),
            settings_url: settings_url.to_string(),
        }))
    }
}

fn slack_body(alert: &ChannelAlert) -> Vec<u8> {
    let m = &alert.about;
    let lang = Lang::pick(alert.language.as_deref());
    let labels = alert_text::labels(lang);
    let headline = alert_text::headline(lang, m);
    let mut fields = vec![(labels.project, format!("{}/{}", m.entity, m.project))];
    if m.alert.is_none() {
        fields.push((
            labels.state,
            alert_text::state_label(lang, &m.state).to_string(),
        ));
        fields.push((labels.duration, alert_text::duration(m.duration_secs)));
        if let Some(code) = m.exit_code {
            fields.push((labels.exit_code, code.to_string()));
        }
    }
    let message = slack::SlackMessage {
        headline: &headline,
        fields,
        text: m.alert.as_ref().map(|a| a.text.as_str()),
        link: (labels.open, &m.run_url),
    };
    slack::blocks(&message).to_string().into_bytes()
}

fn webhook_body(alert: &ChannelAlert, delivery: &str) -> Vec<u8> {
    let m = &alert.about;
    let kind = match (m.alert.is_some(), m.state.as_str()) {
        (true, _) => "run.alert",
        (false, "finished") => "run.finished",
        (false, "failed") => "run.failed",
        (false, _) => "run.crashed",
    };
    json!({
        "type": kind,
        "delivery": delivery,
        "sent_at": crate::now_ms() / 1000,
        "run": {
            "id": m.run_id, "name": m.run, "entity": m.entity, "project": m.project,
            "state": m.state, "exit_code": m.exit_code, "duration_secs": m.duration_secs,
            "url": m.run_url,
        },
        "alert": m.alert.as_ref().map(|a| json!({ "title": a.title, "text": a.text, "level": a.level })),
    })
    .to_string()
    .into_bytes()
}

#[async_trait]
impl AlertSender for Services {
    async fn my_turn(&self, job: &Job) -> Result<(), JobError> {
        let Some(key) = &job.dedup_key else {
            return Ok(());
        };
        if self.store.earlier_delivery_waiting(key).await? {
            return Err(JobError::wait_turn(
                "an earlier alert of this run is still on its way",
            ));
        }
        Ok(())
    }

    async fn send_slack(&self, alert: &ChannelAlert) -> Result<(), JobError> {
        let (row, url) = self.channel_target(alert.channel_id).await?;
        let sent = self
            .outbound
            .post_guarded(&url, slack_body(alert), &[])
            .await;
        match sent.and_then(|answer| slack::judge(&answer)) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.delivery_failed(&row, e).await),
        }
    }

    async fn send_webhook(&self, alert: &ChannelAlert, delivery: &str) -> Result<(), JobError> {
        let (row, url) = self.channel_target(alert.channel_id).await?;
        let secret = row
            .spec
            .secret_sealed
            .as_deref()
            .ok_or_else(|| JobError::permanent("the webhook has no signing secret"))
            .and_then(|s| self.open_sealed(SEAL_SECRET, s))?;
        let body = webhook_body(alert, delivery);
        let timestamp = crate::now_ms() / 1000;
        let headers = [
            ("fulcrum-timestamp", timestamp.to_string()),
            ("fulcrum-delivery", delivery.to_string()),
            (
                "fulcrum-signature",
                webhook::signature(&secret, timestamp, &body),
            ),
        ];
        let sent = self.outbound.post_guarded(&url, body, &headers).await;
        match sent.and_then(|answer| webhook::judge(&answer)) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.delivery_failed(&row, e).await),
        }
    }
}
