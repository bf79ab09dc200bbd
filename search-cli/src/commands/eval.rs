//! `search-cli eval`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use engine::metrics::{self, EvalOptions};
use engine::Engine;
use reranker::{CachedCrossEncoder, CrossEncoder, ScoreCache};
use search::{CandidateScores, Reranker, System};

use crate::args::EvalArgs;
use crate::output;

pub fn eval(a: EvalArgs) -> Result<()> {
    let measures = metrics::parse_measures(&a.metrics)?;
    let engine = Engine::open(&a.index)?;
    let qrels = index_data::load_qrels(&a.qrels, Some(&a.split), a.qrels_format)?;
    engine.check_qrels(&qrels)?;
    let (queries, unjudged) =
        index_data::judged_queries(index_data::read_queries(&a.queries)?, &qrels);
    if unjudged > 0 {
        eprintln!(
            "note: {unjudged} queries of {} have no judgments in {} and are neither evaluated nor in --run-out (`search-cli run` runs every query)",
            a.queries.display(),
            a.qrels.display()
        );
    }
    let queries = match a.sample {
        Some(n) => index_data::sample_queries(queries, n, a.seed),
        None => queries,
    };
    if queries.is_empty() {
        bail!(
            "no query of {} is judged in {}",
            a.queries.display(),
            a.qrels.display()
        );
    }
    let options = EvalOptions {
        min_relevance: a.min_rel,
        complete: a.complete,
        ..Default::default()
    };
    let mut systems: Vec<(String, metrics::Evaluation)> = Vec::new();
    let mut runs: Vec<(String, index_data::Run)> = Vec::new();
    if a.model.rerank.is_none() {
        let run = engine::bm25_run(&engine, &queries, a.depth)?;
        systems.push((
            "bm25".into(),
            metrics::evaluate(&qrels, &run, &measures, &options),
        ));
        runs.push(("bm25".into(), run));
    } else {
        let reranker = a.model.with_passages(Reranker::choose(
            &a.index,
            a.model.rerank.as_deref(),
            &a.model.options(),
        )?);
        let passages = reranker.passages();
        if passages.max > 1 {
            eprintln!(
                "note: long documents read as up to {} passages of {} words (MaxP; {})",
                passages.max,
                passages.words,
                if a.model.passages.is_some() {
                    "--passages"
                } else {
                    "as the student's fusion.json says"
                }
            );
        }
        let scores = if a.no_cache {
            score_with_progress(
                &engine,
                reranker.model(),
                &queries,
                a.depth,
                reranker.passages(),
            )?
        } else {
            let cache = ScoreCache::open(a.index.join("score-cache.tsv"))?;
            let cached = CachedCrossEncoder::new(reranker.model(), cache, 256);
            score_with_progress(&engine, &cached, &queries, a.depth, reranker.passages())?
        };
        let mut alphas = a.alpha.clone();
        if alphas.is_empty() {
            alphas.push(reranker.alpha());
        }
        let label = reranker.label();
        for (system, run, e) in
            scores.evaluate_systems(&System::for_alphas(&alphas), &qrels, &measures, &options)
        {
            systems.push((system.label(&label), e));
            runs.push((system.label(&label), run));
        }
    }
    if let Some(path) = &a.run_out {
        for p in write_runs(path, &runs)? {
            eprintln!("wrote {}", p.display());
        }
    }
    let mut out = std::io::stdout().lock();
    if a.json {
        output::write_eval_json(&mut out, &systems, queries.len(), a.per_query)?;
    } else {
        output::write_eval_table(&mut out, &systems, queries.len(), a.per_query)?;
    }
    out.flush()?;
    Ok(())
}

fn score_with_progress(
    engine: &Engine,
    model: &dyn CrossEncoder,
    queries: &[index_data::Query],
    depth: usize,
    passages: search::Passages,
) -> Result<CandidateScores> {
    let mut progress = crate::progress::StageProgress::new();
    let scores = search::score_candidates(
        engine,
        model,
        queries,
        depth,
        &passages,
        &mut |done, total| progress.update("reranking", "queries", done, total),
    )?;
    progress.finish();
    Ok(scores)
}

/// Writes each system's run as a TREC run file: to `path` if there is one system, else to
/// `path` with the system's name before the extension (`run.bm25.txt`, ...).
fn write_runs(path: &Path, runs: &[(String, index_data::Run)]) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (system, run) in runs {
        let tag: String = system
            .chars()
            .map(|c| {
                if c.is_whitespace() || c == '/' {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        let file = if runs.len() == 1 {
            path.to_path_buf()
        } else {
            let stem = path
                .file_stem()
                .map_or("run".into(), |s| s.to_string_lossy());
            let name = match path.extension() {
                Some(ext) => format!("{stem}.{tag}.{}", ext.to_string_lossy()),
                None => format!("{stem}.{tag}"),
            };
            path.with_file_name(name)
        };
        index_data::write_trec_run(&file, run, &tag)?;
        written.push(file);
    }
    Ok(written)
}
