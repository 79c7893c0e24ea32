//! Per-request bounds on mutations. Aliases let one request repeat a mutation many times:
//! ten `updateIntro`s cost ten Markdown renders, and ninety-nine `generateApiKey`s past the
//! key cap would create keys whose secrets nobody ever sees. The SDK and the web UI send one
//! mutation per request, so a document is refused as a whole, before anything runs, when it
//! asks for more than a few, or for an expensive one twice.

use std::collections::HashMap;

use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::{ErrorExtensionValues, ServerError};

/// Root mutation fields one request may carry.
pub const MAX_MUTATIONS_PER_REQUEST: usize = 10;

/// Mutations that may appear once per request: each renders, hashes or shows a secret once.
const ONCE_PER_REQUEST: &[&str] = &[
    "updateIntro",
    "generateApiKey",
    "createServiceAccountApiKey",
    "createUser",
];

fn refused(message: String) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut ext = ErrorExtensionValues::default();
    ext.set("code", crate::error::ErrorCode::TooManyMutations.as_str());
    error.extensions = Some(ext);
    error
}

/// Counts root fields, following fragments at the root (depth-bounded by the parser).
fn count_roots<'a>(
    doc: &'a ExecutableDocument,
    set: &'a SelectionSet,
    counts: &mut HashMap<&'a str, usize>,
    total: &mut usize,
    depth: usize,
) {
    if depth > 8 {
        return;
    }
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => {
                *total += 1;
                *counts.entry(field.node.name.node.as_str()).or_default() += 1;
            }
            Selection::InlineFragment(f) => {
                count_roots(doc, &f.node.selection_set.node, counts, total, depth + 1)
            }
            Selection::FragmentSpread(spread) => {
                if let Some(f) = doc.fragments.get(&spread.node.fragment_name.node) {
                    count_roots(doc, &f.node.selection_set.node, counts, total, depth + 1);
                }
            }
        }
    }
}

/// Refuses a document with a mutation operation over the bounds.
pub fn check_mutations(doc: &ExecutableDocument) -> Result<(), ServerError> {
    for (_, op) in doc.operations.iter() {
        if op.node.ty != OperationType::Mutation {
            continue;
        }
        let mut counts = HashMap::new();
        let mut total = 0;
        count_roots(doc, &op.node.selection_set.node, &mut counts, &mut total, 0);
        if total > MAX_MUTATIONS_PER_REQUEST {
            return Err(refused(format!(
                "a request may carry at most {MAX_MUTATIONS_PER_REQUEST} mutations; this one has {total}"
            )));
        }
        for name in ONCE_PER_REQUEST {
            if counts.get(name).copied().unwrap_or(0) > 1 {
                return Err(refused(format!(
                    "{name} may appear once per request; send one request for each"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(query: &str) -> Result<(), ServerError> {
        check_mutations(&async_graphql::parser::parse_query(query).unwrap())
    }

    #[test]
    fn one_of_each_passes_and_aliases_are_counted() {
        assert!(check("mutation { generateApiKey(input: {}) { apiKey { name } } }").is_ok());
        assert!(check("query { a: viewer { id } b: viewer { id } }").is_ok());
        let twice = "mutation { a: generateApiKey(input: {}) { apiKey { name } } b: generateApiKey(input: {}) { apiKey { name } } }";
        assert!(check(twice).is_err());
        let via_fragment = "mutation { a: updateIntro(input: {intro: \"x\"}) { user { id } } ...F } fragment F on Mutation { b: updateIntro(input: {intro: \"y\"}) { user { id } } }";
        assert!(check(via_fragment).is_err());
        let many: String = (0..11)
            .map(|i| format!("a{i}: updateProfile(input: {{}}) {{ user {{ id }} }} "))
            .collect();
        let err = check(&format!("mutation {{ {many} }}")).unwrap_err();
        assert!(err.message.contains("at most 10"), "{}", err.message);
    }
}
