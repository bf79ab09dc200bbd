//! `search-cli bench`: indexing and BM25 latency on a collection of yours (the comparisons
//! with other stacks are in the `search-bench` binary).

use anyhow::Result;
use index_data::JsonlFields;

use crate::args::BenchArgs;
use crate::output;

pub fn bench(a: BenchArgs) -> Result<()> {
    let docs: Vec<_> = index_data::open_documents(a.format, &a.path, &JsonlFields::default())?
        .collect::<index_data::Result<_>>()?;
    let queries_path = a.queries.clone().unwrap_or_else(|| a.path.clone());
    let queries = index_data::read_queries(&queries_path)?;
    let mut reports = Vec::new();
    for _ in 0..a.index_rounds.max(1) {
        let dir = tempfile::tempdir()?;
        let rounds = if reports.is_empty() { a.rounds } else { 0 };
        reports.push(engine::bench::bench_bm25(
            dir.path(),
            docs.clone(),
            &queries,
            a.k,
            rounds,
        )?);
    }
    output::print_bench(&reports, queries.len(), a.k);
    Ok(())
}
