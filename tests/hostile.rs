//! The bad-input corpus (issue #13 §4), replayed on SQLite and PostgreSQL: every case in
//! `tests/hostile/corpus.jsonl` (written by `generate.py` beside it) is sent byte for byte
//! over a raw connection, and must be answered, within seconds, with a status below 500 (a
//! 4xx where the case says so). Afterwards the server still serves and nothing was written:
//! no key, run, file, profile or team change, and no audit row beyond failed sign-ins.

#[macro_use]
mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine;
use common::app::TestApp;
use common::{Backend, ORIGIN};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

on_both_backends!(the_hostile_corpus_gets_no_5xx_and_writes_nothing);

const CORPUS: &str = include_str!("hostile/corpus.jsonl");
/// Longer than any case may take; a case that needs it has hung.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
struct Case {
    id: String,
    method: String,
    path: String,
    auth: String,
    headers: BTreeMap<String, String>,
    body: Vec<Part>,
    expect: String,
}

#[derive(Deserialize)]
struct Part {
    b64: String,
    times: Option<usize>,
}

fn body_of(case: &Case) -> Vec<u8> {
    let mut body = Vec::new();
    for part in &case.body {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&part.b64)
            .unwrap();
        for _ in 0..part.times.unwrap_or(1) {
            body.extend_from_slice(&bytes);
        }
    }
    body
}

/// The request exactly as the case gives it: no client library normalises anything.
fn request_bytes(case: &Case, addr: &str, key: &str, cookie: &str) -> Vec<u8> {
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n",
        case.method, case.path
    )
    .into_bytes();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("api:{key}"));
    let auth: Vec<(&str, String)> = match case.auth.as_str() {
        "key" => vec![("authorization", format!("Basic {basic}"))],
        "session" => vec![("cookie", cookie.into()), ("origin", ORIGIN.into())],
        "session-no-origin" => vec![("cookie", cookie.into())],
        "session-evil-origin" => vec![
            ("cookie", cookie.into()),
            ("origin", "https://evil.example".into()),
        ],
        "none" => vec![],
        other => panic!("{}: unknown auth {other}", case.id),
    };
    let body = body_of(case);
    let sets = |name: &str| case.headers.keys().any(|k| k.eq_ignore_ascii_case(name));
    for (name, value) in auth.iter().filter(|(n, _)| !sets(n)) {
        head.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    for (name, value) in &case.headers {
        head.extend_from_slice(format!("{name}: ").as_bytes());
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    if !sets("content-length") && !sets("transfer-encoding") {
        head.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    head.extend_from_slice(&body);
    head
}

/// Sends the bytes and reads the status; 0 when the server closed without answering.
async fn status_of(addr: &str, bytes: Vec<u8>) -> Option<u16> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    // The server may answer (413) and close before the body is all sent.
    let writer = tokio::spawn(async move {
        let _ = write.write_all(&bytes).await;
        let _ = write.flush().await;
        write
    });
    let mut response = Vec::new();
    let read_status = async {
        let mut buf = [0u8; 4096];
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    response.extend_from_slice(&buf[..n]);
                    if response.windows(2).any(|w| w == b"\r\n") {
                        break;
                    }
                }
            }
        }
    };
    tokio::time::timeout(ANSWER_WITHIN, read_status)
        .await
        .ok()?;
    writer.abort();
    let line = String::from_utf8_lossy(&response);
    Some(
        line.split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
    )
}

/// What a refused request must not have changed.
async fn written(app: &TestApp) -> String {
    let store = &app.services().store;
    let ada = store.user_by_username("ada").await.unwrap().unwrap();
    let audit: Vec<String> = store
        .recent_audit(100_000)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.action)
        .filter(|a| !a.starts_with("login"))
        .collect();
    let keys = store.list_api_keys(ada.id).await.unwrap().len();
    let entity = ada.default_entity_id.unwrap_or_default();
    let storage = store.entity_storage(entity).await.unwrap();
    format!("{ada:?} audit={audit:?} keys={keys} storage={storage:?}")
}

async fn the_hostile_corpus_gets_no_5xx_and_writes_nothing(backend: Backend) {
    let mut app = TestApp::start(&backend).await;
    app.person("ada").await;
    app.logged_run("ada", "ada", "r1").await;
    let cookie = app.browser_login("ada").await;
    let addr = app.t.base.trim_start_matches("http://").to_string();
    let cases: Vec<Case> = CORPUS
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(cases.len() >= 300, "the corpus has {} cases", cases.len());
    let before = written(&app).await;
    let mut failures = Vec::new();
    let mut slowest = (Duration::ZERO, String::new());
    for case in &cases {
        let started = Instant::now();
        let status = status_of(&addr, request_bytes(case, &addr, app.key("ada"), &cookie)).await;
        let took = started.elapsed();
        if took > slowest.0 {
            slowest = (took, case.id.clone());
        }
        let ok = match (status, case.expect.as_str()) {
            (None, _) => false,
            (Some(s), "4xx") => (400..500).contains(&s),
            (Some(s), "lt500") => (100..500).contains(&s),
            (_, other) => panic!("{}: unknown expectation {other}", case.id),
        };
        if !ok {
            failures.push(format!(
                "{}: {status:?} (expected {})",
                case.id, case.expect
            ));
        }
    }
    eprintln!(
        "hostile corpus on {}: {} cases, {} failed, slowest {:?} ({})",
        common::backend_name(&backend),
        cases.len(),
        failures.len(),
        slowest.0,
        slowest.1
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(written(&app).await, before, "the corpus wrote nothing");
    let (status, body) = app.gql("ada", common::VIEWER).await;
    assert_eq!(status, 200, "the server still serves: {body}");
    app.stop().await;
}
