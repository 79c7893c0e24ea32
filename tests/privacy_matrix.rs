//! Who may read another person's data, field by field (issue #7): every GraphQL field that
//! returns an address, a default entity, memberships, invitations or keys, asked by an
//! anonymous caller, a stranger, a team viewer, a team member, the team's admin, a site admin
//! and the person themselves, on SQLite and PostgreSQL.

#[macro_use]
mod common;

use common::app::TestApp;
use common::{Backend, T};
use serde_json::{json, Value};

on_both_backends!(privacy_matrix);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    Anonymous,
    Stranger,
    TeamViewer,
    TeamMember,
    TeamAdmin,
    SiteAdmin,
    Themselves,
}

use Caller::*;

const CALLERS: [Caller; 7] = [
    Anonymous, Stranger, TeamViewer, TeamMember, TeamAdmin, SiteAdmin, Themselves,
];

impl Caller {
    /// Sees the person's private fields: only they and site admins.
    fn private(self) -> bool {
        matches!(self, SiteAdmin | Themselves)
    }
    fn in_team(self) -> bool {
        matches!(
            self,
            TeamViewer | TeamMember | TeamAdmin | Themselves | SiteAdmin
        )
    }
    fn manages_team(self) -> bool {
        matches!(self, TeamAdmin | SiteAdmin)
    }
}

async fn gql(t: &T, key: Option<&str>, query: &str) -> (u16, Value) {
    let (status, body) = t.gql(key, query, None, json!({})).await;
    (status.as_u16(), body)
}

async fn ok(t: &T, key: &str, query: &str) {
    let (status, body) = gql(t, Some(key), query).await;
    assert_eq!(status, 200, "{query}: {body}");
}

