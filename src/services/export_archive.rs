//! The archive of Export my data: one ZIP with the account (profile, intro, key metadata
//! without secrets, teams and roles, alert and beta settings, the GitHub connection) and
//! every run the person logged (metadata, config, summary, history as JSONL and CSV, system
//! metrics, console, files). It streams: the database is read a page at a time and files a
//! chunk at a time, and a blocking thread writes the ZIP, so memory stays bounded however
//! large the export.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::Services;
use crate::store::{LinePage, Owner, Run, Stream, User};

const CHUNK: usize = 64 * 1024;
const LINES_PAGE: i64 = 1000;
/// History columns kept in the CSV; a run with more keeps them all in the JSONL.
const CSV_COLUMNS: usize = 2000;

enum Part {
    Entry(String),
    Bytes(Vec<u8>),
}

type Parts = mpsc::Sender<Part>;

fn failed(what: impl std::fmt::Display) -> String {
    format!("the archive could not be written: {what}")
}

async fn entry(out: &Parts, name: String, bytes: Vec<u8>) -> Result<(), String> {
    out.send(Part::Entry(name)).await.map_err(failed)?;
    for chunk in bytes.chunks(CHUNK) {
        out.send(Part::Bytes(chunk.to_vec()))
            .await
            .map_err(failed)?;
    }
    Ok(())
}

async fn json_entry(out: &Parts, name: &str, value: &Value) -> Result<(), String> {
    let text = serde_json::to_vec_pretty(value).map_err(failed)?;
    entry(out, name.to_string(), text).await
}

