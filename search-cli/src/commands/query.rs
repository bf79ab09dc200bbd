//! `search-cli query`.

use std::io::Write;

use anyhow::{bail, Result};
use engine::{Engine, QuerySyntax};
use search::Reranker;

use crate::args::QueryArgs;
use crate::output;

/// Hits are printed with the passage of their text that best matches the query, not the
/// whole text (the table shows up to 160 characters of it, JSON up to 240).
const SNIPPET_CHARS: usize = 240;

pub fn query(a: QueryArgs) -> Result<()> {
    let engine = Engine::open(&a.index)?;
    let mut out = std::io::stdout().lock();
    // Reranking is the default, but for tantivy's syntax (which reranking cannot read).
    let rerank = !a.no_rerank && (a.model.rerank.is_some() || !a.syntax);
    if rerank {
        if a.syntax {
            bail!("--syntax and --rerank cannot be combined (reranking reads the query as text)");
        }
        let mut reranker =
            Reranker::choose(&a.index, a.model.rerank.as_deref(), &a.model.options())
                .map_err(|e| {
                    let e = anyhow::Error::from(e);
                    if a.model.rerank.is_none() {
                        e.context("the default reranker (--no-rerank queries BM25 alone)")
                    } else {
                        e
                    }
                })?
                .with_depth(a.depth);
        reranker = a.model.with_passages(reranker);
        if let Some(alpha) = a.alpha {
            reranker = reranker.with_alpha(alpha)?;
        }
        let mut hits = reranker.search(&engine, &a.text, a.k)?;
        let texts: Vec<&str> = hits.iter().map(|h| h.hit.text.as_str()).collect();
        let passages = engine.snippets(&a.text, &texts, SNIPPET_CHARS)?;
        for (h, s) in hits.iter_mut().zip(passages) {
            h.hit.text = s.text;
        }
        if a.json {
            output::write_reranked_json(&mut out, &a.text, &reranker, &hits)?;
        } else {
            output::write_reranked_table(&mut out, &hits)?;
        }
    } else {
        let syntax = if a.syntax {
            QuerySyntax::Tantivy
        } else {
            QuerySyntax::Lenient
        };
        let mut hits = engine.search_with(&a.text, a.k, syntax)?;
        let texts: Vec<&str> = hits.iter().map(|h| h.text.as_str()).collect();
        let passages = engine.snippets(&a.text, &texts, SNIPPET_CHARS)?;
        for (h, s) in hits.iter_mut().zip(passages) {
            h.text = s.text;
        }
        if a.json {
            output::write_hits_json(&mut out, &a.text, &hits)?;
        } else {
            output::write_hits_table(&mut out, &hits)?;
        }
    }
    out.flush()?;
    Ok(())
}
