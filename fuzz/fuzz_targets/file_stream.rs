//! The SDK's file_stream body: parsed, then checked against the run bounds.
#![no_main]

use std::sync::OnceLock;

static LIMITS: OnceLock<fulcrum::config::RunLimits> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let limits = LIMITS.get_or_init(|| {
        fulcrum::config::Config::load_from(&Default::default(), &[])
            .expect("default configuration")
            .runs
    });
    if let Ok(body) = fulcrum::services::file_stream::parse_body(data) {
        if let Ok(checked) = fulcrum::services::file_stream::check_files(limits, body.files) {
            for chunk in checked.lines {
                assert!(chunk.offset >= 0);
                assert!(chunk.lines.iter().all(|l| !l.contains('\0')));
            }
        }
    }
});
