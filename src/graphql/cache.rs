//! Caches parsed documents by their text. The SDK sends the same few documents over and
//! over, and parsing is a large share of a small request's cost (see BENCHMARKS.md).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{ServerResult, Variables};
use parking_lot::RwLock;

pub struct DocumentCache {
    inner: Arc<Inner>,
}

struct Inner {
    capacity: usize,
    docs: RwLock<HashMap<String, ExecutableDocument>>,
}

impl DocumentCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                capacity,
                docs: RwLock::new(HashMap::new()),
            }),
        }
    }
}

impl ExtensionFactory for DocumentCache {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::clone(&self.inner) as Arc<dyn Extension>
    }
}

/// Documents longer than this are parsed every time rather than kept.
const MAX_CACHED_LEN: usize = 16 * 1024;

#[async_trait::async_trait]
impl Extension for Inner {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        if let Some(doc) = self.docs.read().get(query) {
            return Ok(doc.clone());
        }
        let doc = next.run(ctx, query, variables).await?;
        // Checked once per distinct document: a refused one is never cached.
        super::limits::check_mutations(&doc)?;
        if query.len() <= MAX_CACHED_LEN {
            let mut docs = self.docs.write();
            if docs.len() >= self.capacity {
                // Unbounded distinct documents mean someone is generating them; start over.
                docs.clear();
            }
            docs.insert(query.to_string(), doc.clone());
        }
        Ok(doc)
    }
}
