//! The BM25 index: create, open, add/update/delete by id, commit, search.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use index_data::Document;
use tantivy::collector::TopDocs;
use tantivy::query::TermQuery;
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, STORED, STRING,
};
use tantivy::{DocAddress, Index, IndexReader, IndexWriter, TantivyDocument, Term};

use crate::error::{Error, Result};
use crate::settings::Analysis;

/// A BM25 score as tantivy computes it (k1 = 1.2, b = 0.75) over the document's title and
/// body taken as one text. Only comparable between hits of the same query on the same index.
pub type Score = f32;

pub(crate) const SETTINGS_FILE: &str = "engine.json";
pub(crate) const SETTINGS_VERSION: u32 = 1;
pub(crate) const TOKENIZER: &str = "engine_text";
pub(crate) const WRITER_MEMORY: usize = 128 << 20;

/// The longest id an index keys, in bytes (tantivy's terms stop short of 64 KiB; an id
/// longer than this is refused rather than stored where it cannot be replaced or deleted).
pub const MAX_ID_BYTES: usize = index_data::MAX_ID_BYTES;

/// What [`Engine::delete_ids`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeleteReport {
    /// Ids given.
    pub requested: usize,
    /// Distinct ids among them.
    pub distinct: usize,
    /// Distinct ids that were in the index (and are deleted).
    pub found: usize,
}

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The document's id, as it was indexed.
    pub id: String,
    /// Its BM25 score for the query.
    pub score: Score,
    /// Its stored title.
    pub title: String,
    /// Its stored body text (what a reranker reads, after the title).
    pub text: String,
}

/// How a query string is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QuerySyntax {
    /// Every character is text: the query is analysed like a document and its terms are OR-ed.
    /// Never fails; a query with no terms finds nothing.
    #[default]
    Lenient,
    /// tantivy's query language (`+must -not "phrase" title:word^2 ...`); a syntax error is
    /// [`Error::QuerySyntax`].
    Tantivy,
}

/// Options for a bulk indexing run.
#[derive(Debug, Clone, Default)]
pub struct IndexOptions {
    /// Skip records that fail to read (malformed line, missing id, bad UTF-8) and count them,
    /// instead of stopping at the first one.
    pub skip_bad: bool,
    /// Commit every this many documents (in addition to the final commit), so that a killed
    /// run keeps what was committed. `None`: one commit at the end.
    pub commit_every: Option<usize>,
}

/// What a bulk indexing run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexStats {
    /// Documents written (new ids and replacements).
    pub indexed: u64,
    /// Of those, how many replaced a document with the same id (already in the index, or
    /// earlier in the same input).
    pub replaced: u64,
    /// Records skipped as bad (only with [`IndexOptions::skip_bad`]).
    pub skipped: u64,
    /// The first few skip reasons, each naming file and line.
    pub skip_examples: Vec<String>,
    /// Wall-clock seconds, commits included.
    pub seconds: f64,
}

impl IndexStats {
    /// Documents per second.
    pub fn docs_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.indexed as f64 / self.seconds
        } else {
            0.0
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    pub(crate) id: Field,
    pub(crate) title: Field,
    pub(crate) body: Field,
    /// Title and body as one indexed, unstored text: what lenient queries score.
    pub(crate) all: Field,
}

/// The text of the `all` field: title and body, one line apart.
pub(crate) fn all_text(title: &str, body: &str) -> String {
    let mut all = String::with_capacity(title.len() + body.len() + 1);
    all.push_str(title);
    all.push('\n');
    all.push_str(body);
    all
}

/// A BM25 index over documents with an id, a title and a body.
///
/// The index lives in one folder: tantivy's files plus `engine.json` (the text analysis it was
/// built with). Documents are upserted by id: adding a document whose id is already present
/// replaces it. Writes become visible to searches at [`Engine::commit`]; a process killed
/// between commits leaves the index at its last commit.
///
/// `Engine` is `Sync`: one thread may search while another indexes. Only one `Engine` (in any
/// process) may write to an index at a time; the writer is taken at the first write.
pub struct Engine {
    pub(crate) path: PathBuf,
    pub(crate) index: Index,
    pub(crate) reader: IndexReader,
    pub(crate) writer: Mutex<Option<IndexWriter>>,
    pub(crate) fields: Fields,
    pub(crate) analysis: Analysis,
    pub(crate) read_only: bool,
    pub(crate) limits: crate::query::Limits,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("path", &self.path)
            .field("analysis", &self.analysis)
            .finish()
    }
}

