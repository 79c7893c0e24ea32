//! Conformance of the beta-feature store on SQLite and PostgreSQL: a choice is kept per
//! owner and feature, changed in place, forgotten on request, and audited; the settings
//! that withdraw features are found by their literal prefix.

#[macro_use]
mod common;

use common::app::TestApp;
use common::Backend;
use fulcrum::store::{AuditEvent, BetaChoice, ChoiceChange, Owner};

on_both_backends!(
    choices_are_kept_per_owner_and_feature,
    settings_are_found_by_a_literal_prefix
);

fn event() -> AuditEvent {
    AuditEvent {
        action: "beta_feature.change",
        ..Default::default()
    }
}

fn change(owner: Owner, feature: &str, enabled: Option<bool>) -> ChoiceChange {
    ChoiceChange {
        owner,
        feature: feature.into(),
        enabled,
    }
}

fn choice(feature: &str, enabled: bool) -> BetaChoice {
    BetaChoice {
        feature: feature.into(),
        enabled,
    }
}

async fn choices_are_kept_per_owner_and_feature(backend: Backend) {
    let mut app = TestApp::start(&backend).await;
    app.person("ada").await.team("lab").await;
    app.person("bob").await;
    let s = app.services().store.clone();
    let ada = Owner::User(app.t.user_row("ada").await.id);
    let bob = Owner::User(app.t.user_row("bob").await.id);
    let lab = Owner::Team(
        app.services()
            .entity_named("lab")
            .await
            .unwrap()
            .unwrap()
            .id,
    );

    for owner in [ada, lab] {
        assert!(s.beta_choices(owner).await.unwrap().is_empty());
        for (feature, on) in [
            ("code_saving", true),
            ("dark_mode", false),
            ("code_saving", false),
        ] {
            s.set_beta_choice(change(owner, feature, Some(on)), event())
                .await
                .unwrap();
        }
        assert_eq!(
            s.beta_choices(owner).await.unwrap(),
            vec![choice("code_saving", false), choice("dark_mode", false)],
            "one row per feature, the last choice, sorted by key"
        );
        s.set_beta_choice(change(owner, "dark_mode", None), event())
            .await
            .unwrap();
        assert_eq!(
            s.beta_choices(owner).await.unwrap(),
            vec![choice("code_saving", false)]
        );
    }
    assert!(
        s.beta_choices(bob).await.unwrap().is_empty(),
        "nobody else's"
    );
    let audit = s.recent_audit(100).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|a| a.action == "beta_feature.change")
            .count(),
        8,
        "each change with its audit row, forgetting too"
    );
    app.stop().await;
}

async fn settings_are_found_by_a_literal_prefix(backend: Backend) {
    let app = TestApp::start(&backend).await;
    let s = app.services().store.clone();
    for key in [
        "beta.a.available",
        "beta.b.available",
        "betaxc",
        "beta_d",
        "alpha.beta.",
    ] {
        s.put_setting(key, "false", 1).await.unwrap();
    }
    let found = s.settings_with_prefix("beta.").await.unwrap();
    let keys: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        ["beta.a.available", "beta.b.available"],
        "`.` is not a wildcard"
    );
    assert!(s
        .settings_with_prefix("beta_")
        .await
        .unwrap()
        .iter()
        .all(|(k, _)| k == "beta_d"));
    assert_eq!(s.settings_with_prefix("beta%").await.unwrap(), vec![]);
    app.stop().await;
}
