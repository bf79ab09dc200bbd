//! `search-cli run`: a whole topics file through one process (the index and the reranker
//! loaded once), written as a TREC run or JSON lines, every query's lines in rank order.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use engine::{Engine, RerankOptions};
use index_data::Query;

use crate::progress::StageProgress;
use crate::{default_alpha, model_for, parse_alpha, ModelArgs, DEFAULT_CHOICE};

#[derive(Args)]
pub struct RunArgs {
    /// The index folder.
    #[arg(long)]
    index: PathBuf,
    /// The topics: a BEIR folder or queries.jsonl, an `id<TAB>text` .tsv, a SMART query file,
    /// or `-` for standard input, one query a line (`id<TAB>text`, or just the text, its id
    /// then its line number).
    #[arg(long)]
    topics: String,
    /// Where to write the run (default: standard output).
    #[arg(long)]
    output: Option<PathBuf>,
    /// The run's format: trec (`qid Q0 docid rank score tag`) or jsonl (one hit a line, with
    /// its BM25 and cross-encoder scores).
    #[arg(long, default_value = "trec", value_parser = ["trec", "jsonl"])]
    format: String,
    /// Hits per query.
    #[arg(short, long, default_value_t = 100)]
    k: usize,
    #[command(flatten)]
    model: ModelArgs,
    /// BM25 alone: do not rerank (the default reranks, as `query` does).
    #[arg(long, conflicts_with = "rerank")]
    no_rerank: bool,
    /// BM25 candidates to rerank.
    #[arg(long, default_value_t = 100)]
    depth: usize,
    /// Weight of BM25 in the fused score, in [0, 1]. Default: the model's fusion.json.
    #[arg(long, value_parser = parse_alpha, allow_negative_numbers = true)]
    alpha: Option<f64>,
    /// The run's tag (last TREC column). Default: bm25, or the model's name.
    #[arg(long)]
    tag: Option<String>,
}

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
    let name = match (&a.model.rerank, a.no_rerank) {
        (_, true) => None,
        (Some(n), false) => Some(model_for(&a.index, n)),
        (None, false) => Some(model_for(&a.index, DEFAULT_CHOICE)),
    };
    let model = match &name {
        Some(n) => Some(reranker::load_cross_encoder(n, &a.model.options())?),
        None => None,
    };
    let options = RerankOptions {
        depth: a.depth,
        alpha: a
            .alpha
            .unwrap_or_else(|| name.as_deref().map_or(1.0, default_alpha)),
    };
    let tag = a.tag.clone().unwrap_or_else(|| match &name {
        Some(n) => crate::model_label(&a.index, n),
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
        let hits: Vec<(String, f64, f32, Option<f32>)> = match &model {
            Some(m) => engine::search_reranked(&engine, m.as_ref(), &q.text, a.k, &options)?
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
