//! `fulcrum admin backup`: a consistent copy of a SQLite server's data while it serves.

use std::path::{Path, PathBuf};

use super::{Actor, Services};
use crate::backup::{self as files, DatabaseFile, Manifest, Tally};
use crate::error::{ApiError, ErrorCode};

impl Services {
    /// Writes a backup of the database, the blobs and the server secret into `to` (new or
    /// empty). Blobs are copied before and after the database snapshot, so every blob the
    /// snapshot refers to is in the backup.
    pub async fn backup(&self, actor: &Actor, to: &Path) -> Result<Manifest, ApiError> {
        actor.require_admin("back up the server")?;
        if self.config.is_postgres() {
            return Err(ApiError::new(
                axum::http::StatusCode::CONFLICT,
                ErrorCode::BackupUnsupported,
                "a PostgreSQL database is backed up with pg_dump, and the blobs with the tools of their store (see the README)",
            ));
        }
        let to = to.to_path_buf();
        // Blobs in a bucket stay there; the bucket's own versioning or replication keeps
        // them (see the README), and the manifest says where they are.
        let blobs = self.blob_store.local_root().map(Path::to_path_buf);
        let blobs_at = blobs.is_none().then(|| self.blob_store.location());
        let (dir, from) = (to.clone(), blobs.clone());
        let first = blocking(move || {
            files::prepare_target(&dir)?;
            match from {
                Some(from) => files::copy_new_files(&from, &dir.join(files::BLOBS)),
                None => Ok(Tally::default()),
            }
        })
        .await?;
        let database = to.join(files::DATABASE);
        let created_at = crate::iso_ms(crate::now_ms());
        self.store.snapshot_into(&database).await?;
        let secret = self.secret_file();
        let manifest = blocking(move || {
            let mut tally = first;
            if let Some(blobs) = blobs {
                let second = files::copy_new_files(&blobs, &to.join(files::BLOBS))?;
                tally.files += second.files;
                tally.bytes += second.bytes;
            }
            let secret_key = match secret {
                Some(path) => files::copy_secret(&path, &to.join(files::SECRET))?,
                None => false,
            };
            let manifest = Manifest {
                format: 1,
                fulcrum_version: env!("CARGO_PKG_VERSION").into(),
                created_at,
                database: DatabaseFile {
                    file: files::DATABASE.into(),
                    bytes: std::fs::metadata(&database)?.len(),
                    sha256: files::sha256_file(&database)?,
                },
                blobs: Tally {
                    files: tally.files,
                    bytes: tally.bytes,
                },
                blobs_at,
                secret_key,
            };
            files::write_manifest(&to, &manifest)?;
            Ok(manifest)
        })
        .await?;
        let event = actor
            .audit("server.backup", String::new())
            .with(serde_json::json!({ "database_bytes": manifest.database.bytes }));
        self.store.audit(event, crate::now_ms()).await?;
        Ok(manifest)
    }

    /// The server secret's file, when the secret is not given in the configuration.
    fn secret_file(&self) -> Option<PathBuf> {
        self.config
            .secret_key
            .is_none()
            .then(|| self.config.data_dir.join(files::SECRET))
    }
}

/// File work off the async workers; its failures are the operator's to read, so they keep
/// their cause.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    let failed = |e: anyhow::Error| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::InternalError,
            format!("backup failed: {e:#}"),
        )
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(out) => out.map_err(failed),
        Err(e) => Err(failed(e.into())),
    }
}
