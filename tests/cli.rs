//! The `fulcrum` binary as operators script it: `--help`, `admin …`, `migrate`, and `serve`
//! start-up behaviour (setup link, secret file, configuration errors).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_fulcrum");

fn fulcrum(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let run = common::process::run_bin(args, stdin.unwrap_or(""));
    (run.code, run.out, run.err)
}

#[test]
fn help_lists_every_command() {
    let (code, out, _) = fulcrum(&["--help"], None);
    assert_eq!(code, 0);
    for cmd in ["serve", "migrate", "admin"] {
        assert!(out.contains(cmd), "{out}");
    }
    let (_, out, _) = fulcrum(&["admin", "--help"], None);
    for cmd in [
        "create-user",
        "create-key",
        "import-key",
        "list-users",
        "reset-password",
    ] {
        assert!(out.contains(cmd), "{out}");
    }
    let (_, out, _) = fulcrum(&["serve", "--help"], None);
    for flag in [
        "--listen",
        "--data-dir",
        "--database-url",
        "--public-url",
        "--no-migrate",
    ] {
        assert!(out.contains(flag), "{out}");
    }
}

#[test]
fn admin_commands_are_scriptable() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (code, out, err) = fulcrum(
        &[
            "admin",
            "create-user",
            "--data-dir",
            d,
            "--username",
            "ops",
            "--email",
            "ops@example.com",
            "--admin",
        ],
        Some("a-long-password\n"),
    );
    assert_eq!(code, 0, "{err}");
    let user: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (user["username"].as_str(), user["admin"].as_bool()),
        (Some("ops"), Some(true))
    );

    let (code, out, _) = fulcrum(
        &[
            "admin",
            "--data-dir",
            d,
            "create-key",
            "--username",
            "ops",
            "--name",
            "ci",
        ],
        None,
    );
    assert_eq!(code, 0);
    let key = out.trim();
    assert_eq!(out.lines().count(), 1, "only the key is printed");
    assert!(key.starts_with("fk-") && key.len() == 43, "{key}");

    let legacy = "0123456789abcdef0123456789abcdef01234567";
    let (code, out, _) = fulcrum(
        &[
            "admin",
            "import-key",
            "--data-dir",
            d,
            "--username",
            "ops",
            "--name",
            "old",
        ],
        Some(legacy),
    );
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(out.trim()).unwrap()["key_id"],
        "0123456789"
    );
    let (code, _, err) = fulcrum(
        &[
            "admin",
            "import-key",
            "--data-dir",
            d,
            "--username",
            "ops",
            "--name",
            "dup",
        ],
        Some(legacy),
    );
    assert_eq!(code, 1);
    assert!(err.contains("already registered"), "{err}");
    let (code, _, err) = fulcrum(
        &[
            "admin",
            "import-key",
            "--data-dir",
            d,
            "--username",
            "ops",
            "--name",
            "bad",
        ],
        Some("short"),
    );
    assert_eq!(code, 1);
    assert!(err.contains("too short"), "{err}");

    let (_, out, _) = fulcrum(
        &[
            "admin",
            "create-user",
            "--data-dir",
            d,
            "--username",
            "dev",
            "--email",
            "dev@example.com",
        ],
        Some("another-password\n"),
    );
    assert!(out.contains("\"dev\""));
    let (code, _, err) = fulcrum(
        &[
            "admin",
            "create-user",
            "--data-dir",
            d,
            "--username",
            "DEV",
            "--email",
            "x@example.com",
        ],
        Some("another-password\n"),
    );
    assert_eq!(code, 1);
    assert!(err.contains("username_taken"), "{err}");
    let (code, _, err) = fulcrum(
        &[
            "admin",
            "create-user",
            "--data-dir",
            d,
            "--username",
            "login",
            "--email",
            "y@example.com",
        ],
        Some("another-password\n"),
    );
    assert_eq!(code, 1);
    assert!(err.contains("reserved"), "{err}");

    let (code, out, _) = fulcrum(&["admin", "list-users", "--data-dir", d], None);
    assert_eq!(code, 0);
    let names: Vec<String> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["username"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(names, ["ops", "dev"]);

    let (code, out, _) = fulcrum(
        &[
            "admin",
            "reset-password",
            "--data-dir",
            d,
            "--username",
            "dev",
        ],
        Some("brand-new-password\n"),
    );
    assert_eq!(code, 0, "{out}");
    let (code, _, err) = fulcrum(
        &[
            "admin",
            "reset-password",
            "--data-dir",
            d,
            "--username",
            "dev",
        ],
        Some("short\n"),
    );
    assert_eq!(code, 1);
    assert!(err.contains("at least 8"), "{err}");
    let (code, out, _) = fulcrum(
        &[
            "admin",
            "setting",
            "--data-dir",
            d,
            "allow_key_minting_with_key",
            "false",
        ],
        None,
    );
    assert_eq!(code, 0);
    assert!(out.contains("false"));

    // Beta features: withdrawn and offered again from the console.
    let setting = |args: &[&str]| {
        let mut all = vec!["admin", "setting", "--data-dir", d];
        all.extend_from_slice(args);
        fulcrum(&all, None)
    };
    let (code, out, err) = setting(&["beta.dark_mode", "false"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), r#"{"name":"beta.dark_mode","value":false}"#);
    let (_, out, _) = setting(&["beta.dark_mode"]);
    assert!(out.contains("false"), "read back: {out}");
    let (code, out, _) = setting(&["beta.dark_mode", "true"]);
    assert_eq!((code, out.contains("true")), (0, true), "{out}");
    let (code, _, err) = setting(&["beta.night", "true"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("beta.dark_mode, beta.code_saving"),
        "names the known ones: {err}"
    );
    let (code, _, err) = setting(&["beta.code_saving", "yes"]);
    assert_eq!(code, 1);
    assert!(err.contains("true or false"), "{err}");
}

#[test]
fn configuration_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--data-dir", dir.path().to_str().unwrap()])
        .env("FULCRUM_MAX_BODY_BYTE", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("FULCRUM_MAX_BODY_BYTE"));
    let toml = dir.path().join("fulcrum.toml");
    std::fs::write(&toml, "listen = 8080\n").unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config", toml.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`listen`"));
}

