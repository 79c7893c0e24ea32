//! The credential parser: any bytes a client puts after `api:` in Basic auth.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(fulcrum::keys::Presented::Native { key_id, .. }) = fulcrum::keys::classify(text) {
            assert!(text.starts_with(&key_id), "a key's ID is its prefix");
        }
        let _ = fulcrum::keys::validate_sdk_shape(text);
    }
});