/// A path component made safe for any unzip tool.
fn component(raw: &str) -> String {
    let safe: String = raw
        .chars()
        .map(|c| {
            if c.is_control() || "/\\:*?\"<>|".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    match safe.trim_start_matches('.') {
        "" => "_".to_string(),
        s => s.to_string(),
    }
}

fn csv_field(v: Option<&Value>) -> String {
    let text = match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// Writes the parts into a ZIP at `tmp`, then syncs it; its size.
fn write_zip(tmp: &Path, mut parts: mpsc::Receiver<Part>) -> std::io::Result<u64> {
    use zip::write::SimpleFileOptions;
    let io = |e: zip::result::ZipError| std::io::Error::other(e.to_string());
    let file = std::fs::File::create(tmp)?;
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    while let Some(part) = parts.blocking_recv() {
        match part {
            Part::Entry(name) => zip.start_file(name, options).map_err(io)?,
            Part::Bytes(bytes) => zip.write_all(&bytes)?,
        }
    }
    let mut buffered = zip.finish().map_err(io)?;
    buffered.flush()?;
    let file = buffered.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(file.metadata()?.len())
}

impl Services {
    /// Builds the archive into the export blob `blob`; its size in bytes.
    pub(super) async fn write_archive(&self, user: &User, blob: &str) -> Result<u64, String> {
        let tmp = self.export_blobs.staging(blob).await.map_err(failed)?;
        let (out, parts) = mpsc::channel(8);
        let writer_tmp = tmp.clone();
        let writer = tokio::task::spawn_blocking(move || write_zip(&writer_tmp, parts));
        let produced = self.produce(user, &out).await;
        drop(out);
        let written = writer.await.map_err(failed)?;
        let outcome = produced.and_then(|()| written.map_err(failed));
        match outcome {
            Ok(size) => {
                self.export_blobs.adopt(blob, &tmp).await.map_err(failed)?;
                Ok(size)
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                Err(e)
            }
        }
    }

    async fn produce(&self, user: &User, out: &Parts) -> Result<(), String> {
        self.account_entries(user, out).await?;
        let runs = self.store.runs_logged_by(user.id).await.map_err(failed)?;
        for id in runs {
            if let Some(run) = self.store.run_by_id(id).await.map_err(failed)? {
                self.run_entries(&run, out).await?;
            }
        }
        Ok(())
    }

    async fn account_entries(&self, user: &User, out: &Parts) -> Result<(), String> {
        let store = &self.store;
        let profile = store
            .user_profile(user.id)
            .await
            .map_err(failed)?
            .unwrap_or_default();
        let teams = store.user_teams(user.id).await.map_err(failed)?;
        let default_team = teams
            .iter()
            .find(|(t, _)| Some(t.id) == user.default_entity_id)
            .map(|(t, _)| t.name.clone());
        let account = json!({
            "username": user.username,
            "name": user.name,
            "email": user.email,
            "email_verified": user.email_verified_at.is_some(),
            "created_at": crate::iso_ms(user.created_at),
            "institution": profile.institution,
            "bio": profile.bio,
            "location": profile.location,
            "website": profile.website,
            "language": profile.language,
            "default_team": default_team,
            "hide_teams_in_profile": user.hide_teams,
        });
        json_entry(out, "account.json", &account).await?;
        entry(out, "intro.md".into(), profile.intro.into_bytes()).await?;
        if let Some(base) = &profile.avatar {
            if let Ok(Some(png)) = self.blobs.get(&format!("{base}-256.png")).await {
                entry(out, "avatar.png".into(), png).await?;
            }
        }
        let keys: Vec<Value> = store
            .list_api_keys(user.id)
            .await
            .map_err(failed)?
            .iter()
            .map(|k| {
                json!({
                    "key_id": k.key_id, "name": k.name, "origin": k.origin,
                    "created_at": crate::iso_ms(k.created_at),
                    "expires_at": k.expires_at.map(crate::iso_ms),
                    "last_used_at": k.last_used_at.map(crate::iso_ms),
                    "revoked_at": k.revoked_at.map(crate::iso_ms),
                })
            })
            .collect();
        json_entry(
            out,
            "api_keys.json",
            &json!({ "note": "Keys are stored hashed: no secret can be exported.", "keys": keys }),
        )
        .await?;
        let teams: Vec<Value> = teams
            .iter()
            .map(|(t, role)| json!({ "team": t.name, "role": role }))
            .collect();
        json_entry(out, "teams.json", &json!(teams)).await?;
        self.settings_entries(user, out).await
    }

    async fn settings_entries(&self, user: &User, out: &Parts) -> Result<(), String> {
        let me = Owner::User(user.id);
        let switches: Vec<Value> = self
            .owner_switches(me)
            .await
            .map_err(|e| failed(e.message))?
            .iter()
            .map(|s| json!({ "event": s.event.as_str(), "channel": s.channel.as_str(), "enabled": s.enabled }))
            .collect();
        let channels: Vec<Value> = self
            .store
            .alert_channels(me)
            .await
            .map_err(failed)?
            .iter()
            .map(|c| &c.spec)
            .map(|c| json!({ "kind": c.kind, "hint": c.hint, "slack_channel": c.slack_channel }))
            .collect();
        json_entry(
            out,
            "alerts.json",
            &json!({ "switches": switches, "channels": channels }),
        )
        .await?;
        let beta: Vec<Value> = self
            .beta_switches(me)
            .await
            .map_err(|e| failed(e.message))?
            .iter()
            .map(|s| json!({ "feature": s.info.key, "choice": s.choice, "enabled": s.enabled }))
            .collect();
        json_entry(out, "beta_features.json", &json!(beta)).await?;
        let github = self.store.github_link(user.id).await.map_err(failed)?;
        let github = github.map(
            |l| json!({ "login": l.login, "github_id": l.github_id, "organizations": l.orgs }),
        );
        json_entry(out, "github.json", &json!(github)).await
    }

    async fn run_entries(&self, run: &Run, out: &Parts) -> Result<(), String> {
        let store = &self.store;
        let Some(project) = store.project_by_id(run.project_id).await.map_err(failed)? else {
            return Ok(());
        };
        let dir = format!(
            "runs/{}/{}/{}",
            component(&project.entity_name),
            component(&project.name),
            component(&run.name)
        );
        let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
        let meta = json!({
            "id": run.name, "display_name": run.info.display_name, "notes": run.info.notes,
            "entity": project.entity_name, "project": project.name,
            "state": run.state, "exit_code": run.exit_code, "host": run.info.host,
            "program": run.info.program, "repo": run.info.repo, "commit": run.info.commit_sha,
            "group": run.info.group_name, "job_type": run.info.job_type, "tags": parse(&run.tags),
            "created_at": crate::iso_ms(run.created_at),
            "finished_at": run.finished_at.map(crate::iso_ms),
            "config": parse(&run.config), "summary": parse(&run.summary),
        });
        json_entry(out, &format!("{dir}/run.json"), &meta).await?;
        let columns = self
            .lines_entry(
                run.id,
                Stream::History,
                &format!("{dir}/history.jsonl"),
                out,
            )
            .await?;
        self.history_csv(run.id, &columns, &format!("{dir}/history.csv"), out)
            .await?;
        self.lines_entry(
            run.id,
            Stream::Events,
            &format!("{dir}/system_metrics.jsonl"),
            out,
        )
        .await?;
        self.lines_entry(run.id, Stream::Output, &format!("{dir}/console.log"), out)
            .await?;
        for file in store.run_files(run.id).await.map_err(failed)? {
            let Some(read) = self.run_blobs.open(&file.blob).await.map_err(failed)? else {
                continue;
            };
            let name = file
                .name
                .split('/')
                .map(component)
                .collect::<Vec<_>>()
                .join("/");
            out.send(Part::Entry(format!("{dir}/files/{name}")))
                .await
                .map_err(failed)?;
            let mut body = read.body;
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(failed)?;
                out.send(Part::Bytes(chunk.to_vec()))
                    .await
                    .map_err(failed)?;
            }
        }
        Ok(())
    }

    /// The next page of a stream's lines from `*from` (empty at the end), moving `*from`.
    async fn next_page(
        &self,
        run_id: i64,
        stream: Stream,
        from: &mut i64,
    ) -> Result<Vec<(i64, String)>, String> {
        let page = self
            .store
            .run_lines(run_id, LinePage::new(stream, *from, LINES_PAGE))
            .await
            .map_err(failed)?;
        if let Some((last, _)) = page.last() {
            *from = last + 1;
        }
        Ok(page)
    }

    /// A stream's lines, one per line, a page at a time; the history's keys (for the CSV).
    async fn lines_entry(
        &self,
        run_id: i64,
        stream: Stream,
        name: &str,
        out: &Parts,
    ) -> Result<BTreeSet<String>, String> {
        out.send(Part::Entry(name.to_string()))
            .await
            .map_err(failed)?;
        let mut keys = BTreeSet::new();
        let mut from = 0;
        loop {
            let page = self.next_page(run_id, stream, &mut from).await?;
            if page.is_empty() {
                break;
            }
            let mut text = String::new();
            for (_, line) in &page {
                if stream == Stream::History && keys.len() < CSV_COLUMNS {
                    if let Ok(Value::Object(row)) = serde_json::from_str::<Value>(line) {
                        keys.extend(row.keys().take(CSV_COLUMNS - keys.len()).cloned());
                    }
                }
                text.push_str(line);
                text.push('\n');
            }
            out.send(Part::Bytes(text.into_bytes()))
                .await
                .map_err(failed)?;
        }
        Ok(keys)
    }

    async fn history_csv(
        &self,
        run_id: i64,
        columns: &BTreeSet<String>,
        name: &str,
        out: &Parts,
    ) -> Result<(), String> {
        let header: Vec<String> = columns
            .iter()
            .map(|c| csv_field(Some(&Value::String(c.clone()))))
            .collect();
        entry(
            out,
            name.to_string(),
            format!("{}\n", header.join(",")).into_bytes(),
        )
        .await?;
        let mut from = 0;
        loop {
            let page = self.next_page(run_id, Stream::History, &mut from).await?;
            if page.is_empty() {
                break;
            }
            let mut text = String::new();
            for (_, line) in &page {
                let row = serde_json::from_str::<Value>(line).unwrap_or(Value::Null);
                let cells: Vec<String> = columns.iter().map(|c| csv_field(row.get(c))).collect();
                text.push_str(&cells.join(","));
                text.push('\n');
            }
            out.send(Part::Bytes(text.into_bytes()))
                .await
                .map_err(failed)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_csv_are_safe() {
        assert_eq!(component("../etc"), "_etc");
        assert_eq!(component("a/b\\c"), "a_b_c");
        assert_eq!(component(".."), "_");
        assert_eq!(csv_field(Some(&json!("a,b"))), "\"a,b\"");
        assert_eq!(csv_field(Some(&json!("say \"hi\""))), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field(Some(&json!(0.5))), "0.5");
        assert_eq!(csv_field(None), "");
        assert_eq!(csv_field(Some(&json!({"a": 1}))), "\"{\"\"a\"\":1}\"");
    }
}
