//! Run files over HTTP: signed upload URLs that need no credentials but cannot be bent to
//! another run, name or time; size bounds; downloads authorised like the run and served
//! as attachments.

#[macro_use]
mod common;

use common::app::TestApp;
use common::Backend;
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    uploads_need_a_valid_signature_and_land_in_the_run,
    downloads_are_attachments_for_readers_only,
);

const UPSERT: &str = "mutation($name: String, $entity: String) { upsertBucket(input: {name: $name, modelName: \"p\", entityName: $entity}) { bucket { id } } }";
const CREATE_FILES: &str = "mutation($entity: String!, $run: String!, $files: [String!]!) { createRunFiles(input: {entityName: $entity, projectName: \"p\", runName: $run, files: $files}) { runID uploadHeaders files { name uploadUrl } } }";
const FILES: &str = "query($entity: String, $run: String!) { project(name: \"p\", entityName: $entity) { run(name: $run) { fileCount files { edges { node { name sizeBytes url } } } } } }";

async fn upload_urls(
    app: &TestApp,
    who: &str,
    entity: &str,
    run: &str,
    files: &[&str],
) -> Vec<Value> {
    let vars = json!({"entity": entity, "run": run, "files": files});
    let (status, body) = app.gql_with(who, CREATE_FILES, vars).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"]["createRunFiles"]["files"]
        .as_array()
        .unwrap()
        .clone()
}

/// The URL on the test server (its public URL is the default, not the port it got).
fn local(app: &TestApp, url: &str) -> String {
    let path = url.splitn(4, '/').nth(3).unwrap_or("");
    format!("{}/{path}", app.t.base)
}

async fn put(app: &TestApp, url: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let resp = app
        .t
        .http
        .put(local(app, url))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn file_names(app: &TestApp, who: &str, entity: &str, run: &str) -> Vec<(String, i64)> {
    let (_, body) = app
        .gql_with(who, FILES, json!({"entity": entity, "run": run}))
        .await;
    let edges = body["data"]["project"]["run"]["files"]["edges"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    edges
        .iter()
        .map(|e| {
            (
                e["node"]["name"].as_str().unwrap().to_string(),
                e["node"]["sizeBytes"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

async fn uploads_need_a_valid_signature_and_land_in_the_run(backend: Backend) {
    let mut app = TestApp::with_config(&backend, &[("FULCRUM_RUN_MAX_FILE_BYTES", "1000")]).await;
    app.person("ada").await.person("eve").await;
    let (status, _) = app
        .gql_with("ada", UPSERT, json!({"name": "r1", "entity": "ada"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let files = upload_urls(
        &app,
        "ada",
        "ada",
        "r1",
        &["config.yaml", "code/train.py", "../escape"],
    )
    .await;
    assert_eq!(files.len(), 3, "one entry per requested file");
    assert!(
        files[2]["uploadUrl"].is_null(),
        "a name that leaves the run gets no URL"
    );
    let config_url = files[0]["uploadUrl"].as_str().unwrap().to_string();
    let code_url = files[1]["uploadUrl"].as_str().unwrap().to_string();

    assert_eq!(
        put(&app, &config_url, b"lr: 0.1\n".to_vec()).await.0,
        StatusCode::OK
    );
    assert_eq!(
        put(&app, &code_url, b"print('hi')\n".to_vec()).await.0,
        StatusCode::OK
    );
    assert_eq!(
        put(&app, &config_url, b"lr: 0.2\n".to_vec()).await.0,
        StatusCode::OK,
        "a file may be replaced"
    );

    let tampered = [
        config_url.replace("sig=", "sig=x"),
        config_url.replace("name=config.yaml", "name=other.yaml"),
        config_url.replace("exp=", "exp=9"),
        config_url.split('?').next().unwrap().to_string(),
    ];
    for url in tampered {
        let (status, body) = put(&app, &url, b"evil".to_vec()).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::FORBIDDEN, "upload_url_invalid"),
            "{url}"
        );
    }
    let run_id = config_url
        .split("/files/uploads/")
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let expired = app
        .services()
        .upload_url(run_id, "late.txt", fulcrum::now_ms() - 1);
    let (status, body) = put(&app, &expired, b"late".to_vec()).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::GONE, "upload_url_expired")
    );

    let big = app
        .services()
        .upload_url(run_id, "big.bin", fulcrum::now_ms() + 60_000);
    assert_eq!(
        put(&app, &big, vec![7u8; 2000]).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let chunked = reqwest::Body::wrap_stream(futures_util::stream::iter(
        (0..4).map(|_| Ok::<_, std::io::Error>(vec![7u8; 500])),
    ));
    let resp = app
        .t
        .http
        .put(local(&app, &big))
        .body(chunked)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "a chunked upload is bounded too"
    );
    assert_eq!(
        resp.headers()["connection"],
        "close",
        "a refusal that left the body unread closes the connection"
    );

    assert_eq!(
        file_names(&app, "ada", "ada", "r1").await,
        vec![
            ("code/train.py".to_string(), 12),
            ("config.yaml".to_string(), 8)
        ]
    );
    let (status, body) = app
        .gql_with(
            "eve",
            CREATE_FILES,
            json!({"entity": "ada", "run": "r1", "files": ["x"]}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "run_not_found"),
        "eve cannot see ada's run"
    );
    app.stop().await;
}

async fn downloads_are_attachments_for_readers_only(backend: Backend) {
    let mut app = TestApp::start(&backend).await;
    app.person("ada").await.person("eve").await;
    app.gql_with("ada", UPSERT, json!({"name": "r1", "entity": "ada"}))
        .await;
    let files = upload_urls(&app, "ada", "ada", "r1", &["media/page one.html"]).await;
    let html = b"<script>alert(1)</script>".to_vec();
    put(&app, files[0]["uploadUrl"].as_str().unwrap(), html.clone()).await;
    let (_, body) = app
        .gql_with("ada", FILES, json!({"entity": "ada", "run": "r1"}))
        .await;
    let url = body["data"]["project"]["run"]["files"]["edges"][0]["node"]["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        url.ends_with("/files/ada/p/r1/media/page%20one.html"),
        "{url}"
    );
    let url = local(&app, &url);

    let resp = app
        .t
        .http
        .get(&url)
        .basic_auth("api", Some(app.key("ada")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "application/octet-stream");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"page_one.html\""));
    assert_eq!(resp.bytes().await.unwrap().to_vec(), html);

    let resp = app
        .t
        .http
        .get(&url)
        .basic_auth("api", Some(app.key("eve")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.t.http.get(&url).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let missing = url.replace("page%20one", "nothing");
    let resp = app
        .t
        .http
        .get(&missing)
        .basic_auth("api", Some(app.key("ada")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}
