//! Conformance of the alert-settings store on SQLite and PostgreSQL: a switch is stored
//! once per (person or team, event, channel), changed in place, and audited.

#[macro_use]
mod common;

use common::app::TestApp;
use common::Backend;
use fulcrum::store::{AlertSetting, AuditEvent, Owner};

on_both_backends!(switches_are_kept_per_owner_event_and_channel,);

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

async fn switches_are_kept_per_owner_event_and_channel(backend: Backend) {
    let mut app = TestApp::start(&backend).await;
    app.person("ada").await.team("lab").await;
    app.person("bob").await.team("lab2").await;
    let s = app.services().store.clone();
    let user = |name: &str| {
        let app = &app;
        let name = name.to_string();
        async move { Owner::User(app.t.user_row(&name).await.id) }
    };
    let team = |name: &'static str| {
        let s = app.services().clone();
        async move { Owner::Team(s.entity_named(name).await.unwrap().unwrap().id) }
    };
    let people = (user("ada").await, user("bob").await);
    let teams = (team("lab").await, team("lab2").await);
    for (mine, other) in [people, teams] {
        assert!(
            s.alert_settings(mine).await.unwrap().is_empty(),
            "nothing stored: defaults"
        );
        for (ev, on) in [
            ("run_crashed", false),
            ("runs_finished", false),
            ("run_crashed", true),
        ] {
            s.set_alert_setting(mine, setting(ev, "email", on), event("alerts.update"))
                .await
                .unwrap();
        }
        assert_eq!(
            s.alert_settings(mine).await.unwrap(),
            vec![
                setting("run_crashed", "email", true),
                setting("runs_finished", "email", false)
            ]
        );
        assert!(s.alert_settings(other).await.unwrap().is_empty());
    }
    let audit = s.recent_audit(100).await.unwrap();
    assert_eq!(
        audit.iter().filter(|a| a.action == "alerts.update").count(),
        6
    );
    app.stop().await;
}
