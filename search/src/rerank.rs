//! The rerank pipeline: BM25 candidates rescored by a cross-encoder and fused with BM25.

use engine::{Engine, Hit};
use index_data::{Query, Run};
use reranker::CrossEncoder;

use crate::error::{Error, Result};
use crate::passages::{score_documents, Passages};

/// The default BM25 weight of the fused score, chosen on SciFact *train* queries (a seeded
/// sample of 200, BM25 top-100 reranked by the teacher): nDCG@10 0.7489 at 0.3, against
/// 0.7427 at 0.4 and 0.7428 at 0.5; 0.0 (the teacher alone) 0.7401, 1.0 (BM25) 0.7086.
pub const DEFAULT_ALPHA: f64 = 0.3;

/// How the rerank stage runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RerankOptions {
    /// BM25 candidates rescored per query. Default 100.
    pub depth: usize,
    /// Weight of BM25 in the fused score: `alpha · norm(bm25) + (1 − alpha) · norm(ce)`,
    /// each min-max normalized over the query's candidates. 0 ranks by the cross-encoder
    /// alone, 1 by BM25 alone. Default [`DEFAULT_ALPHA`].
    pub alpha: f64,
    /// How a candidate is cut into passages (default: the first only).
    pub passages: Passages,
}

impl Default for RerankOptions {
    fn default() -> Self {
        RerankOptions {
            depth: 100,
            alpha: DEFAULT_ALPHA,
            passages: Passages::default(),
        }
    }
}

/// A reranked hit: the BM25 hit, its cross-encoder logit, and the fused score it is ranked by.
#[derive(Debug, Clone, PartialEq)]
pub struct RerankedHit {
    /// The BM25 hit (its `score` is the BM25 score).
    pub hit: Hit,
    /// The cross-encoder's logit for (query, title + text): of its best passage, when
    /// documents are read as several.
    pub ce_score: f32,
    /// The fused score in [0, 1] that orders the results.
    pub score: f64,
}

/// Where an index keeps its own reranker (`search-cli retrain --install` puts a student
/// there): `<index>/reranker`.
pub fn installed_reranker_dir(index: &std::path::Path) -> std::path::PathBuf {
    index.join("reranker")
}

/// The index's own reranker, if one is installed (a folder with `model.onnx`).
pub fn installed_reranker(index: &std::path::Path) -> Option<std::path::PathBuf> {
    let dir = installed_reranker_dir(index);
    dir.join("model.onnx").is_file().then_some(dir)
}

/// The text a cross-encoder reads for a document: title and body, as BEIR's reranking does.
pub fn passage_text(title: &str, body: &str) -> String {
    match (title.trim().is_empty(), body.trim().is_empty()) {
        (true, _) => body.trim().to_owned(),
        (false, true) => title.trim().to_owned(),
        (false, false) => format!("{} {}", title.trim(), body.trim()),
    }
}

fn min_max(xs: &[f64]) -> Vec<f64> {
    let (lo, hi) = xs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| {
            (l.min(x), h.max(x))
        });
    if hi > lo {
        xs.iter().map(|x| (x - lo) / (hi - lo)).collect()
    } else {
        vec![0.0; xs.len()]
    }
}

/// An error unless `alpha` is a BM25 weight: finite and in [0, 1].
pub fn check_alpha(alpha: f64) -> Result<()> {
    if alpha.is_finite() && (0.0..=1.0).contains(&alpha) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "the BM25 weight alpha must be between 0 and 1, not {alpha}"
        )))
    }
}

/// An error if the reranker gave a NaN or infinite score: ranking by it would be noise.
fn check_scores(scores: &[f32]) -> Result<()> {
    let bad = scores.iter().filter(|s| !s.is_finite()).count();
    if bad > 0 {
        return Err(Error::NonFiniteScores {
            bad,
            total: scores.len(),
        });
    }
    Ok(())
}

