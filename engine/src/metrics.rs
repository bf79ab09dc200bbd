//! Evaluation measures with trec_eval semantics.
//!
//! - A run's documents are ranked by score, descending; ties are broken by document id,
//!   descending (byte order), as trec_eval does. The order or rank column of the run file is
//!   ignored. If a document appears twice for a query, its first occurrence counts.
//! - A document missing from the qrels is non-relevant.
//! - The binary measures (RR, Recall, P, AP) count a document as relevant when its level is
//!   at least [`EvalOptions::min_relevance`] (trec_eval's `-l`, default 1).
//! - nDCG uses the relevance level as the gain (linear gain; levels ≤ 0 gain nothing), the
//!   discount 1/log2(rank + 1), and the ideal ranking of all judged documents of the query,
//!   as trec_eval's `ndcg_cut`.
//! - A query is averaged if it has at least one relevant document and appears in the run;
//!   with [`EvalOptions::complete`] (trec_eval's `-c`) every query of the qrels with a
//!   relevant document is averaged, and one missing from the run scores 0.
//! - [`EvalOptions::keep_queries_without_relevant`] also averages judged queries that have no
//!   relevant document (they score 0), which is what trec_eval itself and pytrec_eval do.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use index_data::{Qrels, Run, ScoredDoc};

use crate::error::{Error, Result};

/// One evaluation measure, with its cutoff where it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Measure {
    /// nDCG over the top `k` (all retrieved documents if `None`).
    Ndcg(Option<usize>),
    /// Reciprocal rank of the first relevant document within the top `k`.
    Rr(Option<usize>),
    /// Relevant documents in the top `k` over all relevant documents.
    Recall(usize),
    /// Relevant documents in the top `k` over `k`.
    Precision(usize),
    /// Average precision (MAP when averaged), over the top `k` if given.
    Ap(Option<usize>),
}

impl fmt::Display for Measure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cut = |f: &mut fmt::Formatter<'_>, name: &str, k: Option<usize>| match k {
            Some(k) => write!(f, "{name}@{k}"),
            None => write!(f, "{name}"),
        };
        match *self {
            Measure::Ndcg(k) => cut(f, "ndcg", k),
            Measure::Rr(k) => cut(f, "rr", k),
            Measure::Recall(k) => write!(f, "recall@{k}"),
            Measure::Precision(k) => write!(f, "p@{k}"),
            Measure::Ap(k) => cut(f, "map", k),
        }
    }
}

impl FromStr for Measure {
    type Err = Error;

    /// Parses `ndcg@10`, `ndcg`, `rr@10`, `mrr@10`, `rr`, `recall@100`, `p@5`, `map`, `map@100`
    /// (case-insensitive).
    fn from_str(s: &str) -> Result<Measure> {
        let lower = s.trim().to_ascii_lowercase();
        let (name, cutoff) = match lower.split_once('@') {
            Some((n, k)) => {
                let k: usize = k.parse().ok().filter(|&k| k > 0).ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "measure `{s}`: cutoff must be a positive integer"
                    ))
                })?;
                (n, Some(k))
            }
            None => (lower.as_str(), None),
        };
        let need = |k: Option<usize>| {
            k.ok_or_else(|| {
                Error::InvalidArgument(format!("measure `{s}` needs a cutoff, e.g. {name}@10"))
            })
        };
        Ok(match name {
            "ndcg" | "ndcg_cut" => Measure::Ndcg(cutoff),
            "rr" | "mrr" | "recip_rank" => Measure::Rr(cutoff),
            "recall" | "r" => Measure::Recall(need(cutoff)?),
            "p" | "precision" => Measure::Precision(need(cutoff)?),
            "map" | "ap" => Measure::Ap(cutoff),
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "unknown measure `{s}` (known: ndcg@k, rr@k, recall@k, p@k, map)"
                )))
            }
        })
    }
}

/// Parses a comma-separated list of measures, e.g. `ndcg@10,rr@10,recall@100,map`.
pub fn parse_measures(list: &str) -> Result<Vec<Measure>> {
    list.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(str::parse)
        .collect()
}

