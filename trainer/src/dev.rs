//! Dev sets: held-out queries with their BM25 candidates, on which a run chooses its best
//! checkpoint and its fusion weight.
//!
//! With judged queries the dev set is a held-out part of them. Without, it is a held-out part
//! of the pseudo-queries whose text was taken out of their source document (sentences and
//! titles; see [`crate::PseudoKind::removed_from_positive`]): the source document is the one
//! relevant document, shown to the reranker *and scored by BM25* without the query's text
//! (BM25 from the index's statistics, [`engine::Engine::score_text`]), so that BM25 cannot
//! find it by copying and the dev set measures what the reranker adds. Such a set is taken
//! before the consistency filter, so it is not biased towards queries the teacher answers.

use std::collections::HashMap;

use engine::metrics::{evaluate, EvalOptions, Measure};
use engine::Engine;
use index_data::{Qrels, Query};
use reranker::CrossEncoder;
use search::{CandidateScores, Passages};
use serde::{Deserialize, Serialize};

use crate::data::TrainQuery;
use crate::error::{Error, Result};

/// A candidate of a dev query: its id, BM25 score and the text a reranker reads.
#[derive(Debug, Clone, PartialEq)]
pub struct DevCandidate {
    /// The document id.
    pub doc_id: String,
    /// Its BM25 score for the query.
    pub bm25: f64,
    /// Title and body as the reranker reads them (its first passage, when read as passages).
    pub text: String,
    /// Its further passages when the dev set reads long documents as passages (the candidate
    /// scores the best of `text` and these: MaxP); empty otherwise.
    pub more: Vec<String>,
}

/// A candidate's first passage and the rest, as `passages` read it.
fn read(title: &str, body: &str, passages: &Passages) -> (String, Vec<String>) {
    let mut all = passages.split(title, body);
    let first = all.remove(0);
    (first, all)
}

/// A dev query and its BM25 candidates, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct DevQuery {
    /// The query id.
    pub id: String,
    /// The query text.
    pub text: String,
    /// BM25's top candidates.
    pub candidates: Vec<DevCandidate>,
}

/// Where a dev set's judgments come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DevKind {
    /// Held-out judged queries.
    Judged,
    /// Held-out pseudo-queries, their source document the relevant one.
    Pseudo,
}

/// Held-out queries, their candidates and judgments.
#[derive(Debug, Clone)]
pub struct DevSet {
    /// The queries with their candidates.
    pub queries: Vec<DevQuery>,
    /// Their judgments.
    pub qrels: Qrels,
    /// Where the judgments come from.
    pub kind: DevKind,
    /// BM25 candidates per query.
    pub depth: usize,
}

/// nDCG@10 of a model on a dev set: alone, BM25 alone, and fused at each BM25 weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DevScores {
    /// The reranker alone.
    pub alone: f64,
    /// BM25 alone.
    pub bm25: f64,
    /// `(alpha, nDCG@10)` fused at each weight asked for.
    pub fused: Vec<(f64, f64)>,
}

impl DevScores {
    /// The best fused weight and its nDCG@10; ties go to the larger BM25 weight (the more
    /// cautious choice). `(1.0, bm25)` if no weight was evaluated.
    pub fn best_fused(&self) -> (f64, f64) {
        let mut best: Option<(f64, f64)> = None;
        for &(a, v) in &self.fused {
            if best.is_none_or(|(ba, bv)| v > bv || (v == bv && a > ba)) {
                best = Some((a, v));
            }
        }
        best.unwrap_or((1.0, self.bm25))
    }
}

/// The BM25 weights a dev set is evaluated at: 0.0, 0.1, ..., 1.0.
pub fn alpha_grid() -> Vec<f64> {
    (0..=10).map(|i| f64::from(i) / 10.0).collect()
}

impl DevSet {
    /// A dev set of judged queries: BM25's top `depth` for each (queries without a judgment
    /// are left out).
    pub fn judged(engine: &Engine, queries: &[Query], qrels: &Qrels, depth: usize) -> Result<Self> {
        Self::judged_in(engine, queries, qrels, depth, &Passages::first_only())
    }

    /// As [`DevSet::judged`], each candidate read as `passages`.
    pub fn judged_in(
        engine: &Engine,
        queries: &[Query],
        qrels: &Qrels,
        depth: usize,
        passages: &Passages,
    ) -> Result<Self> {
        let mut out = Vec::new();
        for q in queries.iter().filter(|q| qrels.get(&q.id).is_some()) {
            let candidates = engine
                .search(&q.text, depth)?
                .into_iter()
                .map(|h| {
                    let (text, more) = read(&h.title, &h.text, passages);
                    DevCandidate {
                        text,
                        more,
                        bm25: f64::from(h.score),
                        doc_id: h.id,
                    }
                })
                .collect();
            out.push(DevQuery {
                id: q.id.clone(),
                text: q.text.clone(),
                candidates,
            });
        }
        Ok(DevSet {
            queries: out,
            qrels: qrels.clone(),
            kind: DevKind::Judged,
            depth,
        })
    }

    /// A label-free dev set from pseudo-queries whose text was taken out of their source
    /// document (others are an error): BM25's top `depth` with the source document scored
    /// and shown without the query's text.
    pub fn pseudo(engine: &Engine, queries: &[TrainQuery], depth: usize) -> Result<Self> {
        Self::pseudo_in(engine, queries, depth, &Passages::first_only())
    }

