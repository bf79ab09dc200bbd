//! What is made of the teacher's scores once the groups are built: the consistency filter
//! that drops pseudo-queries the teacher does not answer with their own document, and the
//! targets the student learns (the teacher's logits, or BM25 fused with them).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::data::{Group, Source};
use crate::error::{Error, Result};

/// How the consistency filter ranks a pseudo-query's source document among its candidates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RankBy {
    /// The teacher's logit alone.
    Teacher,
    /// BM25 fused with the teacher at this BM25 weight (the pipeline's min-max fusion).
    Fused {
        /// BM25's weight.
        alpha: f64,
    },
}

/// Keep a pseudo-query only if its source document ranks within the top `top` of its
/// candidates (the filter that makes InPars and Promptagator data useful). `top` 0 keeps
/// every query. Judged queries are always kept.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ConsistencyFilter {
    /// The rank a source document must reach; 0: no filter.
    pub top: usize,
    /// How candidates are ranked.
    pub by: RankBy,
}

impl Default for ConsistencyFilter {
    fn default() -> Self {
        ConsistencyFilter {
            top: 3,
            by: RankBy::Teacher,
        }
    }
}

/// What the filter kept, by pseudo-query kind (`labeled` for judged queries).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FilterReport {
    /// The filter applied.
    pub filter: Option<ConsistencyFilter>,
    /// Per kind: (groups in, groups kept).
    pub by_kind: BTreeMap<String, (usize, usize)>,
}

impl FilterReport {
    /// Groups in and kept, over all kinds.
    pub fn totals(&self) -> (usize, usize) {
        self.by_kind
            .values()
            .fold((0, 0), |(a, b), (x, y)| (a + x, b + y))
    }
}

fn kind_name(g: &Group) -> String {
    match (g.source, g.kind) {
        (Source::Labeled, _) => "labeled".into(),
        (Source::Pseudo, Some(k)) => k.to_string(),
        (Source::Pseudo, None) => "pseudo".into(),
    }
}

/// Min-max normalization over a group (all zeros if constant).
fn min_max(xs: &[f64]) -> Vec<f64> {
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if hi > lo {
        xs.iter().map(|x| (x - lo) / (hi - lo)).collect()
    } else {
        vec![0.0; xs.len()]
    }
}

/// The fused score of each candidate: `alpha · minmax(bm25) + (1 − alpha) · minmax(teacher)`
/// over the group; an error if a BM25 score is missing (groups written by an older version).
fn fused(g: &Group, alpha: f64) -> Result<Vec<f64>> {
    if g.candidates.iter().any(|c| !c.bm25.is_finite()) {
        return Err(Error::OutdatedGroups {
            query_id: g.query_id.clone(),
        });
    }
    let bm25: Vec<f64> = g.candidates.iter().map(|c| f64::from(c.bm25)).collect();
    let teacher: Vec<f64> = g.candidates.iter().map(|c| f64::from(c.teacher)).collect();
    Ok(min_max(&bm25)
        .into_iter()
        .zip(min_max(&teacher))
        .map(|(b, t)| alpha * b + (1.0 - alpha) * t)
        .collect())
}

/// Applies the consistency filter; returns the groups kept and what was kept of each kind.
pub fn consistency_filter(
    groups: Vec<Group>,
    filter: &ConsistencyFilter,
) -> Result<(Vec<Group>, FilterReport)> {
    let mut report = FilterReport {
        filter: (filter.top > 0).then_some(*filter),
        by_kind: BTreeMap::new(),
    };
    let mut kept = Vec::new();
    for g in groups {
        let entry = report.by_kind.entry(kind_name(&g)).or_default();
        entry.0 += 1;
        let keep = filter.top == 0 || g.source == Source::Labeled || {
            let scores = match filter.by {
                RankBy::Teacher => g.candidates.iter().map(|c| f64::from(c.teacher)).collect(),
                RankBy::Fused { alpha } => fused(&g, alpha)?,
            };
            g.positive_rank(&scores) <= filter.top
        };
        if keep {
            entry.1 += 1;
            kept.push(g);
        }
    }
    Ok((kept, report))
}

/// What the student learns to reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// The teacher's logits.
    #[default]
    Teacher,
    /// BM25 fused with the teacher (better than the teacher alone where BM25 is strong):
    /// the fused score in [0, 1] of each candidate, stretched to the span of the group's
    /// teacher logits so that the loss's temperature means what it means for the teacher.
    Fused {
        /// BM25's weight.
        alpha: f64,
    },
}