/// Evaluation options (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvalOptions {
    /// The lowest relevance level that counts as relevant for RR, Recall, P and AP.
    pub min_relevance: i32,
    /// Average over every judged query with a relevant document, scoring 0 where the run
    /// has nothing (trec_eval `-c`).
    pub complete: bool,
    /// Also average judged queries without any relevant document (scoring 0), as trec_eval
    /// does; off by default, where such queries are left out.
    pub keep_queries_without_relevant: bool,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            min_relevance: 1,
            complete: false,
            keep_queries_without_relevant: false,
        }
    }
}

/// The result of an evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The measures, in the order asked.
    pub measures: Vec<Measure>,
    /// Per query: one value per measure.
    pub per_query: BTreeMap<String, Vec<f64>>,
    /// The mean over the evaluated queries, one value per measure (0 if no query).
    pub mean: Vec<f64>,
}

impl Evaluation {
    /// The number of queries averaged.
    pub fn num_queries(&self) -> usize {
        self.per_query.len()
    }

    /// The mean of one measure, if it was computed.
    pub fn get(&self, measure: Measure) -> Option<f64> {
        let i = self.measures.iter().position(|m| *m == measure)?;
        Some(self.mean[i])
    }
}

/// Ranks a query's documents as trec_eval does: score descending, then doc id descending;
/// a repeated document keeps its first occurrence.
pub fn trec_order(docs: &[ScoredDoc]) -> Vec<&ScoredDoc> {
    let mut seen = HashSet::new();
    let mut ranked: Vec<&ScoredDoc> = docs.iter().filter(|d| seen.insert(&d.doc_id)).collect();
    ranked.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| b.doc_id.as_bytes().cmp(a.doc_id.as_bytes()))
    });
    ranked
}

