//! Files of runs. `createRunFiles` hands the SDK one signed upload URL per file (it sends
//! no credentials with the PUT, so the URL carries its own: an HMAC over run, name and
//! expiry); the PUT streams into the blob store with a size bound; downloads are allowed
//! to whoever may read the run.

use axum::body::Bytes;
use subtle::ConstantTimeEq;

use super::runs::{run_not_found, Bucket, RunPath};
use super::{Actor, Services};
use crate::blobs::{FileBlobs, PutError};
use crate::error::{ApiError, ErrorCode};
use crate::store::RunFile;

const UPLOAD: &str = "run-file-upload";
/// Upload URLs stay valid this long: the SDK uploads at once, big files may take a while.
const UPLOAD_TTL_MS: i64 = 6 * 3600 * 1000;
const NAME_MAX: usize = 512;
const FILES_PER_REQUEST: usize = 1000;

/// A run file's name: a relative path without `.`/`..` segments, backslashes or control
/// characters (`code/train.py`, `media/images/x.png`).
pub fn valid_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= NAME_MAX
        && !name.starts_with('/')
        && !name.chars().any(|c| c == '\\' || c.is_control())
        && name
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..")
}

fn file_name_invalid(name: &str) -> ApiError {
    ApiError::validation(
        "name",
        ErrorCode::FileNameInvalid,
        format!(
            "{:?} is not an allowed file name",
            crate::validate::echo(name)
        ),
    )
}

/// What the signed upload URL names.
#[derive(Debug, Clone)]
pub struct UploadTicket {
    pub run_id: i64,
    pub name: String,
    pub expires: i64,
    pub signature: String,
}

impl Services {
    fn upload_signature(
        &self,
        run_id: i64,
        name: &str,
        expires: i64,
    ) -> zeroize::Zeroizing<String> {
        self.links
            .token(UPLOAD, &format!("{run_id}\n{expires}\n{name}"))
    }

    /// The signed URL a PUT of `name` into run `run_id` may use until `expires` (ms).
    pub fn upload_url(&self, run_id: i64, name: &str, expires: i64) -> String {
        let id = run_id.to_string();
        let mut url = self.config.public_link(["files", "uploads", &id]);
        let sig = self.upload_signature(run_id, name, expires);
        url.query_pairs_mut()
            .append_pair("name", name)
            .append_pair("exp", &expires.to_string())
            .append_pair("sig", &sig);
        url.to_string()
    }

    /// Where a run's file is downloaded (W&B's `/files/<entity>/<project>/<run>/<name>`).
    pub fn download_url(&self, b: &Bucket, name: &str) -> String {
        let head = ["files", &b.entity.name, &b.project.name, &b.run.name];
        let segments = head.into_iter().chain(name.split('/'));
        self.config.public_link(segments).to_string()
    }

    /// `createRunFiles`: one entry per requested name, in order; a name that is not
    /// allowed gets no URL (the SDK then skips that file).
    pub async fn create_run_files(
        &self,
        actor: &Actor,
        path: RunPath<'_>,
        names: Vec<String>,
    ) -> Result<(Bucket, Vec<(String, Option<String>)>), ApiError> {
        if names.len() > FILES_PER_REQUEST {
            return Err(ApiError::validation(
                "files",
                ErrorCode::RunTooLarge,
                format!("at most {FILES_PER_REQUEST} files per request"),
            ));
        }
        let bucket = self.writable_run(actor, path, "add files to").await?;
        let expires = crate::now_ms() + UPLOAD_TTL_MS;
        let files = names
            .into_iter()
            .map(|name| {
                let url =
                    valid_file_name(&name).then(|| self.upload_url(bucket.run.id, &name, expires));
                (name, url)
            })
            .collect();
        Ok((bucket, files))
    }

