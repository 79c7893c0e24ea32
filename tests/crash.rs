//! Crash safety (issue #13 §1): mixed load against the real binary, `kill -9` at random
//! moments, restart, and proof that every acknowledged write is there, nothing is half
//! applied, every run-end alert is mailed (once per job: a retry carries the same
//! Message-ID) and the runs that were live when the server died are marked crashed.
//!
//! `CRASH_KILLS` sets the kills per backend (3 in the normal test run; the long
//! harness, `bench/crash.sh`, runs 25).

#[macro_use]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::process::ServerProcess;
use common::smtp::{decode_header, Mime, Sink};
use common::Backend;
use serde_json::{json, Value};

on_both_backends!(kill_9_under_mixed_load_loses_no_acknowledged_write);

#[derive(Default, Debug)]
struct RunLedger {
    /// Its `upsertBucket` was acknowledged (it was sent either way).
    created: bool,
    lines: i64,
    /// Its final request was sent (and may have been applied before the kill).
    completing: bool,
    finished: bool,
}

/// What the server acknowledged (answered 200 to), and what it was asked to do.
#[derive(Default, Debug)]
struct Ledger {
    keys: Vec<(String, String)>,
    /// Keys whose revocation was sent (and may have been applied before a kill).
    revoking: Vec<String>,
    revoked: Vec<String>,
    teams: Vec<String>,
    bio: Option<String>,
    runs: BTreeMap<String, RunLedger>,
    /// Answers that were neither 200 nor a broken connection.
    unexpected: Vec<String>,
}

type Shared = Arc<Mutex<Ledger>>;

struct Api {
    base: String,
    key: String,
    http: reqwest::Client,
    ledger: Shared,
}

impl Api {
    /// `Err(())` once the server is gone; any answer but 200 is recorded as unexpected.
    async fn post(&self, path: &str, body: Value) -> Result<Value, ()> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .basic_auth("api", Some(&self.key))
            .json(&body)
            .send()
            .await
            .map_err(drop)?;
        let status = r.status();
        let body: Value = r.json().await.map_err(drop)?;
        if status != 200 || !body["errors"].is_null() {
            self.ledger
                .lock()
                .unwrap()
                .unexpected
                .push(format!("{path}: {status} {body}"));
            return Err(());
        }
        Ok(body)
    }

    /// Records what became of a run of this load.
    fn note_run(&self, run: &str, change: impl FnOnce(&mut RunLedger)) {
        if let Some(entry) = self.ledger.lock().unwrap().runs.get_mut(run) {
            change(entry);
        }
    }

    async fn gql(&self, query: &str, variables: Value) -> Result<Value, ()> {
        let body = self
            .post(
                "/graphql",
                json!({ "query": query, "variables": variables }),
            )
            .await?;
        Ok(body["data"].clone())
    }
}

async fn keys(api: Arc<Api>) {
    const MINT: &str =
        "mutation { generateApiKey(input: {description: \"crash\"}) { apiKey { id name } } }";
    const REVOKE: &str = "mutation D($id: String!) { deleteApiKey(input: {id: $id}) { success } }";
    for n in 0.. {
        let Ok(data) = api.gql(MINT, json!({})).await else {
            return;
        };
        let key = &data["generateApiKey"]["apiKey"];
        let minted = (
            key["id"].as_str().unwrap().to_string(),
            key["name"].as_str().unwrap().to_string(),
        );
        api.ledger.lock().unwrap().keys.push(minted.clone());
        if n % 3 == 2 {
            api.ledger.lock().unwrap().revoking.push(minted.1.clone());
            if api.gql(REVOKE, json!({ "id": minted.0 })).await.is_err() {
                return;
            }
            api.ledger.lock().unwrap().revoked.push(minted.1);
        }
    }
}

async fn runs(api: Arc<Api>, cycle: usize) {
    const UPSERT: &str = "mutation($n: String!) { upsertBucket(input: {name: $n, modelName: \"p\", entityName: \"ada\"}) { bucket { id } } }";
    for i in 0.. {
        let run = format!("c{cycle}r{i}");
        api.ledger
            .lock()
            .unwrap()
            .runs
            .insert(run.clone(), RunLedger::default());
        if api.gql(UPSERT, json!({ "n": run })).await.is_err() {
            return;
        }
        api.note_run(&run, |r| r.created = true);
        let path = format!("/files/ada/p/{run}/file_stream");
        for batch in 0..3i64 {
            let lines: Vec<String> = (0..5)
                .map(|k| {
                    json!({ "_step": batch * 5 + k, "loss": 1.0 / (1 + k) as f64 }).to_string()
                })
                .collect();
            let body = json!({ "files": { "wandb-history.jsonl": { "offset": batch * 5, "content": lines } } });
            if api.post(&path, body).await.is_err() {
                return;
            }
            api.note_run(&run, |r| r.lines = (batch + 1) * 5);
        }
        // Every third run is left live, as a training process that died with the server.
        if i % 3 != 2 {
            api.note_run(&run, |r| r.completing = true);
            if api
                .post(&path, json!({ "complete": true, "exitcode": 0 }))
                .await
                .is_err()
            {
                return;
            }
            api.note_run(&run, |r| r.finished = true);
        }
    }
}

