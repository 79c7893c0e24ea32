//! GraphQL documents through the real schema: parser, validation, depth, complexity and
//! the mutation limits. No request context is given, so no resolver reaches a store.
#![no_main]

use std::sync::OnceLock;

static SCHEMA: OnceLock<fulcrum::graphql::FulcrumSchema> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let schema = SCHEMA.get_or_init(|| {
        let config = fulcrum::config::Config::load_from(&Default::default(), &[])
            .expect("default configuration");
        fulcrum::graphql::build_schema(&config)
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let _ = runtime.block_on(schema.execute(text));
});
