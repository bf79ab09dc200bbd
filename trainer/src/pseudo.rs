//! Label-free training queries made from the corpus itself, for users without judgments.
//!
//! Three kinds, mixable and seeded (a seed and an index give the same queries on any
//! machine):
//! - [`PseudoKind::Keywords`]: two to four salient terms of a document, weighted by the
//!   index's own statistics (sublinear tf × BM25's idf), in the order they first occur: the
//!   shape of what users type. The document is the positive as it is.
//! - [`PseudoKind::Sentence`]: a question- or claim-like sentence of the document's body,
//!   **taken out of the text the teacher and the student see as its positive** (the inverse
//!   cloze task of Lee et al., 2019), so that matching it is not copying it. Questions are
//!   drawn three times as often as other sentences; only prose counts (see [`is_prose`]).
//! - [`PseudoKind::Title`]: the document's title where it has one of 3 to 30 words, the
//!   positive being the body alone.
//!
//! Each sampled document gets one query, of a kind drawn by the mix's weights among the kinds
//! it can give (a document without a title cannot give a title query).
//!
//! Read as passages ([`pseudo_queries_in`]), a long document gives its query from one of its
//! windows, and that window is the positive: what a MaxP reranker reads of it.

use std::collections::HashMap;

use engine::Engine;
use index_data::Document;
use rand::{Rng, SeedableRng};
use search::{passage_text, Passages};
use serde::{Deserialize, Serialize};

use crate::data::{Source, TrainQuery};
use crate::error::{Error, Result};
use crate::prose::{ends_sentence, is_prose, sentences, without_section_label};

/// A kind of pseudo-query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PseudoKind {
    /// Salient terms of the document.
    Keywords,
    /// A sentence of the document, removed from its positive.
    Sentence,
    /// The document's title, removed from its positive.
    Title,
}

impl PseudoKind {
    /// Every kind, in a fixed order.
    pub const ALL: [PseudoKind; 3] = [
        PseudoKind::Keywords,
        PseudoKind::Sentence,
        PseudoKind::Title,
    ];

    /// Its name, as [`std::str::FromStr`] reads it.
    pub fn name(self) -> &'static str {
        match self {
            PseudoKind::Keywords => "keywords",
            PseudoKind::Sentence => "sentence",
            PseudoKind::Title => "title",
        }
    }

    /// True if the query text was taken out of its positive, so that BM25 cannot find the
    /// positive by the query's own words: such queries make a fair label-free dev set.
    pub fn removed_from_positive(self) -> bool {
        !matches!(self, PseudoKind::Keywords)
    }
}

impl std::fmt::Display for PseudoKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for PseudoKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        PseudoKind::ALL
            .into_iter()
            .find(|k| k.name() == s.trim())
            .ok_or_else(|| format!("unknown pseudo-query kind `{s}` (keywords, sentence, title)"))
    }
}

/// Which kinds of pseudo-query to make, with relative weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PseudoMix(pub Vec<(PseudoKind, f64)>);

impl Default for PseudoMix {
    /// All three kinds, equally weighted.
    fn default() -> Self {
        PseudoMix(PseudoKind::ALL.iter().map(|&k| (k, 1.0)).collect())
    }
}

impl std::str::FromStr for PseudoMix {
    type Err = String;
    /// `keywords,sentence` (equal weights) or `keywords:2,sentence:1,title:1`; `all` for every
    /// kind.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s.trim() == "all" {
            return Ok(PseudoMix::default());
        }
        let mut out: Vec<(PseudoKind, f64)> = Vec::new();
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let (name, weight) = match part.split_once(':') {
                Some((n, w)) => (
                    n,
                    w.trim()
                        .parse::<f64>()
                        .map_err(|_| format!("weight `{w}` of `{n}` is not a number"))?,
                ),
                None => (part, 1.0),
            };
            if !(weight.is_finite() && weight > 0.0) {
                return Err(format!("weight of `{name}` must be positive, not {weight}"));
            }
            let kind: PseudoKind = name.parse()?;
            if out.iter().any(|(k, _)| *k == kind) {
                return Err(format!("`{kind}` is named twice"));
            }
            out.push((kind, weight));
        }
        if out.is_empty() {
            return Err("name at least one kind (keywords, sentence, title)".into());
        }
        Ok(PseudoMix(out))
    }
}