async fn profile_and_teams(api: Arc<Api>, cycle: usize) {
    const BIO: &str = "mutation($b: String!) { updateProfile(input: {bio: $b}) { user { id } } }";
    const TEAM: &str =
        "mutation($n: String!) { createTeam(input: {teamName: $n}) { entity { name } } }";
    for n in 0.. {
        let bio = format!("bio-c{cycle}-{n}");
        if api.gql(BIO, json!({ "b": bio })).await.is_err() {
            return;
        }
        api.ledger.lock().unwrap().bio = Some(bio);
        let team = format!("team-c{cycle}-{n}");
        if api.gql(TEAM, json!({ "n": team })).await.is_err() {
            return;
        }
        api.ledger.lock().unwrap().teams.push(team);
    }
}

fn admin(data_dir: &std::path::Path, url: Option<&str>, args: &[&str], input: &str) -> String {
    let run = common::process::admin(data_dir, url, args, input);
    assert!(run.ok, "{}", run.err);
    run.out.trim().to_string()
}

/// Run alert mails by (state, run), each with its Message-IDs.
fn run_mails(sink: &Sink) -> BTreeMap<(String, String), Vec<String>> {
    let mut mails: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for message in sink.messages() {
        let mime = Mime::parse(&message.data);
        let subject = decode_header(mime.header("subject").unwrap_or(""));
        let Some(rest) = subject.strip_prefix("Run ") else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let (Some(state), Some(_dash), Some(run)) = (words.next(), words.next(), words.next())
        else {
            continue;
        };
        let id = mime.header("message-id").unwrap_or("").to_string();
        mails
            .entry((state.to_string(), run.to_string()))
            .or_default()
            .push(id);
    }
    mails
}