    /// As [`DevSet::pseudo`], the other candidates read as `passages` (the source document is
    /// shown as its query made it: one window of a long document, when made with passages).
    pub fn pseudo_in(
        engine: &Engine,
        queries: &[TrainQuery],
        depth: usize,
        passages: &Passages,
    ) -> Result<Self> {
        let mut out = Vec::new();
        let mut qrels = Qrels::default();
        for q in queries {
            let (Some(kind), Some(shown), Some(scored), [source]) = (
                q.kind,
                q.positive_text.as_deref(),
                q.positive_bm25(),
                q.positives.as_slice(),
            ) else {
                return Err(Error::DevQuery {
                    id: q.id.clone(),
                    reason: "not a pseudo-query with one source document".into(),
                });
            };
            if !kind.removed_from_positive() {
                return Err(Error::DevQuery {
                    id: q.id.clone(),
                    reason: format!("{kind} queries keep their text in the source document"),
                });
            }
            // One more than `depth`: the source document only loses score, so the true top
            // `depth` of the index without the query's text is among these.
            let mut candidates: Vec<DevCandidate> = Vec::new();
            let mut found = false;
            for h in engine.search(&q.text, depth + 1)? {
                if &h.id == source {
                    found = true;
                    candidates.push(DevCandidate {
                        doc_id: h.id,
                        bm25: f64::from(engine.score_text(&q.text, "", scored)?),
                        text: shown.to_owned(),
                        more: Vec::new(),
                    });
                } else {
                    let (text, more) = read(&h.title, &h.text, passages);
                    candidates.push(DevCandidate {
                        text,
                        more,
                        bm25: f64::from(h.score),
                        doc_id: h.id,
                    });
                }
            }
            if !found {
                let bm25 = f64::from(engine.score_text(&q.text, "", scored)?);
                if bm25 > 0.0 {
                    candidates.push(DevCandidate {
                        doc_id: source.clone(),
                        bm25,
                        text: shown.to_owned(),
                        more: Vec::new(),
                    });
                }
            }
            candidates.sort_by(|a, b| b.bm25.total_cmp(&a.bm25).then(b.doc_id.cmp(&a.doc_id)));
            candidates.truncate(depth);
            qrels.insert(&q.id, source, 1);
            out.push(DevQuery {
                id: q.id.clone(),
                text: q.text.clone(),
                candidates,
            });
        }
        Ok(DevSet {
            queries: out,
            qrels,
            kind: DevKind::Pseudo,
            depth,
        })
    }

    /// The number of queries.
    pub fn len(&self) -> usize {
        self.queries.len()
    }

    /// True if there is no query.
    pub fn is_empty(&self) -> bool {
        self.queries.is_empty()
    }

    /// Scores every candidate with `model` (one call per query), a candidate read as passages
    /// by its best one.
    pub fn score(&self, model: &dyn CrossEncoder) -> Result<CandidateScores> {
        let mut out = CandidateScores::default();
        for q in &self.queries {
            let texts: Vec<&str> = q
                .candidates
                .iter()
                .flat_map(|c| std::iter::once(&c.text).chain(&c.more).map(String::as_str))
                .collect();
            let ce = model.score(&q.text, &texts)?;
            let mut at = 0;
            let mut scored = Vec::with_capacity(q.candidates.len());
            for c in &q.candidates {
                let own = &ce[at..at + 1 + c.more.len()];
                at += own.len();
                // A NaN stays a NaN (the evaluation refuses it), as in search::score_documents.
                let best = match own.iter().any(|s| s.is_nan()) {
                    true => f32::NAN,
                    false => own.iter().copied().fold(f32::NEG_INFINITY, f32::max),
                };
                scored.push((c.doc_id.clone(), c.bm25, f64::from(best)));
            }
            out.by_query.insert(q.id.clone(), scored);
        }
        Ok(out)
    }

    /// nDCG@10 of `scores` (from [`DevSet::score`]) alone, of BM25, and fused at each alpha.
    pub fn evaluate(&self, scores: &CandidateScores, alphas: &[f64]) -> DevScores {
        let ndcg = |alpha: f64| {
            evaluate(
                &self.qrels,
                &scores.run(alpha),
                &[Measure::Ndcg(Some(10))],
                &EvalOptions::default(),
            )
            .mean[0]
        };
        DevScores {
            alone: ndcg(0.0),
            bm25: ndcg(1.0),
            fused: alphas.iter().map(|&a| (a, ndcg(a))).collect(),
        }
    }

    /// Per-query nDCG@10 differences, fused at `alpha` minus BM25: for a paired check.
    pub fn per_query_gain(&self, scores: &CandidateScores, alpha: f64) -> Vec<f64> {
        let m = [Measure::Ndcg(Some(10))];
        let opts = EvalOptions::default();
        let fused = evaluate(&self.qrels, &scores.run(alpha), &m, &opts);
        let bm25 = evaluate(&self.qrels, &scores.run(1.0), &m, &opts);
        let base: HashMap<&str, f64> = bm25
            .per_query
            .iter()
            .map(|(q, v)| (q.as_str(), v[0]))
            .collect();
        fused
            .per_query
            .iter()
            .map(|(q, v)| v[0] - base.get(q.as_str()).copied().unwrap_or(0.0))
            .collect()
    }
}