impl std::fmt::Display for PseudoMix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(k, w)| format!("{k}:{w}")).collect();
        f.write_str(&parts.join(","))
    }
}

/// Words a body must keep after its sentence (or title) is taken out, for the rest to make a
/// positive worth judging.
const MIN_REST_WORDS: usize = 20;

/// The pseudo-queries of a seeded sample of `n` documents of `engine`, one per document that
/// can give one of the kinds in `mix`. Ids are `pseudo:<kind>:<doc id>`; the positive is the
/// document, with the query's text taken out where the kind says so
/// ([`TrainQuery::positive_text`]).
pub fn pseudo_queries(
    engine: &Engine,
    n: usize,
    mix: &PseudoMix,
    seed: u64,
) -> Result<Vec<TrainQuery>> {
    let docs = engine.sample_documents(n, seed)?;
    pseudo_queries_for(engine, &docs, mix, seed)
}

/// The pseudo-queries of the given documents (one each, where one of `mix`'s kinds can be
/// made), in their order. Each document's query depends only on the seed and its own id and
/// text, not on the other documents.
pub fn pseudo_queries_for(
    engine: &Engine,
    docs: &[Document],
    mix: &PseudoMix,
    seed: u64,
) -> Result<Vec<TrainQuery>> {
    pseudo_queries_in(engine, docs, mix, seed, &Passages::first_only())
}

/// As [`pseudo_queries_for`], each document read as `passages`: one whose body has several
/// windows gives its query from one of them (drawn by the seed and its id), and that window,
/// with the query's text taken out where the kind says so, is its positive; BM25 still
/// scores the whole document ([`TrainQuery::positive_bm25_text`]). Documents of one window,
/// and every document with [`Passages::first_only`], give what [`pseudo_queries_for`] gives.
pub fn pseudo_queries_in(
    engine: &Engine,
    docs: &[Document],
    mix: &PseudoMix,
    seed: u64,
    passages: &Passages,
) -> Result<Vec<TrainQuery>> {
    if mix.0.is_empty() {
        return Err(Error::Settings("no pseudo-query kind to make".into()));
    }
    let terms = TermWeights::new(engine);
    let mut out = Vec::new();
    for d in docs {
        if let Some(q) = query_for(d, mix, &terms, seed, passages)? {
            out.push(q);
        }
    }
    Ok(out)
}

/// The kinds of a label-free dev set: those whose text is taken out of the positive.
pub fn dev_mix() -> PseudoMix {
    PseudoMix(vec![(PseudoKind::Sentence, 1.0), (PseudoKind::Title, 1.0)])
}

fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// One query for `doc`: a kind drawn by weight among those the document can give.
///
/// The kind is drawn from one generator and each kind's query from its own, seeded by (seed,
/// document, kind): a document's sentence query is the same whatever the mix, so runs of
/// several mixes share their teacher scores through the score cache.
fn query_for(
    doc: &Document,
    mix: &PseudoMix,
    terms: &TermWeights,
    seed: u64,
    passages: &Passages,
) -> Result<Option<TrainQuery>> {
    let doc_seed = seed ^ fnv(&doc.id) ^ 0x5eed_9e3d;
    // From its own generator, so that the kind drawn does not depend on the passages.
    let window = passages.windows(&doc.body).map(|w| {
        let mut rng = rand::rngs::StdRng::seed_from_u64(doc_seed ^ fnv("window"));
        w[rng.random_range(0..w.len())].clone()
    });
    let mut rng = rand::rngs::StdRng::seed_from_u64(doc_seed);
    let mut kinds = mix.0.clone();
    while !kinds.is_empty() {
        let total: f64 = kinds.iter().map(|(_, w)| w).sum();
        let mut x = rng.random::<f64>() * total;
        let mut pick = kinds.len() - 1;
        for (i, (_, w)) in kinds.iter().enumerate() {
            if x < *w {
                pick = i;
                break;
            }
            x -= w;
        }
        let (kind, _) = kinds.remove(pick);
        let mut own = rand::rngs::StdRng::seed_from_u64(doc_seed ^ fnv(kind.name()));
        let made = match kind {
            PseudoKind::Keywords => keyword_query(doc, window.clone(), terms, &mut own)?,
            PseudoKind::Sentence => sentence_query(doc, window.clone(), &mut own),
            PseudoKind::Title => title_query(doc, window.clone()),
        };
        if let Some(m) = made {
            return Ok(Some(TrainQuery {
                id: format!("pseudo:{kind}:{}", doc.id),
                text: m.query,
                positives: vec![doc.id.clone()],
                source: Source::Pseudo,
                kind: Some(kind),
                positive_text: Some(m.shown),
                positive_bm25_text: m.whole,
            }));
        }
    }
    Ok(None)
}

