//! Measurements of indexing throughput and BM25 query latency, for `search-cli bench`.

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