/// Evaluates one query: `ranked` already in trec order (see [`trec_order`]).
pub fn evaluate_query(
    ranked: &[&str],
    judgments: &HashMap<String, i32>,
    measures: &[Measure],
    options: &EvalOptions,
) -> Vec<f64> {
    let level = |d: &str| judgments.get(d).copied().unwrap_or(0);
    // An unjudged document is never relevant, whatever the level (trec_eval: -l 0 makes
    // judged non-relevant documents relevant, not unjudged ones).
    let is_rel = |d: &str| {
        judgments
            .get(d)
            .is_some_and(|&l| l >= options.min_relevance)
    };
    let num_rel = judgments
        .values()
        .filter(|&&l| l >= options.min_relevance)
        .count();
    let mut ideal: Vec<i32> = judgments.values().copied().filter(|&l| l > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let discount = |i: usize| 1.0 / ((i + 2) as f64).log2();
    let top = |k: Option<usize>| &ranked[..k.map_or(ranked.len(), |k| k.min(ranked.len()))];

    measures
        .iter()
        .map(|m| match *m {
            Measure::Ndcg(k) => {
                let dcg: f64 = top(k)
                    .iter()
                    .enumerate()
                    .map(|(i, d)| level(d).max(0) as f64 * discount(i))
                    .sum();
                let n = k.unwrap_or(usize::MAX).min(ideal.len());
                let idcg: f64 = ideal[..n]
                    .iter()
                    .enumerate()
                    .map(|(i, &g)| g as f64 * discount(i))
                    .sum();
                if idcg > 0.0 {
                    dcg / idcg
                } else {
                    0.0
                }
            }
            Measure::Rr(k) => top(k)
                .iter()
                .position(|d| is_rel(d))
                .map_or(0.0, |i| 1.0 / (i + 1) as f64),
            Measure::Recall(k) => {
                if num_rel == 0 {
                    0.0
                } else {
                    top(Some(k)).iter().filter(|d| is_rel(d)).count() as f64 / num_rel as f64
                }
            }
            Measure::Precision(k) => {
                top(Some(k)).iter().filter(|d| is_rel(d)).count() as f64 / k as f64
            }
            Measure::Ap(k) => {
                if num_rel == 0 {
                    return 0.0;
                }
                let mut found = 0usize;
                let mut sum = 0.0;
                for (i, d) in top(k).iter().enumerate() {
                    if is_rel(d) {
                        found += 1;
                        sum += found as f64 / (i + 1) as f64;
                    }
                }
                sum / num_rel as f64
            }
        })
        .collect()
}

/// Evaluates a run against qrels (see the module docs for the semantics).
pub fn evaluate(
    qrels: &Qrels,
    run: &Run,
    measures: &[Measure],
    options: &EvalOptions,
) -> Evaluation {
    let mut per_query = BTreeMap::new();
    let empty = Vec::new();
    for (qid, judgments) in &qrels.by_query {
        let has_rel = judgments.values().any(|&l| l >= options.min_relevance);
        if !has_rel && !options.keep_queries_without_relevant {
            continue;
        }
        let docs = match run.by_query.get(qid) {
            Some(docs) => docs,
            None if options.complete => &empty,
            None => continue,
        };
        let ranked: Vec<&str> = trec_order(docs).iter().map(|d| d.doc_id.as_str()).collect();
        per_query.insert(
            qid.clone(),
            evaluate_query(&ranked, judgments, measures, options),
        );
    }
    let n = per_query.len();
    let mean = (0..measures.len())
        .map(|i| {
            if n == 0 {
                0.0
            } else {
                per_query.values().map(|v: &Vec<f64>| v[i]).sum::<f64>() / n as f64
            }
        })
        .collect();
    Evaluation {
        measures: measures.to_vec(),
        per_query,
        mean,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qrels(items: &[(&str, &str, i32)]) -> Qrels {
        let mut q = Qrels::default();
        for (a, b, c) in items {
            q.insert(a, b, *c);
        }
        q
    }

    fn run(items: &[(&str, &str, f64)]) -> Run {
        let mut r = Run::default();
        for (a, b, c) in items {
            r.push(a, b, *c);
        }
        r
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} != {b}");
    }

    /// The example of the ir_measures README (its documented output:
    /// AP 0.75, nDCG 0.8154648767857288, RR 0.75, nDCG@10 0.8154648767857288,
    /// P(rel=2)@10 0.05; per query Q0: AP 0.5, nDCG 0.6309297535714575).
    #[test]
    fn ir_measures_readme_example() {
        let q = qrels(&[
            ("Q0", "D0", 0),
            ("Q0", "D1", 1),
            ("Q1", "D0", 0),
            ("Q1", "D3", 2),
        ]);
        let r = run(&[
            ("Q0", "D0", 1.2),
            ("Q0", "D1", 1.0),
            ("Q1", "D0", 2.4),
            ("Q1", "D3", 3.6),
        ]);
        let ms = parse_measures("map,ndcg,rr,ndcg@10").unwrap();
        let e = evaluate(&q, &r, &ms, &EvalOptions::default());
        close(e.mean[0], 0.75);
        close(e.mean[1], 0.8154648767857288);
        close(e.mean[2], 0.75);
        close(e.mean[3], 0.8154648767857288);
        close(e.per_query["Q0"][1], 0.6309297535714575);
        close(e.per_query["Q0"][0], 0.5);
        let rel2 = EvalOptions {
            min_relevance: 2,
            ..Default::default()
        };
        // Q0 has no document of level 2, so it is left out by default (and with -c); keeping
        // such queries, as trec_eval does, gives what ir_measures reports (0.05 = (0 + 0.1) / 2).
        let e = evaluate(&q, &r, &[Measure::Precision(10)], &rel2);
        close(e.mean[0], 0.1);
        let e = evaluate(
            &q,
            &r,
            &[Measure::Precision(10)],
            &EvalOptions {
                complete: true,
                ..rel2
            },
        );
        assert_eq!(e.num_queries(), 1);
        let trec = EvalOptions {
            keep_queries_without_relevant: true,
            ..rel2
        };
        let e = evaluate(&q, &r, &[Measure::Precision(10)], &trec);
        close(e.mean[0], 0.05);
    }

    /// Ties are ranked by doc id descending, whatever the order in the run.
    #[test]
    fn ties_broken_by_doc_id_descending() {
        let q = qrels(&[("q", "a", 1)]);
        // "b" and "a" tie; trec_eval puts "b" first, so the relevant "a" is at rank 2.
        let r = run(&[("q", "a", 1.0), ("q", "b", 1.0)]);
        let e = evaluate(
            &q,
            &r,
            &[Measure::Rr(None), Measure::Ndcg(Some(10))],
            &Default::default(),
        );
        close(e.mean[0], 0.5);
        close(e.mean[1], 1.0 / 3f64.log2());
        // The run order does not matter, only the scores.
        let r = run(&[("q", "b", 1.0), ("q", "a", 2.0)]);
        let e = evaluate(&q, &r, &[Measure::Rr(None)], &Default::default());
        close(e.mean[0], 1.0);
    }

    /// Graded relevance, hand computed:
    /// ranking d3(0) d1(2) d9(unjudged) d2(1), judged d1=2 d2=1 d3=0 d4=3.
    /// DCG@4 = 0/1 + 2/log2(3) + 0/2 + 1/log2(5); IDCG@4 = 3/1 + 2/log2(3) + 1/2.
    #[test]
    fn graded_ndcg_and_binary_measures() {
        let q = qrels(&[
            ("q", "d1", 2),
            ("q", "d2", 1),
            ("q", "d3", 0),
            ("q", "d4", 3),
        ]);
        let r = run(&[
            ("q", "d3", 4.0),
            ("q", "d1", 3.0),
            ("q", "d9", 2.0),
            ("q", "d2", 1.0),
        ]);
        let ms = parse_measures("ndcg@4,ndcg@2,rr@10,rr@1,recall@2,recall@4,p@2,p@10,map").unwrap();
        let e = evaluate(&q, &r, &ms, &Default::default());
        let dcg4 = 2.0 / 3f64.log2() + 1.0 / 5f64.log2();
        let idcg4 = 3.0 + 2.0 / 3f64.log2() + 1.0 / 4f64.log2() * 1.0;
        close(e.mean[0], dcg4 / idcg4);
        close(e.mean[1], (2.0 / 3f64.log2()) / (3.0 + 2.0 / 3f64.log2()));
        close(e.mean[2], 0.5);
        close(e.mean[3], 0.0);
        close(e.mean[4], 1.0 / 3.0);
        close(e.mean[5], 2.0 / 3.0);
        close(e.mean[6], 0.5);
        close(e.mean[7], 0.2);
        // AP: relevant at ranks 2 and 4 -> (1/2 + 2/4) / 3 relevant.
        close(e.mean[8], (0.5 + 0.5) / 3.0);
        // With -l 2 only d1 and d4 are relevant.
        let l2 = EvalOptions {
            min_relevance: 2,
            ..Default::default()
        };
        let e = evaluate(&q, &r, &ms, &l2);
        close(e.mean[5], 0.5);
        close(e.mean[8], 0.5 / 2.0);
    }

    #[test]
    fn queries_without_relevant_or_run_are_left_out_unless_complete() {
        let q = qrels(&[("a", "d1", 1), ("b", "d1", 0), ("c", "d2", 1)]);
        let r = run(&[("a", "d1", 1.0), ("b", "d1", 1.0), ("x", "d1", 1.0)]);
        let e = evaluate(&q, &r, &[Measure::Ap(None)], &Default::default());
        assert_eq!(e.per_query.keys().collect::<Vec<_>>(), vec!["a"]);
        close(e.mean[0], 1.0);
        let c = EvalOptions {
            complete: true,
            ..Default::default()
        };
        let e = evaluate(&q, &r, &[Measure::Ap(None)], &c);
        assert_eq!(e.per_query.keys().collect::<Vec<_>>(), vec!["a", "c"]);
        close(e.mean[0], 0.5);
    }

    #[test]
    fn duplicate_documents_count_once() {
        let q = qrels(&[("q", "d1", 1)]);
        let r = run(&[("q", "d1", 3.0), ("q", "d1", 2.0), ("q", "d2", 1.0)]);
        let e = evaluate(&q, &r, &[Measure::Precision(2)], &Default::default());
        close(e.mean[0], 0.5);
    }

    #[test]
    fn measure_names() {
        assert_eq!(
            "NDCG@10".parse::<Measure>().unwrap(),
            Measure::Ndcg(Some(10))
        );
        assert_eq!("mrr@10".parse::<Measure>().unwrap().to_string(), "rr@10");
        assert!("recall".parse::<Measure>().is_err());
        assert!("ndcg@0".parse::<Measure>().is_err());
        assert!("bleu".parse::<Measure>().is_err());
    }
}
