//! Faults of what Fulcrum depends on (issue #13 §2). PostgreSQL goes away under load (every
//! connection breaks, new ones are refused) and comes back: requests fail fast with 503 and
//! `Retry-After`, `/readyz` says so, and the same server recovers by itself. The SQLite data
//! directory fills up: writes are refused with 503, reads go on, nothing acknowledged is
//! lost and the database stays intact.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::app::TestApp;
use common::outage::Relay;
use common::{Backend, TestDb};
use serde_json::Value;

/// What one request of the load saw.
#[derive(Debug, Clone)]
struct Seen {
    at: Instant,
    status: u16,
    code: String,
    retry_after: Option<String>,
    took: Duration,
}

async fn viewer(app: &TestApp, key: &str) -> Seen {
    let started = Instant::now();
    let r = app
        .t
        .http
        .post(app.t.url("/graphql"))
        .basic_auth("api", Some(key))
        .json(&serde_json::json!({ "query": common::VIEWER }))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let retry_after = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let body: Value = r.json().await.unwrap_or(Value::Null);
    Seen {
        at: started,
        status,
        code: common::code(&body).to_string(),
        retry_after,
        took: started.elapsed(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_going_away_under_load_is_503_and_the_server_recovers_by_itself() {
    let mut db = TestDb::create().await;
    let mut url = url::Url::parse(&db.url).unwrap();
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let relay = Relay::start(upstream.parse().unwrap()).await;
    url.set_port(Some(relay.addr.port())).unwrap();
    db.url = url.to_string();
    let backend = Backend::Postgres(tempfile::tempdir().unwrap(), db);
    let mut app = TestApp::start(&backend).await;
    app.person("ada").await;
    let app = Arc::new(app);

    let seen = Arc::new(Mutex::new(Vec::<Seen>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (app, seen, stop) = (app.clone(), seen.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let s = viewer(&app, app.key("ada")).await;
                    let failed = s.status != 200;
                    seen.lock().unwrap().push(s);
                    if failed {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let cut_at = Instant::now();
    relay.cut();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ready = app.t.http.get(app.t.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.headers()["retry-after"], "2");
    let body: Value = ready.json().await.unwrap();
    assert_eq!(common::code(&body), "store_unavailable");

    let restored_at = Instant::now();
    relay.restore();
    let mut recovered = None;
    while restored_at.elapsed() < Duration::from_secs(15) {
        if viewer(&app, app.key("ada")).await.status == 200 {
            recovered = Some(restored_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let recovered = recovered.expect("the server recovers by itself within 15 s");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    let ready = app.t.http.get(app.t.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);

    let seen = seen.lock().unwrap().clone();
    let during: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.at > cut_at + Duration::from_millis(200) && s.at + s.took < restored_at)
        .collect();
    let unavailable = seen.iter().filter(|s| s.status == 503).count();
    let slowest = seen.iter().map(|s| s.took).max().unwrap();
    eprintln!(
        "postgres outage: {} requests, {unavailable} answered 503 during 3 s down, slowest {slowest:?}, back {recovered:?} after the restore",
        seen.len()
    );
    assert!(!during.is_empty());
    let served_while_down: Vec<_> = during.iter().filter(|s| s.status != 503).collect();
    assert!(
        served_while_down.is_empty(),
        "{:?}",
        &served_while_down[..served_while_down.len().min(3)]
    );
    for s in seen.iter().filter(|s| s.status != 200) {
        assert_eq!(s.status, 503, "only 200 or 503, never a 500: {s:?}");
        assert_eq!(s.code, "store_unavailable", "{s:?}");
        assert_eq!(s.retry_after.as_deref(), Some("2"), "{s:?}");
    }
    assert!(
        slowest < Duration::from_secs(4),
        "no request hangs: {slowest:?}"
    );
    assert!(
        seen.iter().any(|s| s.at > restored_at && s.status == 200),
        "load goes on after the restore"
    );
}

/// A small tmpfs mounted for one test, unmounted when dropped. Needs root (CI runs as root).
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(bytes: u64) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk { dir })
    }

    /// Fills what is left of the disk; the file is removed to make room again.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.dir.path().join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
        let small = [0u8; 512];
        while file.write_all(&small).is_ok() {}
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

async fn mint_key(app: &TestApp, name: &str) -> (u16, String, Option<String>) {
    let q = format!(
        "mutation {{ generateApiKey(input: {{description: \"{name}\"}}) {{ apiKey {{ name }} }} }}"
    );
    let r = app
        .t
        .http
        .post(app.t.url("/graphql"))
        .basic_auth("api", Some(app.key("ada")))
        .json(&serde_json::json!({ "query": q }))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    let key = body["data"]["generateApiKey"]["apiKey"]["name"]
        .as_str()
        .unwrap_or("")
        .to_string();
    (status, key, Some(common::code(&body).to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_sqlite_disk_refuses_writes_cleanly_and_loses_nothing() {
    let Some(disk) = SmallDisk::mount(6 << 20) else {
        // CI runs as root, where a failed mount is a failure; only a developer's
        // unprivileged run may go without this test.
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .unwrap()
            .stdout;
        assert_ne!(root, b"0\n", "root could not mount a tmpfs");
        eprintln!("not run: mounting a small tmpfs needs root");
        return;
    };
    let data = tempfile::tempdir_in(disk.dir.path()).unwrap();
    let db_path = data.path().join("fulcrum.db");
    let backend = Backend::Sqlite(data);
    let mut app = TestApp::with_config(&backend, &[("FULCRUM_MAX_KEYS_PER_USER", "10000")]).await;
    app.person("ada").await;
    let mut acknowledged = Vec::new();
    for i in 0..20 {
        let (status, key, _) = mint_key(&app, &format!("before{i}")).await;
        assert_eq!(status, 200);
        acknowledged.push(key);
    }
    let filler = disk.fill();

    let mut refused = None;
    for i in 0..5000 {
        let (status, key, code) = mint_key(&app, &format!("k{i}")).await;
        match status {
            200 => acknowledged.push(key),
            _ => {
                refused = Some((status, code));
                break;
            }
        }
    }
    let (status, code) = refused.expect("a full disk refuses a write");
    assert_eq!((status, code.as_deref()), (503, Some("store_unavailable")));
    let reads = viewer(&app, app.key("ada")).await;
    assert_eq!(reads.status, 200, "reads go on while the disk is full");
    let r = app.upload_avatar("ada", common::png(300, 300)).await;
    assert_eq!(r.status(), 503, "an upload is refused as cleanly");
    assert_eq!(r.headers()["retry-after"], "2");

    std::fs::remove_file(filler).unwrap();
    let (status, key, _) = mint_key(&app, "after").await;
    assert_eq!(status, 200, "writes resume once there is room");
    acknowledged.push(key);
    app.stop().await;

    fulcrum::store::sqlite::check_integrity(&db_path).unwrap();
    let app = TestApp::start(&backend).await;
    for key in &acknowledged {
        assert_eq!(
            viewer(&app, key).await.status,
            200,
            "acknowledged key {key} is kept"
        );
    }
    eprintln!(
        "full disk: {} keys acknowledged (20 before the disk filled, {} after), all kept",
        acknowledged.len(),
        acknowledged.len() - 20
    );
    app.stop().await;
}
