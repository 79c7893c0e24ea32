//! From a run's change of state to its alert deliveries. The change wrote one `RunEvent`
//! job in its transaction (`run_alert_jobs`); running that job looks up whose run it is
//! (the person) and where it lives (a team's project), what each of them wants, and writes
//! one delivery per owner and channel, each with its job and its own idempotency key, so a
//! retried fan-out never sends twice.

use async_trait::async_trait;

use super::alerts::{AlertChannel, AlertEvent};
use super::Services;
use crate::jobs::alerts::{
    AlertFanout, AlertMessage, ChannelAlert, RunAlertMail, RunEvent, ScriptedAlert, SlackAlert,
    WebhookAlert,
};
use crate::jobs::{JobError, JobKind};
use crate::store::{DeliveryInfo, NewDelivery, OnTransition, Owner, Project, Run, RunState};

/// Telemetry flags of notebook runs in `config._wandb.value.t["8"]` (jupyter, colab,
/// ipython): W&B does not send *Runs finished* for them (one mail per cell otherwise).
const NOTEBOOK_FLAGS: [i64; 3] = [1, 12, 13];

fn is_notebook(run: &Run) -> bool {
    let config: serde_json::Value = serde_json::from_str(&run.config).unwrap_or_default();
    config["_wandb"]["value"]["t"]["8"]
        .as_array()
        .is_some_and(|flags| {
            flags
                .iter()
                .any(|f| f.as_i64().is_some_and(|f| NOTEBOOK_FLAGS.contains(&f)))
        })
}

impl Services {
    /// The alert jobs a run's end causes, written with the transition (`states` picks
    /// which transitions: finished, failed, crashed).
    pub(crate) fn run_alert_jobs(&self, states: &[RunState]) -> Vec<OnTransition> {
        let now = crate::now_ms();
        states
            .iter()
            .map(|&to| {
                let event = match to {
                    RunState::Finished => AlertEvent::RunsFinished,
                    _ => AlertEvent::RunCrashed,
                };
                let payload = RunEvent {
                    event: event.as_str().to_string(),
                    run_id: 0,
                    transition_id: 0,
                    alert_id: None,
                };
                let mut job = payload.job(&self.config, Some("alert".into()), now);
                if to == RunState::Crashed {
                    job.run_after = now + self.config.runs.crash_alert_settle_ms();
                }
                OnTransition { to, job }
            })
            .collect()
    }
}

/// Why an alert is sent: a transition of the run, or one accepted `run.alert()`.
fn cause_of(e: &RunEvent) -> String {
    match e.alert_id {
        Some(id) => format!("scriptable:{id}"),
        None => e.transition_id.to_string(),
    }
}

/// A run marked crashed that is no longer crashed when its alert is due was only quiet:
/// it sent again (and may have finished since, which is announced on its own), so nobody
/// hears that it crashed. A failed run's alert is not held back (its state is final).
fn revived(e: &RunEvent, event: AlertEvent, run: &Run) -> bool {
    e.alert_id.is_none()
        && event == AlertEvent::RunCrashed
        && !matches!(
            RunState::parse(&run.state),
            Some(RunState::Crashed | RunState::Failed)
        )
}

/// What one fan-out knows about its run.
struct Subject<'a> {
    run: &'a Run,
    project: &'a Project,
    event: AlertEvent,
    message: &'a AlertMessage,
    cause: &'a str,
    seq: i64,
}

#[async_trait]
impl AlertFanout for Services {
    async fn fan_out(&self, e: &RunEvent, seq: i64) -> Result<(), JobError> {
        let Some(event) = AlertEvent::parse(&e.event) else {
            return Err(JobError::permanent(format!(
                "unknown alert event {}",
                e.event
            )));
        };
        let Some(run) = self.store.run_by_id(e.run_id).await? else {
            return Ok(()); // deleted since
        };
        if revived(e, event, &run) {
            return Ok(());
        }
        let Some(project) = self.store.project_by_id(run.project_id).await? else {
            return Ok(());
        };
        let scripted = match e.alert_id {
            Some(id) => match self.store.run_alert(id).await? {
                Some(a) => Some(ScriptedAlert {
                    title: a.title,
                    text: a.text,
                    level: a.level,
                }),
                None => return Ok(()),
            },
            None => None,
        };
        let message = self.alert_message(&run, &project, event, scripted);
        let cause = cause_of(e);
        let subject = Subject {
            run: &run,
            project: &project,
            event,
            message: &message,
            cause: &cause,
            seq,
        };
        let mut deliveries = Vec::new();
        if let Some(user_id) = run.user_id {
            deliveries.extend(self.deliveries_for(Owner::User(user_id), &subject).await?);
        }
        let entity = self.store.entity_by_id(project.entity_id).await?;
        if let Some(team) = entity.filter(|e| e.is_team) {
            deliveries.extend(self.deliveries_for(Owner::Team(team.id), &subject).await?);
        }
        if !deliveries.is_empty() {
            self.store.record_deliveries(deliveries).await?;
            self.job_wake.wake();
        }
        Ok(())
    }
}

