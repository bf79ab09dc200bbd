//! Index a BEIR collection, search it, and evaluate BM25 on its test queries.
//!
//! ```text
//! cargo run --release -p search --example basic_search -- ../shared/datasets/scifact
//! ```
//!
//! With no argument it indexes `../shared/datasets/scifact` relative to the workspace root.

use std::path::PathBuf;

use anyhow::Result;
use search::engine::{Analysis, Engine, IndexOptions};
use search::index_data::BeirDataset;
use search::metrics::{evaluate, EvalOptions, Measure};

fn main() -> Result<()> {
    let root = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets/scifact")
        });
    let dataset = BeirDataset::new(&root);

    // An index lives in a folder; here a temporary one.
    let dir = tempfile::tempdir()?;
    let engine = Engine::create(dir.path(), Analysis::default())?;

    // Documents stream from the corpus file; each is upserted by id, then committed.
    let stats = engine.index_documents(dataset.corpus()?, &IndexOptions::default(), &mut |_| {})?;
    println!(
        "indexed {} documents in {:.2} s",
        stats.indexed, stats.seconds
    );

    // A query as a person types it: punctuation is just text in the default (lenient) mode.
    let query = "Does vitamin D deficiency raise the risk of (multiple) sclerosis?";
    for (rank, hit) in engine.search(query, 3)?.iter().enumerate() {
        println!("{}. [{}] {:.2} {}", rank + 1, hit.id, hit.score, hit.title);
    }

    // Evaluate BM25 on the judged test queries, as trec_eval would.
    let qrels = dataset.qrels("test")?;
    let all = dataset
        .queries()?
        .collect::<search::index_data::Result<Vec<_>>>()?;
    let (queries, _) = search::index_data::judged_queries(all, &qrels);
    let run = search::bm25_run(&engine, &queries, 100)?;
    let measures = [Measure::Ndcg(Some(10)), Measure::Recall(100)];
    let result = evaluate(&qrels, &run, &measures, &EvalOptions::default());
    for (m, v) in measures.iter().zip(&result.mean) {
        println!("{m} = {v:.4} over {} queries", result.num_queries());
    }
    Ok(())
}
