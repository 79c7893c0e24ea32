//! Blobs in a local folder (`file://…`, the default `<data_dir>/blobs`). A blob is written
//! to a hidden temporary name beside its place, synced, then renamed, so a half-written
//! blob never appears under its name, even after a crash.

use std::path::{Path, PathBuf};

use anyhow::Context;
use async_trait::async_trait;
use axum::body::Bytes;
use tokio::io::AsyncWriteExt;

use super::{Backend, BlobRead, Writer};

pub struct Folder {
    root: PathBuf,
}

impl Folder {
    pub fn new(root: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root)
            .with_context(|| format!("cannot create blob folder {}", root.display()))?;
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    /// The hidden temporary file a blob is built in, in the folder it will be renamed into.
    fn temporary(&self, key: &str) -> PathBuf {
        let path = self.path(key);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        path.with_file_name(format!(".{name}.tmp"))
    }
}

struct FolderWriter {
    file: tokio::fs::File,
    temporary: PathBuf,
    path: PathBuf,
}

#[async_trait]
impl Writer for FolderWriter {
    async fn write(&mut self, chunk: Bytes) -> anyhow::Result<()> {
        Ok(self.file.write_all(&chunk).await?)
    }

    async fn finish(self: Box<Self>) -> anyhow::Result<()> {
        let synced = self.file.sync_all().await;
        drop(self.file);
        if let Err(e) = synced {
            let _ = tokio::fs::remove_file(&self.temporary).await;
            return Err(e.into());
        }
        Ok(tokio::fs::rename(&self.temporary, &self.path).await?)
    }

    async fn abort(self: Box<Self>) {
        drop(self.file);
        let _ = tokio::fs::remove_file(&self.temporary).await;
    }
}

#[async_trait]
impl Backend for Folder {
    async fn writer(&self, key: &str) -> anyhow::Result<Box<dyn Writer>> {
        let path = self.path(key);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        let temporary = self.temporary(key);
        let file = tokio::fs::File::create(&temporary).await?;
        Ok(Box::new(FolderWriter {
            file,
            temporary,
            path,
        }))
    }

    async fn read(&self, key: &str) -> anyhow::Result<Option<BlobRead>> {
        let file = match tokio::fs::File::open(self.path(key)).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let size = file.metadata().await?.len();
        Ok(Some(BlobRead {
            size,
            body: Box::pin(chunks_of(file)),
        }))
    }

    async fn size(&self, key: &str) -> anyhow::Result<Option<u64>> {
        match tokio::fs::metadata(self.path(key)).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match tokio::fs::remove_file(self.path(key)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    async fn staging(&self, key: &str) -> anyhow::Result<PathBuf> {
        let temporary = self.temporary(key);
        if let Some(parent) = temporary.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        Ok(temporary)
    }

    async fn adopt(&self, key: &str, staged: &Path) -> anyhow::Result<()> {
        Ok(tokio::fs::rename(staged, self.path(key)).await?)
    }

    fn local_root(&self) -> Option<&Path> {
        Some(&self.root)
    }

    fn location(&self) -> String {
        format!("file://{}", self.root.display())
    }
}

/// A file as a stream of chunks of at most 64 KiB.
pub(super) fn chunks_of(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send {
    futures_util::stream::unfold(file, |mut f| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 64 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    })
}