pub(crate) fn schema() -> Schema {
    let mut builder = Schema::builder();
    builder.add_text_field("id", STRING | STORED | FAST);
    let text = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TOKENIZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    builder.add_text_field("title", text.clone());
    builder.add_text_field("body", text.clone());
    let unstored = TextOptions::default().set_indexing_options(
        text.get_indexing_options()
            .expect("text fields are indexed")
            .clone(),
    );
    builder.add_text_field("all", unstored);
    builder.build()
}

impl Engine {
    /// The index folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The text analysis this index was built with.
    pub fn analysis(&self) -> &Analysis {
        &self.analysis
    }

    /// The number of documents visible to searches (as of the last commit).
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub(crate) fn id_term(&self, id: &str) -> Term {
        Term::from_field_text(self.fields.id, id)
    }

    /// Refuses an id the index cannot key exactly (longer than [`MAX_ID_BYTES`]).
    pub(crate) fn check_id(id: &str) -> Result<()> {
        if id.len() > MAX_ID_BYTES {
            let head: String = id.chars().take(40).collect();
            return Err(Error::InvalidArgument(format!(
                "the id `{head}...` has {} bytes, more than the {MAX_ID_BYTES} an id may have",
                id.len()
            )));
        }
        Ok(())
    }

    /// Live (not deleted) documents with this id in `searcher`'s view.
    pub(crate) fn live_with_id(&self, searcher: &tantivy::Searcher, id: &str) -> Result<usize> {
        let query = TermQuery::new(self.id_term(id), IndexRecordOption::Basic);
        Ok(searcher.search(&query, &tantivy::collector::Count)?)
    }

    /// True if a document with this id is visible to searches (deleted ones are not, even
    /// before a merge drops them).
    pub fn contains(&self, id: &str) -> Result<bool> {
        if id.len() > MAX_ID_BYTES {
            return Ok(false);
        }
        Ok(self.live_with_id(&self.reader.searcher(), id)? > 0)
    }

    /// The stored document with this id, if it is visible to searches.
    pub fn get(&self, id: &str) -> Result<Option<Document>> {
        let searcher = self.reader.searcher();
        let query = TermQuery::new(self.id_term(id), IndexRecordOption::Basic);
        let top = searcher.search(&query, &TopDocs::with_limit(1).order_by_score())?;
        match top.first() {
            Some((_, addr)) => {
                let hit = self.load_hit(&searcher, *addr, 0.0)?;
                Ok(Some(Document {
                    id: hit.id,
                    title: hit.title,
                    body: hit.text,
                }))
            }
            None => Ok(None),
        }
    }

    /// An error if none of the judged documents of `qrels` (up to 2,000 checked) is in this
    /// index: the judgments belong to another collection, or their format was misread, and
    /// every metric would be 0.
    pub fn check_qrels(&self, qrels: &index_data::Qrels) -> Result<()> {
        let mut checked = 0;
        for doc in qrels.by_query.values().flat_map(|d| d.keys()).take(2000) {
            if self.contains(doc)? {
                return Ok(());
            }
            checked += 1;
        }
        Err(Error::ForeignQrels {
            path: self.path.clone(),
            checked,
        })
    }

    /// The ids of every document visible to searches, in no particular order.
    pub fn live_ids(&self) -> Result<Vec<String>> {
        let searcher = self.reader.searcher();
        let mut out = Vec::with_capacity(searcher.num_docs() as usize);
        for segment in searcher.segment_readers() {
            let column = segment.fast_fields().str("id")?.ok_or_else(|| {
                Error::InvalidArgument("the index has no columnar id field".into())
            })?;
            for doc in segment.doc_ids_alive() {
                let mut id = String::new();
                if let Some(o) = column.term_ords(doc).next() {
                    column.ord_to_str(o, &mut id).map_err(|e| Error::Io {
                        path: self.path.clone(),
                        source: e,
                    })?;
                }
                out.push(id);
            }
        }
        Ok(out)
    }

    /// A seeded sample of up to `n` visible documents: those whose 64-bit FNV-1a hash of
    /// (seed, id) is smallest, so the same seed and index give the same sample. Reads ids from
    /// the columnar field and loads only the chosen documents.
    pub fn sample_documents(&self, n: usize, seed: u64) -> Result<Vec<Document>> {
        use std::collections::BinaryHeap;
        let searcher = self.reader.searcher();
        let mut heap: BinaryHeap<(u64, u32, u32)> = BinaryHeap::new();
        for (ord, segment) in searcher.segment_readers().iter().enumerate() {
            let column = segment.fast_fields().str("id")?.ok_or_else(|| {
                Error::InvalidArgument("the index has no columnar id field".into())
            })?;
            let mut id = String::new();
            for doc in segment.doc_ids_alive() {
                id.clear();
                if let Some(o) = column.term_ords(doc).next() {
                    column.ord_to_str(o, &mut id).map_err(|e| Error::Io {
                        path: self.path.clone(),
                        source: e,
                    })?;
                }
                let mut h: u64 = 0xcbf2_9ce4_8422_2325;
                for b in seed.to_le_bytes().iter().chain(id.as_bytes()) {
                    h ^= u64::from(*b);
                    h = h.wrapping_mul(0x0100_0000_01b3);
                }
                heap.push((h, ord as u32, doc));
                if heap.len() > n {
                    heap.pop();
                }
            }
        }
        let mut chosen = heap.into_sorted_vec();
        chosen.sort_by_key(|&(h, _, _)| h);
        chosen
            .into_iter()
            .map(|(_, ord, doc)| {
                let hit = self.load_hit(&searcher, DocAddress::new(ord, doc), 0.0)?;
                Ok(Document {
                    id: hit.id,
                    title: hit.title,
                    body: hit.text,
                })
            })
            .collect()
    }

