//! A small SMTP sink on loopback (enough SMTP to accept and record messages), a MIME
//! reader for what it records, and the helpers of the mail job tests.
#![allow(unused_imports)]

pub use std::collections::BTreeMap;
pub use std::net::SocketAddr;
pub use std::sync::Arc;
pub use std::time::{Duration, Instant};

pub use super::Backend;
pub use base64::Engine;
pub use fulcrum::jobs::mail::NOT_CONFIGURED;
pub use fulcrum::jobs::{invite_job, Job, JobStatus, Recipient, TeamInviteMail, TEAM_INVITE};
pub use fulcrum::services::Services;
pub use fulcrum::store::jobs::{AttemptEnd, Lease};
pub use fulcrum::store::outbox::NewJob;
pub use parking_lot::Mutex;
pub use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
pub use tokio::net::{TcpListener, TcpStream};
pub use tokio::task::{JoinHandle, JoinSet};

// ---------------------------------------------------------------------------------------
// An SMTP sink
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub data: String,
}

pub struct Sink {
    pub addr: SocketAddr,
    pub messages: Arc<Mutex<Vec<Received>>>,
    pub accept: JoinHandle<()>,
}

impl Sink {
    pub async fn start() -> Sink {
        Self::start_on(0, Duration::ZERO).await
    }

    /// Listens on `port` (0: any free port); waits `delay` before accepting each message.
    pub async fn start_on(port: u16, delay: Duration) -> Sink {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let store = messages.clone();
        let accept = tokio::spawn(async move {
            // Dropped (and so aborted) with the accept task when the sink stops.
            let mut sessions = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    break;
                };
                sessions.spawn(session(stream, store.clone(), delay));
            }
        });
        Sink {
            addr,
            messages,
            accept,
        }
    }

    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }

    pub fn messages(&self) -> Vec<Received> {
        self.messages.lock().clone()
    }

    /// Stops listening and drops every open session.
    pub async fn stop(self) {
        self.accept.abort();
        let _ = self.accept.await;
    }
}

pub async fn session(stream: TcpStream, store: Arc<Mutex<Vec<Received>>>, delay: Duration) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    if write.write_all(b"220 sink.test ESMTP\r\n").await.is_err() {
        return;
    }
    let mut mail_from = String::new();
    let mut rcpt_to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let command = line.trim_end().to_string();
        let upper = command.to_ascii_uppercase();
        let answer: &[u8] = if upper.starts_with("EHLO") {
            b"250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if upper.starts_with("HELO") {
            b"250 sink.test\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            mail_from = address(&command[10..]);
            rcpt_to.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            rcpt_to.push(address(&command[8..]));
            b"250 OK\r\n"
        } else if upper == "DATA" {
            if write.write_all(b"354 end with .\r\n").await.is_err() {
                return;
            }
            let mut data = String::new();
            loop {
                line.clear();
                match lines.read_line(&mut line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                // Dot-stuffing.
                let l = line.strip_prefix('.').unwrap_or(&line);
                data.push_str(l);
            }
            tokio::time::sleep(delay).await;
            store.lock().push(Received {
                mail_from: mail_from.clone(),
                rcpt_to: std::mem::take(&mut rcpt_to),
                data,
            });
            b"250 queued\r\n"
        } else if upper == "QUIT" {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else if upper == "RSET" || upper == "NOOP" {
            b"250 OK\r\n"
        } else {
            b"502 not implemented\r\n"
        };
        if write.write_all(answer).await.is_err() {
            return;
        }
    }
}

