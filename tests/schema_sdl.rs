//! The GraphQL schema is a contract with every SDK version: it changes only on purpose.
//! Regenerate the checked-in file with `UPDATE_SDL=1 cargo test --test schema_sdl`.

#[test]
fn checked_in_sdl_matches_the_schema() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/fulcrum.graphql");
    let current = fulcrum::graphql::sdl();
    if std::env::var("UPDATE_SDL").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &current).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == current,
        "the GraphQL schema changed; review the change and run UPDATE_SDL=1 cargo test --test schema_sdl\n--- checked in\n{checked_in}\n--- now\n{current}"
    );
}
