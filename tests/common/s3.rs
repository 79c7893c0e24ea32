//! A local S3-compatible server for the object-storage tests: moto in server mode, from
//! PyPI, in `target/s3-venv` (`scripts/s3-venv.sh` makes it the first time).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct S3Server {
    child: Option<Child>,
    pub port: u16,
    program: String,
}

fn program() -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/s3-venv.sh");
    let out = Command::new("bash")
        .arg(script)
        .stderr(Stdio::inherit())
        .output()
        .expect("scripts/s3-venv.sh runs");
    assert!(out.status.success(), "scripts/s3-venv.sh failed");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl S3Server {
    pub fn start() -> S3Server {
        let mut server = S3Server {
            child: None,
            port: free_port(),
            program: program(),
        };
        server.resume();
        server
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The `AWS_*` variables that point an S3 client at this server.
    pub fn aws_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "fulcrum-test".into()),
            ("AWS_SECRET_ACCESS_KEY", "fulcrum-test-secret".into()),
            ("AWS_DEFAULT_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT", self.endpoint()),
        ]
    }

    /// Points this test process's S3 clients at the server (they read `AWS_*`, as in
    /// production). Every test of a file shares one server, so the values never change.
    pub fn export_env(&self) {
        for (key, value) in self.aws_env() {
            std::env::set_var(key, value);
        }
    }

    /// Takes the server away (it keeps nothing: a new one starts empty).
    pub fn halt(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server (again, on the same port) and waits until it answers.
    pub fn resume(&mut self) {
        let child = Command::new(&self.program)
            .args(["-H", "127.0.0.1", "-p", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        self.child = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto_server did not listen within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub async fn create_bucket(&self, bucket: &str) {
        let status = reqwest::Client::new()
            .put(format!("{}/{bucket}", self.endpoint()))
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success(), "creating bucket {bucket}: {status}");
    }

    /// Every key in `bucket` (ListObjectsV2; the tests keep far fewer than 1,000).
    pub async fn keys(&self, bucket: &str) -> Vec<String> {
        let text = reqwest::Client::new()
            .get(format!("{}/{bucket}?list-type=2", self.endpoint()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.split("<Key>")
            .skip(1) // the XML before the first key
            .filter_map(|part| part.split("</Key>").next())
            .map(str::to_string)
            .collect()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.halt();
    }
}
