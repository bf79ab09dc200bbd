//! `search-cli compare`.

use anyhow::{bail, Result};
use engine::Engine;
use reranker::RerankerOptions;
use search::Reranker;

use crate::args::CompareArgs;

pub fn compare(a: CompareArgs) -> Result<()> {
    let engine = Engine::open(&a.index)?;
    let n = a
        .pseudo_dev
        .unwrap_or_else(|| trainer::default_pseudo_dev(engine.num_docs()));
    let passages = search::Passages::max_p(usize::from(a.passages));
    let queries = trainer::pseudo_dev_queries_in(&engine, n, a.split_seed, &passages)?;
    if queries.is_empty() {
        bail!(
            "{}: no document gives a dev pseudo-query (no sentence or title of prose)",
            a.index.display()
        );
    }
    let dev = trainer::DevSet::pseudo_in(&engine, &queries, a.depth, &passages)?;
    let options = RerankerOptions {
        max_len: a.max_len,
        num_threads: a.threads,
        ..Default::default()
    };
    println!(
        "label-free dev set of {}: {} pseudo-queries (split seed {}), BM25 top {}; nDCG@10",
        a.index.display(),
        dev.len(),
        a.split_seed,
        a.depth
    );
    println!(
        "note: pseudo-queries favour rerankers trained on pseudo-queries (docs/RESULTS.md §6): compare rerankers trained alike"
    );
    let mut bm25_printed = false;
    for name in &a.rerank {
        let reranker = Reranker::load_with(name, &options)?;
        let scores = dev.score(reranker.model())?;
        let mut alphas = trainer::alpha_grid();
        alphas.push(reranker.alpha());
        let result = dev.evaluate(&scores, &alphas);
        if !bm25_printed {
            println!("{:<40} {:.4}", "bm25", result.bm25);
            bm25_printed = true;
        }
        let own = result.fused.last().map_or(result.bm25, |&(_, v)| v);
        let (best_alpha, best) = trainer::DevScores {
            fused: result.fused[..result.fused.len() - 1].to_vec(),
            ..result.clone()
        }
        .best_fused();
        println!(
            "{:<40} alone {:.4}  fused at its alpha {:.2}: {:.4}  best fused {:.4} (alpha {:.1})",
            reranker.label(),
            result.alone,
            reranker.alpha(),
            own,
            best,
            best_alpha
        );
    }
    Ok(())
}
