//! Bounds and timings of the run path (`file_stream`, `upsertBucket`, crash detection).
//! Every size the SDK can send is bounded; the defaults hold any ordinary training run.

use super::layers::Reader;

/// The `run_*` and `file_stream_*` keys.
pub(super) const KEYS: &[&str] = &[
    "run_heartbeat_timeout_secs",
    "run_preempting_timeout_secs",
    "run_max_lines",
    "run_max_summary_bytes",
    "run_max_config_bytes",
    "file_stream_max_body_bytes",
    "file_stream_max_line_bytes",
    "file_stream_max_lines",
    "run_max_file_bytes",
];

#[derive(Debug, Clone)]
pub struct RunLimits {
    /// A running run with no request for this long is crashed (W&B's threshold: 5 minutes).
    pub heartbeat_timeout_secs: i64,
    /// A preempting run gets this long before it counts as preempted.
    pub preempting_timeout_secs: i64,
    /// History, system-metric and console lines kept per run, each.
    pub max_lines: i64,
    pub max_summary_bytes: usize,
    pub max_config_bytes: usize,
    pub file_stream_max_body_bytes: usize,
    pub file_stream_max_line_bytes: usize,
    /// Lines in one `file_stream` request, all streams together.
    pub file_stream_max_lines: usize,
    /// One uploaded run file (the SDK's own, `wandb.save()`'s, saved code).
    pub max_file_bytes: u64,
}

impl RunLimits {
    pub(super) fn read(r: &Reader<'_>) -> anyhow::Result<RunLimits> {
        const MIB: i64 = 1024 * 1024;
        Ok(RunLimits {
            heartbeat_timeout_secs: r.int("run_heartbeat_timeout_secs", 300, 5, 7 * 86_400)?,
            preempting_timeout_secs: r.int("run_preempting_timeout_secs", 3_600, 5, 7 * 86_400)?,
            max_lines: r.int("run_max_lines", 10_000_000, 1, 1_000_000_000)?,
            max_summary_bytes: r.int("run_max_summary_bytes", 4 * MIB, 1024, 256 * MIB)? as usize,
            max_config_bytes: r.int("run_max_config_bytes", 4 * MIB, 1024, 256 * MIB)? as usize,
            file_stream_max_body_bytes: r.int(
                "file_stream_max_body_bytes",
                32 * MIB,
                1024,
                1024 * MIB,
            )? as usize,
            file_stream_max_line_bytes: r.int(
                "file_stream_max_line_bytes",
                4 * MIB,
                256,
                256 * MIB,
            )? as usize,
            file_stream_max_lines: r.int("file_stream_max_lines", 20_000, 1, 10_000_000)? as usize,
            max_file_bytes: r.int("run_max_file_bytes", 1024 * MIB, 1, 1 << 40)? as u64,
        })
    }

    /// How long a *Run crashed* alert waits for a run marked crashed to send again (it was
    /// only quiet, and is announced as nothing): half the heartbeat timeout, at most a
    /// minute, so a false alarm costs nobody a page and a real crash little time.
    pub fn crash_alert_settle_ms(&self) -> i64 {
        (self.heartbeat_timeout_secs * 1000 / 2).min(60_000)
    }

    /// How often every instance looks for silent runs: often enough that a crash is seen
    /// within a few percent of the timeout.
    pub fn sweep_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs((self.heartbeat_timeout_secs / 10).clamp(1, 30) as u64)
    }
}
