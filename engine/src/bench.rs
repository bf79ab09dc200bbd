//! Measurements of indexing throughput and query latency, for `search-cli bench`.

use std::path::Path;
use std::time::Instant;

use index_data::{Document, Query};

use crate::error::Result;
use crate::index::{Engine, IndexOptions};
use crate::settings::Analysis;

/// Latency percentiles over repeated queries, in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Latency {
    /// Number of timed queries.
    pub count: usize,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Mean.
    pub mean_ms: f64,
}

impl Latency {
    /// Summarises durations given in seconds.
    pub fn from_seconds(mut samples: Vec<f64>) -> Latency {
        samples.sort_by(f64::total_cmp);
        let pct = |p: f64| {
            if samples.is_empty() {
                0.0
            } else {
                let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
                samples[i] * 1e3
            }
        };
        let mean = if samples.is_empty() {
            0.0
        } else {
            samples.iter().sum::<f64>() / samples.len() as f64 * 1e3
        };
        Latency {
            count: samples.len(),
            p50_ms: pct(0.5),
            p99_ms: pct(0.99),
            mean_ms: mean,
        }
    }
}

/// What [`bench_bm25`] measured.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Documents indexed.
    pub docs: u64,
    /// Indexing wall time in seconds, commit included, reading from memory.
    pub index_seconds: f64,
    /// Top-k ids and scores only.
    pub search_ids: Latency,
    /// Top-k with stored title and text loaded.
    pub search_hits: Latency,
}

/// Indexes `docs` (already in memory, so that parsing is not timed) into a fresh index at
/// `dir`, then runs every query `rounds` times for the top `k`, timing each call.
pub fn bench_bm25(
    dir: &Path,
    docs: Vec<Document>,
    queries: &[Query],
    k: usize,
    rounds: usize,
) -> Result<BenchReport> {
    let engine = Engine::create(dir, Analysis::default())?;
    let n = docs.len() as u64;
    let start = Instant::now();
    engine.index_documents(
        docs.into_iter().map(Ok),
        &IndexOptions::default(),
        &mut |_| {},
    )?;
    let index_seconds = start.elapsed().as_secs_f64();
    // One untimed pass warms the caches.
    for q in queries {
        engine.search_ids(&q.text, k)?;
    }
    let mut ids = Vec::new();
    let mut hits = Vec::new();
    for _ in 0..rounds {
        for q in queries {
            let t = Instant::now();
            std::hint::black_box(engine.search_ids(&q.text, k)?);
            ids.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            std::hint::black_box(engine.search(&q.text, k)?);
            hits.push(t.elapsed().as_secs_f64());
        }
    }
    Ok(BenchReport {
        docs: n,
        index_seconds,
        search_ids: Latency::from_seconds(ids),
        search_hits: Latency::from_seconds(hits),
    })
}

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
                crate::pipeline::passage_text(&d.title, &d.body),
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
) -> Result<Vec<f64>> {
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
) -> Result<Vec<f64>> {
    let refs = pair_refs(pairs);
    let mut out = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        std::hint::black_box(tokenizer.encode_pairs(&refs)?);
        out.push(t.elapsed().as_secs_f64());
    }
    Ok(out)
}

fn pair_refs(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
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
    pub latency: Latency,
    /// Pairs the cross-encoder scored per second of query time.
    pub pairs_per_s: f64,
    /// Mean nDCG@10 of the reranked, fused runs.
    pub ndcg10: f64,
}

/// Runs every query once through [`crate::search_reranked`] (after one untimed warm-up
/// query), timing each, and evaluates the results against `qrels`.
pub fn bench_pipeline(
    engine: &Engine,
    reranker: &dyn reranker::CrossEncoder,
    queries: &[Query],
    qrels: &index_data::Qrels,
    options: &crate::RerankOptions,
) -> Result<PipelineReport> {
    if let Some(q) = queries.first() {
        crate::search_reranked(engine, reranker, &q.text, 10, options)?;
    }
    let mut run = index_data::Run::default();
    let mut seconds = Vec::with_capacity(queries.len());
    let mut pairs = 0usize;
    for q in queries {
        let t = Instant::now();
        let hits = crate::search_reranked(engine, reranker, &q.text, options.depth, options)?;
        seconds.push(t.elapsed().as_secs_f64());
        pairs += hits.len();
        for h in &hits {
            run.push(&q.id, &h.hit.id, h.score);
        }
    }
    let total: f64 = seconds.iter().sum();
    let m = [crate::metrics::Measure::Ndcg(Some(10))];
    let eval = crate::metrics::evaluate(qrels, &run, &m, &Default::default());
    Ok(PipelineReport {
        latency: Latency::from_seconds(seconds),
        pairs_per_s: pairs as f64 / total.max(1e-12),
        ndcg10: eval.mean[0],
    })
}
