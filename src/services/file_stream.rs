//! `file_stream`: what a live run sends every few seconds. Every line is checked against
//! the configured bounds before anything is written, so a bad request changes nothing and
//! gets a 4xx the SDK does not retry; a good one is written in one transaction and
//! acknowledged only after it committed.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::runs::RunPath;
use super::{Actor, Services};
use crate::config::RunLimits;
use crate::error::{ApiError, ErrorCode};
use crate::store::{RunState, Stream, StreamLines, StreamOutcome, StreamWrite};

/// The request body, as the SDK sends it. Unknown keys are ignored (newer SDKs add some).
#[derive(Debug, Default, Deserialize)]
pub struct FileStreamBody {
    #[serde(default)]
    pub files: BTreeMap<String, FileChunk>,
    #[serde(default)]
    pub uploaded: Vec<String>,
    #[serde(default)]
    pub preempting: bool,
    #[serde(default)]
    pub complete: bool,
    #[serde(default)]
    pub exitcode: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct FileChunk {
    pub offset: i64,
    #[serde(default)]
    pub content: Vec<String>,
}

const HISTORY: &str = "wandb-history.jsonl";
const EVENTS: &str = "wandb-events.jsonl";
const OUTPUT: &str = "output.log";
const SUMMARY: &str = "wandb-summary.json";

fn invalid(message: String) -> ApiError {
    ApiError::bad_request(ErrorCode::FileStreamInvalid, message)
}

fn too_large(message: String) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::RunTooLarge,
        message,
    )
}

fn stream_of(name: &str) -> Option<Stream> {
    match name {
        HISTORY => Some(Stream::History),
        EVENTS => Some(Stream::Events),
        OUTPUT => Some(Stream::Output),
        _ => None,
    }
}

/// A program's console can print NUL bytes, which no database text column keeps
/// (PostgreSQL refuses them): they become U+FFFD, as undecodable bytes already do.
fn without_nul(line: String) -> String {
    if line.contains('\0') {
        line.replace('\0', "\u{FFFD}")
    } else {
        line
    }
}

/// A `file_stream` body as JSON. Blank is the SDK's heartbeat; anything but an object is
/// refused (serde would read a JSON array as the body's fields in order).
pub fn parse_body(bytes: &[u8]) -> Result<FileStreamBody, ApiError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => Ok(FileStreamBody::default()),
        Some(b'{') => serde_json::from_slice(bytes).map_err(|e| {
            ApiError::bad_request(
                ErrorCode::InvalidJson,
                format!("the file_stream body is not valid: {e}"),
            )
        }),
        Some(_) => Err(ApiError::bad_request(
            ErrorCode::InvalidJson,
            "the file_stream body must be a JSON object",
        )),
    }
}

/// What a checked body writes: its lines by stream, and the summary.
#[derive(Debug, Default)]
pub struct CheckedLines {
    pub lines: Vec<StreamLines>,
    pub summary: Option<String>,
}

/// Checks every chunk of a body against the run bounds: line counts and sizes, offsets,
/// JSON objects where JSON is due, the summary. Files the server does not keep (newer
/// SDKs' extras) are skipped, not refused.
pub fn check_files(
    limits: &RunLimits,
    files: BTreeMap<String, FileChunk>,
) -> Result<CheckedLines, ApiError> {
    let total: usize = files.values().map(|c| c.content.len()).sum();
    if total > limits.file_stream_max_lines {
        return Err(too_large(format!(
            "{total} lines in one request; this server accepts at most {}",
            limits.file_stream_max_lines
        )));
    }
    let mut checked = CheckedLines::default();
    for (name, chunk) in files {
        if name == SUMMARY {
            if let Some(last) = chunk.content.last() {
                checked.summary = Some(summary_line(limits, last)?);
            }
            continue;
        }
        let Some(stream) = stream_of(&name) else {
            continue;
        };
        let end = chunk.offset.checked_add(chunk.content.len() as i64);
        if chunk.offset < 0 || end.is_none_or(|e| e > limits.max_lines) {
            return Err(too_large(format!(
                "{name}: lines from offset {} exceed this server's {} lines per run",
                chunk.offset, limits.max_lines
            )));
        }
        let mut steps = Vec::with_capacity(chunk.content.len());
        for (i, line) in chunk.content.iter().enumerate() {
            steps.push(check_line(
                limits,
                &name,
                chunk.offset + i as i64,
                line,
                stream,
            )?);
        }
        checked.lines.push(StreamLines {
            stream,
            offset: chunk.offset,
            lines: chunk.content.into_iter().map(without_nul).collect(),
            steps,
        });
    }
    Ok(checked)
}

/// Checks one line; a history row's `_step` comes back.
fn check_line(
    limits: &RunLimits,
    file: &str,
    at: i64,
    line: &str,
    stream: Stream,
) -> Result<Option<i64>, ApiError> {
    let max = limits.file_stream_max_line_bytes;
    if line.len() > max {
        return Err(too_large(format!(
            "{file} line {at} is {} bytes; this server accepts at most {max}",
            line.len()
        )));
    }
    if stream == Stream::Output {
        return Ok(None);
    }
    match serde_json::from_str(line) {
        Ok(serde_json::Value::Object(row)) => Ok(row
            .get("_step")
            .and_then(|s| s.as_i64().or_else(|| s.as_f64().map(|f| f as i64)))),
        _ => Err(invalid(format!("{file} line {at} is not a JSON object"))),
    }
}

fn summary_line(limits: &RunLimits, line: &str) -> Result<String, ApiError> {
    let max = limits.max_summary_bytes;
    if line.len() > max {
        return Err(too_large(format!(
            "the summary is {} bytes; this server accepts at most {max}",
            line.len()
        )));
    }
    match serde_json::from_str(line) {
        Ok(serde_json::Value::Object(_)) => Ok(line.to_string()),
        _ => Err(invalid(format!("{SUMMARY} is not a JSON object"))),
    }
}

impl Services {
    /// Checks a request against the bounds and turns it into one store write.
    fn stream_write(&self, run_id: i64, body: FileStreamBody) -> Result<StreamWrite, ApiError> {
        let checked = check_files(&self.config.runs, body.files)?;
        Ok(StreamWrite {
            run_id,
            lines: checked.lines,
            summary: checked.summary,
            preempting: body.preempting,
            exit_code: body.complete.then(|| body.exitcode.unwrap_or(0)),
            now: crate::now_ms(),
            on_transition: if body.complete {
                self.run_alert_jobs(&[RunState::Finished, RunState::Failed])
            } else {
                vec![]
            },
        })
    }

    /// Applies one `file_stream` request to `entity/project/run`.
    pub async fn file_stream(
        &self,
        actor: &Actor,
        path: RunPath<'_>,
        body: FileStreamBody,
    ) -> Result<StreamOutcome, ApiError> {
        let bucket = self.writable_run(actor, path, "write to").await?;
        let write = self.stream_write(bucket.run.id, body)?;
        let outcome = self.store.stream_write(write).await?;
        if outcome.transition.is_some() {
            self.job_wake.wake();
        }
        Ok(outcome)
    }
}
