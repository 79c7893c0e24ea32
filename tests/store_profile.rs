//! Conformance of the profile part of the store on SQLite and PostgreSQL: partial updates,
//! the intro with its rendered HTML, the profile image and its audit rows.

#[macro_use]
mod common;

use common::Backend;
use fulcrum::store::{
    AccountType, AuditEvent, DynStore, Intro, NewUser, ProfileField, ProfileUpdate, User,
};

fn profile(fields: &[(ProfileField, &str)]) -> ProfileUpdate {
    fields.iter().map(|(f, v)| (*f, v.to_string())).collect()
}

on_both_backends!(
    profile_updates_change_only_what_they_name,
    the_intro_is_stored_as_written_with_its_html,
    the_avatar_returns_the_image_it_replaces,
);

fn event(action: &'static str) -> AuditEvent {
    AuditEvent {
        action,
        ..Default::default()
    }
}

async fn open(backend: &Backend) -> (DynStore, User) {
    let services = common::services(backend, &[]).await;
    let store = services.store.clone();
    let user = NewUser {
        username: "ada".into(),
        email: "ada@example.com".into(),
        name: "Ada".into(),
        is_admin: false,
        account_type: AccountType::User,
        password_hash: None,
    };
    let ada = store.create_user(user, event("user.create")).await.unwrap();
    (store, ada)
}

async fn audited(store: &DynStore, action: &str) -> usize {
    let audit = store.recent_audit(1000).await.unwrap();
    audit.iter().filter(|a| a.action == action).count()
}

async fn profile_updates_change_only_what_they_name(backend: Backend) {
    let (s, ada) = open(&backend).await;
    let fresh = s.user_profile(ada.id).await.unwrap().unwrap();
    assert_eq!(
        (
            fresh.name.as_str(),
            fresh.bio.as_str(),
            fresh.avatar.clone()
        ),
        ("Ada", "", None)
    );
    let update = profile(&[
        (ProfileField::Institution, "Analytical Engines"),
        (ProfileField::Bio, "line one\nline two"),
        (ProfileField::Language, "ko"),
    ]);
    s.update_profile(ada.id, update, event("profile.update"))
        .await
        .unwrap();
    let update = profile(&[(ProfileField::Website, "https://example.com")]);
    s.update_profile(ada.id, update, event("profile.update"))
        .await
        .unwrap();
    let p = s.user_profile(ada.id).await.unwrap().unwrap();
    assert_eq!(p.name, "Ada");
    assert_eq!(p.institution, "Analytical Engines");
    assert_eq!(p.bio, "line one\nline two");
    assert_eq!(p.website, "https://example.com");
    assert_eq!(p.language.as_deref(), Some("ko"));
    // The display name lives on the user row too.
    let update = profile(&[(ProfileField::Name, "Ada L.")]);
    s.update_profile(ada.id, update, event("profile.update"))
        .await
        .unwrap();
    assert_eq!(s.user_by_id(ada.id).await.unwrap().unwrap().name, "Ada L.");
    assert_eq!(audited(&s, "profile.update").await, 3);
    assert_eq!(s.user_profile(ada.id + 1000).await.unwrap(), None);
}

async fn the_intro_is_stored_as_written_with_its_html(backend: Backend) {
    let (s, ada) = open(&backend).await;
    let md =
        "# 안녕하세요\n\n**bold** <img src=\"https://img.shields.io/x\" width=\"80\">".to_string();
    let html = fulcrum::markdown::render(&md).unwrap();
    s.update_intro(
        ada.id,
        Intro {
            markdown: md.clone(),
            html: html.clone(),
        },
        event("profile.intro"),
    )
    .await
    .unwrap();
    let p = s.user_profile(ada.id).await.unwrap().unwrap();
    assert_eq!((p.intro, p.intro_html), (md, html));
    s.update_intro(ada.id, Intro::default(), event("profile.intro"))
        .await
        .unwrap();
    assert_eq!(s.user_profile(ada.id).await.unwrap().unwrap().intro, "");
    assert_eq!(audited(&s, "profile.intro").await, 2);
}

async fn the_avatar_returns_the_image_it_replaces(backend: Backend) {
    let (s, ada) = open(&backend).await;
    let first = s
        .set_avatar(ada.id, Some("aaa".into()), event("profile.avatar"))
        .await
        .unwrap();
    assert_eq!(first, None);
    let second = s
        .set_avatar(ada.id, Some("bbb".into()), event("profile.avatar"))
        .await
        .unwrap();
    assert_eq!(second.as_deref(), Some("aaa"));
    let cleared = s
        .set_avatar(ada.id, None, event("profile.avatar"))
        .await
        .unwrap();
    assert_eq!(cleared.as_deref(), Some("bbb"));
    assert_eq!(s.user_profile(ada.id).await.unwrap().unwrap().avatar, None);
    assert_eq!(audited(&s, "profile.avatar").await, 3);
}
