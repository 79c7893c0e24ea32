//! Blobs on S3-compatible object storage (issue #13 §3), against a real S3 server (moto
//! from PyPI, started here): the blob store behaves the same on a folder and on a bucket;
//! two instances with `blob_url = s3://…` serve each other's images, run files and exports
//! with nothing on local disk; and a store that goes away is a clear 503, never a 500 or a
//! hang, with nothing half-kept, and the server recovers by itself.
//!
//! One test function: the S3 settings are process-wide `AWS_*` variables (as in
//! production), so every scenario shares one server and runs in turn.

mod common;

use std::time::{Duration, Instant};

use axum::body::Bytes;
use common::app::TestApp;
use common::s3::S3Server;
use common::Backend;
use fulcrum::blobs::{BlobStore, FileBlobs, PutError};
use fulcrum::config::BlobUrl;
use futures_util::{StreamExt, TryStreamExt};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_on_object_storage() {
    let mut s3 = S3Server::start();
    s3.export_env();
    s3.create_bucket("conformance").await;
    s3.create_bucket("fulcrum").await;

    let dir = tempfile::tempdir().unwrap();
    let folder = BlobUrl::Folder(dir.path().join("blobs"));
    conformance(BlobStore::open(&folder, dir.path()).unwrap()).await;
    let bucket = BlobUrl::S3 {
        bucket: "conformance".into(),
        prefix: "a/b".into(),
    };
    conformance(BlobStore::open(&bucket, dir.path()).unwrap()).await;
    let left = s3.keys("conformance").await;
    assert!(
        left.iter().all(|k| k.starts_with("a/b/")),
        "every key under the prefix: {left:?}"
    );

    two_instances_share_the_bucket(&s3).await;
    a_store_that_is_away_is_503_and_the_server_recovers(&mut s3).await;
}

fn chunks(
    n: usize,
    size: usize,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::iter((0..n).map(move |i| Ok(Bytes::from(vec![(i % 251) as u8; size]))))
}

async fn read_all(store: &FileBlobs, name: &str) -> Option<Vec<u8>> {
    let read = store.open(name).await.unwrap()?;
    let chunks: Vec<Bytes> = read.body.try_collect().await.unwrap();
    let bytes = chunks.concat();
    assert_eq!(
        bytes.len() as u64,
        read.size,
        "the size told is the size read"
    );
    Some(bytes)
}

/// What every blob store must do, whatever holds the bytes.
async fn conformance(store: BlobStore) {
    let where_ = store.location();
    let images = store.images();
    images.put("a-256.png", vec![1, 2, 3]).await.unwrap();
    assert_eq!(images.get("a-256.png").await.unwrap(), Some(vec![1, 2, 3]));
    assert_eq!(images.size("a-256.png").await.unwrap(), 3);
    images.delete("a-256.png").await.unwrap();
    images.delete("a-256.png").await.unwrap();
    assert_eq!(images.get("a-256.png").await.unwrap(), None, "{where_}");
    assert_eq!(images.size("a-256.png").await.unwrap(), 0);
    assert!(images.get("../x.png").await.is_err());

    let files = store.run_files();
    // Past one part (8 MiB): a multipart upload on a bucket.
    let big = FileBlobs::new_name();
    let size = files
        .put_stream(&big, chunks(20, 1 << 20), 64 << 20)
        .await
        .unwrap();
    assert_eq!(size, 20 << 20);
    let bytes = read_all(&files, &big).await.unwrap();
    assert!(bytes
        .chunks(1 << 20)
        .enumerate()
        .all(|(i, c)| c.iter().all(|b| *b == (i % 251) as u8)));

    let too_big = FileBlobs::new_name();
    let r = files
        .put_stream(&too_big, chunks(12, 1 << 20), 10 << 20)
        .await;
    assert!(matches!(r, Err(PutError::TooLarge)), "{where_}");
    assert_eq!(
        read_all(&files, &too_big).await,
        None,
        "nothing of it is kept"
    );

    let broken = FileBlobs::new_name();
    let body = chunks(9, 1 << 20).chain(futures_util::stream::iter([Err(std::io::Error::other(
        "cut",
    ))]));
    assert!(matches!(
        files.put_stream(&broken, body, 64 << 20).await,
        Err(PutError::Body)
    ));
    assert_eq!(
        read_all(&files, &broken).await,
        None,
        "a broken body keeps nothing"
    );

    let exports = store.exports();
    let built = FileBlobs::new_name();
    let staged = exports.staging(&built).await.unwrap();
    std::fs::write(&staged, b"zip bytes").unwrap();
    exports.adopt(&built, &staged).await.unwrap();
    assert!(!staged.exists(), "the staged file is gone once stored");
    assert_eq!(read_all(&exports, &built).await.unwrap(), b"zip bytes");
    assert_eq!(read_all(&files, &built).await, None, "folders are apart");

    files.delete(&big).await.unwrap();
    exports.delete(&built).await.unwrap();
    assert_eq!(read_all(&files, &big).await, None);
    assert!(files.open("../../etc").await.is_err());
}

async fn avatar_url(app: &TestApp, who: &str) -> String {
    let r = app.upload_avatar(who, common::png(300, 300)).await;
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["photoUrl"]
        .as_str()
        .unwrap()
        .to_string()
}

fn files_under(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| {
                if e.path().is_dir() {
                    files_under(&e.path())
                } else {
                    1
                }
            })
            .sum()
    })
}

