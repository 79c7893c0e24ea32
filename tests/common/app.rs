//! `TestApp`: a running server with people, keys and teams made in a line each, and the mail
//! it sends kept in memory. Steps go through the services (no HTTP round trips), so a test's
//! set-up is short and fast and its assertions are about what it tests.
//!
//! ```ignore
//! let mut app = TestApp::start(&backend).await;
//! app.person("ada").await.team("lab").await.member("lab", "bob", "viewer").await;
//! let (status, body) = app.gql("bob", "{ viewer { teams { edges { node { name } } } } }").await;
//! ```

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use fulcrum::notify::mail::{CapturedMail, MemoryTransport};
use fulcrum::services::{Actor, AuthMethod, Services};
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{Backend, T};

pub struct TestApp {
    pub t: T,
    /// Every mail the server sent, in order.
    pub outbox: Arc<MemoryTransport>,
    keys: HashMap<String, String>,
    /// The person the next `team` step acts as.
    last: Option<String>,
}

impl TestApp {
    pub async fn start(backend: &Backend) -> TestApp {
        Self::with_config(backend, &[]).await
    }

    /// With `FULCRUM_*` settings, e.g. `[("FULCRUM_MAX_KEYS_PER_USER", "3")]`.
    pub async fn with_config(backend: &Backend, extra: &[(&str, &str)]) -> TestApp {
        let outbox = MemoryTransport::new();
        let services = super::services(backend, extra).await;
        let server = fulcrum::app::RunningServer::start_with_mail(services, Some(outbox.clone()))
            .await
            .unwrap();
        let base = format!("http://{}", server.addr);
        TestApp {
            t: T {
                server,
                base,
                http: reqwest::Client::new(),
            },
            outbox,
            keys: HashMap::new(),
            last: None,
        }
    }

    pub fn services(&self) -> &Arc<Services> {
        &self.t.server.services
    }

    /// A person `<name>@example.com` with the test password and an API key.
    pub async fn person(&mut self, name: &str) -> &mut Self {
        self.account(name, false).await
    }

    /// A site admin.
    pub async fn admin(&mut self, name: &str) -> &mut Self {
        self.account(name, true).await
    }

    async fn account(&mut self, name: &str, admin: bool) -> &mut Self {
        let key = self.t.user(name, admin).await;
        self.keys.insert(name.to_string(), key);
        self.last = Some(name.to_string());
        self
    }

    /// `who` uploads `png` as their profile image, as the web app does.
    pub async fn upload_avatar(&self, who: &str, png: Vec<u8>) -> reqwest::Response {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(png).file_name("me.png"),
        );
        self.t
            .http
            .post(self.t.url("/api/v1/avatar"))
            .basic_auth("api", Some(self.key(who)))
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// Knows `name` by a key made elsewhere (another instance on the same database).
    pub fn adopt(&mut self, name: &str, key: &str) {
        self.keys.insert(name.to_string(), key.to_string());
    }

    /// The API key of a person made by this app.
    pub fn key(&self, name: &str) -> &str {
        self.keys
            .get(name)
            .unwrap_or_else(|| panic!("no person {name} in this TestApp"))
    }

    /// The person as an actor for calling services directly, as if with an API key (so
    /// changes are recorded as theirs).
    pub async fn actor(&self, name: &str) -> Actor {
        as_person(self.t.user_row(name).await)
    }

    /// A team whose admin is the person made last.
    pub async fn team(&mut self, team: &str) -> &mut Self {
        let owner = self.last.clone().expect("make a person before their team");
        let actor = self.actor(&owner).await;
        self.services()
            .create_team(&actor, team, None, "")
            .await
            .unwrap();
        self
    }

    /// Makes `who` (made here if new) a member of `team` with `role`, through an invitation
    /// by the team's first admin that `who` accepts.
    pub async fn member(&mut self, team: &str, who: &str, role: &str) -> &mut Self {
        if !self.keys.contains_key(who) {
            let key = self.t.user(who, false).await;
            self.keys.insert(who.to_string(), key);
        }
        let services = self.services().clone();
        let entity = services.entity_named(team).await.unwrap().unwrap();
        let admin = services
            .store
            .team_members(entity.id)
            .await
            .unwrap()
            .into_iter()
            .find(|m| m.role == "admin")
            .expect("the team has an admin")
            .user;
        let admin = as_person(admin);
        let invite = services.invite(&admin, team, who, role).await.unwrap();
        let invitee = self.actor(who).await;
        services
            .answer_invite(&invitee, Some(invite.id), None, true)
            .await
            .unwrap();
        self
    }

