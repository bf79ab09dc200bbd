//! Printing: tables for people, JSON for programs.

use std::io::Write;

use engine::bench::BenchReport;
use engine::metrics::Evaluation;
use engine::{Hit, IndexStats};
use search::{RerankedHit, Reranker};
use serde_json::json;

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

/// `text` safe to print to a terminal: control characters (escape sequences, carriage
/// returns, bells, line ends ...) and the bidirectional overrides that reorder what a
/// terminal shows are written as `\u{..}` instead of acting on the terminal. JSON output is
/// written as it is (its encoder escapes them).
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if (c.is_control() && c != '\t') || bidi {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// The first `max` characters of `text` with white space collapsed, safe to print.
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
    printable(&out)
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
            printable(&h.id),
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
            json!({"rank": i + 1, "id": h.id, "score": h.score, "bm25": h.score,
                   "title": h.title, "snippet": snippet(&h.text, 240)})
        })
        .collect();
    serde_json::to_writer_pretty(
        &mut *out,
        &json!({"query": query, "mode": "bm25", "hits": hits}),
    )?;
    writeln!(out)
}

/// One row per system, one column per measure.
pub fn write_eval_table(
    out: &mut impl Write,
    systems: &[(String, Evaluation)],
    queries_run: usize,
    per_query: bool,
) -> std::io::Result<()> {
    let Some((_, first)) = systems.first() else {
        return Ok(());
    };
    if per_query {
        for (name, e) in systems {
            for (qid, values) in &e.per_query {
                for (m, v) in e.measures.iter().zip(values) {
                    writeln!(out, "{}\t{m}\t{}\t{v:.4}", printable(name), printable(qid))?;
                }
            }
        }
    }
    let width = systems
        .iter()
        .map(|(n, _)| n.len())
        .max()
        .unwrap_or(6)
        .max(6);
    write!(out, "{:<width$}", "system")?;
    for m in &first.measures {
        write!(out, " {:>10}", m.to_string())?;
    }
    writeln!(out)?;
    for (name, e) in systems {
        write!(out, "{name:<width$}")?;
        for v in &e.mean {
            write!(out, " {v:>10.4}")?;
        }
        writeln!(out)?;
    }
    write!(out, "{} queries averaged", first.num_queries())?;
    if queries_run != first.num_queries() {
        write!(out, " ({queries_run} run)")?;
    }
    writeln!(out)
}

fn means(e: &Evaluation) -> serde_json::Map<String, serde_json::Value> {
    e.measures
        .iter()
        .zip(&e.mean)
        .map(|(m, v)| (m.to_string(), json!(v)))
        .collect()
}

/// `{"queries": N, "queries_run": N, "systems": [{"system", "mean": {...}, "per_query"?}]}`.
pub fn write_eval_json(
    out: &mut impl Write,
    systems: &[(String, Evaluation)],
    queries_run: usize,
    per_query: bool,
) -> std::io::Result<()> {
    let rows: Vec<_> = systems
        .iter()
        .map(|(name, e)| {
            let mut row = json!({"system": name, "mean": means(e)});
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
                row["per_query"] = serde_json::Value::Object(pq);
            }
            row
        })
        .collect();
    let n = systems.first().map_or(0, |(_, e)| e.num_queries());
    let mut doc = json!({"queries": n, "queries_run": queries_run, "systems": rows});
    if let Some((_, e)) = systems.last() {
        // The last system's means (the one --run-out writes) at the top level, for `jq .mean`.
        doc["mean"] = serde_json::Value::Object(means(e));
    }
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

pub fn write_reranked_table(out: &mut impl Write, hits: &[RerankedHit]) -> std::io::Result<()> {
    if hits.is_empty() {
        writeln!(out, "no hits")?;
    }
    for (i, h) in hits.iter().enumerate() {
        writeln!(
            out,
            "{:>3}. {:<12} {:>6.3} (bm25 {:>7.3}, ce {:>7.3})  {}",
            i + 1,
            printable(&h.hit.id),
            h.score,
            h.hit.score,
            h.ce_score,
            snippet(&h.hit.title, 70)
        )?;
        writeln!(out, "     {}", snippet(&h.hit.text, 160))?;
    }
    Ok(())
}