/// A generator's query and its positive.
struct Made {
    /// The query.
    query: String,
    /// The positive as the rerankers read it: the document or its window, the query's text
    /// taken out where the kind says so.
    shown: String,
    /// When `shown` is a window: the whole document with the query's text taken out, as BM25
    /// scores it.
    whole: Option<String>,
}

/// The index's term statistics, for keyword queries.
struct TermWeights<'a> {
    engine: &'a Engine,
    docs: u64,
}

impl<'a> TermWeights<'a> {
    fn new(engine: &'a Engine) -> Self {
        TermWeights {
            engine,
            docs: engine.stats_doc_count().max(1),
        }
    }

    /// BM25's idf of an analysed term.
    fn idf(&self, term: &str) -> Result<f64> {
        let df = self.engine.doc_freq(term)?.min(self.docs) as f64;
        let n = self.docs as f64;
        Ok((1.0 + (n - df + 0.5) / (df + 0.5)).ln())
    }
}

/// Salient terms of the document (or of its `window` of the body, the positive then): each
/// distinct analysed term of 3 or more letters (not a
/// number, and not a word found once in this document alone) weighs `(1 + ln tf) · idf`; 2 to 4 of the 10 heaviest are drawn in proportion to
/// their weight, and written as they first occur in the text (their surface form,
/// lower-cased), in that order.
fn keyword_query<R: Rng>(
    doc: &Document,
    window: Option<std::ops::Range<usize>>,
    terms: &TermWeights,
    rng: &mut R,
) -> Result<Option<Made>> {
    let body = window.clone().map_or(doc.body.as_str(), |w| &doc.body[w]);
    let text = format!("{}\n{}", doc.title, body);
    // term → (tf, first position, surface form)
    let mut seen: HashMap<String, (u32, usize, String)> = HashMap::new();
    for (pos, word) in words(&text).enumerate() {
        if word.chars().count() < 3 || word.chars().all(|c| c.is_numeric()) {
            continue;
        }
        let analysed = terms.engine.analyze(word)?;
        let [term] = analysed.as_slice() else {
            continue;
        };
        seen.entry(term.clone())
            .or_insert_with(|| (0, pos, word.to_lowercase()))
            .0 += 1;
    }
    let mut weighted: Vec<(f64, usize, String)> = Vec::new();
    for (term, (tf, first, surface)) in seen {
        // A word found once in this one document only is more often a typo or a broken
        // hyphenation (`re- sponsible`) than what a user would type.
        if tf == 1 && terms.engine.doc_freq(&term)? <= 1 {
            continue;
        }
        let w = (1.0 + f64::from(tf).ln()) * terms.idf(&term)?;
        if w > 0.0 {
            weighted.push((w, first, surface));
        }
    }
    if weighted.len() < 2 {
        return Ok(None);
    }
    // Heaviest first; ties by position, so the order never depends on the hash map.
    weighted.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    weighted.truncate(10);
    let k = rng.random_range(2..=4usize).min(weighted.len());
    let mut chosen = Vec::new();
    for _ in 0..k {
        let total: f64 = weighted.iter().map(|w| w.0).sum();
        let mut x = rng.random::<f64>() * total;
        let mut pick = weighted.len() - 1;
        for (i, w) in weighted.iter().enumerate() {
            if x < w.0 {
                pick = i;
                break;
            }
            x -= w.0;
        }
        chosen.push(weighted.remove(pick));
    }
    chosen.sort_by_key(|c| c.1);
    let query: Vec<String> = chosen.into_iter().map(|c| c.2).collect();
    Ok(Some(Made {
        query: query.join(" "),
        shown: passage_text(&doc.title, body),
        whole: window.map(|_| passage_text(&doc.title, &doc.body)),
    }))
}

