//! Conformance of the teams part of the store (`TeamStore`), run against SQLite and a fresh
//! PostgreSQL database: teams and their audit rows, roles and the last-admin rule, deletion,
//! invitations with their outbox job, email tokens, the default team, "hide teams" and
//! service accounts. Both backends must answer identically.

#[macro_use]
mod common;

use common::Backend;
use fulcrum::error::{ErrorCode, StoreError, StoreResult};
use fulcrum::jobs::DynJobStore;
use fulcrum::keys::hash_key;
use fulcrum::store::outbox::NewJob;
use fulcrum::store::{
    AccountType, AuditEvent, DynStore, Invite, InviteResolution, NewEmailToken, NewInvite,
    NewServiceAccount, NewTeam, NewUser, Seat, Team, User,
};
use serde_json::json;

on_both_backends!(
    a_team_is_created_with_its_admin_and_one_audit_row,
    roles_change_but_a_team_keeps_an_admin,
    deleting_a_team_removes_what_belongs_to_it,
    invitations_are_one_per_person_and_resolve_once,
    email_tokens_verify_once_and_only_the_same_address,
    default_team_and_hide_teams_are_written_with_their_audit_rows,
    service_accounts_belong_to_their_team,
    domain_teams_follow_the_join_policy,
);

struct Db {
    store: DynStore,
    jobs: DynJobStore,
    _backend: Backend,
}

async fn open(backend: Backend) -> Db {
    let services = common::services(&backend, &[]).await;
    Db {
        store: services.store.clone(),
        jobs: services.jobs.clone(),
        _backend: backend,
    }
}

fn seat(team_id: i64, user_id: i64, role: &str) -> Seat {
    Seat {
        team_id,
        user_id,
        role: role.into(),
    }
}

fn event(action: &'static str) -> AuditEvent {
    AuditEvent {
        action,
        ..Default::default()
    }
}

async fn person(store: &DynStore, username: &str) -> User {
    let user = NewUser {
        username: username.into(),
        email: format!("{username}@example.com"),
        name: username.into(),
        is_admin: false,
        account_type: AccountType::User,
        password_hash: None,
    };
    store.create_user(user, event("user.create")).await.unwrap()
}

fn new_team(name: &str, admin_id: i64, created_by: Option<i64>) -> NewTeam {
    NewTeam {
        name: name.to_string(),
        description: String::new(),
        admin_id,
        created_by,
    }
}

async fn team(store: &DynStore, name: &str, admin: &User) -> Team {
    store
        .create_team(
            new_team(name, admin.id, Some(admin.id)),
            event("team.create"),
        )
        .await
        .unwrap()
}

async fn actions(store: &DynStore, action: &str) -> usize {
    let audit = store.recent_audit(10_000).await.unwrap();
    audit.iter().filter(|a| a.action == action).count()
}

fn usernames(members: &[fulcrum::store::Membership]) -> Vec<(String, String)> {
    members
        .iter()
        .map(|m| (m.user.username.clone(), m.role.clone()))
        .collect()
}

fn new_invite(team: &Team, user: &User, token: &str, expires_at: i64) -> NewInvite {
    NewInvite {
        team_id: team.id,
        kind: "invite",
        email: None,
        user_id: Some(user.id),
        role: "member".into(),
        token_hash: hash_key(token),
        invited_by: None,
        expires_at,
    }
}

async fn a_team_is_created_with_its_admin_and_one_audit_row(backend: Backend) {
    let db = open(backend).await;
    let s = &db.store;
    let ada = person(s, "ada").await;
    let lab = team(s, "lab", &ada).await;
    assert_eq!(
        (lab.name.as_str(), lab.join_policy.as_str()),
        ("lab", "INVITE")
    );
    let entity = s.entity_by_name("LAB").await.unwrap().unwrap();
    assert!(entity.is_team && entity.id == lab.id && entity.user_id.is_none());
    assert_eq!(s.team_by_id(lab.id).await.unwrap(), Some(lab.clone()));
    assert_eq!(
        usernames(&s.team_members(lab.id).await.unwrap()),
        [("ada".into(), "admin".into())]
    );
    assert_eq!(
        s.member_role(lab.id, ada.id).await.unwrap().as_deref(),
        Some("admin")
    );
    let teams = s.user_teams(ada.id).await.unwrap();
    assert_eq!(teams.len(), 1);
    assert_eq!(
        (teams[0].0.name.as_str(), teams[0].1.as_str()),
        ("lab", "admin")
    );
    assert_eq!(actions(s, "team.create").await, 1);
    // Teams and people share one namespace, case-insensitively; a refused create writes nothing.
    for taken in ["lab", "Lab", "ada"] {
        let err = s
            .create_team(new_team(taken, ada.id, None), event("team.create"))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{taken}: {err:?}");
    }
    assert_eq!(actions(s, "team.create").await, 1);
}