pub fn write_reranked_json(
    out: &mut impl Write,
    query: &str,
    reranker: &Reranker,
    hits: &[RerankedHit],
) -> std::io::Result<()> {
    let hits: Vec<_> = hits
        .iter()
        .enumerate()
        .map(|(i, h)| {
            json!({"rank": i + 1, "id": h.hit.id, "score": h.score, "bm25": h.hit.score,
                   "ce": h.ce_score, "title": h.hit.title, "snippet": snippet(&h.hit.text, 240)})
        })
        .collect();
    let doc = json!({"query": query, "mode": "reranked", "model": reranker.label(),
        "alpha": reranker.alpha(), "depth": reranker.depth(), "hits": hits});
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

pub fn print_listing(l: &index_data::DirListing) {
    println!(
        "folder: {} files read; left out: {} without a text ending or --include match, {} --exclude matches, {} not plain files",
        l.files, l.not_included, l.excluded, l.not_files
    );
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

pub fn print_retrain(r: &trainer::RetrainReport, out: &std::path::Path) {
    let state = &r.state;
    let d = &r.data;
    println!(
        "data: {} judged and {} pseudo training queries; {} dev queries ({})",
        d.labeled_train_queries,
        d.pseudo_queries,
        d.dev_queries,
        match d.dev_kind {
            Some(trainer::DevKind::Judged) => "held-out judged queries",
            Some(trainer::DevKind::Pseudo) => "held-out pseudo-queries, label-free",
            None => "none",
        }
    );
    if d.filter.filter.is_some() {
        let (all, kept) = d.filter.totals();
        let kinds: Vec<String> = d
            .filter
            .by_kind
            .iter()
            .map(|(k, (n, kept))| format!("{k} {kept}/{n}"))
            .collect();
        println!(
            "consistency filter kept {kept} of {all} training queries ({})",
            kinds.join(", ")
        );
    }
    for (path, n) in &r.data.extra_groups {
        println!("added {n} training groups from {}", path.display());
    }
    if d.passages > 1 {
        println!(
            "long documents read as up to {} passages (MaxP) in training and on dev; query and eval read the student so",
            d.passages
        );
    }
    println!(
        "trained {} steps on {} groups ({} dropped), loss {:?}",
        state.step, state.groups, state.groups_dropped, state.config.loss
    );
    if let Some(step) = state.stopped_early() {
        println!(
            "stopped early at step {step} of {}: {} evaluation points without a better dev score (--patience)",
            state.total_steps, state.config.patience
        );
    }
    for e in &state.history {
        println!(
            "  step {:>5}  loss {:.4}  pairs {:>7}  {:>7.1} s  ({:.1} pairs/s)  dev nDCG@10 alone {}  fused {}{}",
            e.step,
            e.loss,
            e.pairs,
            e.seconds,
            e.pairs as f64 / e.seconds.max(1e-9),
            e.dev_ndcg10.map_or("-".into(), |v| format!("{v:.4}")),
            e.dev_ndcg10_fused.map_or("-".into(), |v| format!("{v:.4}")),
            e.dev_alpha.map_or(String::new(), |a| format!(" (a={a:.1})")),
        );
    }
    if let Some((best, step)) = state.best {
        println!(
            "best checkpoint: step {step} (dev nDCG@10 {best:.4}, {:?})",
            state.config.select
        );
    }
    let c = &r.costs;
    println!(
        "cost: teacher scored {} new pairs ({} in the groups) in {}; training {}; selection {}",
        c.teacher_pairs,
        c.group_pairs,
        crate::progress::human(c.scoring_seconds),
        crate::progress::human(c.training_seconds),
        crate::progress::human(c.selection_seconds)
    );
    let f = &r.fusion;
    if f.beats_bm25 {
        println!(
            "expected gain: +{:.4} nDCG@10 over BM25 on the dev queries, fused at alpha {:.1} ({})",
            f.gain, f.alpha, f.chosen_on
        );
    } else {
        println!(
            "the student does NOT beat BM25 on the dev queries: its fusion weight is 1.0 (BM25 alone) ({})",
            f.chosen_on
        );
    }
    for note in &r.notes {
        eprintln!("note: {note}");
    }
    println!(
        "student: {} (use: search-cli query --rerank {}; fusion weight in fusion.json)",
        out.display(),
        out.display()
    );
}

pub fn print_queries(
    train: &[trainer::TrainQuery],
    dev: &[trainer::TrainQuery],
    out: &std::path::Path,
) {
    for (split, qs) in [("training", train), ("dev", dev)] {
        let mut by_kind: std::collections::BTreeMap<String, Vec<&trainer::TrainQuery>> =
            Default::default();
        for q in qs {
            let kind = q.kind.map_or("judged".into(), |k| k.to_string());
            by_kind.entry(kind).or_default().push(q);
        }
        println!("{} {split} queries", qs.len());
        for (kind, qs) in by_kind {
            println!("  {kind}: {}", qs.len());
            for q in qs.iter().take(5) {
                println!(
                    "    {:<24} {}",
                    snippet(&q.positives.join(","), 24),
                    snippet(&q.text, 100)
                );
            }
        }
    }
    println!("all of them: {}", out.join("queries.jsonl").display());
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn terminal_controls_are_escaped_and_text_is_kept() {
        let evil = "evil\u{1b}]0;pwned\u{7}\u{1b}[2J\r\nnext\u{202e}txt.exe";
        let p = printable(evil);
        assert!(!p.chars().any(|c| c.is_control()), "{p}");
        assert!(!p.contains('\u{202e}'), "{p}");
        assert_eq!(
            p,
            "evil\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{d}\\u{a}next\\u{202e}txt.exe"
        );
        assert_eq!(printable("caf\u{e9}\tdone"), "caf\u{e9}\tdone");
    }
}