fn names(list: &Value, field: &str) -> Vec<String> {
    list.as_array()
        .map(|a| {
            a.iter()
                .map(|v| {
                    v.pointer(field)
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default()
}

const PROFILE: &str = "{ user(username: \"subj\") { email emailVerified language entity defaultEntity { name } teams { edges { node { name } } } teamMemberships { role entity { name } } apiKeys { edges { node { name } } } invites { id fromUser { email } } projectEntities { name } joinableTeams { name } } }";
const TEAM: &str = "{ entity(name: \"matrix\") { members { username email apiKeys { name } } invites { name email toUser { email } } } }";
const PERSONAL: &str = "{ entity(name: \"subj\") { members { email } } }";

async fn privacy_matrix(backend: Backend) {
    let mut app = TestApp::start(&backend).await;
    app.admin("root").await;
    app.person("stranger").await.person("pending").await;
    app.person("owner")
        .await
        .team("matrix")
        .await
        .team("second")
        .await;
    app.member("matrix", "subj", "member").await;
    app.member("matrix", "peer", "member").await;
    app.member("matrix", "watcher", "viewer").await;
    let owner_actor = app.actor("owner").await;
    for (team, who) in [("matrix", "pending"), ("second", "subj")] {
        app.services()
            .invite(&owner_actor, team, who, "member")
            .await
            .unwrap();
    }
    // The invitation mails go out at once (to the in-memory outbox).
    let mail = app.wait_for_mail("pending@example.com").await;
    assert!(mail.subject.contains("matrix"), "{}", mail.subject);
    let t = &app.t;
    let (owner, subj) = (app.key("owner"), app.key("subj"));
    let (root, peer, watcher, stranger) = (
        app.key("root"),
        app.key("peer"),
        app.key("watcher"),
        app.key("stranger"),
    );
    ok(t, owner, "mutation { createServiceAccount(input: {entityName: \"matrix\", description: \"ci\"}) { user { id } } }").await;
    let (_, body) = gql(t, Some(owner), TEAM).await;
    let sa = names(&body["data"]["entity"]["members"], "/username")
        .into_iter()
        .find(|n| n.starts_with("matrix-"))
        .unwrap();
    ok(t, owner, &format!("mutation {{ createServiceAccountApiKey(input: {{entityName: \"matrix\", serviceAccountId: \"{}\"}}) {{ apiKey {{ id }} }} }}", t.user_node(&sa).await)).await;
    ok(
        t,
        subj,
        "mutation { setDefaultEntity(input: {entityName: \"matrix\"}) { user { id } } }",
    )
    .await;
    ok(
        t,
        subj,
        "mutation { updateUserSettings(input: {hideTeamsInProfile: true}) { user { id } } }",
    )
    .await;
    ok(
        t,
        subj,
        "mutation { updateProfile(input: {language: \"ko\"}) { clientMutationId } }",
    )
    .await;

    let mut checked = 0;
    for caller in CALLERS {
        let key: Option<&str> = match caller {
            Anonymous => None,
            Stranger => Some(stranger),
            TeamViewer => Some(watcher),
            TeamMember => Some(peer),
            TeamAdmin => Some(owner),
            SiteAdmin => Some(root),
            Themselves => Some(subj),
        };
        let private = caller.private();
        let ctx = format!("{caller:?}");

        // The public profile: anyone may ask, private fields only for the person and admins.
        let (status, body) = gql(t, key, PROFILE).await;
        assert_eq!(status, 200, "{ctx}: {body}");
        let u = &body["data"]["user"];
        let expect = |field: &str, seen: Value, hidden: Value| {
            let want = if private { seen } else { hidden };
            assert_eq!(u[field], want, "{ctx}: user.{field} in {body}");
        };
        expect("email", json!("subj@example.com"), Value::Null);
        expect("emailVerified", json!(false), Value::Null);
        expect("language", json!("ko"), Value::Null);
        expect("entity", json!("matrix"), json!("subj"));
        expect("defaultEntity", json!({ "name": "matrix" }), Value::Null);
        let teams = names(&u["teams"]["edges"], "/node/name");
        assert_eq!(
            teams,
            if private {
                vec!["subj", "matrix"]
            } else {
                vec!["subj"]
            },
            "{ctx}"
        );
        assert_eq!(
            u["teamMemberships"].as_array().unwrap().len(),
            usize::from(private),
            "{ctx}"
        );
        assert_eq!(
            u["apiKeys"]["edges"].as_array().unwrap().len(),
            usize::from(private),
            "{ctx}"
        );
        assert_eq!(
            u["invites"].as_array().unwrap().len(),
            usize::from(private),
            "{ctx}"
        );
        for invite in u["invites"].as_array().unwrap() {
            // The inviter's address is not the invitee's to read.
            let inviter = &invite["fromUser"]["email"];
            assert_eq!(
                *inviter,
                if caller == SiteAdmin {
                    json!("owner@example.com")
                } else {
                    Value::Null
                },
                "{ctx}"
            );
        }
        assert_eq!(
            u["projectEntities"].as_array().unwrap().len(),
            if private { 2 } else { 0 },
            "{ctx}"
        );
        assert!(u["joinableTeams"].as_array().unwrap().is_empty(), "{ctx}");
        checked += 10;

        // Search: an exact address finds the person, a piece of one only for site admins.
        for (q, admins_only) in [
            ("subj@example.com", false),
            ("subj@exam", true),
            ("@example.com", true),
        ] {
            let (status, body) = gql(
                t,
                key,
                &format!("{{ users(query: \"{q}\") {{ edges {{ node {{ username email }} }} }} }}"),
            )
            .await;
            if caller == Anonymous {
                assert_eq!(status, 401, "{ctx}: {body}");
                continue;
            }
            let found = names(&body["data"]["users"]["edges"], "/node/username");
            let expected = !admins_only || caller == SiteAdmin;
            assert_eq!(
                found.contains(&"subj".to_string()),
                expected,
                "{ctx} {q}: {found:?}"
            );
            for edge in body["data"]["users"]["edges"].as_array().unwrap() {
                let own = edge["node"]["username"]
                    == json!(match caller {
                        Themselves => "subj",
                        TeamAdmin => "owner",
                        TeamMember => "peer",
                        TeamViewer => "watcher",
                        Stranger => "stranger",
                        _ => "root",
                    });
                if !own && caller != SiteAdmin {
                    assert_eq!(edge["node"]["email"], Value::Null, "{ctx} {q}: {edge}");
                }
            }
            checked += 1;
        }

        // The team: members only; addresses for the team's admins and the member themselves;
        // service-account keys and pending invitations for team admins; no invitee address
        // from a username invitation for anyone.
        let (status, body) = gql(t, key, TEAM).await;
        match caller {
            Anonymous => assert_eq!(status, 401, "{ctx}: {body}"),
            Stranger => assert_eq!(status, 403, "{ctx}: {body}"),
            _ => {
                assert!(caller.in_team());
                assert_eq!(status, 200, "{ctx}: {body}");
                let members = body["data"]["entity"]["members"].as_array().unwrap();
                let subj_row = members.iter().find(|m| m["username"] == "subj").unwrap();
                let sees = caller.manages_team() || caller == Themselves;
                assert_eq!(
                    subj_row["email"],
                    if sees {
                        json!("subj@example.com")
                    } else {
                        Value::Null
                    },
                    "{ctx}"
                );
                let sa_row = members.iter().find(|m| m["username"] == json!(sa)).unwrap();
                assert_eq!(
                    sa_row["apiKeys"].as_array().unwrap().len(),
                    usize::from(caller.manages_team()),
                    "{ctx}"
                );
                let invites = body["data"]["entity"]["invites"].as_array().unwrap();
                assert_eq!(invites.len(), usize::from(caller.manages_team()), "{ctx}");
                for i in invites {
                    assert_eq!(i["name"], "pending");
                    assert_eq!(i["email"], Value::Null, "{ctx}: {i}");
                    assert_eq!(
                        i["toUser"]["email"],
                        if caller == SiteAdmin {
                            json!("pending@example.com")
                        } else {
                            Value::Null
                        },
                        "{ctx}"
                    );
                }
            }
        }
        checked += 4;

        // The personal entity: the person and site admins.
        let (status, body) = gql(t, key, PERSONAL).await;
        let want = match caller {
            Anonymous => 401,
            Themselves | SiteAdmin => 200,
            _ => 403,
        };
        assert_eq!(status, want, "{ctx}: {body}");
        checked += 1;
    }
    assert_eq!(checked, 7 * 18 - 3, "every cell of the matrix was checked");
    app.stop().await;
}
