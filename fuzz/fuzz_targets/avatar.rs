//! Avatar decoding: any upload is re-encoded within its bounds or refused, never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(sizes) = fulcrum::images::process_avatar(data) {
        assert!(!sizes.is_empty());
    }
});