    /// A GraphQL request with `who`'s key (`""` for none).
    pub async fn gql(&self, who: &str, query: &str) -> (StatusCode, Value) {
        self.gql_with(who, query, json!({})).await
    }

    pub async fn gql_with(&self, who: &str, query: &str, vars: Value) -> (StatusCode, Value) {
        let key = (!who.is_empty()).then(|| self.key(who));
        self.t.gql(key, query, None, vars).await
    }

    /// The mails sent to `address` so far.
    pub fn mail_to(&self, address: &str) -> Vec<CapturedMail> {
        self.outbox
            .sent()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == address))
            .collect()
    }

    /// The first mail to `address`, waiting for it up to five seconds.
    pub async fn wait_for_mail(&self, address: &str) -> CapturedMail {
        for _ in 0..500 {
            if let Some(mail) = self.mail_to(address).into_iter().next() {
                return mail;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("no mail to {address} within 5 s");
    }

    /// Signs `who` in as a browser does; the session cookie (`name=value`).
    pub async fn browser_login(&self, who: &str) -> String {
        let r = self
            .t
            .http
            .post(self.t.url("/api/v1/login"))
            .json(&json!({"login": who, "password": super::PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
        set.split(';').next().unwrap().to_string()
    }

    /// A run `entity/p/run` logged by `who` as the SDK does: config, history, console and
    /// system lines, and one uploaded file (`model.txt`, "weights of <run>").
    pub async fn logged_run(&self, who: &str, entity: &str, run: &str) {
        let q = format!("mutation {{ upsertBucket(input: {{name: \"{run}\", modelName: \"p\", entityName: \"{entity}\", config: \"{{\\\"lr\\\": {{\\\"value\\\": 0.1}}}}\"}}) {{ bucket {{ id }} }} }}");
        let (_, body) = self.gql(who, &q).await;
        assert!(body["errors"].is_null(), "{body}");
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("api:{}", self.key(who)));
        let files = json!({ "files": {
            "wandb-history.jsonl": { "offset": 0, "content": ["{\"_step\": 0, \"loss\": 1.5, \"note\": \"a,b\"}", "{\"_step\": 1, \"loss\": 0.5}"] },
            "output.log": { "offset": 0, "content": ["2026-12-07T09:00:00Z epoch 1"] },
            "wandb-events.jsonl": { "offset": 0, "content": ["{\"system.cpu\": 12}"] },
        }});
        let r = self
            .t
            .http
            .post(self.t.url(&format!("/files/{entity}/p/{run}/file_stream")))
            .header("authorization", format!("Basic {basic}"))
            .json(&files)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let q = format!("mutation {{ createRunFiles(input: {{entityName: \"{entity}\", projectName: \"p\", runName: \"{run}\", files: [\"model.txt\"]}}) {{ files {{ uploadUrl }} }} }}");
        let (_, body) = self.gql(who, &q).await;
        let url = body["data"]["createRunFiles"]["files"][0]["uploadUrl"]
            .as_str()
            .unwrap()
            .replace("http://127.0.0.1:8080", &self.t.base);
        assert_eq!(
            self.t
                .http
                .put(url)
                .body(format!("weights of {run}"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }

    pub async fn stop(self) {
        self.t.server.shutdown().await.unwrap();
    }
}

/// Where a GET (with the browser's session `cookie`, if any) redirects to; it must redirect.
/// `client` must not follow redirects.
pub async fn redirect_of(client: &reqwest::Client, url: &str, cookie: Option<&str>) -> String {
    let mut req = client.get(url);
    if let Some(c) = cookie {
        req = req.header("cookie", c).header("origin", super::ORIGIN);
    }
    let r = req.send().await.unwrap();
    assert!(r.status().is_redirection(), "{url}: {}", r.status());
    r.headers()["location"].to_str().unwrap().to_string()
}

fn as_person(user: fulcrum::store::User) -> Actor {
    Actor {
        user,
        auth: AuthMethod::ApiKey {
            key_pk: 0,
            key_id: "fk-testapp".into(),
        },
        on_behalf_of: None,
        request: Default::default(),
    }
}
