//! Distillation data: training queries (labeled or pseudo), BM25 hard negatives, teacher
//! scores.

use std::collections::HashSet;
use std::path::Path;

use engine::Engine;
use index_data::{Qrels, Query};
use rand::seq::IndexedRandom;
use rand::Rng;
use reranker::CrossEncoder;
use search::Passages;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::pseudo::PseudoKind;

/// Where a training query comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A judged query with its relevant documents.
    Labeled,
    /// Made from a document of the corpus, which is its positive.
    Pseudo,
}

/// A query to train on, with its positives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainQuery {
    /// The query id (`pseudo:<doc id>` for pseudo-queries).
    pub id: String,
    /// The query text.
    pub text: String,
    /// Ids of its relevant documents.
    pub positives: Vec<String>,
    /// Where it comes from.
    pub source: Source,
    /// For a pseudo-query, its kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<PseudoKind>,
    /// For a pseudo-query, the text its positive is shown as (title and body, with the
    /// query's own text taken out where its kind says so); `None`: the stored document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub positive_text: Option<String>,
    /// For a pseudo-query whose positive is shown as one passage of its document: the whole
    /// document, the query's text taken out, which BM25 scores; `None`: BM25 scores
    /// `positive_text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub positive_bm25_text: Option<String>,
}

impl TrainQuery {
    /// The text BM25 scores this query's shown positive by: [`TrainQuery::positive_bm25_text`],
    /// else [`TrainQuery::positive_text`].
    pub fn positive_bm25(&self) -> Option<&str> {
        self.positive_bm25_text
            .as_deref()
            .or(self.positive_text.as_deref())
    }
}

/// The judged queries that have at least one relevant document (level ≥ 1).
pub fn labeled_queries(queries: &[Query], qrels: &Qrels) -> Vec<TrainQuery> {
    queries
        .iter()
        .filter_map(|q| {
            let j = qrels.get(&q.id)?;
            let mut positives: Vec<String> = j
                .iter()
                .filter(|(_, &l)| l >= 1)
                .map(|(d, _)| d.clone())
                .collect();
            positives.sort();
            (!positives.is_empty()).then(|| TrainQuery {
                id: q.id.clone(),
                text: q.text.clone(),
                positives,
                source: Source::Labeled,
                kind: None,
                positive_text: None,
                positive_bm25_text: None,
            })
        })
        .collect()
}

/// Judged training queries and their judgments, read from files (`split` names the
/// judgments when `qrels` is a folder). A test split is refused: a student is never trained
/// or chosen on the queries it is tested on.
pub fn load_training_judgments(
    queries: &Path,
    qrels: &Path,
    split: &str,
) -> Result<(Vec<Query>, Qrels)> {
    if split.eq_ignore_ascii_case("test") {
        return Err(Error::TestSplit {
            qrels: qrels.to_path_buf(),
        });
    }
    let qrels = index_data::load_qrels(qrels, Some(split), None)?;
    let (queries, _) = index_data::judged_queries(index_data::read_queries(queries)?, &qrels);
    Ok((queries, qrels))
}

/// Splits queries into (train, dev): a seeded `dev_fraction` of them is held out.
pub fn split_dev(
    queries: Vec<TrainQuery>,
    dev_fraction: f64,
    seed: u64,
) -> (Vec<TrainQuery>, Vec<TrainQuery>) {
    let n_dev = ((queries.len() as f64) * dev_fraction).round() as usize;
    let as_query: Vec<Query> = queries
        .iter()
        .map(|q| Query {
            id: q.id.clone(),
            text: String::new(),
        })
        .collect();
    let dev_ids: HashSet<String> = index_data::sample_queries(as_query, n_dev, seed)
        .into_iter()
        .map(|q| q.id)
        .collect();
    queries.into_iter().partition(|q| !dev_ids.contains(&q.id))
}

