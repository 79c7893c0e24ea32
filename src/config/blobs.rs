//! `blob_url`: where profile images, run files and exports are kept.

use std::path::{Path, PathBuf};

use anyhow::bail;

/// A parsed `blob_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobUrl {
    /// `file:///absolute/folder` (the default: `<data_dir>/blobs`).
    Folder(PathBuf),
    /// `s3://bucket` or `s3://bucket/prefix`; credentials, region and endpoint come from
    /// the standard `AWS_*` variables.
    S3 { bucket: String, prefix: String },
}

impl BlobUrl {
    pub(super) fn parse(raw: Option<&str>, data_dir: &Path) -> anyhow::Result<BlobUrl> {
        let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(BlobUrl::Folder(data_dir.join("blobs")));
        };
        if let Some(path) = raw.strip_prefix("file://") {
            if !path.starts_with('/') {
                bail!("configuration key `blob_url` must name an absolute folder, like file:///var/lib/fulcrum/blobs, got {raw:?}");
            }
            return Ok(BlobUrl::Folder(PathBuf::from(path)));
        }
        if let Some(rest) = raw.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let bucket_ok = (3..=63).contains(&bucket.len())
                && bucket
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.".contains(&b));
            if !bucket_ok {
                bail!("configuration key `blob_url` names an invalid bucket {bucket:?}: 3 to 63 lowercase letters, digits, `-` or `.`");
            }
            let prefix = prefix.trim_matches('/');
            let prefix_ok = prefix.len() <= 512
                && prefix
                    .split('/')
                    .all(|part| !matches!(part, "." | "..") && !part.contains(['\\', '\0']))
                && !prefix.contains("//");
            if !prefix_ok {
                bail!("configuration key `blob_url` has an invalid prefix {prefix:?}");
            }
            return Ok(BlobUrl::S3 {
                bucket: bucket.into(),
                prefix: prefix.into(),
            });
        }
        bail!("configuration key `blob_url` must start with file:// or s3://, got {raw:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_urls() {
        let data = Path::new("/data");
        assert_eq!(
            BlobUrl::parse(None, data).unwrap(),
            BlobUrl::Folder("/data/blobs".into())
        );
        assert_eq!(
            BlobUrl::parse(Some("file:///srv/b"), data).unwrap(),
            BlobUrl::Folder("/srv/b".into())
        );
        assert_eq!(
            BlobUrl::parse(Some("s3://my-bucket/fulcrum/prod/"), data).unwrap(),
            BlobUrl::S3 {
                bucket: "my-bucket".into(),
                prefix: "fulcrum/prod".into()
            }
        );
        assert_eq!(
            BlobUrl::parse(Some("s3://my-bucket"), data).unwrap(),
            BlobUrl::S3 {
                bucket: "my-bucket".into(),
                prefix: String::new()
            }
        );
        for bad in [
            "file://relative",
            "s3://A",
            "s3://ok-bucket/../x",
            "s3://ok-bucket/a//b",
            "gs://x/y",
            "/plain/path",
        ] {
            assert!(BlobUrl::parse(Some(bad), data).is_err(), "{bad}");
        }
    }
}