/// Fuses per-query scores: `alpha · minmax(bm25) + (1 − alpha) · minmax(ce)`.
pub fn fuse(bm25: &[f64], ce: &[f64], alpha: f64) -> Vec<f64> {
    let (b, c) = (min_max(bm25), min_max(ce));
    b.iter()
        .zip(&c)
        .map(|(b, c)| alpha * b + (1.0 - alpha) * c)
        .collect()
}

/// BM25 top `options.depth` → cross-encoder → fused score; returns the best `k`, best first
/// (ties keep BM25 order).
pub fn search_reranked(
    engine: &Engine,
    reranker: &dyn CrossEncoder,
    query: &str,
    k: usize,
    options: &RerankOptions,
) -> Result<Vec<RerankedHit>> {
    check_alpha(options.alpha)?;
    let hits = engine.search(query, options.depth.max(k))?;
    let hits: Vec<Hit> = hits.into_iter().take(options.depth.max(1)).collect();
    let docs: Vec<(&str, &str)> = hits
        .iter()
        .map(|h| (h.title.as_str(), h.text.as_str()))
        .collect();
    let ce = score_documents(reranker, query, &docs, &options.passages)?;
    check_scores(&ce)?;
    let bm25: Vec<f64> = hits.iter().map(|h| f64::from(h.score)).collect();
    let ce64: Vec<f64> = ce.iter().map(|&x| f64::from(x)).collect();
    let fused = fuse(&bm25, &ce64, options.alpha);
    let mut out: Vec<RerankedHit> = hits
        .into_iter()
        .zip(ce)
        .zip(fused)
        .map(|((hit, ce_score), score)| RerankedHit {
            hit,
            ce_score,
            score,
        })
        .collect();
    // Ties keep BM25's order (the sort is stable).
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out.truncate(k);
    Ok(out)
}

/// BM25 and cross-encoder scores of every query's top `depth` candidates: what reranked runs
/// are made from, so that several `alpha` values cost one scoring pass.
#[derive(Debug, Clone, Default)]
pub struct CandidateScores {
    /// Per query id: `(doc id, bm25, cross-encoder logit)` in BM25 order.
    pub by_query: std::collections::BTreeMap<String, Vec<(String, f64, f64)>>,
}

impl CandidateScores {
    /// The run ranked by the fused score at this `alpha` (1.0: BM25 alone; 0.0: the
    /// cross-encoder alone), each query's documents in rank order. `alpha` outside [0, 1]
    /// counts as its nearest end (see [`check_alpha`] to refuse it).
    pub fn run(&self, alpha: f64) -> Run {
        let mut run = Run::default();
        for (qid, cands) in &self.by_query {
            let bm25: Vec<f64> = cands.iter().map(|c| c.1).collect();
            let ce: Vec<f64> = cands.iter().map(|c| c.2).collect();
            let scores = if alpha >= 1.0 {
                bm25
            } else if alpha <= 0.0 {
                ce
            } else {
                fuse(&bm25, &ce, alpha)
            };
            // Written in rank order, so that a run file's ranks mean what they say (ties as
            // trec_eval breaks them: by doc id, descending).
            let mut ranked: Vec<(&str, f64)> = cands
                .iter()
                .zip(scores)
                .map(|(c, s)| (c.0.as_str(), s))
                .collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| b.0.cmp(a.0)));
            for (doc, s) in ranked {
                run.push(qid, doc, s);
            }
        }
        run
    }
}

/// Scores the top `depth` BM25 candidates of every query with the cross-encoder, each read
/// as `passages` say. `progress(done, total)` is called after each query.
pub fn score_candidates(
    engine: &Engine,
    reranker: &dyn CrossEncoder,
    queries: &[Query],
    depth: usize,
    passages: &Passages,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<CandidateScores> {
    let mut out = CandidateScores::default();
    for (i, q) in queries.iter().enumerate() {
        let hits = engine.search(&q.text, depth)?;
        let docs: Vec<(&str, &str)> = hits
            .iter()
            .map(|h| (h.title.as_str(), h.text.as_str()))
            .collect();
        let ce = score_documents(reranker, &q.text, &docs, passages)?;
        check_scores(&ce)?;
        out.by_query.insert(
            q.id.clone(),
            hits.into_iter()
                .zip(ce)
                .map(|(h, c)| (h.id, f64::from(h.score), f64::from(c)))
                .collect(),
        );
        progress(i + 1, queries.len());
    }
    Ok(out)
}

/// A system `eval` compares: BM25 alone, the cross-encoder alone, or the two fused.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum System {
    /// BM25 alone (alpha 1).
    Bm25,
    /// The cross-encoder alone (alpha 0).
    Alone,
    /// Fused at this BM25 weight, strictly between 0 and 1.
    Fused(f64),
}