async fn kill_9_under_mixed_load_loses_no_acknowledged_write(backend: Backend) {
    let kills: usize = std::env::var("CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let (data_dir, url) = match &backend {
        Backend::Sqlite(dir) => (dir.path().to_path_buf(), None),
        Backend::Postgres(dir, db) => (dir.path().to_path_buf(), Some(db.url.clone())),
    };
    let url = url.as_deref();
    let sink = Sink::start().await;
    let port = sink.port();
    // A job leased by an instance that was killed is retried once its lease runs out.
    let env = common::smtp::settings(
        &port,
        &[
            ("FULCRUM_RUN_HEARTBEAT_TIMEOUT_SECS", "5"),
            ("FULCRUM_JOB_LEASE_MS", "3000"),
            ("FULCRUM_MAX_KEYS_PER_USER", "10000"),
        ],
    );
    let made = common::process::create_user(&data_dir, url, "ada");
    assert!(made.ok, "{}", made.err);
    admin(&data_dir, url, &["verify-email", "--username", "ada"], "");
    let key = admin(
        &data_dir,
        url,
        &["create-key", "--username", "ada", "--name", "load"],
        "",
    );
    let ledger: Shared = Arc::default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();

    for cycle in 0..kills {
        let server = ServerProcess::start(&data_dir, url, &env);
        let api = Arc::new(Api {
            base: server.base.clone(),
            key: key.clone(),
            http: http.clone(),
            ledger: ledger.clone(),
        });
        let load = vec![
            tokio::spawn(keys(api.clone())),
            tokio::spawn(runs(api.clone(), cycle)),
            tokio::spawn(profile_and_teams(api.clone(), cycle)),
        ];
        let uptime = 300 + (rand::random::<u64>() % 1200);
        tokio::time::sleep(Duration::from_millis(uptime)).await;
        server.kill9();
        for task in load {
            task.await.unwrap();
        }
        // A request cut off by the kill is neither acknowledged nor an unexpected answer.
        let unexpected = std::mem::take(&mut ledger.lock().unwrap().unexpected);
        assert!(unexpected.is_empty(), "{unexpected:?}");
    }

    let server = ServerProcess::start(&data_dir, url, &env);
    let api = Api {
        base: server.base.clone(),
        key: key.clone(),
        http: http.clone(),
        ledger: Arc::default(),
    };
    let ledger = std::mem::take(&mut *ledger.lock().unwrap());
    eprintln!(
        "{}: {kills} kills; acknowledged {} keys ({} revoked), {} teams, {} runs ({} finished)",
        common::backend_name(&backend),
        ledger.keys.len(),
        ledger.revoked.len(),
        ledger.teams.len(),
        ledger.runs.values().filter(|r| r.created).count(),
        ledger.runs.values().filter(|r| r.finished).count()
    );
    assert!(
        !ledger.runs.is_empty() && !ledger.keys.is_empty(),
        "the load ran"
    );

    let viewer = "{ viewer { bio teams { edges { node { name } } } } }";
    for (_, minted) in &ledger.keys {
        let status = http
            .post(format!("{}/graphql", server.base))
            .basic_auth("api", Some(minted))
            .json(&json!({ "query": "{ viewer { id } }" }))
            .send()
            .await
            .unwrap()
            .status();
        let allowed: &[u16] = if ledger.revoked.contains(minted) {
            &[401]
        } else if ledger.revoking.contains(minted) {
            &[200, 401]
        } else {
            &[200]
        };
        assert!(
            allowed.contains(&status.as_u16()),
            "acknowledged key {minted}: {status}"
        );
    }
    let me = api.gql(viewer, json!({})).await.unwrap();
    let teams: BTreeSet<&str> = me["viewer"]["teams"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap())
        .collect();
    for team in &ledger.teams {
        assert!(
            teams.contains(team.as_str()),
            "acknowledged team {team} is there with its admin"
        );
    }
    let bio = me["viewer"]["bio"].as_str().unwrap_or("");
    if let Some(acked) = &ledger.bio {
        // The last acknowledged value, or the one after it, which was cut off in flight.
        let (c, n) = acked.trim_start_matches("bio-c").split_once('-').unwrap();
        let next = format!("bio-c{c}-{}", n.parse::<u64>().unwrap() + 1);
        assert!(
            bio == acked || bio == next || bio.starts_with("bio-c") && bio > acked.as_str(),
            "bio {bio} after {acked}"
        );
    }

    // Runs: every acknowledged line is kept; finished runs stay finished; live ones crash.
    let run_query = "query($n: String!) { project(name: \"p\", entityName: \"ada\") { run(name: $n) { state historyLineCount } } }";
    let mut ended: BTreeMap<String, String> = BTreeMap::new();
    let mut existing = 0;
    for _ in 0..300 {
        ended.clear();
        existing = 0;
        for (name, run) in &ledger.runs {
            let data = api.gql(run_query, json!({ "n": name })).await.unwrap();
            let node = &data["project"]["run"];
            if node.is_null() {
                // Cut off before the server wrote it: nothing of it may exist.
                assert!(!run.created, "acknowledged run {name} is there");
                continue;
            }
            existing += 1;
            assert!(
                node["historyLineCount"].as_i64().unwrap() >= run.lines,
                "{name}: lines kept"
            );
            let state = node["state"].as_str().unwrap().to_string();
            let allowed: &[&str] = match (run.finished, run.completing) {
                (true, _) => &["finished"],
                (false, true) => &["finished", "crashed", "running"],
                (false, false) => &["crashed", "running"],
            };
            assert!(
                allowed.contains(&state.as_str()),
                "{name}: {state} ({run:?})"
            );
            if state != "running" {
                ended.insert(name.clone(), state);
            }
        }
        if ended.len() == existing {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        ended.len(),
        existing,
        "every run left live is marked crashed"
    );
    let crashed = ended.values().filter(|s| *s == "crashed").count();

    // Alerts: one mail per run end (a resend after a kill carries the same Message-ID).
    let expected: BTreeSet<(String, String)> =
        ended.iter().map(|(n, s)| (s.clone(), n.clone())).collect();
    let mut mails = BTreeMap::new();
    for _ in 0..300 {
        mails = run_mails(&sink);
        if expected.iter().all(|k| mails.contains_key(k)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for key in &expected {
        let ids = mails
            .get(key)
            .unwrap_or_else(|| panic!("no mail for {key:?}"));
        let distinct: BTreeSet<&String> = ids.iter().collect();
        assert_eq!(
            distinct.len(),
            1,
            "{key:?}: one alert, however often it was sent: {ids:?}"
        );
    }
    let extra: Vec<_> = mails.keys().filter(|k| !expected.contains(*k)).collect();
    let detail: Vec<_> = extra
        .iter()
        .map(|(_, n)| {
            (
                n,
                ledger.runs.get(n),
                ended.get(n),
                mails.keys().filter(|k| &k.1 == n).collect::<Vec<_>>(),
            )
        })
        .collect();
    assert!(
        extra.is_empty(),
        "mails for nothing that happened: {detail:?}"
    );
    let resent = mails.values().filter(|ids| ids.len() > 1).count();
    eprintln!(
        "alerts: {} run mails ({crashed} crashed runs), none lost, {resent} sent again after a kill (same Message-ID)",
        mails.len()
    );
    assert!(api.ledger.lock().unwrap().unexpected.is_empty());
    server.stop();
}