/// Rewrites each candidate's `teacher` score into the training target `target` asks for.
pub fn apply_target(groups: &mut [Group], target: Target) -> Result<()> {
    let Target::Fused { alpha } = target else {
        return Ok(());
    };
    if !(0.0..=1.0).contains(&alpha) {
        return Err(Error::Settings(format!(
            "the fused target's BM25 weight must be in [0, 1], not {alpha}"
        )));
    }
    for g in groups {
        let f = fused(g, alpha)?;
        let lo = g
            .candidates
            .iter()
            .map(|c| c.teacher)
            .fold(f32::INFINITY, f32::min);
        let hi = g
            .candidates
            .iter()
            .map(|c| c.teacher)
            .fold(f32::NEG_INFINITY, f32::max);
        let span = f64::from((hi - lo).max(1e-3));
        for (c, s) in g.candidates.iter_mut().zip(f) {
            c.teacher = (s * span) as f32;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Candidate;
    use crate::pseudo::PseudoKind;

    fn group(id: &str, source: Source, scores: &[(f32, f32, bool)]) -> Group {
        Group {
            query_id: id.into(),
            query: "q".into(),
            source,
            kind: (source == Source::Pseudo).then_some(PseudoKind::Sentence),
            candidates: scores
                .iter()
                .enumerate()
                .map(|(i, &(teacher, bm25, positive))| Candidate {
                    doc_id: format!("d{i}"),
                    text: "t".into(),
                    positive,
                    teacher,
                    bm25,
                })
                .collect(),
        }
    }

    #[test]
    fn filter_keeps_pseudo_queries_whose_source_the_teacher_ranks_high() {
        // Positive ranked 1st by the teacher; ranked 3rd; a judged query ranked last.
        let groups = vec![
            group(
                "a",
                Source::Pseudo,
                &[(5.0, 1.0, true), (1.0, 9.0, false), (0.0, 8.0, false)],
            ),
            group(
                "b",
                Source::Pseudo,
                &[(1.0, 9.0, true), (5.0, 1.0, false), (3.0, 1.0, false)],
            ),
            group(
                "c",
                Source::Labeled,
                &[(0.0, 0.0, true), (5.0, 1.0, false), (3.0, 1.0, false)],
            ),
        ];
        let by_teacher = ConsistencyFilter {
            top: 1,
            by: RankBy::Teacher,
        };
        let (kept, report) = consistency_filter(groups.clone(), &by_teacher).unwrap();
        let ids: Vec<&str> = kept.iter().map(|g| g.query_id.as_str()).collect();
        assert_eq!(ids, vec!["a", "c"]);
        assert_eq!(report.by_kind["sentence"], (2, 1));
        assert_eq!(report.by_kind["labeled"], (1, 1));
        assert_eq!(report.totals(), (3, 2));
        // Fused with a heavy BM25 weight, b's positive (BM25 9) comes first instead.
        let by_fused = ConsistencyFilter {
            top: 1,
            by: RankBy::Fused { alpha: 0.9 },
        };
        let (kept, _) = consistency_filter(groups.clone(), &by_fused).unwrap();
        let ids: Vec<&str> = kept.iter().map(|g| g.query_id.as_str()).collect();
        assert_eq!(ids, vec!["b", "c"]);
        // top 0: no filter.
        let none = ConsistencyFilter {
            top: 0,
            ..by_teacher
        };
        assert_eq!(consistency_filter(groups, &none).unwrap().0.len(), 3);
    }

    #[test]
    fn fused_target_keeps_the_teacher_span_and_mixes_in_bm25() {
        let mut g = vec![group(
            "a",
            Source::Pseudo,
            &[(4.0, 0.0, true), (0.0, 10.0, false), (2.0, 5.0, false)],
        )];
        apply_target(&mut g, Target::Fused { alpha: 0.5 }).unwrap();
        let t: Vec<f32> = g[0].candidates.iter().map(|c| c.teacher).collect();
        // fused: 0.5·(0, 1, 0.5) + 0.5·(1, 0, 0.5) = (0.5, 0.5, 0.5), times span 4.
        assert_eq!(t, vec![2.0, 2.0, 2.0]);
        let mut g2 = g.clone();
        apply_target(&mut g2, Target::Teacher).unwrap();
        assert_eq!(g, g2);
        g[0].candidates[0].bm25 = f32::NAN;
        assert!(apply_target(&mut g, Target::Fused { alpha: 0.5 }).is_err());
    }
}