async fn roles_change_but_a_team_keeps_an_admin(backend: Backend) {
    let db = open(backend).await;
    let s = &db.store;
    let ada = person(s, "ada").await;
    let bob = person(s, "bob").await;
    let lab = team(s, "lab", &ada).await;
    s.add_member(seat(lab.id, bob.id, "member"), event("team.join"))
        .await
        .unwrap();
    assert!(matches!(
        s.add_member(
            Seat {
                team_id: lab.id,
                user_id: bob.id,
                role: "viewer".into()
            },
            event("team.join")
        )
        .await,
        Err(StoreError::Refused(ErrorCode::AlreadyMember))
    ));
    let last = s
        .set_member_role(seat(lab.id, ada.id, "member"), event("team.set_role"))
        .await
        .unwrap_err();
    assert!(
        matches!(last, StoreError::Refused(ErrorCode::LastTeamAdmin)),
        "{last:?}"
    );
    assert!(matches!(
        s.remove_member(lab.id, ada.id, event("team.leave")).await,
        Err(StoreError::Refused(ErrorCode::LastTeamAdmin))
    ));
    // With a second admin the first may step down.
    s.set_member_role(seat(lab.id, bob.id, "admin"), event("team.set_role"))
        .await
        .unwrap();
    s.set_member_role(seat(lab.id, ada.id, "viewer"), event("team.set_role"))
        .await
        .unwrap();
    assert_eq!(
        usernames(&s.team_members(lab.id).await.unwrap()),
        [
            ("ada".into(), "viewer".into()),
            ("bob".into(), "admin".into())
        ]
    );
    // Leaving clears a default-team choice of that team.
    s.set_default_entity(ada.id, Some(lab.id), event("user.default_entity"))
        .await
        .unwrap();
    assert!(s
        .remove_member(lab.id, ada.id, event("team.leave"))
        .await
        .unwrap());
    assert!(!s
        .remove_member(lab.id, ada.id, event("team.leave"))
        .await
        .unwrap());
    let ada = s.user_by_id(ada.id).await.unwrap().unwrap();
    assert_eq!(ada.default_entity_id, None);
    assert_eq!(s.member_role(lab.id, ada.id).await.unwrap(), None);
    assert_eq!(
        actions(s, "team.set_role").await,
        2,
        "refused changes write no audit row"
    );
}

async fn deleting_a_team_removes_what_belongs_to_it(backend: Backend) {
    let db = open(backend).await;
    let s = &db.store;
    let ada = person(s, "ada").await;
    let bob = person(s, "bob").await;
    let lab = team(s, "lab", &ada).await;
    s.add_member(seat(lab.id, bob.id, "member"), event("team.join"))
        .await
        .unwrap();
    s.set_default_entity(bob.id, Some(lab.id), event("user.default_entity"))
        .await
        .unwrap();
    let sa = s
        .create_service_account(service_account(lab.id, "ci"), event("sa"))
        .await
        .unwrap();
    let carl = person(s, "carl").await;
    let later = fulcrum::now_ms() + 60_000;
    let invite = s
        .create_invite(
            new_invite(&lab, &carl, "t1", later),
            None,
            fulcrum::now_ms(),
            event("team.invite"),
        )
        .await
        .unwrap();
    s.delete_team(lab.id, event("team.delete")).await.unwrap();
    assert_eq!(
        s.invite_by_id(invite.id).await.unwrap(),
        None,
        "its invitations go with it"
    );
    assert!(s
        .pending_user_invites(carl.id, fulcrum::now_ms())
        .await
        .unwrap()
        .is_empty());
    assert_eq!(s.entity_by_name("lab").await.unwrap(), None);
    assert_eq!(s.team_by_id(lab.id).await.unwrap(), None);
    assert!(s.user_teams(bob.id).await.unwrap().is_empty());
    assert_eq!(
        s.user_by_id(sa.id).await.unwrap(),
        None,
        "its service accounts go with it"
    );
    assert_eq!(
        s.user_by_id(bob.id)
            .await
            .unwrap()
            .unwrap()
            .default_entity_id,
        None
    );
    assert_eq!(actions(s, "team.delete").await, 1);
}

