//! Shared helpers for the integration tests: a fresh PostgreSQL database per test, and a
//! real server booted on 127.0.0.1:0 against SQLite (temp dir) or PostgreSQL.
#![allow(dead_code)]

use std::sync::Arc;

use fulcrum::app::RunningServer;
use fulcrum::config::{Config, Overrides};
use fulcrum::services::Services;

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

impl TestDb {
    pub async fn create() -> TestDb {
        let admin = pg_admin_url();
        let name = format!(
            "fulcrum_test_{}",
            fulcrum::keys::random_token()[..12].to_lowercase()
        );
        let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
            .await
            .expect("PostgreSQL must run on 127.0.0.1:5432 (or set TEST_DATABASE_URL)");
        tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let mut url = url::Url::parse(&admin).unwrap();
        url.set_path(&name);
        TestDb {
            url: url.to_string(),
            name,
        }
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