    /// Searches in lenient mode and returns the top `k` hits with their stored text.
    pub fn search(&self, query: &str, k: usize) -> Result<Vec<Hit>> {
        self.search_with(query, k, QuerySyntax::Lenient)
    }

    /// Searches with the given query syntax and returns the top `k` hits with their stored text.
    pub fn search_with(&self, query: &str, k: usize, syntax: QuerySyntax) -> Result<Vec<Hit>> {
        let searcher = self.reader.searcher();
        let top = self.top_docs(&searcher, query, k, syntax)?;
        top.into_iter()
            .map(|(score, addr)| self.load_hit(&searcher, addr, score))
            .collect()
    }

    /// Searches in lenient mode and returns the top `k` `(id, score)` pairs, without loading
    /// stored text (the id comes from a columnar field): the fast path for evaluation.
    pub fn search_ids(&self, query: &str, k: usize) -> Result<Vec<(String, Score)>> {
        let searcher = self.reader.searcher();
        let top = self.top_docs(&searcher, query, k, QuerySyntax::Lenient)?;
        // Ids come from the columnar id field: per segment, the hits' term ordinals are
        // sorted and resolved in one pass over the dictionary (one lookup per hit is ~6x
        // slower, and loading stored documents ~2x).
        let mut out: Vec<(String, Score)> = top.iter().map(|(s, _)| (String::new(), *s)).collect();
        let mut by_segment: Vec<Vec<(u64, usize)>> =
            vec![Vec::new(); searcher.segment_readers().len()];
        for (i, (_, addr)) in top.iter().enumerate() {
            by_segment[addr.segment_ord as usize].push((addr.doc_id as u64, i));
        }
        for (segment_ord, hits) in by_segment.iter_mut().enumerate() {
            if hits.is_empty() {
                continue;
            }
            let segment = searcher.segment_reader(segment_ord as u32);
            let column = segment.fast_fields().str("id")?.ok_or_else(|| {
                Error::InvalidArgument("the index has no columnar id field".into())
            })?;
            for hit in hits.iter_mut() {
                hit.0 = column.term_ords(hit.0 as u32).next().unwrap_or(u64::MAX);
            }
            hits.sort_unstable();
            let ords: Vec<u64> = hits
                .iter()
                .map(|h| h.0)
                .filter(|&o| o != u64::MAX)
                .collect();
            let mut slots = hits.iter().filter(|h| h.0 != u64::MAX).map(|h| h.1);
            column
                .dictionary()
                .sorted_ords_to_term_cb(&ords, |bytes| {
                    if let Some(slot) = slots.next() {
                        out[slot].0 = String::from_utf8_lossy(bytes).into_owned();
                    }
                })
                .map_err(|e| Error::Io {
                    path: self.path.clone(),
                    source: e,
                })?;
        }
        Ok(out)
    }

    pub(crate) fn load_hit(
        &self,
        searcher: &tantivy::Searcher,
        addr: DocAddress,
        score: Score,
    ) -> Result<Hit> {
        let doc: TantivyDocument = searcher.doc(addr)?;
        let text = |field: Field| {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        Ok(Hit {
            id: text(self.fields.id),
            score,
            title: text(self.fields.title),
            text: text(self.fields.body),
        })
    }
}

impl AsRef<Engine> for Engine {
    fn as_ref(&self) -> &Engine {
        self
    }
}

/// Runs every query in lenient mode and keeps the top `depth` documents of each, scored by
/// BM25. A query that finds nothing is absent from the run.
pub fn bm25_run(
    engine: &Engine,
    queries: &[index_data::Query],
    depth: usize,
) -> Result<index_data::Run> {
    let mut run = index_data::Run::default();
    for q in queries {
        for (id, score) in engine.search_ids(&q.text, depth)? {
            run.push(&q.id, &id, f64::from(score));
        }
    }
    Ok(run)
}