async fn two_instances_share_the_bucket(s3: &S3Server) {
    let backend = Backend::postgres().await;
    let settings = [("FULCRUM_BLOB_URL", "s3://fulcrum/prod")];
    let mut a = TestApp::with_config(&backend, &settings).await;
    let mut b = TestApp::with_config(&backend, &settings).await;
    a.person("ada").await;
    b.adopt("ada", a.key("ada"));

    let photo = avatar_url(&a, "ada").await;
    let r = b.t.http.get(b.t.url(&photo)).send().await.unwrap();
    assert_eq!(r.status(), 200, "B serves the image A stored");
    let img = image::load_from_memory(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(img.width(), 256);

    // A run file uploaded through A is downloaded through B, and goes into B's export.
    a.logged_run("ada", "ada", "r1").await;
    let q = "{ project(name: \"p\", entityName: \"ada\") { run(name: \"r1\") { files { edges { node { name url } } } } } }";
    let (_, body) = b.gql("ada", q).await;
    let url = body["data"]["project"]["run"]["files"]["edges"][0]["node"]["url"]
        .as_str()
        .unwrap()
        .replace("http://127.0.0.1:8080", &b.t.base);
    let r =
        b.t.http
            .get(url)
            .basic_auth("api", Some(b.key("ada")))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "weights of r1");

    let cookie = b.browser_login("ada").await;
    let call = |method: reqwest::Method, path: String| {
        b.t.http
            .request(method, b.t.url(&path))
            .header("cookie", cookie.clone())
            .header("origin", common::ORIGIN)
            .send()
    };
    let r = call(reqwest::Method::POST, "/api/v1/account/exports".into())
        .await
        .unwrap();
    let token = r.json::<Value>().await.unwrap()["export"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let started = Instant::now();
    loop {
        let listed: Value = call(reqwest::Method::GET, "/api/v1/account/exports".into())
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if listed["exports"][0]["status"] == "ready" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{listed}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = call(
        reqwest::Method::GET,
        format!("/api/v1/account/exports/{token}/download"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let zip =
        zip::ZipArchive::new(std::io::Cursor::new(r.bytes().await.unwrap().to_vec())).unwrap();
    let names: Vec<String> = zip.file_names().map(str::to_string).collect();
    assert!(
        names.iter().any(|n| n.ends_with("files/model.txt")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.ends_with("avatar.png")),
        "the profile image, read from the bucket, is in the export: {names:?}"
    );

    let keys = s3.keys("fulcrum").await;
    let count = |folder: &str| keys.iter().filter(|k| k.starts_with(folder)).count();
    assert!(
        count("prod/run-files/") >= 1 && count("prod/exports/") == 1,
        "{keys:?}"
    );
    let pngs = keys.iter().filter(|k| k.ends_with(".png")).count();
    assert_eq!(pngs, fulcrum::images::SIZES.len(), "every size: {keys:?}");
    let data_dir = a.services().config.data_dir.clone();
    assert_eq!(
        files_under(&data_dir.join("blobs")),
        0,
        "nothing on local disk"
    );
    assert_eq!(
        files_under(&data_dir.join("staging")),
        0,
        "no export left staged"
    );
}

async fn a_store_that_is_away_is_503_and_the_server_recovers(s3: &mut S3Server) {
    let backend = Backend::sqlite().await;
    let mut app =
        TestApp::with_config(&backend, &[("FULCRUM_BLOB_URL", "s3://fulcrum/outage")]).await;
    app.person("ada").await;
    let photo = avatar_url(&app, "ada").await;
    app.logged_run("ada", "ada", "r1").await;

    s3.halt();
    let started = Instant::now();
    let r = app.upload_avatar("ada", common::png(64, 64)).await;
    let took = started.elapsed();
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(
        common::code(&r.json().await.unwrap()),
        "blob_store_unavailable"
    );
    assert!(
        took < Duration::from_secs(15),
        "refused in {took:?}, not after minutes"
    );
    eprintln!("object store away: an avatar upload was refused (503) in {took:?}");
    let (_, body) = app.gql("ada", "{ viewer { photoUrl } }").await;
    assert_eq!(
        body["data"]["viewer"]["photoUrl"],
        photo.as_str(),
        "the old image stays"
    );
    let r = app.t.http.get(app.t.url(&photo)).send().await.unwrap();
    assert_eq!(r.status(), 503, "an image that cannot be read is not a 404");

    let q = "mutation { createRunFiles(input: {entityName: \"ada\", projectName: \"p\", runName: \"r1\", files: [\"late.txt\"]}) { files { uploadUrl } } }";
    let (_, body) = app.gql("ada", q).await;
    let url = body["data"]["createRunFiles"]["files"][0]["uploadUrl"]
        .as_str()
        .unwrap()
        .replace("http://127.0.0.1:8080", &app.t.base);
    let r = app.t.http.put(&url).body("late").send().await.unwrap();
    assert_eq!(r.status(), 503);
    let files = "{ project(name: \"p\", entityName: \"ada\") { run(name: \"r1\") { fileCount } } }";
    let (_, body) = app.gql("ada", files).await;
    assert_eq!(
        body["data"]["project"]["run"]["fileCount"], 1,
        "the refused file was not recorded"
    );

    // The store returns (moto starts empty): the same server works again by itself.
    s3.resume();
    s3.create_bucket("fulcrum").await;
    let again = avatar_url(&app, "ada").await;
    let r = app.t.http.get(app.t.url(&again)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.t
            .http
            .put(&url)
            .body("late")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}