impl System {
    /// The systems for these BM25 weights, BM25 and the cross-encoder alone first, each once
    /// (weights 1 and 0 are those two).
    pub fn for_alphas(alphas: &[f64]) -> Vec<System> {
        let mut out = vec![System::Bm25, System::Alone];
        for &a in alphas {
            let s = System::of_alpha(a);
            if !out.contains(&s) {
                out.push(s);
            }
        }
        out
    }

    /// The system of one BM25 weight.
    pub fn of_alpha(alpha: f64) -> System {
        if alpha >= 1.0 {
            System::Bm25
        } else if alpha <= 0.0 {
            System::Alone
        } else {
            System::Fused(alpha)
        }
    }

    /// Its BM25 weight.
    pub fn alpha(self) -> f64 {
        match self {
            System::Bm25 => 1.0,
            System::Alone => 0.0,
            System::Fused(a) => a,
        }
    }

    /// Its name in tables and run files, with `model` the cross-encoder's short name:
    /// `bm25`, `student alone`, `bm25+student a=0.7`.
    pub fn label(self, model: &str) -> String {
        match self {
            System::Bm25 => "bm25".into(),
            System::Alone => format!("{model} alone"),
            System::Fused(a) => format!("bm25+{model} a={a}"),
        }
    }
}

impl CandidateScores {
    /// Each system's run and its evaluation against `qrels`.
    pub fn evaluate_systems(
        &self,
        systems: &[System],
        qrels: &index_data::Qrels,
        measures: &[engine::metrics::Measure],
        options: &engine::metrics::EvalOptions,
    ) -> Vec<(System, Run, engine::metrics::Evaluation)> {
        systems
            .iter()
            .map(|&s| {
                let run = self.run(s.alpha());
                let e = engine::metrics::evaluate(qrels, &run, measures, options);
                (s, run, e)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fusion_normalizes_per_query() {
        let f = fuse(&[10.0, 5.0, 0.0], &[-1.0, 3.0, 1.0], 0.5);
        assert!((f[0] - 0.5).abs() < 1e-12);
        assert!((f[1] - 0.75).abs() < 1e-12);
        assert!((f[2] - 0.25).abs() < 1e-12);
        // Constant inputs normalize to 0 and do not divide by zero.
        assert_eq!(fuse(&[1.0, 1.0], &[2.0, 2.0], 0.3), vec![0.0, 0.0]);
        assert_eq!(fuse(&[3.0, 1.0], &[0.0, 9.0], 0.0), vec![0.0, 1.0]);
    }

    #[test]
    fn passage_text_joins_title_and_body() {
        assert_eq!(passage_text("T", "body"), "T body");
        assert_eq!(passage_text(" ", "body"), "body");
        assert_eq!(passage_text("T", ""), "T");
    }

    #[test]
    fn candidate_runs_by_alpha() {
        let mut c = CandidateScores::default();
        c.by_query.insert(
            "q".into(),
            vec![("a".into(), 2.0, -1.0), ("b".into(), 1.0, 5.0)],
        );
        let bm25 = c.run(1.0);
        assert_eq!(bm25.by_query["q"][0].score, 2.0);
        // Runs list documents best first, whatever the BM25 order.
        let ce = c.run(0.0);
        assert_eq!(ce.by_query["q"][0].doc_id, "b");
        assert_eq!(ce.by_query["q"][0].score, 5.0);
        let fused = c.run(0.25);
        assert_eq!(fused.by_query["q"][0].doc_id, "b");
        assert!(fused.by_query["q"][0].score > fused.by_query["q"][1].score);
    }
}
