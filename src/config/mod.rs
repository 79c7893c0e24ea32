//! Layered configuration: coded defaults → `fulcrum.toml` → `FULCRUM_*` variables → flags.
//!
//! Every key is flat (`max_body_bytes` in the file is `FULCRUM_MAX_BODY_BYTES` in the
//! environment). Secrets may also come from a file via `<KEY>_FILE`. Unknown keys and bad
//! values stop the start with a message that names the key. `FULCRUM_BIN` and `FULCRUM_TEST_*`
//! belong to the test tooling and are ignored here.

mod alerts;
mod blobs;
mod layers;
mod mail;
mod oauth;
mod runs;
mod secret;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::bail;
use url::Url;

pub use alerts::AlertConfig;
pub use blobs::BlobUrl;
use layers::{kind_of, merge_env, merge_file, Reader};
pub use mail::{MailConfig, SmtpTls};
pub use oauth::OauthApp;
pub use runs::RunLimits;
pub use secret::Secret;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Int,
    Bool,
}

/// Every key Fulcrum understands, with its type and whether it is a secret.
const KEYS: &[(&str, Kind, bool)] = &[
    ("listen", Kind::Str, false),
    ("data_dir", Kind::Str, false),
    ("blob_url", Kind::Str, false),
    ("database_url", Kind::Str, true),
    ("public_url", Kind::Str, false),
    ("secret_key", Kind::Str, true),
    ("no_migrate", Kind::Bool, false),
    ("log_level", Kind::Str, false),
    ("log_format", Kind::Str, false),
    ("trust_proxy_headers", Kind::Bool, false),
    ("max_body_bytes", Kind::Int, false),
    ("max_keys_per_user", Kind::Int, false),
    ("graphql_max_depth", Kind::Int, false),
    ("graphql_max_complexity", Kind::Int, false),
    ("session_idle_hours", Kind::Int, false),
    ("session_absolute_hours", Kind::Int, false),
    ("sudo_seconds", Kind::Int, false),
    ("account_purge_days", Kind::Int, false),
    ("user_storage_quota_bytes", Kind::Int, false),
    ("team_storage_quota_bytes", Kind::Int, false),
    ("last_used_flush_ms", Kind::Int, false),
    ("last_used_granularity_secs", Kind::Int, false),
    ("pg_pool_size", Kind::Int, false),
    ("sqlite_readers", Kind::Int, false),
    ("login_attempts_per_ip", Kind::Int, false),
    ("login_failures_per_account", Kind::Int, false),
    ("smtp_host", Kind::Str, false),
    ("smtp_port", Kind::Int, false),
    ("smtp_tls", Kind::Str, false),
    ("smtp_username", Kind::Str, false),
    ("smtp_password", Kind::Str, true),
    ("smtp_timeout_secs", Kind::Int, false),
    ("mail_from", Kind::Str, false),
    ("job_poll_ms", Kind::Int, false),
    ("job_lease_ms", Kind::Int, false),
    ("job_batch_size", Kind::Int, false),
    ("job_max_attempts", Kind::Int, false),
    ("job_backoff_base_ms", Kind::Int, false),
    ("job_backoff_max_ms", Kind::Int, false),
    ("job_retention_days", Kind::Int, false),
    ("max_connections", Kind::Int, false),
    ("header_read_timeout_secs", Kind::Int, false),
    ("metrics_token", Kind::Str, true),
    ("metrics_public", Kind::Bool, false),
    ("graphql_anonymous_introspection", Kind::Bool, false),
];

/// The resolved settings. `Debug` shows no secret: each is a [`Secret`].
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Where blobs live: `<data_dir>/blobs` unless `blob_url` says otherwise.
    pub blob_url: BlobUrl,
    /// A secret: a PostgreSQL URL may hold a password.
    pub database_url: Option<Secret>,
    pub public_url: Url,
    pub secret_key: Option<Secret>,
    pub no_migrate: bool,
    pub log_level: String,
    pub log_json: bool,
    pub trust_proxy_headers: bool,
    pub max_body_bytes: usize,
    pub max_keys_per_user: i64,
    pub graphql_max_depth: usize,
    pub graphql_max_complexity: usize,
    pub session_idle_hours: i64,
    pub session_absolute_hours: i64,
    /// How long after typing their password a session may create API keys without
    /// being asked for it again (sudo mode).
    pub sudo_seconds: i64,
    /// Days between deleting an account and purging its data (a site admin may restore
    /// it meanwhile); 0 purges at once.
    pub account_purge_days: i64,
    /// Storage a person's (team's) entity may use; past it uploads are refused. 0: none.
    pub user_storage_quota_bytes: i64,
    pub team_storage_quota_bytes: i64,
    pub last_used_flush_ms: u64,
    pub last_used_granularity_secs: i64,
    pub pg_pool_size: usize,
    pub sqlite_readers: usize,
    pub login_attempts_per_ip: u32,
    pub login_failures_per_account: u32,
    /// Outgoing mail: the SMTP relay and the `From` address.
    pub mail: MailConfig,
    pub job_poll_ms: u64,
    pub job_lease_ms: i64,
    pub job_batch_size: i64,
    pub job_max_attempts: i64,
    pub job_backoff_base_ms: i64,
    pub job_backoff_max_ms: i64,
    /// Days a successfully finished job (and its attempts) is kept; 0 keeps them forever.
    pub job_retention_days: i64,
    /// Open connections beyond this wait in the kernel's accept queue.
    pub max_connections: usize,
    /// A client that has not sent a whole request head within this is disconnected.
    pub header_read_timeout_secs: u64,
    /// `GET /metrics` needs `Authorization: Bearer <metrics_token>` unless `metrics_public`.
    pub metrics_token: Option<Secret>,
    pub metrics_public: bool,
    /// Whether callers without credentials may introspect the GraphQL schema.
    pub graphql_anonymous_introspection: bool,
    pub runs: RunLimits,
    pub alerts: AlertConfig,
    /// The Personal GitHub integration's OAuth App and GitHub's hosts.
    pub github: OauthApp,
}

