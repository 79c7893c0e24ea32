//! Conformance of the alert-settings store on SQLite and PostgreSQL: a switch is stored
//! once per (person, event, channel), changed in place, and audited.

#[macro_use]
mod common;

use common::Backend;
use fulcrum::store::{AlertSetting, AuditEvent};

on_both_backends!(switches_are_kept_per_person_event_and_channel,);

fn event(action: &'static str) -> AuditEvent {
    AuditEvent {
        action,
        ..Default::default()
    }
}

fn setting(event: &str, channel: &str, enabled: bool) -> AlertSetting {
    AlertSetting {
        event: event.into(),
        channel: channel.into(),
        enabled,
    }
}

async fn switches_are_kept_per_person_event_and_channel(backend: Backend) {
    let services = common::services(&backend, &[]).await;
    let s = services.store.clone();
    let ada = &common::store::create(&s, "ada").await;
    let bob = &common::store::create(&s, "bob").await;
    assert!(
        s.alert_settings(ada.id).await.unwrap().is_empty(),
        "nothing stored: defaults"
    );
    s.set_alert_setting(
        ada.id,
        setting("run_crashed", "email", false),
        event("alerts.update"),
    )
    .await
    .unwrap();
    s.set_alert_setting(
        ada.id,
        setting("runs_finished", "email", false),
        event("alerts.update"),
    )
    .await
    .unwrap();
    s.set_alert_setting(
        ada.id,
        setting("run_crashed", "email", true),
        event("alerts.update"),
    )
    .await
    .unwrap();
    assert_eq!(
        s.alert_settings(ada.id).await.unwrap(),
        vec![
            setting("run_crashed", "email", true),
            setting("runs_finished", "email", false)
        ]
    );
    assert!(s.alert_settings(bob.id).await.unwrap().is_empty());
    let audit = s.recent_audit(100).await.unwrap();
    assert_eq!(
        audit.iter().filter(|a| a.action == "alerts.update").count(),
        3
    );
}
