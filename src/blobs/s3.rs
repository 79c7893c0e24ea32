//! Blobs in an S3-compatible bucket (`s3://bucket/prefix`), through `object_store`.
//! Credentials, region and endpoint come from the standard `AWS_*` variables. Small blobs
//! are one PUT; larger ones a multipart upload that is aborted when the write fails, so a
//! half-written blob never appears under its name.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use axum::body::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as Key;
use object_store::{ClientConfigKey, ObjectStore, PutPayload, RetryConfig, WriteMultipart};

use super::{Backend, BlobRead, Writer};

/// Below this a blob is sent as one PUT; above it in parts of this size.
const PART_BYTES: usize = 8 * 1024 * 1024;

pub struct Bucket {
    store: Arc<dyn ObjectStore>,
    bucket: String,
    prefix: String,
    /// Where exports are built before they are uploaded.
    staging: PathBuf,
}

impl Bucket {
    /// `prefix` has no leading or trailing `/`; it may be empty.
    pub fn new(bucket: &str, prefix: &str, staging: &Path) -> anyhow::Result<Self> {
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        // An operator who names an http:// endpoint (a local MinIO, say) means it.
        let endpoint = builder.get_config_value(&AmazonS3ConfigKey::Endpoint);
        if endpoint.is_some_and(|e| e.starts_with("http://")) {
            builder = builder.with_allow_http(true);
        }
        if builder
            .get_config_value(&AmazonS3ConfigKey::Region)
            .is_none()
        {
            if let Ok(region) = std::env::var("AWS_REGION") {
                builder = builder.with_region(region);
            }
        }
        // Requests fail within seconds while the store is away (the caller answers 503)
        // instead of retrying for minutes with the person waiting.
        let retry = RetryConfig {
            max_retries: 2,
            retry_timeout: Duration::from_secs(10),
            ..RetryConfig::default()
        };
        // Through `with_config`, so client settings from `AWS_*` (a proxy, say) stay.
        let store = builder
            .with_retry(retry)
            .with_config(
                AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
                "3s",
            )
            .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::Timeout), "120s")
            .build()
            .with_context(|| format!("cannot use the bucket s3://{bucket}"))?;
        std::fs::create_dir_all(staging)
            .with_context(|| format!("cannot create staging folder {}", staging.display()))?;
        Ok(Self {
            store: Arc::new(store),
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            staging: staging.to_path_buf(),
        })
    }

    fn writer_for(&self, key: &str) -> BucketWriter {
        BucketWriter {
            store: self.store.clone(),
            key: self.key(key),
            upload: Upload::Buffered(Vec::new(), 0),
        }
    }

    fn key(&self, key: &str) -> Key {
        if self.prefix.is_empty() {
            Key::from(key)
        } else {
            Key::from(format!("{}/{key}", self.prefix))
        }
    }
}

/// A blob on its way up: buffered in memory until it passes one part, then a multipart
/// upload with at most two parts in flight.
enum Upload {
    Buffered(Vec<Bytes>, usize),
    Parts(WriteMultipart),
}

struct BucketWriter {
    store: Arc<dyn ObjectStore>,
    key: Key,
    upload: Upload,
}

#[async_trait]
impl Writer for BucketWriter {
    async fn write(&mut self, chunk: Bytes) -> anyhow::Result<()> {
        match &mut self.upload {
            Upload::Parts(parts) => {
                parts.wait_for_capacity(2).await?;
                parts.put(chunk);
            }
            Upload::Buffered(chunks, len) if *len + chunk.len() < PART_BYTES => {
                *len += chunk.len();
                chunks.push(chunk);
            }
            Upload::Buffered(chunks, _) => {
                let buffered = std::mem::take(chunks);
                let started = self.store.put_multipart(&self.key).await?;
                let mut parts = WriteMultipart::new_with_chunk_size(started, PART_BYTES);
                buffered.into_iter().for_each(|c| parts.put(c));
                parts.put(chunk);
                self.upload = Upload::Parts(parts);
            }
        }
        Ok(())
    }

    async fn finish(self: Box<Self>) -> anyhow::Result<()> {
        match self.upload {
            Upload::Buffered(chunks, _) => {
                let payload: PutPayload = chunks.into_iter().collect();
                self.store.put(&self.key, payload).await?;
            }
            Upload::Parts(parts) => {
                parts.finish().await?;
            }
        }
        Ok(())
    }

    async fn abort(self: Box<Self>) {
        if let Upload::Parts(parts) = self.upload {
            if let Err(e) = parts.abort().await {
                tracing::warn!(error = %e, "an unfinished upload could not be aborted");
            }
        }
    }
}

fn not_found(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
}

#[async_trait]
impl Backend for Bucket {
    async fn writer(&self, key: &str) -> anyhow::Result<Box<dyn Writer>> {
        Ok(Box::new(self.writer_for(key)))
    }

    async fn read(&self, key: &str) -> anyhow::Result<Option<BlobRead>> {
        match self.store.get(&self.key(key)).await {
            Ok(got) => Ok(Some(BlobRead {
                size: got.meta.size,
                body: got.into_stream().map_err(std::io::Error::other).boxed(),
            })),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn size(&self, key: &str) -> anyhow::Result<Option<u64>> {
        match self.store.head(&self.key(key)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match self.store.delete(&self.key(key)).await {
            Err(e) if !not_found(&e) => Err(e.into()),
            _ => Ok(()),
        }
    }

    async fn staging(&self, key: &str) -> anyhow::Result<PathBuf> {
        let name = key.replace('/', "-");
        Ok(self.staging.join(format!(".{name}.tmp")))
    }

    async fn adopt(&self, key: &str, staged: &Path) -> anyhow::Result<()> {
        let uploaded = async {
            let file = tokio::fs::File::open(staged).await?;
            let writer = Box::new(self.writer_for(key));
            match super::put_stream(writer, super::local::chunks_of(file), u64::MAX).await {
                Ok(_) => Ok(()),
                Err(super::PutError::Io(e)) => Err(e),
                Err(other) => Err(anyhow::anyhow!("cannot read a staged blob: {other:?}")),
            }
        }
        .await;
        let _ = tokio::fs::remove_file(staged).await;
        uploaded
    }

    fn local_root(&self) -> Option<&Path> {
        None
    }

    fn location(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }
}
