//! Reading the layers: `fulcrum.toml`, `FULCRUM_*` variables and `*_FILE` secrets, and
//! typed access to the merged values.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context};

use super::{Kind, KEYS};

pub(super) fn kind_of(key: &str) -> Option<(Kind, bool)> {
    if super::runs::KEYS.contains(&key) {
        return Some((Kind::Int, false));
    }
    let integrations = super::alerts::KEYS.iter().chain(super::oauth::GITHUB_KEYS);
    if let Some((name, secret)) = integrations.into_iter().find(|(k, _)| *k == key) {
        let kind = if name.ends_with("_secs") {
            Kind::Int
        } else {
            Kind::Str
        };
        return Some((kind, *secret));
    }
    KEYS.iter()
        .find(|(name, _, _)| *name == key)
        .map(|(_, kind, secret)| (*kind, *secret))
}

pub(super) fn merge_file(
    values: &mut BTreeMap<String, toml::Value>,
    path: &Path,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read configuration file {}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .with_context(|| format!("configuration file {} is not valid TOML", path.display()))?;
    for (key, value) in table {
        let base = key.strip_suffix("_file");
        match (kind_of(&key), base.and_then(kind_of)) {
            (Some(_), _) => {
                values.insert(key, value);
            }
            (None, Some((_, true))) => {
                let Some(file) = value.as_str() else {
                    bail!("configuration key `{key}` must be a path string");
                };
                let secret = read_secret_file(&key, file)?;
                values.insert(
                    base.unwrap_or_default().to_string(),
                    toml::Value::String(secret),
                );
            }
            _ => bail!("unknown configuration key `{key}` in {}", path.display()),
        }
    }
    Ok(())
}

pub(super) fn merge_env(
    values: &mut BTreeMap<String, toml::Value>,
    env: &[(String, String)],
) -> anyhow::Result<()> {
    for (name, raw) in env {
        let Some(rest) = name.strip_prefix("FULCRUM_") else {
            continue;
        };
        if rest == "BIN" || rest.starts_with("TEST_") {
            continue;
        }
        let key = rest.to_ascii_lowercase();
        if let Some((kind, _)) = kind_of(&key) {
            values.insert(key.clone(), parse_env_value(name, kind, raw)?);
            continue;
        }
        match key
            .strip_suffix("_file")
            .and_then(|b| kind_of(b).map(|k| (b, k)))
        {
            Some((base, (_, true))) => {
                let secret = read_secret_file(name, raw)?;
                values.insert(base.to_string(), toml::Value::String(secret));
            }
            _ => bail!("unknown configuration variable `{name}`"),
        }
    }
    Ok(())
}

fn read_secret_file(key: &str, path: &str) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("`{key}`: cannot read secret file {path}"))?;
    Ok(text.trim_end_matches(['\n', '\r']).to_string())
}

fn parse_env_value(name: &str, kind: Kind, raw: &str) -> anyhow::Result<toml::Value> {
    Ok(match kind {
        Kind::Str => toml::Value::String(raw.to_string()),
        Kind::Int => toml::Value::Integer(
            raw.trim()
                .parse()
                .with_context(|| format!("`{name}` must be a whole number, got {raw:?}"))?,
        ),
        Kind::Bool => toml::Value::Boolean(match raw.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" | "" => false,
            _ => bail!("`{name}` must be true or false, got {raw:?}"),
        }),
    })
}

pub(super) struct Reader<'a>(pub(super) &'a BTreeMap<String, toml::Value>);

impl Reader<'_> {
    fn check(&self, key: &str, kind: Kind) -> anyhow::Result<Option<&toml::Value>> {
        let Some(v) = self.0.get(key) else {
            return Ok(None);
        };
        let ok = match kind {
            Kind::Str => v.is_str(),
            Kind::Int => v.is_integer(),
            Kind::Bool => v.is_bool(),
        };
        if !ok {
            let want = match kind {
                Kind::Str => "a string",
                Kind::Int => "a whole number",
                Kind::Bool => "true or false",
            };
            bail!("configuration key `{key}` must be {want}");
        }
        Ok(Some(v))
    }

    pub(super) fn string(&self, key: &str) -> anyhow::Result<Option<String>> {
        Ok(self
            .check(key, Kind::Str)?
            .and_then(|v| v.as_str())
            .map(str::to_string))
    }

    pub(super) fn boolean(&self, key: &str, default: bool) -> anyhow::Result<bool> {
        Ok(self
            .check(key, Kind::Bool)?
            .and_then(|v| v.as_bool())
            .unwrap_or(default))
    }

    pub(super) fn int(&self, key: &str, default: i64, min: i64, max: i64) -> anyhow::Result<i64> {
        let v = self
            .check(key, Kind::Int)?
            .and_then(|v| v.as_integer())
            .unwrap_or(default);
        if !(min..=max).contains(&v) {
            bail!("configuration key `{key}` must be between {min} and {max}, got {v}");
        }
        Ok(v)
    }
}