/// `<a@b> BODY=8BITMIME` → `a@b`.
pub fn address(arg: &str) -> String {
    let arg = arg.trim();
    let end = arg.find('>').map(|i| i + 1).unwrap_or(arg.len());
    arg[..end]
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

/// A port nothing listens on (for "the SMTP server is down").
pub async fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

// ---------------------------------------------------------------------------------------
// Reading the received MIME message
// ---------------------------------------------------------------------------------------

pub struct Mime {
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Mime {
    pub fn parse(raw: &str) -> Mime {
        let raw = raw.replace("\r\n", "\n");
        let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.lines() {
            if line.starts_with([' ', '\t']) {
                if let Some(last) = headers.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(line.trim());
                }
            } else if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        Mime {
            headers,
            body: body.to_string(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body with its transfer encoding undone.
    pub fn decoded_body(&self) -> String {
        let cte = self
            .header("content-transfer-encoding")
            .unwrap_or("7bit")
            .to_ascii_lowercase();
        match cte.as_str() {
            "base64" => {
                let clean: String = self.body.split_whitespace().collect();
                String::from_utf8(
                    base64::engine::general_purpose::STANDARD
                        .decode(clean)
                        .unwrap(),
                )
                .unwrap()
            }
            "quoted-printable" => quoted_printable(&self.body),
            _ => self.body.clone(),
        }
    }

    /// The parts of a multipart body.
    pub fn parts(&self) -> Vec<Mime> {
        let ct = self.header("content-type").unwrap_or_default();
        let boundary = ct
            .split(';')
            .find_map(|p| p.trim().strip_prefix("boundary="))
            .expect("multipart boundary")
            .trim_matches('"')
            .to_string();
        let delimiter = format!("--{boundary}");
        self.body
            .split(&delimiter)
            .skip(1)
            .filter(|p| !p.starts_with("--"))
            .map(|p| Mime::parse(p.trim_start_matches('\n')))
            .collect()
    }

    pub fn part(&self, content_type: &str) -> Mime {
        self.parts()
            .into_iter()
            .find(|p| {
                p.header("content-type")
                    .is_some_and(|ct| ct.starts_with(content_type))
            })
            .unwrap_or_else(|| panic!("no {content_type} part"))
    }
}

pub fn quoted_printable(s: &str) -> String {
    let mut out = Vec::new();
    let bytes = s.replace("=\n", "").into_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`) in a header value;
/// white space between two encoded words is dropped.
pub fn decode_header(value: &str) -> String {
    let mut out = String::new();
    let mut pending_space = String::new();
    let mut last_was_word = false;
    for token in value.split_inclusive([' ', '\t']) {
        let word = token.trim_end_matches([' ', '\t']);
        let space = &token[word.len()..];
        match decode_word(word) {
            Some(text) => {
                if !last_was_word {
                    out.push_str(&pending_space);
                }
                out.push_str(&text);
                last_was_word = true;
            }
            None => {
                out.push_str(&pending_space);
                out.push_str(word);
                last_was_word = false;
            }
        }
        pending_space = space.to_string();
    }
    out
}

pub fn decode_word(word: &str) -> Option<String> {
    let inner = word.strip_prefix("=?")?.strip_suffix("?=")?;
    let mut it = inner.splitn(3, '?');
    let (_charset, enc, text) = (it.next()?, it.next()?, it.next()?);
    match enc {
        "b" | "B" => String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .ok()?,
        )
        .ok(),
        "q" | "Q" => Some(quoted_printable(&text.replace('_', " "))),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Fast timings so retries happen within a test: poll every 50 ms, back off from 200 ms.
pub fn settings<'a>(smtp_port: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut v = vec![
        ("FULCRUM_SMTP_HOST", "127.0.0.1"),
        ("FULCRUM_SMTP_PORT", smtp_port),
        ("FULCRUM_SMTP_TLS", "none"),
        ("FULCRUM_SMTP_TIMEOUT_SECS", "5"),
        ("FULCRUM_MAIL_FROM", "Fulcrum Test <noreply@fulcrum.test>"),
        ("FULCRUM_JOB_POLL_MS", "50"),
        ("FULCRUM_JOB_BACKOFF_BASE_MS", "200"),
        ("FULCRUM_JOB_BACKOFF_MAX_MS", "1000"),
    ];
    v.extend_from_slice(extra);
    v
}

pub fn invite(to: &str, language: Option<&str>) -> TeamInviteMail {
    TeamInviteMail {
        recipient: Recipient {
            to: to.into(),
            language: language.map(str::to_string),
            name: "Kim".into(),
        },
        team: "vision<lab> & co".into(),
        inviter: "Ada Lovelace".into(),
        role: "admin".into(),
        accept_url: "http://127.0.0.1:8080/invites/accept?token=abc&x=1".into(),
        expires_at: fulcrum::now_ms() + 7 * 86_400_000,
        link_nonce: None,
    }
}

pub async fn enqueue_invite(services: &Services, invite_id: i64, mail: &TeamInviteMail) -> i64 {
    let job = invite_job(&services.config, invite_id, mail, fulcrum::now_ms());
    assert_eq!(job.kind, TEAM_INVITE);
    services
        .jobs
        .enqueue(job)
        .await
        .unwrap()
        .expect("a new job")
}

/// Polls `check` until it returns `Some`, for at most `secs` seconds.
pub async fn wait_for<T, F, Fut>(what: &str, secs: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub async fn job(services: &Services, id: i64) -> Job {
    services.jobs.job(id).await.unwrap().expect("job exists")
}

pub async fn wait_status(services: &Services, id: i64, status: JobStatus, secs: u64) -> Job {
    wait_for(&format!("job {id} to be {status:?}"), secs, || async {
        let j = job(services, id).await;
        (j.status == Some(status)).then_some(j)
    })
    .await
}

// ---------------------------------------------------------------------------------------
// The tests (each runs on SQLite and PostgreSQL, see the bottom)
// ---------------------------------------------------------------------------------------
