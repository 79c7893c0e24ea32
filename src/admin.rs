//! `fulcrum admin …`: operator commands for automation. Output is machine-readable (JSON
//! lines, or just the key); secrets are read from stdin, never from arguments.

use std::io::BufRead;

use anyhow::{bail, Context};
use serde_json::json;
use zeroize::Zeroizing;

use crate::services::accounts::NewAccount;
use crate::services::api_keys::SETTING_ALLOW_KEY_MINTING;
use crate::services::{Actor, AuthMethod, RequestMeta, Services};
use crate::store::{AccountType, Client, User};

/// The console acts with admin rights; audit rows record it as `via: console`.
fn console_actor() -> Actor {
    Actor {
        user: User {
            id: 0,
            username: "console".into(),
            email: String::new(),
            name: "console".into(),
            is_admin: true,
            account_type: AccountType::User,
            password_hash: None,
            flags: "{}".into(),
            created_at: 0,
            deleted_at: None,
            default_entity_id: None,
            hide_teams: false,
            email_verified_at: None,
            service_team_id: None,
        },
        auth: AuthMethod::Console,
        on_behalf_of: None,
        request: console_meta(),
    }
}

fn console_meta() -> RequestMeta {
    RequestMeta {
        client: Client::new(None, Some("fulcrum-admin")),
        request_id: None,
    }
}

/// Reads one line from stdin (a password or a key), without its line ending.
pub fn read_stdin_line() -> anyhow::Result<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read from stdin")?;
    let trimmed = Zeroizing::new(line.trim_end_matches(['\n', '\r']).to_string());
    if trimmed.is_empty() {
        bail!("expected a value on stdin");
    }
    Ok(trimmed)
}

pub fn user_line(u: &User) -> String {
    json!({
        "id": u.id,
        "username": u.username,
        "email": u.email,
        "name": u.name,
        "admin": u.is_admin,
        "account_type": u.account_type.as_str(),
        "created_at": u.created_at,
        "deleted": u.deleted_at.is_some(),
    })
    .to_string()
}

fn fail(e: crate::error::ApiError) -> anyhow::Error {
    anyhow::anyhow!("{} ({})", e.message, e.code)
}

async fn user_named(services: &Services, username: &str) -> anyhow::Result<User> {
    services
        .user_named(username)
        .await
        .map_err(fail)?
        .with_context(|| format!("no user named {username}"))
}

pub async fn create_user(
    services: &Services,
    username: &str,
    email: &str,
    name: &str,
    admin: bool,
) -> anyhow::Result<String> {
    let password = read_stdin_line()?;
    let account = NewAccount {
        username: username.into(),
        email: email.into(),
        name: name.into(),
        admin,
        password: Some(password),
    };
    if username.trim().is_empty() {
        bail!("--username must not be empty");
    }
    let user = services
        .create_user(&console_actor(), account)
        .await
        .map_err(fail)?;
    Ok(user_line(&user))
}

/// Prints only the new key, so `KEY=$(fulcrum admin create-key …)` works.
pub async fn create_key(
    services: &Services,
    username: &str,
    name: &str,
    expires_in_days: Option<i64>,
) -> anyhow::Result<String> {
    let user = user_named(services, username).await?;
    let mut actor = console_actor();
    // The key belongs to the named user; the console only acts on their behalf.
    actor.user = user;
    let (_, full) = services
        .generate_key(&actor, name, expires_in_days)
        .await
        .map_err(fail)?;
    Ok(full.to_string())
}

pub async fn import_key(services: &Services, username: &str, name: &str) -> anyhow::Result<String> {
    let user = user_named(services, username).await?;
    let key = read_stdin_line()?;
    let record = services
        .import_key(&console_actor(), &user, name, &key)
        .await
        .map_err(fail)?;
    Ok(
        json!({ "key_id": record.key_id, "username": user.username, "name": record.name })
            .to_string(),
    )
}

pub async fn list_users(services: &Services) -> anyhow::Result<String> {
    let users = services.list_users(&console_actor()).await.map_err(fail)?;
    Ok(users.iter().map(user_line).collect::<Vec<_>>().join("\n"))
}

pub async fn reset_password(services: &Services, username: &str) -> anyhow::Result<String> {
    let password = read_stdin_line()?;
    services
        .reset_password(&console_actor(), username, password)
        .await
        .map_err(fail)?;
    Ok(json!({ "username": username, "password_reset": true, "sessions_ended": true }).to_string())
}

