//! The records that flow through the project: documents, queries, judgments and runs.

use std::collections::{BTreeMap, HashMap};

/// The longest document id the readers accept, in bytes: an index keys ids exactly up to
/// this length (a longer id is a record error naming file and line).
pub const MAX_ID_BYTES: usize = 4096;

/// A record error if `id` is longer than [`MAX_ID_BYTES`].
pub(crate) fn check_id(path: &std::path::Path, line: u64, id: &str) -> crate::Result<()> {
    if id.len() > MAX_ID_BYTES {
        return Err(crate::Error::Parse {
            path: path.into(),
            line,
            message: format!(
                "the id has {} bytes, more than the {MAX_ID_BYTES} an id may have",
                id.len()
            ),
        });
    }
    Ok(())
}

/// `q` if its id is new, else a record error naming the line that gave it first.
pub(crate) fn first_time(
    seen: &mut std::collections::HashMap<String, u64>,
    path: &std::path::Path,
    line: u64,
    q: Query,
) -> crate::Result<Query> {
    match seen.get(&q.id) {
        Some(&first) => Err(crate::Error::Parse {
            path: path.into(),
            line,
            message: format!(
                "query id `{}` was already given at line {first} (two queries under one id would be evaluated as one)",
                q.id
            ),
        }),
        None => {
            seen.insert(q.id.clone(), line);
            Ok(q)
        }
    }
}

/// A document of a collection, as the engine indexes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Document {
    /// The collection's own id (BEIR `_id`, SMART `.I`, a relative path ...). Unique in an index.
    pub id: String,
    /// The title; may be empty.
    pub title: String,
    /// The body text; may be empty.
    pub body: String,
}

impl Document {
    /// A document from its id, title (may be empty) and body.
    pub fn new(id: impl Into<String>, title: impl Into<String>, body: impl Into<String>) -> Self {
        Document {
            id: id.into(),
            title: title.into(),
            body: body.into(),
        }
    }
}

/// A query of a test collection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    /// The query id, as the qrels name it.
    pub id: String,
    /// The text a user would type.
    pub text: String,
}

/// Relevance judgments: query id → document id → relevance level.
///
/// Levels are integers as in TREC qrels: 0 (or below) is non-relevant, higher is more relevant.
/// A document that a query's judgments do not mention is non-relevant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Qrels {
    /// The judgments, by query id, then document id.
    pub by_query: BTreeMap<String, HashMap<String, i32>>,
}

impl Qrels {
    /// Records one judgment; a later judgment of the same pair replaces an earlier one.
    pub fn insert(&mut self, query_id: &str, doc_id: &str, relevance: i32) {
        self.by_query
            .entry(query_id.to_owned())
            .or_default()
            .insert(doc_id.to_owned(), relevance);
    }

    /// The judgments of one query, if it has any.
    pub fn get(&self, query_id: &str) -> Option<&HashMap<String, i32>> {
        self.by_query.get(query_id)
    }

    /// The number of judged queries.
    pub fn num_queries(&self) -> usize {
        self.by_query.len()
    }

    /// The number of judgments over all queries.
    pub fn num_judgments(&self) -> usize {
        self.by_query.values().map(HashMap::len).sum()
    }
}

/// One retrieved document of a run, with the score the system gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredDoc {
    /// The document id.
    pub doc_id: String,
    /// The system's score: higher is better. Its scale depends on the system (BM25, a logit ...).
    pub score: f64,
}

/// A run: query id → retrieved documents, in the order the system ranked them.
///
/// Evaluation does not trust this order: like trec_eval it re-sorts by score (see the engine's
/// metrics). Writers write the documents in the order given here.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Run {
    /// The retrieved documents, by query id.
    pub by_query: BTreeMap<String, Vec<ScoredDoc>>,
}

impl Run {
    /// Appends one retrieved document to a query's list.
    pub fn push(&mut self, query_id: &str, doc_id: &str, score: f64) {
        self.by_query
            .entry(query_id.to_owned())
            .or_default()
            .push(ScoredDoc {
                doc_id: doc_id.to_owned(),
                score,
            });
    }

    /// The number of queries with at least one retrieved document.
    pub fn num_queries(&self) -> usize {
        self.by_query.len()
    }
}

/// The queries that have judgments in `qrels`, in their order, and how many had none (which
/// evaluation leaves out, as trec_eval does).
pub fn judged_queries(queries: Vec<Query>, qrels: &Qrels) -> (Vec<Query>, usize) {
    let total = queries.len();
    let judged: Vec<Query> = queries
        .into_iter()
        .filter(|q| qrels.get(&q.id).is_some())
        .collect();
    let unjudged = total - judged.len();
    (judged, unjudged)
}

/// A seeded, deterministic sample of `n` queries (all of them if `n` is at least their number),
/// kept in their original order. The same seed and ids give the same sample on any machine:
/// queries are ranked by a 64-bit FNV-1a hash of the seed and their id.
pub fn sample_queries(queries: Vec<Query>, n: usize, seed: u64) -> Vec<Query> {
    if n >= queries.len() {
        return queries;
    }
    let hash = |id: &str| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in seed.to_le_bytes().iter().chain(id.as_bytes()) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h
    };
    let mut ranked: Vec<(u64, usize)> = queries
        .iter()
        .enumerate()
        .map(|(i, q)| (hash(&q.id), i))
        .collect();
    ranked.sort_unstable();
    let mut keep: Vec<usize> = ranked[..n].iter().map(|&(_, i)| i).collect();
    keep.sort_unstable();
    let mut keep = keep.into_iter().peekable();
    queries
        .into_iter()
        .enumerate()
        .filter_map(|(i, q)| {
            if keep.peek() == Some(&i) {
                keep.next();
                Some(q)
            } else {
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_is_seeded_and_keeps_order() {
        let qs: Vec<Query> = (0..50)
            .map(|i| Query {
                id: i.to_string(),
                text: String::new(),
            })
            .collect();
        let a = sample_queries(qs.clone(), 10, 1);
        let b = sample_queries(qs.clone(), 10, 1);
        let c = sample_queries(qs.clone(), 10, 2);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 10);
        let ids: Vec<usize> = a.iter().map(|q| q.id.parse().unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(sample_queries(qs.clone(), 99, 1).len(), 50);
    }
}