/// Service account `lab-ci` of `team_id`, described as `description`.
fn service_account(team_id: i64, description: &str) -> NewServiceAccount {
    NewServiceAccount {
        team_id,
        user: NewUser {
            username: "lab-ci".into(),
            email: "lab-ci@service-accounts.invalid".into(),
            name: "CI".into(),
            is_admin: false,
            account_type: AccountType::Service,
            password_hash: None,
        },
        description: description.into(),
    }
}

fn mail_job(key: &str) -> NewJob {
    NewJob {
        kind: "mail.team_invite",
        payload: json!({ "to": "x@example.com" }),
        dedup_key: Some(format!("invite:{key}")),
        max_attempts: 3,
        run_after: fulcrum::now_ms(),
    }
}

/// An invitation valid for a minute, with its mail job keyed by the token.
async fn invite_with_mail(
    s: &DynStore,
    team: &Team,
    user: &User,
    token: &str,
    now: i64,
) -> StoreResult<Invite> {
    let invite = new_invite(team, user, token, now + 60_000);
    s.create_invite(invite, Some(mail_job(token)), now, event("team.invite"))
        .await
}

async fn invitations_are_one_per_person_and_resolve_once(backend: Backend) {
    let db = open(backend).await;
    let s = &db.store;
    let ada = person(s, "ada").await;
    let bob = person(s, "bob").await;
    let lab = team(s, "lab", &ada).await;
    let now = fulcrum::now_ms();
    let invite = invite_with_mail(s, &lab, &bob, "token-one", now)
        .await
        .unwrap();
    assert_eq!(
        (invite.team_name.as_str(), invite.user_id),
        ("lab", Some(bob.id))
    );
    assert_eq!(
        db.jobs.list_jobs(None, 10).await.unwrap().len(),
        1,
        "the mail job is written with it"
    );
    let second = invite_with_mail(s, &lab, &bob, "token-two", now)
        .await
        .unwrap_err();
    assert!(
        matches!(second, StoreError::Conflict("invite")),
        "{second:?}"
    );
    assert_eq!(
        db.jobs.list_jobs(None, 10).await.unwrap().len(),
        1,
        "a refused invitation enqueues nothing"
    );
    assert_eq!(
        s.invite_by_token(&hash_key("token-one")).await.unwrap(),
        Some(invite.clone())
    );
    assert_eq!(
        s.invite_by_token(&hash_key("token-two")).await.unwrap(),
        None
    );
    assert_eq!(
        s.pending_team_invites(lab.id, now).await.unwrap(),
        std::slice::from_ref(&invite)
    );
    assert_eq!(
        s.pending_user_invites(bob.id, now).await.unwrap(),
        std::slice::from_ref(&invite)
    );
    assert!(
        s.pending_user_invites(bob.id, now + 120_000)
            .await
            .unwrap()
            .is_empty(),
        "expired ones are not pending"
    );
    assert!(s
        .resolve_invite(
            InviteResolution {
                invite: invite.id,
                outcome: "accepted",
                join: Some((bob.id, "member".into())),
                at: now
            },
            event("team.invite_accept")
        )
        .await
        .unwrap());
    assert_eq!(
        s.member_role(lab.id, bob.id).await.unwrap().as_deref(),
        Some("member")
    );
    assert!(!s
        .resolve_invite(
            InviteResolution {
                invite: invite.id,
                outcome: "accepted",
                join: Some((bob.id, "admin".into())),
                at: now
            },
            event("team.invite_accept")
        )
        .await
        .unwrap());
    let resolved = s.invite_by_id(invite.id).await.unwrap().unwrap();
    assert_eq!(resolved.resolution.as_deref(), Some("accepted"));
    assert!(s
        .pending_team_invites(lab.id, now)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(actions(s, "team.invite_accept").await, 1);
}

async fn email_tokens_verify_once_and_only_the_same_address(backend: Backend) {
    let db = open(backend).await;
    let s = &db.store;
    let ada = person(s, "ada").await;
    let now = fulcrum::now_ms();
    s.put_email_token(
        NewEmailToken {
            hash: hash_key("fresh"),
            user_id: ada.id,
            email: ada.email.clone(),
            created_at: now,
            expires_at: now + 60_000,
        },
        None,
        event("user.verify_email_request"),
    )
    .await
    .unwrap();
    s.put_email_token(
        NewEmailToken {
            hash: hash_key("stale"),
            user_id: ada.id,
            email: ada.email.clone(),
            created_at: now,
            expires_at: now - 1,
        },
        None,
        event("user.verify_email_request"),
    )
    .await
    .unwrap();
    s.put_email_token(
        NewEmailToken {
            hash: hash_key("other"),
            user_id: ada.id,
            email: "old@example.com".to_string(),
            created_at: now,
            expires_at: now + 60_000,
        },
        None,
        event("user.verify_email_request"),
    )
    .await
    .unwrap();
    assert_eq!(
        s.use_email_token(hash_key("stale"), now).await.unwrap(),
        None
    );
    assert_eq!(
        s.use_email_token(hash_key("other"), now).await.unwrap(),
        None,
        "not the account's address"
    );
    assert!(s
        .user_by_id(ada.id)
        .await
        .unwrap()
        .unwrap()
        .email_verified_at
        .is_none());
    assert_eq!(
        s.use_email_token(hash_key("fresh"), now).await.unwrap(),
        Some(ada.id)
    );
    assert!(s
        .user_by_id(ada.id)
        .await
        .unwrap()
        .unwrap()
        .email_verified_at
        .is_some());
    assert_eq!(
        s.use_email_token(hash_key("fresh"), now).await.unwrap(),
        None,
        "once"
    );
    s.set_email_verified(ada.id, None).await.unwrap();
    assert!(s
        .user_by_id(ada.id)
        .await
        .unwrap()
        .unwrap()
        .email_verified_at
        .is_none());
}

async fn default_team_and_hide_teams_are_written_with_their_audit_rows(backend: Backend) {
    let db = open(backend).await;
    let s = &db.store;
    let ada = person(s, "ada").await;
    let lab = team(s, "lab", &ada).await;
    s.set_default_entity(ada.id, Some(lab.id), event("user.default_entity"))
        .await
        .unwrap();
    s.set_hide_teams(ada.id, true, event("user.hide_teams"))
        .await
        .unwrap();
    let row = s.user_by_id(ada.id).await.unwrap().unwrap();
    assert_eq!(
        (row.default_entity_id, row.hide_teams),
        (Some(lab.id), true)
    );
    s.set_default_entity(ada.id, None, event("user.default_entity"))
        .await
        .unwrap();
    s.set_hide_teams(ada.id, false, event("user.hide_teams"))
        .await
        .unwrap();
    let row = s.user_by_id(ada.id).await.unwrap().unwrap();
    assert_eq!((row.default_entity_id, row.hide_teams), (None, false));
    assert_eq!(actions(s, "user.default_entity").await, 2);
    assert_eq!(actions(s, "user.hide_teams").await, 2);
}

async fn service_accounts_belong_to_their_team(backend: Backend) {
    let db = open(backend).await;
    let s = &db.store;
    let ada = person(s, "ada").await;
    let lab = team(s, "lab", &ada).await;
    let sa = s
        .create_service_account(service_account(lab.id, "nightly"), event("sa"))
        .await
        .unwrap();
    assert_eq!(sa.account_type, AccountType::Service);
    assert_eq!(sa.service_team_id, Some(lab.id));
    assert_eq!(
        s.entity_by_name("lab-ci").await.unwrap(),
        None,
        "no personal entity"
    );
    let members = s.team_members(lab.id).await.unwrap();
    let last = members.last().unwrap();
    assert_eq!(
        (last.user.id, last.role.as_str(), last.description.as_str()),
        (sa.id, "member", "nightly")
    );
}

async fn domain_teams_follow_the_join_policy(backend: Backend) {
    let db = open(backend).await;
    let s = &db.store;
    let ada = person(s, "ada").await;
    let mut lab = team(s, "lab", &ada).await;
    let mut ops = team(s, "ops", &ada).await;
    lab.join_policy = "DOMAIN_DIRECT".into();
    lab.email_domain = Some("corp.example".into());
    s.update_team(lab.clone(), event("team.update"))
        .await
        .unwrap();
    ops.email_domain = Some("corp.example".into());
    s.update_team(ops.clone(), event("team.update"))
        .await
        .unwrap();
    let found: Vec<String> = s
        .domain_teams("corp.example")
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(
        found,
        ["lab"],
        "an invitation-only team is not found by domain"
    );
    assert_eq!(s.team_by_id(lab.id).await.unwrap(), Some(lab));
}
