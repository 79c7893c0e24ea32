//! From a run's change of state to its alert deliveries. The change wrote one `RunEvent`
//! job in its transaction (`run_alert_jobs`); running that job looks up whose run it is and
//! what they want, and enqueues one delivery per channel with its own idempotency key, so a
//! retried fan-out never sends twice.

use async_trait::async_trait;

use super::alerts::{AlertChannel, AlertEvent};
use super::Services;
use crate::jobs::alerts::{AlertFanout, RunAlertMail, RunEvent, ScriptedAlert};
use crate::jobs::{JobError, JobKind};
use crate::store::{OnTransition, Run, RunState};

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

fn retry(e: impl std::fmt::Display) -> JobError {
    JobError::retry(format!("alert fan-out: {e}"))
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
                OnTransition {
                    to,
                    job: payload.job(&self.config, Some("alert".into()), now),
                }
            })
            .collect()
    }
}

#[async_trait]
impl AlertFanout for Services {
    async fn fan_out(&self, e: &RunEvent) -> Result<(), JobError> {
        let Some(event) = AlertEvent::parse(&e.event) else {
            return Err(JobError::permanent(format!(
                "unknown alert event {}",
                e.event
            )));
        };
        let Some(run) = self.store.run_by_id(e.run_id).await.map_err(retry)? else {
            return Ok(()); // deleted since
        };
        let Some(user_id) = run.user_id else {
            return Ok(());
        };
        if event == AlertEvent::RunsFinished && is_notebook(&run) {
            return Ok(());
        }
        if !self
            .alert_on(user_id, event, AlertChannel::Email)
            .await
            .map_err(retry)?
        {
            return Ok(());
        }
        let scripted = match e.alert_id {
            Some(id) => match self.store.run_alert(id).await.map_err(retry)? {
                Some(a) => Some(ScriptedAlert {
                    title: a.title,
                    text: a.text,
                    level: a.level,
                }),
                None => return Ok(()),
            },
            None => None,
        };
        let Some(mail) = self.alert_mail(&run, user_id, event, scripted).await? else {
            return Ok(());
        };
        // One delivery per cause and channel: a transition, or an accepted run.alert().
        let cause = match e.alert_id {
            Some(id) => format!("scriptable:{id}"),
            None => e.transition_id.to_string(),
        };
        let dedup = format!("alert:{cause}:email:{user_id}");
        let job = mail.job(&self.config, Some(dedup), crate::now_ms());
        self.jobs.enqueue(job).await.map_err(retry)?;
        self.job_wake.wake();
        Ok(())
    }
}

impl Services {
    /// The mail about `run` for its person, or none if they or the project are gone.
    async fn alert_mail(
        &self,
        run: &Run,
        user_id: i64,
        event: AlertEvent,
        alert: Option<ScriptedAlert>,
    ) -> Result<Option<RunAlertMail>, JobError> {
        let (Some(user), Some(project)) = (
            self.store.user_by_id(user_id).await.map_err(retry)?,
            self.store
                .project_by_id(run.project_id)
                .await
                .map_err(retry)?,
        ) else {
            return Ok(None);
        };
        let language = self
            .store
            .user_profile(user_id)
            .await
            .map_err(retry)?
            .and_then(|p| p.language);
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
        Ok(Some(RunAlertMail {
            to: user.email.clone(),
            language,
            name: if user.name.is_empty() {
                user.username.clone()
            } else {
                user.name.clone()
            },
            event: event.as_str().to_string(),
            state,
            run: run.display_name.clone().unwrap_or_else(|| run.name.clone()),
            run_id: run.name.clone(),
            project: project.name.clone(),
            entity: project.entity_name.clone(),
            duration_secs: ((end - run.created_at) / 1000).max(0),
            exit_code: run.exit_code,
            run_url: url.to_string(),
            alert,
        }))
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
        path: (&str, &str, &str),
        alert: ScriptableAlert,
    ) -> Result<bool, crate::error::ApiError> {
        use crate::error::{ApiError, ErrorCode};
        let (entity, project, run) = path;
        let full = format!("{entity}/{project}/{run}");
        let (bucket, access) = self
            .find_run(actor, entity, project, run)
            .await?
            .ok_or_else(|| super::runs::run_not_found(&full))?;
        if access < super::runs::RunAccess::Write {
            return Err(ApiError::forbidden(
                ErrorCode::RunForbidden,
                format!(
                    "the account {} may not raise alerts on this run",
                    actor.user.username
                ),
            ));
        }
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