/// One candidate document of a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// The document id.
    pub doc_id: String,
    /// Title + text, as the cross-encoders read it.
    pub text: String,
    /// Whether it is a labeled positive.
    pub positive: bool,
    /// The teacher's logit for (query, text).
    pub teacher: f32,
    /// BM25's score for (query, text) in the index (NaN in groups written before it was
    /// kept).
    #[serde(default = "nan")]
    pub bm25: f32,
}

fn nan() -> f32 {
    f32::NAN
}

/// A query with its candidates: BM25's top `depth`, plus positives BM25 missed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// The query id.
    pub query_id: String,
    /// The query text.
    pub query: String,
    /// Where the query comes from.
    pub source: Source,
    /// For a pseudo-query, its kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<PseudoKind>,
    /// Candidates, positives and negatives.
    pub candidates: Vec<Candidate>,
}

impl Group {
    /// The best rank (1-based) of a positive when the candidates are ordered by `scores`
    /// (one per candidate, in order; ties count against the positive).
    pub fn positive_rank(&self, scores: &[f64]) -> usize {
        let best = self
            .candidates
            .iter()
            .zip(scores)
            .filter(|(c, _)| c.positive)
            .map(|(_, &s)| s)
            .fold(f64::NEG_INFINITY, f64::max);
        1 + self
            .candidates
            .iter()
            .zip(scores)
            .filter(|(c, &s)| !c.positive && s >= best)
            .count()
    }
}

/// What [`build_groups`] kept and skipped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DataStats {
    /// Groups built.
    pub groups: usize,
    /// Pairs scored (or read from the cache) by the teacher.
    pub pairs: usize,
    /// Positives BM25 did not retrieve, added to their group.
    pub positives_added: usize,
    /// Queries skipped: none of their positives is in the index.
    pub skipped_no_positive: usize,
    /// Queries skipped: fewer than 2 negatives.
    pub skipped_few_negatives: usize,
    /// Candidates dropped: empty document text.
    pub dropped_empty: usize,
    /// Candidates dropped: a NaN or infinite teacher score.
    pub dropped_bad_score: usize,
}

/// Builds one group per query: BM25 top `depth` as hard negatives (positives among them
/// flagged), missing positives added from the index, and the teacher's score for each pair.
/// Pass a [`reranker::CachedCrossEncoder`] as `teacher` to keep scores on disk and resume.
pub fn build_groups(
    engine: &Engine,
    teacher: &dyn CrossEncoder,
    queries: &[TrainQuery],
    depth: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Vec<Group>, DataStats)> {
    build_groups_in(
        engine,
        teacher,
        queries,
        depth,
        &Passages::first_only(),
        progress,
    )
}

