//! Running many queries: from a query set to a TREC run.

use index_data::{Query, Run};

use crate::error::Result;
use crate::index::Engine;

/// Runs every query in lenient mode and keeps the top `depth` documents of each, scored by
/// BM25. A query that finds nothing is absent from the run.
pub fn bm25_run(engine: &Engine, queries: &[Query], depth: usize) -> Result<Run> {
    let mut run = Run::default();
    for q in queries {
        for (id, score) in engine.search_ids(&q.text, depth)? {
            run.push(&q.id, &id, f64::from(score));
        }
    }
    Ok(run)
}
