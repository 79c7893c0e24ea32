//! The real `fulcrum serve` in a child process, for tests that stop it the hard way.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_fulcrum");

pub struct ServerProcess {
    pub child: Child,
    /// `http://127.0.0.1:<port>`
    pub base: String,
}

impl ServerProcess {
    /// Starts `serve` on `data_dir` (and `database_url`, when PostgreSQL) with `FULCRUM_*`
    /// settings, and waits until it listens.
    pub fn start(
        data_dir: &Path,
        database_url: Option<&str>,
        env: &[(&str, &str)],
    ) -> ServerProcess {
        let mut command = Command::new(BIN);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env_remove("FULCRUM_DATABASE_URL")
            .env("FULCRUM_LOG_LEVEL", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(url) = database_url {
            command.args(["--database-url", url]);
        }
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = std::io::BufReader::new(stdout).lines();
        let first = lines.next().unwrap().unwrap();
        let addr = first
            .split("listening on http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("the server did not start: {first}"))
            .to_string();
        std::thread::spawn(move || lines.for_each(drop));
        ServerProcess {
            child,
            base: format!("http://{addr}"),
        }
    }

    /// `kill -9`: no shutdown, no flush, nothing.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, as an operator stops it, and waits for the exit.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().unwrap();
    }
}

/// A test that fails half way must not leave its server running.
impl Drop for ServerProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What a run of the binary answered: its exit code, stdout and stderr.
pub struct BinOutput {
    pub code: i32,
    pub ok: bool,
    pub out: String,
    pub err: String,
}

/// Runs the binary with `args` and `input` on stdin, without an inherited database URL.
pub fn run_bin<S: AsRef<std::ffi::OsStr>>(args: &[S], input: &str) -> BinOutput {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("FULCRUM_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    BinOutput {
        code: out.status.code().unwrap_or(-1),
        ok: out.status.success(),
        out: String::from_utf8(out.stdout).unwrap(),
        err: String::from_utf8(out.stderr).unwrap(),
    }
}

/// Runs `fulcrum admin <args> --data-dir <dir> [--database-url <url>]` with `input` on
/// stdin (a password, a key).
pub fn admin(data_dir: &Path, url: Option<&str>, args: &[&str], input: &str) -> BinOutput {
    let mut all: Vec<std::ffi::OsString> = vec!["admin".into()];
    all.extend(args.iter().map(Into::into));
    all.extend(["--data-dir".into(), data_dir.as_os_str().to_owned()]);
    if let Some(url) = url {
        all.extend(["--database-url".into(), url.into()]);
    }
    run_bin(&all, input)
}

/// `fulcrum admin create-user` for `<name>@example.com` with the test password.
pub fn create_user(data_dir: &Path, url: Option<&str>, name: &str) -> BinOutput {
    let email = format!("{name}@example.com");
    let args = ["create-user", "--username", name, "--email", &email];
    admin(data_dir, url, &args, &format!("{}\n", super::PASSWORD))
}