/// Starts `serve` on an empty data dir and reads its output until the setup link appears.
#[test]
fn serve_prints_a_setup_link_and_keeps_the_secret_private() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut link = None;
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        if line.contains("/setup#token=") {
            link = Some(line.trim().to_string());
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let link = link.expect("a one-time setup link");
    assert!(link.contains("/setup#token="), "{link}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(data.join("secret.key"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    assert!(data.join("fulcrum.db").exists());
}

#[tokio::test]
async fn postgres_migrate_and_no_migrate() {
    let db = common::TestDb::empty().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let url = db.url.clone();
    let run = move |args: Vec<String>| {
        std::thread::spawn(move || {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            fulcrum(&a, None)
        })
        .join()
        .unwrap()
    };
    // --no-migrate refuses an unmigrated database rather than failing later.
    let (code, _, err) = run(vec![
        "serve".into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--data-dir".into(),
        d.into(),
        "--database-url".into(),
        url.clone(),
        "--no-migrate".into(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("fulcrum migrate"), "{err}");
    let (code, out, err) = run(vec![
        "migrate".into(),
        "--data-dir".into(),
        d.into(),
        "--database-url".into(),
        url.clone(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"migrated\":true"));
    let (code, _, _) = run(vec![
        "migrate".into(),
        "--data-dir".into(),
        d.into(),
        "--database-url".into(),
        url.clone(),
    ]);
    assert_eq!(code, 0, "migrations are idempotent");
    let (code, out, err) = run(vec![
        "admin".into(),
        "create-user".into(),
        "--data-dir".into(),
        d.into(),
        "--database-url".into(),
        url.clone(),
        "--username".into(),
        "pg".into(),
        "--email".into(),
        "pg@example.com".into(),
    ]);
    // No stdin: the password is required.
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("stdin"), "{err}");
}

/// Security review, finding 13: `log_level=debug` logged every HTML-parser token of every
/// intro (the intro's text included). A bare level is Fulcrum's own; other crates stay at info.
#[tokio::test]
async fn debug_logging_is_fulcrums_own() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap().to_string();
    let (code, _, err) = fulcrum(
        &[
            "admin",
            "--data-dir",
            &data_arg,
            "create-user",
            "--username",
            "ada",
            "--email",
            "ada@example.com",
        ],
        Some("correct horse battery\n"),
    );
    assert_eq!(code, 0, "{err}");
    let (code, key, err) = fulcrum(
        &[
            "admin",
            "--data-dir",
            &data_arg,
            "create-key",
            "--username",
            "ada",
            "--name",
            "t",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let log_path = dir.path().join("server.log");
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir", &data_arg])
        .env_remove("FULCRUM_DATABASE_URL")
        .env("FULCRUM_LOG_LEVEL", "debug")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = lines
        .find_map(|l| {
            l.ok()?
                .strip_prefix("Fulcrum is listening on http://")?
                .split(' ')
                .next()
                .map(str::to_string)
        })
        .expect("the listening line");
    let intro = "# A very private heading\n\n<b>token-soup</b> and **more**";
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/graphql"))
        .basic_auth("api", Some(key.trim()))
        .json(&serde_json::json!({
            "query": "mutation($i: String!) { updateIntro(input: {intro: $i}) { user { id } } }",
            "variables": { "i": intro },
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("DEBUG"),
        "Fulcrum's own debug lines are there:\n{log}"
    );
    for absent in ["html5ever", "markup5ever", "token-soup", "private heading"] {
        assert!(!log.contains(absent), "{absent} in the debug log:\n{log}");
    }
}
