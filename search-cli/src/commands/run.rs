//! `search-cli run`: a whole topics file through one process (the index and the reranker
//! loaded once), written as a TREC run or JSON lines, every query's lines in rank order.

use std::io::{BufRead, Write};

use anyhow::{bail, Context, Result};
use engine::Engine;
use index_data::Query;
use search::Reranker;

use crate::args::RunArgs;
use crate::progress::StageProgress;

fn read_topics(spec: &str) -> Result<Vec<Query>> {
    if spec != "-" {
        return Ok(index_data::read_queries(spec)?);
    }
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line.with_context(|| format!("standard input, line {}", i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let (id, text) = match line.split_once('\t') {
            Some((id, text)) if !id.trim().is_empty() => (id.trim().to_owned(), text.to_owned()),
            _ => ((i + 1).to_string(), line),
        };
        if !seen.insert(id.clone()) {
            bail!(
                "standard input, line {}: query id `{id}` was already given",
                i + 1
            );
        }
        out.push(Query { id, text });
    }
    Ok(out)
}

pub fn run(a: RunArgs) -> Result<()> {
    let engine = Engine::open(&a.index)?;
    let topics = read_topics(&a.topics)?;
    let reranker = if a.no_rerank {
        None
    } else {
        let mut r = Reranker::choose(&a.index, a.model.rerank.as_deref(), &a.model.options())?
            .with_depth(a.depth);
        r = a.model.with_passages(r);
        if let Some(alpha) = a.alpha {
            r = r.with_alpha(alpha)?;
        }
        Some(r)
    };
    let tag = a.tag.clone().unwrap_or_else(|| match &reranker {
        Some(r) => r.label(),
        None => "bm25".into(),
    });
    let tag: String = tag
        .chars()
        .map(|c| if c.is_whitespace() { '_' } else { c })
        .collect();
    let mut w: Box<dyn Write> = match &a.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| p.display().to_string())?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut progress = StageProgress::new();
    for (i, q) in topics.iter().enumerate() {
        // (doc id, final score, bm25, cross-encoder), best first.
        let hits: Vec<(String, f64, f32, Option<f32>)> = match &reranker {
            Some(r) => r
                .search(&engine, &q.text, a.k)?
                .into_iter()
                .map(|h| (h.hit.id, h.score, h.hit.score, Some(h.ce_score)))
                .collect(),
            None => engine
                .search_ids(&q.text, a.k)?
                .into_iter()
                .map(|(id, s)| (id, f64::from(s), s, None))
                .collect(),
        };
        for (rank, (doc, score, bm25, ce)) in hits.iter().enumerate() {
            if a.format == "trec" {
                if doc.chars().any(char::is_whitespace) || q.id.chars().any(char::is_whitespace) {
                    bail!(
                        "query `{}`, document `{doc}`: an id with white space cannot be written to a TREC run (use --format jsonl)",
                        q.id
                    );
                }
                writeln!(w, "{} Q0 {doc} {} {score} {tag}", q.id, rank + 1)?;
            } else {
                let line = serde_json::json!({
                    "query_id": q.id, "rank": rank + 1, "doc_id": doc, "score": score,
                    "bm25": bm25, "ce": ce,
                });
                writeln!(w, "{line}")?;
            }
        }
        progress.update("run", "queries", i + 1, topics.len());
    }
    w.flush()?;
    progress.finish();
    Ok(())
}