impl Services {
    /// The deliveries one owner wants for this event: none for a muted project or a
    /// *Runs finished* of a notebook or of a run shorter than the owner's minimum; else
    /// one per switched-on channel, a re-routed project going to its own channel.
    async fn deliveries_for(
        &self,
        owner: Owner,
        s: &Subject<'_>,
    ) -> Result<Vec<NewDelivery>, JobError> {
        let store = &self.store;
        if store.alert_mutes(owner).await?.contains(&s.project.id) {
            return Ok(Vec::new());
        }
        if s.event == AlertEvent::RunsFinished {
            let min = store.alert_min_run_secs(owner).await?;
            if is_notebook(s.run) || s.message.duration_secs < min {
                return Ok(Vec::new());
            }
        }
        let switches = self.switches(owner).await?;
        let channels = store.alert_channels(owner).await?;
        let person = match owner {
            Owner::User(id) => store.user_by_id(id).await?,
            Owner::Team(_) => None,
        };
        let recipient = match &person {
            Some(p) => Some(self.recipient(p).await?),
            None => None,
        };
        let language = recipient.as_ref().and_then(|r| r.language.clone());
        let mut out = Vec::new();
        for channel in AlertChannel::ALL {
            let on = switches
                .iter()
                .any(|w| w.event == s.event && w.channel == channel && w.enabled);
            if !on {
                continue;
            }
            let dedup = format!("alert:{}:{}:{}", s.cause, channel.as_str(), owner.key());
            let now = crate::now_ms();
            let (target, job) = match channel {
                AlertChannel::Email => {
                    let (Some(p), Some(recipient)) = (&person, &recipient) else {
                        continue;
                    };
                    let mail = RunAlertMail {
                        recipient: recipient.clone(),
                        about: s.message.clone(),
                    };
                    (
                        format!("@{}", p.username),
                        mail.job(&self.config, Some(dedup), now),
                    )
                }
                kind => {
                    let chosen = channels
                        .iter()
                        .filter(|c| c.spec.kind == kind.as_str() && c.broken_at.is_none())
                        .find(|c| c.spec.project_id == s.project.id)
                        .or_else(|| {
                            channels.iter().find(|c| {
                                c.spec.kind == kind.as_str()
                                    && c.spec.project_id == 0
                                    && c.broken_at.is_none()
                            })
                        });
                    let Some(c) = chosen else { continue };
                    let alert = ChannelAlert {
                        channel_id: c.id,
                        language: language.clone(),
                        about: s.message.clone(),
                    };
                    let target = c
                        .spec
                        .slack_channel
                        .clone()
                        .unwrap_or_else(|| c.spec.hint.clone());
                    let job = if kind == AlertChannel::Slack {
                        SlackAlert(alert).job(&self.config, Some(dedup), now)
                    } else {
                        WebhookAlert(alert).job(&self.config, Some(dedup), now)
                    };
                    (target, job)
                }
            };
            let info = DeliveryInfo {
                run_id: s.run.id,
                event: s.event.as_str().to_string(),
                channel: channel.as_str().to_string(),
                owner: owner.key(),
                target,
                title: s.message.alert.as_ref().map(|a| a.title.clone()),
            };
            out.push(NewDelivery {
                info,
                seq: s.seq,
                job,
            });
        }
        Ok(out)
    }

    /// What every channel says about the run.
    fn alert_message(
        &self,
        run: &Run,
        project: &Project,
        event: AlertEvent,
        alert: Option<ScriptedAlert>,
    ) -> AlertMessage {
        let url = self.config.public_link([
            project.entity_name.as_str(),
            &project.name,
            "runs",
            &run.name,
        ]);
        let end = run.finished_at.unwrap_or(run.heartbeat_at);
        let state = if alert.is_some() {
            "alert".to_string()
        } else {
            run.state.clone()
        };
        AlertMessage {
            event: event.as_str().to_string(),
            state,
            run: run
                .info
                .display_name
                .clone()
                .unwrap_or_else(|| run.name.clone()),
            run_id: run.name.clone(),
            project: project.name.clone(),
            entity: project.entity_name.clone(),
            duration_secs: ((end - run.created_at) / 1000).max(0),
            exit_code: run.exit_code,
            run_url: url.to_string(),
            alert,
        }
    }
}

/// `run.alert()`'s bounds: W&B asks for titles under 64 characters; longer ones are cut
/// there, not refused (the SDK only logs failures). Early wandb-core builds sent
/// `waitDuration` in nanoseconds-as-seconds, so it is clamped to a week.
const TITLE_MAX: usize = 256;
const TEXT_MAX: usize = 16 * 1024;
const WAIT_MAX_MS: i64 = 7 * 24 * 3600 * 1000;

/// What `notifyScriptableRunAlert` asks.
pub struct ScriptableAlert {
    pub title: String,
    pub text: String,
    pub level: String,
    pub wait_ms: Option<i64>,
}

impl Services {
    /// `run.alert()`: records the alert and its delivery job unless the same title on the
    /// same run was accepted within `waitDuration`; true when it was accepted.
    pub async fn notify_scriptable_alert(
        &self,
        actor: &super::Actor,
        path: super::runs::RunPath<'_>,
        alert: ScriptableAlert,
    ) -> Result<bool, crate::error::ApiError> {
        use crate::error::{ApiError, ErrorCode};
        let bucket = self.writable_run(actor, path, "raise alerts on").await?;
        let title: String = alert.title.trim().chars().take(TITLE_MAX).collect();
        if title.is_empty() || alert.text.len() > TEXT_MAX {
            return Err(ApiError::validation(
                "title",
                ErrorCode::RunFieldInvalid,
                format!("an alert needs a title, and its text has at most {TEXT_MAX} bytes"),
            ));
        }
        let payload = RunEvent {
            event: AlertEvent::Scriptable.as_str().to_string(),
            run_id: bucket.run.id,
            transition_id: 0,
            alert_id: None,
        };
        let now = crate::now_ms();
        let record = crate::store::NewRunAlert {
            run_id: bucket.run.id,
            title,
            text: alert.text,
            level: alert.level,
            wait_ms: alert.wait_ms.unwrap_or(60_000).clamp(0, WAIT_MAX_MS),
            now,
            job: payload.job(&self.config, Some("scriptable".into()), now),
        };
        let accepted = self.store.record_run_alert(record).await?.is_some();
        if accepted {
            self.job_wake.wake();
        }
        Ok(accepted)
    }
}