/// As [`build_groups`], each candidate read as `passages`: the teacher scores every window of
/// a long document and the candidate is its best window with that score (MaxP), the passage
/// a MaxP reranker would judge it by. A pseudo-query's positive is shown as it was made (one
/// window, see [`crate::pseudo_queries_in`]). [`DataStats::pairs`] counts every window scored.
pub fn build_groups_in(
    engine: &Engine,
    teacher: &dyn CrossEncoder,
    queries: &[TrainQuery],
    depth: usize,
    passages: &Passages,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Vec<Group>, DataStats)> {
    let mut stats = DataStats::default();
    let mut groups = Vec::new();
    for (qi, q) in queries.iter().enumerate() {
        let positives: HashSet<&str> = q.positives.iter().map(String::as_str).collect();
        // A pseudo-query's positive is shown with the query taken out, and scored by BM25 as
        // if it had been indexed that way.
        let shown = |id: &str| -> Option<(&str, &str)> {
            q.positive_text
                .as_deref()
                .zip(q.positive_bm25())
                .filter(|_| positives.contains(id))
        };
        // Each candidate with the passages the teacher reads of it.
        let mut cands: Vec<(Candidate, Vec<String>)> = Vec::new();
        let mut seen = HashSet::new();
        for h in engine.search(&q.text, depth)? {
            seen.insert(h.id.clone());
            let (reads, bm25) = match shown(&h.id) {
                Some((t, b)) => (vec![t.to_owned()], engine.score_text(&q.text, "", b)?),
                None => (passages.split(&h.title, &h.text), h.score),
            };
            cands.push((
                Candidate {
                    positive: positives.contains(h.id.as_str()),
                    text: reads[0].clone(),
                    doc_id: h.id,
                    teacher: f32::NAN,
                    bm25,
                },
                reads,
            ));
        }
        for p in &q.positives {
            if seen.contains(p) {
                continue;
            }
            if let Some(d) = engine.get(p)? {
                stats.positives_added += 1;
                let (reads, bm25) = match shown(p) {
                    Some((t, b)) => (vec![t.to_owned()], engine.score_text(&q.text, "", b)?),
                    None => (
                        passages.split(&d.title, &d.body),
                        engine.score_text(&q.text, &d.title, &d.body)?,
                    ),
                };
                cands.push((
                    Candidate {
                        doc_id: d.id,
                        text: reads[0].clone(),
                        positive: true,
                        teacher: f32::NAN,
                        bm25,
                    },
                    reads,
                ));
            }
        }
        let before = cands.len();
        cands.retain(|(c, _)| !c.text.trim().is_empty());
        stats.dropped_empty += before - cands.len();
        if !cands.iter().any(|(c, _)| c.positive) {
            stats.skipped_no_positive += 1;
            progress(qi + 1, queries.len());
            continue;
        }
        let refs: Vec<&str> = cands
            .iter()
            .flat_map(|(_, reads)| reads.iter().map(String::as_str))
            .collect();
        let scores = teacher.score(&q.text, &refs)?;
        stats.pairs += scores.len();
        let mut at = 0;
        for (c, reads) in cands.iter_mut() {
            let own = &scores[at..at + reads.len()];
            at += reads.len();
            // The best window (the first of equals); a NaN anywhere stays NaN (and the
            // candidate is dropped).
            let best = (0..own.len()).fold(0, |b, i| if own[i] > own[b] { i } else { b });
            c.teacher = match own.iter().any(|s| s.is_nan()) {
                true => f32::NAN,
                false => own[best],
            };
            if best > 0 {
                c.text = std::mem::take(&mut reads[best]);
            }
        }
        let mut cands: Vec<Candidate> = cands.into_iter().map(|(c, _)| c).collect();
        let before = cands.len();
        cands.retain(|c| c.teacher.is_finite());
        stats.dropped_bad_score += before - cands.len();
        if !cands.iter().any(|c| c.positive) {
            stats.skipped_no_positive += 1;
        } else if cands.iter().filter(|c| !c.positive).count() < 2 {
            stats.skipped_few_negatives += 1;
        } else {
            groups.push(Group {
                query_id: q.id.clone(),
                query: q.text.clone(),
                source: q.source,
                kind: q.kind,
                candidates: cands,
            });
        }
        progress(qi + 1, queries.len());
    }
    stats.groups = groups.len();
    Ok((groups, stats))
}

/// Draws a training group of `size`: one positive and `size − 1` negatives, sampled without
/// replacement (all negatives if there are fewer). The positive comes first.
pub fn sample_group<'a, R: Rng>(g: &'a Group, size: usize, rng: &mut R) -> Vec<&'a Candidate> {
    let pos: Vec<&Candidate> = g.candidates.iter().filter(|c| c.positive).collect();
    let neg: Vec<&Candidate> = g.candidates.iter().filter(|c| !c.positive).collect();
    let mut out = vec![*pos.choose(rng).expect("groups have a positive")];
    out.extend(neg.choose_multiple(rng, size.saturating_sub(1)).copied());
    out
}

/// Writes groups as JSON Lines (atomically).
pub fn save_groups(path: &Path, groups: &[Group]) -> Result<()> {
    let mut text = String::new();
    for g in groups {
        text.push_str(&serde_json::to_string(g).map_err(|e| Error::json(path, e))?);
        text.push('\n');
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Reads groups written by [`save_groups`].
pub fn load_groups(path: &Path) -> Result<Vec<Group>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|source| Error::Json {
                path: path.into(),
                line: Some(i as u64 + 1),
                source,
            })
        })
        .collect()
}