/// Runs of letters and digits (with inner `'` or `-`), as a user would type them.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '-'))
        .map(|w| w.trim_matches(|c: char| c == '\'' || c == '-'))
        .filter(|w| !w.is_empty())
}

/// A sentence of the body (prose, 6 to 40 words; questions weigh 3), or of its `window`, and
/// the document (the window) with it taken out. A window that starts inside the body does not
/// give its first sentence, which may have begun before it.
fn sentence_query<R: Rng>(
    doc: &Document,
    window: Option<std::ops::Range<usize>>,
    rng: &mut R,
) -> Option<Made> {
    let region = window.clone().unwrap_or(0..doc.body.len());
    let part = &doc.body[region.clone()];
    let candidates: Vec<(std::ops::Range<usize>, f64)> = sentences(part)
        .into_iter()
        .enumerate()
        .filter(|(i, r)| {
            let s = &part[r.clone()];
            !(*i == 0 && region.start > 0) && ends_sentence(s) && is_prose(s, 6, 40)
        })
        .map(|(_, r)| {
            let w = if part[r.clone()].ends_with('?') {
                3.0
            } else {
                1.0
            };
            (r, w)
        })
        .collect();
    let total: f64 = candidates.iter().map(|c| c.1).sum();
    if candidates.is_empty() {
        return None;
    }
    let mut x = rng.random::<f64>() * total;
    let mut pick = candidates.len() - 1;
    for (i, c) in candidates.iter().enumerate() {
        if x < c.1 {
            pick = i;
            break;
        }
        x -= c.1;
    }
    let range = candidates[pick].0.clone();
    let sentence = without_section_label(part[range.clone()].trim()).to_owned();
    let without = |text: &str, r: std::ops::Range<usize>| {
        let rest = format!(
            "{} {}",
            text[..r.start].trim_end(),
            text[r.end..].trim_start()
        );
        rest.trim().to_owned()
    };
    let rest = without(part, range.clone());
    if rest.split_whitespace().count() < MIN_REST_WORDS {
        return None;
    }
    let at = region.start;
    Some(Made {
        query: sentence,
        shown: passage_text(&doc.title, &rest),
        whole: window.map(|_| {
            passage_text(
                &doc.title,
                &without(&doc.body, at + range.start..at + range.end),
            )
        }),
    })
}

/// The title (3 to 30 words of prose, not a file name), and the body (or its `window`) alone.
fn title_query(doc: &Document, window: Option<std::ops::Range<usize>>) -> Option<Made> {
    let title = doc.title.trim();
    if !is_prose(title, 3, 30) || doc.body.split_whitespace().count() < MIN_REST_WORDS {
        return None;
    }
    // A body that repeats the title at its start (a Markdown heading) would give it away.
    let untitled = |body: &str| -> String {
        let body = body.trim();
        match body.find(title) {
            Some(at) if at < 16 => body[at + title.len()..].trim().to_owned(),
            _ => body.to_owned(),
        }
    };
    Some(Made {
        query: title.to_owned(),
        shown: untitled(window.clone().map_or(doc.body.as_str(), |w| &doc.body[w])),
        whole: window.map(|_| untitled(&doc.body)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_parse() {
        let m: PseudoMix = "keywords:2,sentence".parse().unwrap();
        assert_eq!(
            m.0,
            vec![(PseudoKind::Keywords, 2.0), (PseudoKind::Sentence, 1.0)]
        );
        assert_eq!("all".parse::<PseudoMix>().unwrap(), PseudoMix::default());
        assert!("words".parse::<PseudoMix>().is_err());
        assert!("title:0".parse::<PseudoMix>().is_err());
        assert!("title,title".parse::<PseudoMix>().is_err());
        assert_eq!(m.to_string(), "keywords:2,sentence:1");
    }
}
