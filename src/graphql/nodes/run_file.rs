//! `File`: a run's file as the Public API lists it (`run.files()`), with a download URL
//! under the server's base URL, so the SDK sends its credentials with the download.

use async_graphql::{Context, Object, SimpleObject, ID};

use crate::graphql::paging::PageInfo;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::iso;
use crate::graphql::{request_context, Res};
use crate::services::runs::Bucket;
use crate::store::RunFile;

pub struct FileNode {
    pub bucket: std::sync::Arc<Bucket>,
    pub file: RunFile,
}

#[Object(name = "File")]
impl FileNode {
    async fn id(&self) -> ID {
        ID(STANDARD.encode(format!("File:{}:{}", self.file.run_id, self.file.name)))
    }

    async fn name(&self) -> &str {
        &self.file.name
    }

    /// The download URL (`upload: true` asks W&B for an upload URL; uploads go through
    /// `createRunFiles` here, so it is the same URL).
    async fn url(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] _upload: bool,
    ) -> Res<String> {
        Ok(request_context(ctx)?
            .services
            .download_url(&self.bucket, &self.file.name))
    }

    async fn direct_url(&self, ctx: &Context<'_>) -> Res<String> {
        Ok(request_context(ctx)?
            .services
            .download_url(&self.bucket, &self.file.name))
    }

    async fn size_bytes(&self) -> i64 {
        self.file.size_bytes
    }

    async fn mimetype(&self) -> &str {
        mimetype(&self.file.name)
    }

    async fn updated_at(&self) -> String {
        iso(self.file.updated_at)
    }

    /// Not computed by this server.
    async fn md5(&self) -> Option<String> {
        None
    }
}

fn mimetype(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "json" => "application/json",
        "yaml" | "yml" => "application/x-yaml",
        "txt" | "log" | "patch" | "md" => "text/plain",
        "py" => "text/x-python",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        _ => "application/octet-stream",
    }
}

#[derive(SimpleObject)]
pub struct FileEdge {
    pub node: FileNode,
    pub cursor: String,
}

#[derive(SimpleObject)]
pub struct FileConnection {
    pub edges: Vec<FileEdge>,
    pub page_info: PageInfo,
}

/// Whether `name` matches W&B's file `pattern` (`%` and `*` match any run of characters).
pub fn matches_pattern(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split(['%', '*']).collect();
    let (first, rest) = match parts.split_first() {
        Some(split) => split,
        None => return true,
    };
    let Some(mut tail) = name.strip_prefix(first) else {
        return false;
    };
    for (i, part) in rest.iter().enumerate() {
        if i == rest.len() - 1 {
            return tail.ends_with(part);
        }
        match tail.find(part) {
            Some(at) => tail = &tail[at + part.len()..],
            None => return false,
        }
    }
    tail.is_empty()
}

/// One page of a run's files.
pub fn page(
    bucket: Bucket,
    files: Vec<RunFile>,
    first: i32,
    after: Option<&str>,
) -> FileConnection {
    let bucket = std::sync::Arc::new(bucket);
    let (edges, page_info) = crate::graphql::paging::of(files, after, first);
    FileConnection {
        edges: edges
            .into_iter()
            .map(|(file, cursor)| FileEdge {
                node: FileNode {
                    bucket: bucket.clone(),
                    file,
                },
                cursor,
            })
            .collect(),
        page_info,
    }
}

#[cfg(test)]
mod tests {
    use super::matches_pattern;

    #[test]
    fn patterns() {
        assert!(matches_pattern("%.json", "wandb-summary.json"));
        assert!(matches_pattern("code/*", "code/train.py"));
        assert!(matches_pattern("config.yaml", "config.yaml"));
        assert!(!matches_pattern("%.json", "config.yaml"));
        assert!(matches_pattern("a%b%c", "a-x-b-y-c") && !matches_pattern("a%b%c", "a-c-b"));
    }
}
