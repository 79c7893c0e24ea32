//! Conformance of the GitHub store on SQLite and PostgreSQL: one link per person and per
//! GitHub account (reconnecting replaces it), organizations refreshed in place, removal
//! audited only when there was a link; a team's organization set, matched and cleared.

#[macro_use]
mod common;

use common::app::TestApp;
use common::Backend;
use fulcrum::error::StoreError;
use fulcrum::store::{AuditEvent, GithubLink};

on_both_backends!(
    links_are_one_per_person_and_per_github_account,
    teams_are_found_by_organization
);

fn event(action: &'static str) -> AuditEvent {
    AuditEvent {
        action,
        ..Default::default()
    }
}

fn link(user_id: i64, github_id: i64, login: &str, orgs: &[&str]) -> GithubLink {
    GithubLink {
        user_id,
        github_id,
        login: login.into(),
        avatar_url: String::new(),
        token_sealed: format!("sealed-{login}"),
        orgs: orgs.iter().map(|o| o.to_string()).collect(),
        connected_at: 10,
        checked_at: 10,
    }
}

async fn links_are_one_per_person_and_per_github_account(backend: Backend) {
    let mut app = TestApp::start(&backend).await;
    app.person("ada").await.person("bob").await;
    let s = app.services().store.clone();
    let ada = app.t.user_row("ada").await.id;
    let bob = app.t.user_row("bob").await.id;

    assert_eq!(s.github_link(ada).await.unwrap(), None);
    s.put_github_link(link(ada, 1, "octo", &["acme"]), event("github.connect"))
        .await
        .unwrap();
    s.put_github_link(link(ada, 2, "octo2", &[]), event("github.connect"))
        .await
        .unwrap();
    assert_eq!(
        s.github_link(ada).await.unwrap(),
        Some(link(ada, 2, "octo2", &[])),
        "reconnecting replaces"
    );
    let taken = s
        .put_github_link(link(bob, 2, "octo2", &[]), event("github.connect"))
        .await;
    assert!(
        matches!(taken, Err(StoreError::Conflict("github_account"))),
        "{taken:?}"
    );
    assert_eq!(s.github_link(bob).await.unwrap(), None, "nothing written");

    s.refresh_github_orgs(ada, &["x".into(), "y".into()], 20)
        .await
        .unwrap();
    let now = s.github_link(ada).await.unwrap().unwrap();
    assert_eq!(
        (now.orgs.clone(), now.checked_at),
        (vec!["x".to_string(), "y".to_string()], 20)
    );

    assert!(s
        .delete_github_link(ada, event("github.disconnect"))
        .await
        .unwrap());
    assert!(!s
        .delete_github_link(ada, event("github.disconnect"))
        .await
        .unwrap());
    let audit = s.recent_audit(100).await.unwrap();
    let count = |a: &str| audit.iter().filter(|r| r.action == a).count();
    assert_eq!(
        (count("github.connect"), count("github.disconnect")),
        (2, 1)
    );
    app.stop().await;
}

async fn teams_are_found_by_organization(backend: Backend) {
    let mut app = TestApp::start(&backend).await;
    app.person("ada")
        .await
        .team("lab")
        .await
        .team("vision")
        .await;
    let s = app.services().store.clone();
    let lab = app
        .services()
        .entity_named("lab")
        .await
        .unwrap()
        .unwrap()
        .id;
    let vision = app
        .services()
        .entity_named("vision")
        .await
        .unwrap()
        .unwrap()
        .id;

    s.set_team_github_org(lab, Some("acme".into()), event("team.github_org"))
        .await
        .unwrap();
    s.set_team_github_org(vision, Some("octo-labs".into()), event("team.github_org"))
        .await
        .unwrap();
    assert_eq!(
        s.team_github_org(lab).await.unwrap().as_deref(),
        Some("acme")
    );
    let names = |found: Vec<(fulcrum::store::Team, String)>| -> Vec<(String, String)> {
        found.into_iter().map(|(t, o)| (t.name, o)).collect()
    };
    let both = s
        .github_org_teams(&["acme".into(), "octo-labs".into(), "other".into()])
        .await
        .unwrap();
    assert_eq!(
        names(both),
        [
            ("lab".to_string(), "acme".to_string()),
            ("vision".into(), "octo-labs".into())
        ]
    );
    assert!(
        s.github_org_teams(&["acm".into()])
            .await
            .unwrap()
            .is_empty(),
        "whole names only"
    );

    s.set_team_github_org(lab, None, event("team.github_org"))
        .await
        .unwrap();
    assert_eq!(s.team_github_org(lab).await.unwrap(), None);
    assert_eq!(
        names(s.github_org_teams(&["acme".into()]).await.unwrap()),
        vec![]
    );
    app.stop().await;
}
