//! Request counts, latency histograms and reranker throughput, written as Prometheus text.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// What `GET /metrics` reports.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    pairs: AtomicU64,
    rerank_micros: AtomicU64,
    documents_written: AtomicU64,
    commits: AtomicU64,
    busy: Mutex<Busy>,
}

/// Wall time with at least one rerank in flight, so that pairs/s is the server's throughput
/// (concurrent requests share the cores; summing their times would divide by too much).
#[derive(Debug, Default)]
struct Busy {
    in_flight: usize,
    since: Option<Instant>,
    seconds: f64,
}

/// A rerank in flight (see [`Metrics::rerank_started`]).
#[derive(Debug)]
pub struct InFlight(());

impl Metrics {
    /// One finished request.
    pub fn record(&self, route: &str, status: u16, took: Duration) {
        let mut r = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *r.entry((route.to_owned(), status)).or_default() += 1;
        drop(r);
        let s = took.as_secs_f64();
        let mut l = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        let h = l.entry(route.to_owned()).or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += s;
    }

    /// `pairs` (query, passage) pairs scored by the cross-encoder in `took`.
    pub fn reranked(&self, pairs: usize, took: Duration) {
        self.pairs.fetch_add(pairs as u64, Ordering::Relaxed);
        self.rerank_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    /// A rerank begins; pass the token to [`Metrics::rerank_finished`].
    pub fn rerank_started(&self) -> InFlight {
        let mut b = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        if b.in_flight == 0 {
            b.since = Some(Instant::now());
        }
        b.in_flight += 1;
        InFlight(())
    }

    /// A rerank ended (successfully or not).
    pub fn rerank_finished(&self, _token: InFlight) {
        let mut b = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        b.in_flight = b.in_flight.saturating_sub(1);
        if b.in_flight == 0 {
            if let Some(t) = b.since.take() {
                b.seconds += t.elapsed().as_secs_f64();
            }
        }
    }

    /// Documents upserted or deleted.
    pub fn written(&self, n: usize) {
        self.documents_written
            .fetch_add(n as u64, Ordering::Relaxed);
    }

    /// A commit made.
    pub fn committed(&self) {
        self.commits.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self, documents: u64, batches: search::reranker::BatchStats) -> String {
        let mut out = String::new();
        out.push_str("# HELP search_requests_total Requests by route and status.\n");
        out.push_str("# TYPE search_requests_total counter\n");
        for ((route, status), n) in self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "search_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP search_request_seconds Request latency by route.\n");
        out.push_str("# TYPE search_request_seconds histogram\n");
        for (route, h) in self
            .latency
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "search_request_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "search_request_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "search_request_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "search_request_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        let pairs = self.pairs.load(Ordering::Relaxed);
        let secs = self.rerank_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let busy = {
            let b = self.busy.lock().unwrap_or_else(|p| p.into_inner());
            b.seconds + b.since.map_or(0.0, |t| t.elapsed().as_secs_f64())
        };
        out.push_str("# HELP search_reranked_pairs_total (query, passage) pairs scored.\n");
        out.push_str("# TYPE search_reranked_pairs_total counter\n");
        let _ = writeln!(out, "search_reranked_pairs_total {pairs}");
        out.push_str(
            "# HELP search_rerank_seconds_total Seconds of reranking, summed over requests.\n",
        );
        out.push_str("# TYPE search_rerank_seconds_total counter\n");
        let _ = writeln!(out, "search_rerank_seconds_total {secs}");
        out.push_str(
            "# HELP search_rerank_pairs_per_second Pairs scored per second of wall time with a rerank in flight.\n",
        );
        out.push_str("# TYPE search_rerank_pairs_per_second gauge\n");
        let rate = if busy > 0.0 { pairs as f64 / busy } else { 0.0 };
        let _ = writeln!(out, "search_rerank_pairs_per_second {rate}");
        out.push_str(
            "# HELP search_rerank_passes_total Model passes; concurrent searches share one when batched.\n",
        );
        out.push_str("# TYPE search_rerank_passes_total counter\n");
        let _ = writeln!(out, "search_rerank_passes_total {}", batches.passes);
        out.push_str("# HELP search_rerank_pass_pairs_total Pairs scored over all passes.\n");
        out.push_str("# TYPE search_rerank_pass_pairs_total counter\n");
        let _ = writeln!(out, "search_rerank_pass_pairs_total {}", batches.pairs);
        out.push_str("# TYPE search_documents_written_total counter\n");
        let _ = writeln!(
            out,
            "search_documents_written_total {}",
            self.documents_written.load(Ordering::Relaxed)
        );
        out.push_str("# TYPE search_commits_total counter\n");
        let _ = writeln!(
            out,
            "search_commits_total {}",
            self.commits.load(Ordering::Relaxed)
        );
        out.push_str("# TYPE search_documents gauge\n");
        let _ = writeln!(out, "search_documents {documents}");
        out
    }
}
