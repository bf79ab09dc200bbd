//! Measurements behind the benchmark commands: real (query, passage) pairs, scoring and
//! tokenizer timings, and one query end to end through the rerank pipeline.

use std::time::Instant;

use index_data::{Document, Query};

/// `n` real (query, passage) pairs for reranker benchmarks: query `i mod |queries|` with
/// document `i`'s title + text, so passage lengths follow the corpus.
pub fn bench_pairs(queries: &[Query], docs: &[Document], n: usize) -> Vec<(String, String)> {
    if queries.is_empty() || docs.is_empty() {
        return Vec::new();
    }
    (0..n)
        .map(|i| {
            let d = &docs[i % docs.len()];
            (
                queries[i % queries.len()].text.clone(),
                search::passage_text(&d.title, &d.body),
            )
        })
        .collect()
}

/// Seconds to score all `pairs` in one call, for each of `rounds` rounds (after one warm-up
/// call on a few pairs). Tokenization is included.
pub fn time_scoring(
    model: &dyn reranker::CrossEncoder,
    pairs: &[(String, String)],
    rounds: usize,
) -> anyhow::Result<Vec<f64>> {
    let refs = pair_refs(pairs);
    model.score_pairs(&refs[..refs.len().min(32)])?;
    let mut out = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        std::hint::black_box(model.score_pairs(&refs)?);
        out.push(t.elapsed().as_secs_f64());
    }
    Ok(out)
}

/// Seconds to tokenize all `pairs`, for each of `rounds` rounds.
pub fn time_tokenizer(
    tokenizer: &reranker::PairTokenizer,
    pairs: &[(String, String)],
    rounds: usize,
) -> anyhow::Result<Vec<f64>> {
    let refs = pair_refs(pairs);
    let mut out = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        std::hint::black_box(tokenizer.encode_pairs(&refs)?);
        out.push(t.elapsed().as_secs_f64());
    }
    Ok(out)
}

/// The pairs as the `CrossEncoder` API takes them.
pub fn pair_refs(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    pairs
        .iter()
        .map(|(q, p)| (q.as_str(), p.as_str()))
        .collect()
}

/// What [`bench_pipeline`] measured for one setting.
#[derive(Debug, Clone)]
pub struct PipelineReport {
    /// End-to-end latency of one query: BM25, stored text, tokenization, the cross-encoder
    /// and fusion.
    pub latency: engine::bench::Latency,
    /// Pairs the cross-encoder scored per second of query time.
    pub pairs_per_s: f64,
    /// Mean nDCG@10 of the reranked, fused runs.
    pub ndcg10: f64,
}

/// Runs every query once through [`search::search_reranked`] (after one untimed warm-up
/// query), timing each, and evaluates the results against `qrels`.
pub fn bench_pipeline(
    engine: &engine::Engine,
    reranker: &dyn reranker::CrossEncoder,
    queries: &[Query],
    qrels: &index_data::Qrels,
    options: &search::RerankOptions,
) -> anyhow::Result<PipelineReport> {
    if let Some(q) = queries.first() {
        search::search_reranked(engine, reranker, &q.text, 10, options)?;
    }
    let mut run = index_data::Run::default();
    let mut seconds = Vec::with_capacity(queries.len());
    let mut pairs = 0usize;
    for q in queries {
        let t = Instant::now();
        let hits = search::search_reranked(engine, reranker, &q.text, options.depth, options)?;
        seconds.push(t.elapsed().as_secs_f64());
        pairs += hits.len();
        for h in &hits {
            run.push(&q.id, &h.hit.id, h.score);
        }
    }
    let total: f64 = seconds.iter().sum();
    let m = [engine::metrics::Measure::Ndcg(Some(10))];
    let eval = engine::metrics::evaluate(qrels, &run, &m, &Default::default());
    Ok(PipelineReport {
        latency: engine::bench::Latency::from_seconds(seconds),
        pairs_per_s: pairs as f64 / total.max(1e-12),
        ndcg10: eval.mean[0],
    })
}
