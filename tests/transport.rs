//! Transport-level findings of the security review (issue #7): half-sent request heads,
//! the connection cap, 413s that plain clients can read, security headers, `/metrics` and
//! anonymous introspection. These do not depend on the store, so they run on SQLite.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{Backend, T};
use serde_json::json;

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
}

/// Reads until the peer closes or `limit` passes; returns what came and whether it closed.
fn read_all(stream: &mut TcpStream) -> (String, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&out).into_owned(), true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return (String::from_utf8_lossy(&out).into_owned(), false)
            }
            Err(_) => return (String::from_utf8_lossy(&out).into_owned(), true),
        }
    }
}

/// Sends a whole request the way Python's `http.client` does (everything, then read).
fn send_then_read(addr: SocketAddr, head: &str, body: &[u8]) -> std::io::Result<String> {
    let mut stream = connect(addr);
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()?;
    Ok(read_all(&mut stream).0)
}

fn chunked(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in body.chunks(1 << 20) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// Finding 6: a half-sent request head stayed open for minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_request_heads_are_dropped() {
    let backend = Backend::sqlite().await;
    let t = T::start(&backend, &[("FULCRUM_HEADER_READ_TIMEOUT_SECS", "1")]).await;
    let addr = t.server.addr;
    let (closed, after) = tokio::task::spawn_blocking(move || {
        let mut stream = connect(addr);
        stream
            .write_all(b"POST /graphql HTTP/1.1\r\nHost: fulcrum\r\nX-Slow: 1\r\n")
            .unwrap();
        let started = Instant::now();
        let (_, closed) = read_all(&mut stream);
        (closed, started.elapsed())
    })
    .await
    .unwrap();
    assert!(closed, "the server kept the connection");
    assert!(
        after < Duration::from_secs(10),
        "closed only after {after:?}"
    );
    t.server.shutdown().await.unwrap();
}

/// Finding 6: thousands of such connections were all accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait() {
    let backend = Backend::sqlite().await;
    let t = T::start(
        &backend,
        &[
            ("FULCRUM_MAX_CONNECTIONS", "2"),
            ("FULCRUM_HEADER_READ_TIMEOUT_SECS", "60"),
        ],
    )
    .await;
    let addr = t.server.addr;
    let served = tokio::task::spawn_blocking(move || {
        let mut holders: Vec<TcpStream> = (0..2)
            .map(|_| {
                let mut s = connect(addr);
                s.write_all(b"GET /healthz HTTP/1.1\r\nHost: a\r\n")
                    .unwrap();
                s
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        let mut third = connect(addr);
        third
            .set_read_timeout(Some(Duration::from_millis(800)))
            .unwrap();
        third
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            .unwrap();
        let (early, _) = read_all(&mut third);
        // One slot frees up: the waiting connection is served.
        drop(holders.pop());
        third
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let (late, _) = read_all(&mut third);
        (early, late)
    })
    .await
    .unwrap();
    assert_eq!(served.0, "", "served beyond the cap");
    assert!(served.1.starts_with("HTTP/1.1 200"), "{}", served.1);
    t.server.shutdown().await.unwrap();
}

/// Finding 7: a 20 MB POST from Python's http.client ended in "Broken pipe".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_get_a_413_that_plain_clients_can_read() {
    let backend = Backend::sqlite().await;
    let t = T::start(&backend, &[]).await;
    let key = t.user("ada", false).await;
    let addr = t.server.addr;
    let auth = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("api:{key}"))
    };
    let answers = tokio::task::spawn_blocking(move || {
        let body = vec![b'x'; 20 * 1024 * 1024];
        let mut answers = Vec::new();
        for (path, kind) in [
            ("/graphql", "application/json"),
            ("/api/v1/avatar", "multipart/form-data; boundary=b"),
        ] {
            let head = format!(
                "POST {path} HTTP/1.1\r\nHost: a\r\nAuthorization: Basic {auth}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            answers.push(send_then_read(addr, &head, &body));
            let head = format!(
                "POST {path} HTTP/1.1\r\nHost: a\r\nAuthorization: Basic {auth}\r\nContent-Type: {kind}\r\nTransfer-Encoding: chunked\r\n\r\n"
            );
            answers.push(send_then_read(addr, &head, &chunked(&body)));
        }
        answers
    })
    .await
    .unwrap();
    for (i, answer) in answers.into_iter().enumerate() {
        let answer = answer.unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert!(answer.starts_with("HTTP/1.1 413"), "request {i}: {answer}");
        assert!(
            answer.contains("payload_too_large") || answer.contains("image_too_large"),
            "{answer}"
        );
    }
    // The server is fine afterwards.
    let r = t.http.get(t.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    t.server.shutdown().await.unwrap();
}

/// Finding 15: HSTS with an https public URL, Permissions-Policy and COOP on every answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_headers_follow_the_public_url() {
    let backend = Backend::sqlite().await;
    let t = T::start(&backend, &[]).await;
    let r = t.http.get(t.url("/healthz")).send().await.unwrap();
    let h = r.headers();
    assert_eq!(h["cross-origin-opener-policy"], "same-origin");
    assert!(h["permissions-policy"]
        .to_str()
        .unwrap()
        .contains("camera=()"));
    assert!(
        !h.contains_key("strict-transport-security"),
        "not over plain http"
    );
    t.server.shutdown().await.unwrap();

    let backend = Backend::sqlite().await;
    let mut config = backend.config(&[]);
    config.public_url = url::Url::parse("https://fulcrum.example").unwrap();
    let services = fulcrum::app::services(config, true).await.unwrap();
    let server = fulcrum::app::RunningServer::start(services).await.unwrap();
    let r = reqwest::get(format!("http://{}/healthz", server.addr))
        .await
        .unwrap();
    assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000");
    server.shutdown().await.unwrap();
}

/// Finding 15: `/metrics` was open to anyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_opt_in() {
    let backend = Backend::sqlite().await;
    let t = T::start(&backend, &[]).await;
    let r = t.http.get(t.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("metrics_disabled"));
    t.server.shutdown().await.unwrap();
    let backend = Backend::sqlite().await;
    let t = T::start(&backend, &[("FULCRUM_METRICS_PUBLIC", "true")]).await;
    let r = t.http.get(t.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    t.server.shutdown().await.unwrap();
}

/// Finding 15: anonymous callers could introspect the schema; SDKs with a key still can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_needs_credentials() {
    let backend = Backend::sqlite().await;
    let t = T::start(&backend, &[]).await;
    let key = t.user("ada", false).await;
    let q = "{ __schema { queryType { name } } __type(name: \"Mutation\") { fields { name } } }";
    let (_, anonymous) = t.gql(None, q, None, json!({})).await;
    assert_eq!(
        anonymous["data"]["__schema"],
        serde_json::Value::Null,
        "{anonymous}"
    );
    assert_eq!(
        anonymous["data"]["__type"],
        serde_json::Value::Null,
        "{anonymous}"
    );
    let (status, known) = t.gql(Some(&key), q, None, json!({})).await;
    assert_eq!(status, 200, "{known}");
    assert_eq!(known["data"]["__schema"]["queryType"]["name"], "Query");
    // Anonymous requests still get the public parts of the API.
    let (status, body) = t
        .gql(
            None,
            "{ serverInfo { features { name } } }",
            None,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    t.server.shutdown().await.unwrap();
}
