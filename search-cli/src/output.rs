//! Printing: tables for people, JSON for programs, a progress bar on stderr.

use std::io::Write;

use engine::bench::BenchReport;
use engine::metrics::Evaluation;
use engine::{Hit, IndexStats};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

/// A spinner with a running count and rate; hidden when stderr is not a terminal.
pub fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {pos} documents ({per_sec}) {elapsed}")
            .expect("valid template"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

pub fn print_index_stats(s: &IndexStats, total: u64) {
    println!(
        "indexed {} documents ({} replaced an existing id), skipped {} bad records, in {:.2} s ({:.0} docs/s); the index holds {total} documents",
        s.indexed, s.replaced, s.skipped, s.seconds, s.docs_per_second()
    );
    for e in &s.skip_examples {
        println!("  skipped: {e}");
    }
    if s.skipped as usize > s.skip_examples.len() {
        println!(
            "  ... and {} more",
            s.skipped as usize - s.skip_examples.len()
        );
    }
}

/// The first `max` characters of `text` with white space collapsed.
fn snippet(text: &str, max: usize) -> String {
    let mut out = String::new();
    for word in text.split_whitespace() {
        if out.chars().count() + word.chars().count() + 1 > max {
            out.push_str(" ...");
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

pub fn write_hits_table(out: &mut impl Write, hits: &[Hit]) -> std::io::Result<()> {
    if hits.is_empty() {
        writeln!(out, "no hits")?;
    }
    for (i, h) in hits.iter().enumerate() {
        writeln!(
            out,
            "{:>3}. {:<12} {:>8.3}  {}",
            i + 1,
            h.id,
            h.score,
            snippet(&h.title, 80)
        )?;
        writeln!(out, "     {}", snippet(&h.text, 160))?;
    }
    Ok(())
}

pub fn write_hits_json(out: &mut impl Write, query: &str, hits: &[Hit]) -> std::io::Result<()> {
    let hits: Vec<_> = hits
        .iter()
        .enumerate()
        .map(|(i, h)| {
            json!({"rank": i + 1, "id": h.id, "score": h.score, "title": h.title,
                   "snippet": snippet(&h.text, 240)})
        })
        .collect();
    serde_json::to_writer_pretty(&mut *out, &json!({"query": query, "hits": hits}))?;
    writeln!(out)
}

pub fn write_eval_table(
    out: &mut impl Write,
    e: &Evaluation,
    queries_run: usize,
    per_query: bool,
) -> std::io::Result<()> {
    if per_query {
        for (qid, values) in &e.per_query {
            for (m, v) in e.measures.iter().zip(values) {
                writeln!(out, "{:<14} {:<10} {v:.4}", m.to_string(), qid)?;
            }
        }
    }
    writeln!(out, "{:<14} {}", "queries", e.num_queries())?;
    for (m, v) in e.measures.iter().zip(&e.mean) {
        writeln!(out, "{:<14} {v:.4}", m.to_string())?;
    }
    if queries_run != e.num_queries() {
        writeln!(
            out,
            "({queries_run} queries run; {} averaged)",
            e.num_queries()
        )?;
    }
    Ok(())
}

pub fn write_eval_json(
    out: &mut impl Write,
    e: &Evaluation,
    queries_run: usize,
    per_query: bool,
) -> std::io::Result<()> {
    let mean: serde_json::Map<_, _> = e
        .measures
        .iter()
        .zip(&e.mean)
        .map(|(m, v)| (m.to_string(), json!(v)))
        .collect();
    let mut doc = json!({"queries": e.num_queries(), "queries_run": queries_run, "mean": mean});
    if per_query {
        let pq: serde_json::Map<_, _> = e
            .per_query
            .iter()
            .map(|(q, vs)| {
                let m: serde_json::Map<_, _> = e
                    .measures
                    .iter()
                    .zip(vs)
                    .map(|(m, v)| (m.to_string(), json!(v)))
                    .collect();
                (q.clone(), serde_json::Value::Object(m))
            })
            .collect();
        doc["per_query"] = serde_json::Value::Object(pq);
    }
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

pub fn print_bench(reports: &[BenchReport], queries: usize, k: usize) {
    let mut secs: Vec<f64> = reports.iter().map(|r| r.index_seconds).collect();
    secs.sort_by(f64::total_cmp);
    let docs = reports[0].docs as f64;
    let median = secs[secs.len() / 2];
    println!(
        "indexing: {} docs, best {:.3} s ({:.0} docs/s), median {:.3} s ({:.0} docs/s) over {} runs",
        reports[0].docs,
        secs[0],
        docs / secs[0],
        median,
        docs / median,
        secs.len()
    );
    for (name, l) in [
        ("top-k ids", &reports[0].search_ids),
        ("top-k hits+text", &reports[0].search_hits),
    ] {
        println!(
            "query {name} (k={k}, {queries} queries x {} timings): p50 {:.3} ms, p99 {:.3} ms, mean {:.3} ms",
            l.count / queries.max(1),
            l.p50_ms,
            l.p99_ms,
            l.mean_ms
        );
    }
}
