//! Turning a query string into a tantivy query, within [`Limits`] that keep any input's
//! cost bounded: a repeated term is one clause weighted by its count (not one clause per
//! repeat, whose union cost grows with the square of the query's length), the number of
//! distinct terms is capped, and tantivy's syntax may not nest without end.

use std::collections::HashMap;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, QueryParser, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, Term};

use crate::error::{Error, Result};
use crate::index::{Engine, QuerySyntax, Score};

/// Bounds on one search, so that no input costs unbounded time or memory. The defaults can
/// be raised with environment variables (read by [`Limits::from_env`], which
/// [`Engine::open`] uses); a library user sets them with [`Engine::set_limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Hits one search may return (`k`, and a reranker's depth): default 10,000,
    /// `SEARCH_MAX_HITS`.
    pub max_hits: usize,
    /// Bytes of query text: default 1 MiB, `SEARCH_MAX_QUERY_BYTES`.
    pub max_query_bytes: usize,
    /// Distinct terms a lenient query keeps (the rarest, by document frequency, when there
    /// are more; terms no document holds go first): default 1,024, `SEARCH_MAX_QUERY_TERMS`.
    pub max_query_terms: usize,
    /// Nesting of parentheses in tantivy's syntax: default 64, `SEARCH_MAX_QUERY_NESTING`.
    pub max_nesting: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_hits: 10_000,
            max_query_bytes: 1 << 20,
            max_query_terms: 1024,
            max_nesting: 64,
        }
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|&v: &usize| v > 0)
        .unwrap_or(default)
}

impl Limits {
    /// The defaults, each replaced by its environment variable where that is a positive
    /// number.
    pub fn from_env() -> Limits {
        let d = Limits::default();
        Limits {
            max_hits: env_usize("SEARCH_MAX_HITS", d.max_hits),
            max_query_bytes: env_usize("SEARCH_MAX_QUERY_BYTES", d.max_query_bytes),
            max_query_terms: env_usize("SEARCH_MAX_QUERY_TERMS", d.max_query_terms),
            max_nesting: env_usize("SEARCH_MAX_QUERY_NESTING", d.max_nesting),
        }
    }

    /// An error unless `k` hits may be asked for.
    pub fn check_hits(&self, k: usize) -> Result<()> {
        if k > self.max_hits {
            return Err(Error::InvalidArgument(format!(
                "{k} hits is more than the {} a search may return (SEARCH_MAX_HITS raises it)",
                self.max_hits
            )));
        }
        Ok(())
    }

    pub(crate) fn check_query(&self, query: &str) -> Result<()> {
        if query.len() > self.max_query_bytes {
            return Err(Error::InvalidArgument(format!(
                "the query has {} bytes, more than the {} a query may have (SEARCH_MAX_QUERY_BYTES raises it)",
                query.len(),
                self.max_query_bytes
            )));
        }
        Ok(())
    }
}

/// The deepest nesting of parentheses in `query` (unbalanced closers ignored).
fn nesting(query: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for c in query.chars() {
        match c {
            '(' => {
                depth += 1;
                max = max.max(depth);
            }
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

impl Engine {
    /// The limits searches run within.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Sets the limits searches run within.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// The query's distinct analysed terms, in first-seen order, with how often each occurs.
    pub(crate) fn term_counts(&self, text: &str) -> Result<Vec<(String, u32)>> {
        let mut order: Vec<(String, u32)> = Vec::new();
        let mut at: HashMap<String, usize> = HashMap::new();
        for t in self.analyze(text)? {
            match at.get(&t) {
                Some(&i) => order[i].1 += 1,
                None => {
                    at.insert(t.clone(), order.len());
                    order.push((t, 1));
                }
            }
        }
        Ok(order)
    }

    pub(crate) fn top_docs(
        &self,
        searcher: &tantivy::Searcher,
        query: &str,
        k: usize,
        syntax: QuerySyntax,
    ) -> Result<Vec<(Score, DocAddress)>> {
        self.limits.check_hits(k)?;
        self.limits.check_query(query)?;
        if k == 0 {
            return Ok(Vec::new());
        }
        let query: Box<dyn Query> = match syntax {
            QuerySyntax::Lenient => match self.lenient_query(query)? {
                Some(q) => q,
                None => return Ok(Vec::new()),
            },
            QuerySyntax::Tantivy => {
                let depth = nesting(query);
                if depth > self.limits.max_nesting {
                    return Err(Error::QuerySyntax(format!(
                        "parentheses nested {depth} deep, more than {} (SEARCH_MAX_QUERY_NESTING raises it)",
                        self.limits.max_nesting
                    )));
                }
                let parser = QueryParser::for_index(&self.index, vec![self.fields.all]);
                parser
                    .parse_query(query)
                    .map_err(|e| Error::QuerySyntax(e.to_string()))?
            }
        };
        Ok(searcher.search(&query, &TopDocs::with_limit(k).order_by_score())?)
    }

    /// The query's analysed terms OR-ed over the title-and-body field, each distinct term one
    /// clause boosted by its count (the same BM25 score as one clause per occurrence, at a
    /// cost linear in the query's length). Past [`Limits::max_query_terms`] distinct terms,
    /// the rarest are kept. `None` if no term survives analysis.
    ///
    /// One field for title and body, as Anserini indexes BEIR, measured better on SciFact
    /// than BM25 summed over separate title and body fields (nDCG@10 0.684 against 0.668).
    pub(crate) fn lenient_query(&self, text: &str) -> Result<Option<Box<dyn Query>>> {
        let mut terms = self.term_counts(text)?;
        if terms.len() > self.limits.max_query_terms {
            let searcher = self.reader.searcher();
            let mut with_df: Vec<(u64, usize, (String, u32))> = Vec::new();
            for (i, t) in terms.into_iter().enumerate() {
                let df = searcher.doc_freq(&Term::from_field_text(self.fields.all, &t.0))?;
                with_df.push((df, i, t));
            }
            // Terms no document holds cannot match: they go first.
            with_df.sort_by_key(|&(df, i, _)| (df == 0, df, i));
            with_df.truncate(self.limits.max_query_terms);
            with_df.sort_by_key(|&(_, i, _)| i);
            terms = with_df.into_iter().map(|(_, _, t)| t).collect();
        }
        let clauses: Vec<(Occur, Box<dyn Query>)> = terms
            .into_iter()
            .map(|(t, count)| {
                let term = Term::from_field_text(self.fields.all, &t);
                let q: Box<dyn Query> =
                    Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs));
                let q: Box<dyn Query> = if count > 1 {
                    Box::new(BoostQuery::new(q, count as f32))
                } else {
                    q
                };
                (Occur::Should, q)
            })
            .collect();
        if clauses.is_empty() {
            return Ok(None);
        }
        Ok(Some(Box::new(BooleanQuery::new(clauses))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_depth() {
        assert_eq!(nesting("a (b (c) d) (e)"), 2);
        assert_eq!(nesting("))(("), 2);
        assert_eq!(nesting("plain"), 0);
    }
}
