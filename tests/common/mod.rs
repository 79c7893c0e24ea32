//! Shared helpers for the integration tests: a fresh PostgreSQL database per test, and a
//! real server booted on 127.0.0.1:0 against SQLite (temp dir) or PostgreSQL.
#![allow(dead_code)]

pub mod app;
pub mod github;
pub mod outage;
pub mod process;
pub mod s3;
pub mod slack;
pub mod smtp;
pub mod store;
pub mod teams;

use std::sync::Arc;

use fulcrum::app::RunningServer;
use fulcrum::config::{Config, Overrides};
use fulcrum::services::Services;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The server every PostgreSQL test connects to for creating its own database.
pub fn pg_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A uniquely named database, dropped (with its connections) when this value is dropped.
pub struct TestDb {
    pub url: String,
    name: String,
}

/// A migrated database that each test's database is copied from, built once per schema
/// (named after a hash of the PostgreSQL migrations) and kept between runs.
static TEMPLATE: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();

async fn admin_client() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&pg_admin_url(), tokio_postgres::NoTls)
        .await
        .expect("PostgreSQL must run on 127.0.0.1:5432 (or set TEST_DATABASE_URL)");
    tokio::spawn(conn);
    client
}

fn url_of(name: &str) -> String {
    let mut url = url::Url::parse(&pg_admin_url()).unwrap();
    url.set_path(name);
    url.to_string()
}

fn schema_hash() -> String {
    use sha2::Digest;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut hasher = sha2::Sha256::new();
    for f in files {
        hasher.update(std::fs::read(f).unwrap());
    }
    hasher.finalize()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn build_template() -> String {
    let name = format!("fulcrum_tmpl_{}", schema_hash());
    let admin = admin_client().await;
    // Test binaries may build it at the same moment: one does, the others wait and reuse it.
    admin
        .batch_execute("SELECT pg_advisory_lock(740173)")
        .await
        .unwrap();
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .unwrap()
        .is_some();
    if !exists {
        let building = format!(
            "{name}_{}",
            fulcrum::keys::random_token()[..6].to_lowercase()
        );
        admin
            .batch_execute(&format!("CREATE DATABASE {building}"))
            .await
            .unwrap();
        {
            let store = fulcrum::store::postgres::PgStore::connect(&url_of(&building), 1)
                .await
                .unwrap();
            store.migrate().await.unwrap();
        }
        disconnect(&admin, &building).await;
        admin
            .batch_execute(&format!("ALTER DATABASE {building} RENAME TO {name}"))
            .await
            .unwrap();
    }
    admin
        .batch_execute("SELECT pg_advisory_unlock(740173)")
        .await
        .unwrap();
    name
}

/// Ends every other session on `db` (a template must have none while it is copied).
async fn disconnect(admin: &tokio_postgres::Client, db: &str) {
    for _ in 0..100 {
        let others: i64 = admin
            .query_one(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&db],
            )
            .await
            .unwrap()
            .get(0);
        if others == 0 {
            return;
        }
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&db],
            )
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

impl TestDb {
    /// A fresh, migrated database: a copy of the template (cheaper than migrating each time).
    pub async fn create() -> TestDb {
        let template = TEMPLATE.get_or_init(build_template).await.clone();
        let name = Self::fresh_name();
        let admin = admin_client().await;
        let sql = format!("CREATE DATABASE {name} TEMPLATE {template}");
        let mut tries = 0;
        loop {
            match admin.batch_execute(&sql).await {
                Ok(()) => break,
                // Another test's copy still holds the template for a moment.
                Err(e) if tries < 50 && e.to_string().contains("being accessed by other users") => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(e) => panic!("CREATE DATABASE from the template failed: {e}"),
            }
        }
        TestDb {
            url: url_of(&name),
            name,
        }
    }

    /// A fresh database with no tables at all (for tests of migrating itself).
    pub async fn empty() -> TestDb {
        let name = Self::fresh_name();
        admin_client()
            .await
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        TestDb {
            url: url_of(&name),
            name,
        }
    }

