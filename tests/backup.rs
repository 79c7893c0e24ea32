//! Backups (issue #13 §6): `fulcrum admin backup` copies a SQLite server while it keeps
//! writing, and `fulcrum admin restore` brings every acknowledged write back: accounts and
//! keys, runs and their files, avatars and the server secret. Damaged backups, busy data
//! directories and existing data are refused; PostgreSQL points to its own tools.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::app::TestApp;
use common::process::{self, ServerProcess, BIN};
use common::{console, Backend, T};
use serde_json::{json, Value};

fn admin(data_dir: &Path, args: &[&str]) -> (bool, String, String) {
    let run = process::admin(data_dir, None, args, "");
    (run.ok, run.out, run.err)
}

async fn viewer(t: &T, key: &str) -> Value {
    let (status, body) = t
        .gql(
            Some(key),
            "{ viewer { username photoUrl } }",
            None,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"]["viewer"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_writing_restores_every_acknowledged_write() {
    let backend = Backend::sqlite().await;
    let mut app = TestApp::with_config(&backend, &[("FULCRUM_MAX_KEYS_PER_USER", "10000")]).await;
    app.person("ada").await;
    app.logged_run("ada", "ada", "r1").await;
    let r = app.upload_avatar("ada", common::png(64, 64)).await;
    assert_eq!(r.status(), 200);
    let photo = viewer(&app.t, app.key("ada")).await["photoUrl"].clone();

    // Keys are minted without pause while the backup runs; every key acknowledged before
    // it started must come back, and the restored server must answer for all it holds.
    let services = app.services().clone();
    let ada = app.actor("ada").await;
    let stop = Arc::new(AtomicBool::new(false));
    let minted = Arc::new(Mutex::new(Vec::<String>::new()));
    let writer = {
        let (services, stop, minted) = (services.clone(), stop.clone(), minted.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let name = format!("k{}", minted.lock().unwrap().len());
                let (_, key) = services.generate_key(&ada, &name, None).await.unwrap();
                minted.lock().unwrap().push(key.to_string());
            }
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    let backup_dir = tempfile::tempdir().unwrap();
    let target = backup_dir.path().join("b1");
    let before = minted.lock().unwrap().len();
    let manifest = services.backup(&console(), &target).await.unwrap();
    let after = minted.lock().unwrap().len();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    let minted = minted.lock().unwrap().clone();
    assert!(
        before > 0 && minted.len() > after,
        "keys were written before, during and after"
    );
    assert!(
        manifest.secret_key && manifest.blobs.files >= 3,
        "{manifest:?}"
    );
    let mode = |p: &Path| {
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions())
            & 0o777
    };
    assert_eq!(mode(&target), 0o700);
    assert_eq!(mode(&target.join("secret.key")), 0o600);
    let (code, body) = app.gql("ada", "{ viewer { id } }").await;
    assert_eq!(code, 200, "the server served on: {body}");
    let Backend::Sqlite(source_dir) = &backend else {
        unreachable!()
    };
    let secret = std::fs::read(source_dir.path().join("secret.key")).unwrap();
    app.stop().await;

    let restored = tempfile::tempdir().unwrap();
    let (ok, out, err) = admin(
        restored.path(),
        &["restore", "--from", target.to_str().unwrap()],
    );
    assert!(ok, "{err}");
    let out: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(out["previous"], Value::Null);
    assert_eq!(
        std::fs::read(restored.path().join("secret.key")).unwrap(),
        secret
    );

    let restored = Backend::Sqlite(restored);
    let t = T::start(&restored, &[]).await;
    for (i, key) in minted.iter().enumerate() {
        let (status, _) = t.gql(Some(key), "{ viewer { id } }", None, json!({})).await;
        if i < before {
            assert_eq!(
                status, 200,
                "key {i}, acknowledged before the backup, is back"
            );
        } else if i >= after {
            assert_eq!(
                status, 401,
                "key {i}, minted after the backup, is not in it"
            );
        }
    }
    let first = &minted[0];
    assert_eq!(
        viewer(&t, first).await["photoUrl"],
        photo,
        "the avatar row came back"
    );
    let avatar = t
        .http
        .get(t.url(photo.as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(avatar.status(), 200, "and its image");
    let file = t
        .http
        .get(t.url("/files/ada/p/r1/model.txt"))
        .basic_auth("api", Some(first))
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 200);
    assert_eq!(file.text().await.unwrap(), "weights of r1");
    let audit = t.server.services.store.recent_audit(50).await.unwrap();
    assert!(
        !audit.iter().any(|a| a.action == "server.backup"),
        "the backup's own audit row is written after its snapshot"
    );
    t.server.shutdown().await.unwrap();
}

#[test]
fn the_commands_refuse_what_would_lose_or_mix_data() {
    let live = tempfile::tempdir().unwrap();
    let made = process::create_user(live.path(), None, "ada");
    assert!(made.ok, "{}", made.err);
    let backups = tempfile::tempdir().unwrap();
    let b1 = backups.path().join("b1");
    let (ok, out, err) = admin(live.path(), &["backup", "--to", b1.to_str().unwrap()]);
    assert!(ok, "{err}");
    let manifest: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(manifest["database"]["file"], "fulcrum.db");
    assert_eq!(manifest["format"], 1);
    let (ok, _, err) = admin(live.path(), &["backup", "--to", b1.to_str().unwrap()]);
    assert!(
        !ok && err.contains("not empty"),
        "never into an older backup: {err}"
    );

    // A second server, or a restore, is refused while a server holds the data directory.
    let server = ServerProcess::start(live.path(), None, &[]);
    let from = ["restore", "--from", b1.to_str().unwrap()];
    let (ok, _, err) = admin(live.path(), &from);
    assert!(!ok && err.contains("another Fulcrum process"), "{err}");
    let second = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(live.path())
        .env_remove("FULCRUM_DATABASE_URL")
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("another Fulcrum process"));
    server.kill9();

    // Existing data is only ever moved aside, and only when asked.
    let (ok, _, err) = admin(live.path(), &from);
    assert!(!ok && err.contains("--replace"), "{err}");
    let (ok, out, err) = admin(
        live.path(),
        &["restore", "--from", b1.to_str().unwrap(), "--replace"],
    );
    assert!(ok, "{err}");
    let out: Value = serde_json::from_str(out.trim()).unwrap();
    let aside = Path::new(out["previous"].as_str().unwrap());
    assert!(aside.join("fulcrum.db").exists() && aside.join("secret.key").exists());
    let (ok, users, _) = admin(live.path(), &["list-users"]);
    assert!(ok && users.contains("\"ada\""), "{users}");

    // A damaged backup is refused before anything is touched.
    let db = b1.join("fulcrum.db");
    let mut bytes = std::fs::read(&db).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&db, bytes).unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let (ok, _, err) = admin(fresh.path(), &from);
    assert!(!ok && err.contains("damaged"), "{err}");
    assert!(!fresh.path().join("fulcrum.db").exists());
    let (ok, _, err) = admin(
        fresh.path(),
        &["restore", "--from", backups.path().to_str().unwrap()],
    );
    assert!(!ok && err.contains("not a Fulcrum backup"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_is_backed_up_with_its_own_tools() {
    let backend = Backend::postgres().await;
    let services = common::services(&backend, &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let err = services
        .backup(&console(), &dir.path().join("b"))
        .await
        .unwrap_err();
    assert_eq!(err.code, "backup_unsupported");
}