/// Values given on the command line; they win over everything else.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub public_url: Option<String>,
    pub no_migrate: bool,
}

impl Config {
    pub fn database_kind(&self) -> &'static str {
        if self.is_postgres() {
            "postgres"
        } else {
            "sqlite"
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.database_url
            .as_ref()
            .map(Secret::expose)
            .is_some_and(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
    }

    pub fn sqlite_path(&self) -> PathBuf {
        match self
            .database_url
            .as_ref()
            .and_then(|u| u.expose().strip_prefix("sqlite://"))
        {
            Some(path) => PathBuf::from(path),
            None => self.data_dir.join("fulcrum.db"),
        }
    }

    /// Session cookies carry `Secure` (and the `__Host-` prefix) only when people reach us
    /// over https; browsers drop `Secure` cookies on plain-http LAN installs.
    pub fn cookies_secure(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// The tracing filter. A bare level (`debug`) applies to Fulcrum only: third-party
    /// crates stay at `info` (html5ever at debug logs every token of every intro). Full
    /// directives (`info,ammonia=debug`) are taken as written.
    pub fn log_filter(&self) -> String {
        let level = self.log_level.trim();
        if level.contains('=') || level.contains(',') {
            return level.to_string();
        }
        let quieter = match level.to_ascii_lowercase().as_str() {
            "error" | "warn" | "off" => level.to_ascii_lowercase(),
            _ => "info".into(),
        };
        format!("{quieter},fulcrum={level}")
    }

    /// A link under the public URL (which may carry a path prefix): each segment is
    /// percent-encoded, so names with spaces or `#` stay one segment.
    pub fn public_link<'a>(&self, segments: impl IntoIterator<Item = &'a str>) -> Url {
        let mut url = self.public_url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    pub fn public_origin(&self) -> String {
        self.public_url.origin().ascii_serialization()
    }

    /// Loads from the process environment and the file named by the overrides (or
    /// `./fulcrum.toml` when it exists).
    pub fn load(overrides: &Overrides) -> anyhow::Result<Config> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(overrides, &env)
    }

    pub fn load_from(overrides: &Overrides, env: &[(String, String)]) -> anyhow::Result<Config> {
        let mut values = BTreeMap::new();
        let file = match &overrides.config_file {
            Some(path) => Some(path.clone()),
            None => Some(PathBuf::from("fulcrum.toml")).filter(|p| p.exists()),
        };
        if let Some(path) = file {
            merge_file(&mut values, &path)?;
        }
        merge_env(&mut values, env)?;
        if let Some(v) = &overrides.listen {
            values.insert("listen".into(), toml::Value::String(v.clone()));
        }
        if let Some(v) = &overrides.data_dir {
            values.insert(
                "data_dir".into(),
                toml::Value::String(v.display().to_string()),
            );
        }
        if let Some(v) = &overrides.database_url {
            values.insert("database_url".into(), toml::Value::String(v.clone()));
        }
        if let Some(v) = &overrides.public_url {
            values.insert("public_url".into(), toml::Value::String(v.clone()));
        }
        if overrides.no_migrate {
            values.insert("no_migrate".into(), toml::Value::Boolean(true));
        }
        build(&values)
    }
}

fn build(values: &BTreeMap<String, toml::Value>) -> anyhow::Result<Config> {
    for key in values.keys() {
        if kind_of(key).is_none() {
            bail!("unknown configuration key `{key}`");
        }
    }
    let r = Reader(values);
    let listen_raw = r
        .string("listen")?
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let listen: SocketAddr = listen_raw.parse().map_err(|_| {
        anyhow::anyhow!(
            "configuration key `listen` must be an address like 127.0.0.1:8080, got {listen_raw:?}"
        )
    })?;
    let data_dir = PathBuf::from(
        r.string("data_dir")?
            .unwrap_or_else(|| "./fulcrum-data".into()),
    );
    let database_url = r.string("database_url")?.filter(|s| !s.is_empty());
    if let Some(url) = &database_url {
        let ok = ["postgres://", "postgresql://", "sqlite://"]
            .iter()
            .any(|p| url.starts_with(p));
        if !ok {
            bail!("configuration key `database_url` must start with postgres://, postgresql:// or sqlite://");
        }
    }
    let default_public = format!("http://{listen}");
    let public_raw = r.string("public_url")?.unwrap_or(default_public);
    let public_url = Url::parse(&public_raw)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "configuration key `public_url` must be an http(s) URL, got {public_raw:?}"
            )
        })?;
    let log_format = r.string("log_format")?.unwrap_or_else(|| "text".into());
    if !matches!(log_format.as_str(), "text" | "json") {
        bail!("configuration key `log_format` must be text or json");
    }
    let job_backoff_base_ms = r.int("job_backoff_base_ms", 10_000, 1, 86_400_000)?;
    let blob_url = BlobUrl::parse(r.string("blob_url")?.as_deref(), &data_dir)?;
    Ok(Config {
        listen,
        data_dir,
        blob_url,
        database_url: database_url.map(Secret::new),
        public_url,
        secret_key: r
            .string("secret_key")?
            .filter(|s| !s.is_empty())
            .map(Secret::new),
        no_migrate: r.boolean("no_migrate", false)?,
        log_level: r.string("log_level")?.unwrap_or_else(|| "info".into()),
        log_json: log_format == "json",
        trust_proxy_headers: r.boolean("trust_proxy_headers", false)?,
        max_body_bytes: r.int("max_body_bytes", 10 * 1024 * 1024, 1024, 1 << 30)? as usize,
        max_keys_per_user: r.int("max_keys_per_user", 100, 1, 10_000)?,
        graphql_max_depth: r.int("graphql_max_depth", 16, 4, 64)? as usize,
        graphql_max_complexity: r.int("graphql_max_complexity", 500, 50, 100_000)? as usize,
        session_idle_hours: r.int("session_idle_hours", 14 * 24, 1, 24 * 365)?,
        session_absolute_hours: r.int("session_absolute_hours", 60 * 24, 1, 24 * 365)?,
        sudo_seconds: r.int("sudo_seconds", 600, 1, 24 * 3600)?,
        account_purge_days: r.int("account_purge_days", 30, 0, 3650)?,
        user_storage_quota_bytes: r.int("user_storage_quota_bytes", 0, 0, i64::MAX)?,
        team_storage_quota_bytes: r.int("team_storage_quota_bytes", 0, 0, i64::MAX)?,
        last_used_flush_ms: r.int("last_used_flush_ms", 2000, 10, 600_000)? as u64,
        last_used_granularity_secs: r.int("last_used_granularity_secs", 60, 0, 86_400)?,
        pg_pool_size: r.int("pg_pool_size", 16, 1, 512)? as usize,
        sqlite_readers: r.int("sqlite_readers", 4, 1, 64)? as usize,
        login_attempts_per_ip: r.int("login_attempts_per_ip", 30, 1, 100_000)? as u32,
        login_failures_per_account: r.int("login_failures_per_account", 10, 1, 100_000)? as u32,
        mail: MailConfig::read(&r)?,
        job_poll_ms: r.int("job_poll_ms", 500, 10, 600_000)? as u64,
        job_lease_ms: r.int("job_lease_ms", 60_000, 100, 86_400_000)?,
        job_batch_size: r.int("job_batch_size", 4, 1, 100)?,
        job_max_attempts: r.int("job_max_attempts", 8, 1, 100)?,
        job_backoff_base_ms,
        job_backoff_max_ms: r.int(
            "job_backoff_max_ms",
            3_600_000,
            job_backoff_base_ms,
            7 * 86_400_000,
        )?,
        job_retention_days: r.int("job_retention_days", 30, 0, 3650)?,
        max_connections: r.int("max_connections", 1024, 1, 1_000_000)? as usize,
        header_read_timeout_secs: r.int("header_read_timeout_secs", 10, 1, 600)? as u64,
        metrics_token: r
            .string("metrics_token")?
            .filter(|s| !s.is_empty())
            .map(Secret::new),
        metrics_public: r.boolean("metrics_public", false)?,
        graphql_anonymous_introspection: r.boolean("graphql_anonymous_introspection", false)?,
        runs: RunLimits::read(&r)?,
        alerts: AlertConfig::read(&r)?,
        github: OauthApp::read(
            &r,
            "github",
            ("https://github.com", "https://api.github.com"),
        )?,
    })
}

#[cfg(test)]
mod tests;