    /// The PUT to a signed upload URL: checks the signature and expiry, streams the body
    /// into a new blob, then records it (replacing an earlier file of that name).
    pub async fn upload_run_file<S, E>(
        &self,
        ticket: UploadTicket,
        body: S,
    ) -> Result<RunFile, ApiError>
    where
        S: futures_util::Stream<Item = Result<Bytes, E>>,
    {
        let expected = self.upload_signature(ticket.run_id, &ticket.name, ticket.expires);
        let signed: bool = expected
            .as_bytes()
            .ct_eq(ticket.signature.as_bytes())
            .into();
        if !signed || !valid_file_name(&ticket.name) {
            return Err(ApiError::forbidden(
                ErrorCode::UploadUrlInvalid,
                "this upload URL is not valid; ask createRunFiles for a new one",
            ));
        }
        if ticket.expires < crate::now_ms() {
            return Err(ApiError::gone(
                ErrorCode::UploadUrlExpired,
                "this upload URL has expired; ask createRunFiles for a new one",
            ));
        }
        let Some(run) = self.store.run_by_id(ticket.run_id).await? else {
            return Err(run_not_found("for this upload URL"));
        };
        let entity = self.entity_of_run(&run).await?;
        let room = self.storage_room(&entity).await?;
        let blob = FileBlobs::new_name();
        let limit = self.config.runs.max_file_bytes;
        // The quota cuts an upload short only when it leaves less than the file limit.
        let quota = room.filter(|r| r.left < limit);
        let max = quota.map_or(limit, |r| r.left);
        let size = self
            .run_blobs
            .put_stream(&blob, body, max)
            .await
            .map_err(|e| match (e, quota) {
                (PutError::TooLarge, Some(room)) => super::storage::quota_exceeded(room.quota),
                (PutError::TooLarge, None) => ApiError::new(
                    axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::RunTooLarge,
                    format!("a run file may have at most {max} bytes"),
                ),
                (PutError::Body, _) => {
                    ApiError::bad_request(ErrorCode::BodyUnreadable, "the upload broke off")
                }
                (PutError::Io(e), _) => {
                    tracing::error!(error = %format!("{e:#}"), "cannot write a run file");
                    ApiError::blob_store_unavailable()
                }
            })?;
        let file = RunFile {
            run_id: ticket.run_id,
            name: ticket.name,
            size_bytes: size as i64,
            blob,
            updated_at: crate::now_ms(),
        };
        let replaced = match self.store.put_run_file(file.clone()).await {
            Ok(replaced) => replaced,
            Err(e) => {
                let _ = self.run_blobs.delete(&file.blob).await;
                return Err(e.into());
            }
        };
        if let Some(old) = replaced.filter(|old| *old != file.blob) {
            if let Err(e) = self.run_blobs.delete(&old).await {
                tracing::warn!(error = %e, "a replaced run file could not be removed");
            }
        }
        Ok(file)
    }

    /// The files of a run the caller may read (the bucket came from `find_run`).
    pub async fn list_run_files(&self, bucket: &Bucket) -> Result<Vec<RunFile>, ApiError> {
        Ok(self.store.run_files(bucket.run.id).await?)
    }

    /// A run's file for download, for whoever may read the run.
    pub async fn open_run_file(
        &self,
        actor: &Actor,
        path: RunPath<'_>,
        name: &str,
    ) -> Result<(RunFile, crate::blobs::BlobRead), ApiError> {
        if !valid_file_name(name) {
            return Err(file_name_invalid(name));
        }
        let bucket = self.readable_run(actor, path).await?;
        let missing = || {
            ApiError::not_found(
                ErrorCode::FileNotFound,
                "the run has no file with this name",
            )
        };
        let file = self
            .store
            .run_file(bucket.run.id, name)
            .await?
            .ok_or_else(missing)?;
        let opened = self
            .run_blobs
            .open(&file.blob)
            .await
            .map_err(ApiError::blob_failure("open a run file"))?;
        Ok((file, opened.ok_or_else(missing)?))
    }
}

#[cfg(test)]
mod tests {
    use super::valid_file_name;

    #[test]
    fn file_names_stay_inside_the_run() {
        for ok in [
            "config.yaml",
            "code/train.py",
            "media/images/a b.png",
            "wandb-summary.json",
        ] {
            assert!(valid_file_name(ok), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "a\\b",
            "./x",
            "a\u{0}b",
            "x/",
        ] {
            assert!(!valid_file_name(bad), "{bad:?}");
        }
    }
}