    fn fresh_name() -> String {
        format!(
            "fulcrum_test_{}",
            fulcrum::keys::random_token()[..12].to_lowercase()
        )
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin = pg_admin_url();
        let name = self.name.clone();
        // Drop runs outside any runtime guarantee; use a short-lived thread and runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Ok((client, conn)) =
                    tokio_postgres::connect(&admin, tokio_postgres::NoTls).await
                {
                    tokio::spawn(conn);
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

pub enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(tempfile::TempDir, TestDb),
}

impl Backend {
    pub async fn sqlite() -> Backend {
        Backend::Sqlite(tempfile::tempdir().unwrap())
    }

    pub async fn postgres() -> Backend {
        Backend::Postgres(tempfile::tempdir().unwrap(), TestDb::create().await)
    }

    pub fn config(&self, extra: &[(&str, &str)]) -> Config {
        let (dir, url) = match self {
            Backend::Sqlite(dir) => (dir.path(), None),
            Backend::Postgres(dir, db) => (dir.path(), Some(db.url.clone())),
        };
        let mut env: Vec<(String, String)> = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.push(("FULCRUM_LOG_LEVEL".into(), "warn".into()));
        let overrides = Overrides {
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some(dir.to_path_buf()),
            database_url: url,
            public_url: Some("http://127.0.0.1:8080".into()),
            ..Default::default()
        };
        Config::load_from(&overrides, &env).unwrap()
    }
}

pub async fn services(backend: &Backend, extra: &[(&str, &str)]) -> Arc<Services> {
    fulcrum::app::services(backend.config(extra), true)
        .await
        .unwrap()
}

pub async fn server(backend: &Backend, extra: &[(&str, &str)]) -> RunningServer {
    RunningServer::start(services(backend, extra).await)
        .await
        .unwrap()
}

pub const PASSWORD: &str = "correct horse battery";
pub const ORIGIN: &str = "http://127.0.0.1:8080";

/// A running server plus an HTTP client, with shortcuts for the tests.
pub struct T {
    pub server: RunningServer,
    pub base: String,
    pub http: reqwest::Client,
}

impl T {
    pub async fn start(backend: &Backend, extra: &[(&str, &str)]) -> T {
        let server = server(backend, extra).await;
        let base = format!("http://{}", server.addr);
        T {
            server,
            base,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn user(&self, username: &str, admin: bool) -> String {
        let actor = console();
        let account = fulcrum::services::accounts::NewAccount {
            username: username.into(),
            email: format!("{username}@example.com"),
            name: String::new(),
            admin,
            password: Some(zeroize::Zeroizing::new(PASSWORD.into())),
        };
        let services = &self.server.services;
        let user = services.create_user(&actor, account).await.unwrap();
        let mut owner = actor;
        owner.user = user;
        let (_, key) = services.generate_key(&owner, "test", None).await.unwrap();
        key.to_string()
    }

    /// The stored row of a user.
    pub async fn user_row(&self, username: &str) -> fulcrum::store::User {
        self.server
            .services
            .store
            .user_by_username(username)
            .await
            .unwrap()
            .unwrap()
    }

    /// A user's W&B-style node id, base64("User:<id>").
    pub async fn user_node(&self, username: &str) -> String {
        use base64::Engine;
        let id = self.user_row(username).await.id;
        base64::engine::general_purpose::STANDARD.encode(format!("User:{id}"))
    }

    pub async fn gql(
        &self,
        key: Option<&str>,
        query: &str,
        op: Option<&str>,
        vars: Value,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "operationName": op, "variables": vars }));
        if let Some(k) = key {
            req = req.basic_auth("api", Some(k));
        }
        let resp = req.send().await.unwrap();
        (resp.status(), resp.json().await.unwrap())
    }
}

pub fn console() -> fulcrum::services::Actor {
    fulcrum::services::Actor {
        user: fulcrum::store::User {
            id: 0,
            username: "console".into(),
            email: String::new(),
            name: String::new(),
            is_admin: true,
            account_type: fulcrum::store::AccountType::User,
            password_hash: None,
            flags: "{}".into(),
            created_at: 0,
            deleted_at: None,
            default_entity_id: None,
            hide_teams: false,
            email_verified_at: None,
            service_team_id: None,
        },
        auth: fulcrum::services::AuthMethod::Console,
        on_behalf_of: None,
        request: Default::default(),
    }
}

/// A PNG of one colour.
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_pixel(w, h, image::Rgba([0, 120, 200, 255]));
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

pub fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

/// Generates `sqlite::<test>` and `postgres::<test>` from `async fn <test>(Backend)`.
#[allow(unused_macros)]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Backend::sqlite().await).await }) *
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Backend::postgres().await).await }) *
        }
    };
}

/// The SDK's Viewer document, as 0.31.0 sends it.
pub const VIEWER: &str = "query Viewer { viewer { id entity username email flags admin teams { edges { node { name } } } apiKeys { edges { node { id name description } } } } }";

pub fn backend_name(b: &Backend) -> &'static str {
    match b {
        Backend::Sqlite(_) => "sqlite",
        Backend::Postgres(..) => "postgres",
    }
}