/// Reads or writes a server setting: `allow_key_minting_with_key` or `beta.<feature>`
/// (whether this server offers a beta feature), each `true` or `false`.
pub async fn setting(
    services: &Services,
    name: &str,
    value: Option<&str>,
) -> anyhow::Result<String> {
    let value = match value {
        Some(v @ ("true" | "false")) => Some(v == "true"),
        Some(_) => bail!("`{name}` must be true or false"),
        None => None,
    };
    if let Some(key) = name.strip_prefix("beta.") {
        return beta_setting(services, name, key, value).await;
    }
    if name != SETTING_ALLOW_KEY_MINTING {
        bail!(
            "unknown setting `{name}`; known: {SETTING_ALLOW_KEY_MINTING}, {}",
            beta_setting_names()
        );
    }
    if let Some(v) = value {
        services
            .set_key_minting_with_key(&console_actor(), v)
            .await
            .map_err(fail)?;
    }
    let current = services
        .key_minting_with_key_allowed()
        .await
        .map_err(fail)?;
    Ok(json!({ "name": name, "value": current }).to_string())
}

fn beta_setting_names() -> String {
    crate::services::beta::REGISTRY
        .iter()
        .map(|i| format!("beta.{}", i.key))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `beta.<feature>`: whether this server offers the feature (a withdrawn one is off for
/// everyone and not listed in Settings).
async fn beta_setting(
    services: &Services,
    name: &str,
    key: &str,
    value: Option<bool>,
) -> anyhow::Result<String> {
    if crate::services::beta::BetaFeature::parse(key).is_none() {
        bail!("unknown setting `{name}`; known: {}", beta_setting_names());
    }
    let actor = console_actor();
    if let Some(available) = value {
        services
            .set_beta_available(&actor, key, available)
            .await
            .map_err(fail)?;
    }
    let switches = services
        .beta_switches(crate::store::Owner::User(actor.user.id))
        .await
        .map_err(fail)?;
    let available = switches
        .iter()
        .find(|s| s.info.key == key)
        .is_some_and(|s| s.available);
    Ok(json!({ "name": name, "value": available }).to_string())
}

/// Restores a deleted account within its purge window.
pub async fn restore_user(services: &Services, username: &str) -> anyhow::Result<String> {
    services
        .restore_user(&console_actor(), username)
        .await
        .map_err(fail)?;
    Ok(json!({ "username": username, "restored": true }).to_string())
}

/// Marks a user's email as verified (for operators who verify addresses out of band).
pub async fn verify_email(services: &Services, username: &str) -> anyhow::Result<String> {
    let user = user_named(services, username).await?;
    services
        .mark_email_verified(&console_actor(), &user)
        .await
        .map_err(fail)?;
    Ok(
        json!({ "username": user.username, "email": user.email, "email_verified": true })
            .to_string(),
    )
}

/// Backs the server up into `to` while it serves; prints the manifest.
pub async fn backup(services: &Services, to: &std::path::Path) -> anyhow::Result<String> {
    let manifest = services.backup(&console_actor(), to).await.map_err(fail)?;
    Ok(serde_json::to_string(&manifest)?)
}

/// Restores a backup into the configured data directory, with no server running on it.
/// Runs before any store is opened, so nothing is created or migrated first.
pub fn restore(
    config: &crate::config::Config,
    from: &std::path::Path,
    replace: bool,
) -> anyhow::Result<String> {
    if config.is_postgres() {
        bail!("restore reads SQLite backups; restore a PostgreSQL database with pg_restore (see the README)");
    }
    let blobs = match &config.blob_url {
        crate::config::BlobUrl::Folder(path) => Some(path.as_path()),
        crate::config::BlobUrl::S3 { .. } => None,
    };
    let restored = crate::backup::restore(
        from,
        &config.data_dir,
        &config.sqlite_path(),
        blobs,
        replace,
    )?;
    Ok(json!({
        "restored": restored.manifest.created_at,
        "database_bytes": restored.manifest.database.bytes,
        "blobs": restored.manifest.blobs,
        "blobs_at": restored.manifest.blobs_at,
        "secret_key": restored.manifest.secret_key,
        "previous": restored.previous,
    })
    .to_string())
}
