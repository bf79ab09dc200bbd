//! The BM25 index: create, open, add/update/delete by id, commit, search.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use index_data::Document;
use tantivy::collector::TopDocs;
use tantivy::directory::error::LockError;
use tantivy::query::{BooleanQuery, Occur, Query, QueryParser, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, STORED, STRING,
};
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, TantivyError, Term,
};

use crate::error::{Error, Result};
use crate::settings::{Analysis, StoredSettings};

/// A BM25 score as tantivy computes it (k1 = 1.2, b = 0.75) over the document's title and
/// body taken as one text. Only comparable between hits of the same query on the same index.
pub type Score = f32;

const SETTINGS_FILE: &str = "engine.json";
const SETTINGS_VERSION: u32 = 1;
const TOKENIZER: &str = "engine_text";
const WRITER_MEMORY: usize = 128 << 20;

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
    id: Field,
    title: Field,
    body: Field,
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
    path: PathBuf,
    pub(crate) index: Index,
    pub(crate) reader: IndexReader,
    writer: Mutex<Option<IndexWriter>>,
    pub(crate) fields: Fields,
    analysis: Analysis,
    read_only: bool,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("path", &self.path)
            .field("analysis", &self.analysis)
            .finish()
    }
}

fn schema() -> Schema {
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

/// Files an interrupted creation may leave in a folder (besides our own `engine.json`).
const CREATION_LEFTOVERS: &[&str] = &[
    CREATE_LOCK,
    ".managed.json",
    ".tantivy-meta.lock",
    ".tantivy-writer.lock",
    "engine.json.tmp",
];
const CREATE_LOCK: &str = ".engine-create.lock";

/// What a folder holds, for creating an index in it.
enum FolderState {
    /// Missing, empty, or an interrupted creation's leftovers.
    Fresh,
    /// An index (`meta.json`).
    Index,
    /// Something else: these entries (a few of them).
    Foreign(String),
}

fn folder_state(path: &Path) -> Result<FolderState> {
    if path.join("meta.json").exists() {
        return Ok(FolderState::Index);
    }
    let entries = match std::fs::read_dir(path) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FolderState::Fresh),
        Err(e) => {
            return Err(Error::Io {
                path: path.into(),
                source: e,
            })
        }
    };
    let mut foreign = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::Io {
            path: path.into(),
            source: e,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = if name == SETTINGS_FILE {
            // Our settings from an interrupted creation, not someone else's engine.json.
            std::fs::read_to_string(entry.path())
                .ok()
                .and_then(|t| serde_json::from_str::<StoredSettings>(&t).ok())
                .is_some()
        } else {
            CREATION_LEFTOVERS.contains(&name.as_str())
        };
        if !ours {
            foreign.push(name);
        }
    }
    if foreign.is_empty() {
        return Ok(FolderState::Fresh);
    }
    foreign.sort();
    let n = foreign.len();
    let mut found = foreign.into_iter().take(3).collect::<Vec<_>>().join(", ");
    if n > 3 {
        found.push_str(&format!(" and {} more", n - 3));
    }
    Ok(FolderState::Foreign(found))
}

/// An exclusive lock on creating the index in a folder, released when dropped (or when the
/// process dies).
struct CreationLock(#[allow(dead_code)] std::fs::File);

impl CreationLock {
    fn take(path: &Path) -> Result<CreationLock> {
        let io = |p: &Path, e| Error::Io {
            path: p.into(),
            source: e,
        };
        std::fs::create_dir_all(path).map_err(|e| io(path, e))?;
        let lock_path = path.join(CREATE_LOCK);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io(&lock_path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(CreationLock(file)),
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked { path: path.into() }),
            Err(std::fs::TryLockError::Error(e)) => Err(io(&lock_path, e)),
        }
    }
}

impl Engine {
    /// Creates a new, empty index in `path` (created if missing), with the given analysis.
    ///
    /// The folder must be missing, empty, or what an interrupted creation of an index left
    /// (its settings and tantivy's housekeeping files, no `meta.json`): a folder holding
    /// anything else is [`Error::NotAnIndex`], never emptied, since an index copied without
    /// its `meta.json` (which sorts last) looks like that. Creation holds a lock, so two
    /// processes creating one index at once cannot mix their settings.
    pub fn create(path: impl AsRef<Path>, analysis: Analysis) -> Result<Engine> {
        let path = path.as_ref();
        let _lock = CreationLock::take(path)?;
        Self::create_locked(path, analysis)
    }

    fn create_locked(path: &Path, analysis: Analysis) -> Result<Engine> {
        match folder_state(path)? {
            FolderState::Index => return Err(Error::IndexExists { path: path.into() }),
            FolderState::Foreign(found) => {
                return Err(Error::NotAnIndex {
                    path: path.into(),
                    found,
                })
            }
            FolderState::Fresh => {}
        }
        let settings = StoredSettings {
            format_version: SETTINGS_VERSION,
            analysis,
        };
        // Settings first (atomically): an index whose creation was interrupted has no
        // meta.json and is created again; one with meta.json always has its settings.
        let settings_path = path.join(SETTINGS_FILE);
        let json = serde_json::to_string_pretty(&settings).expect("settings serialize");
        let tmp = path.join(format!("{SETTINGS_FILE}.tmp"));
        let io = |p: &Path, e| Error::Io {
            path: p.into(),
            source: e,
        };
        std::fs::write(&tmp, json).map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, &settings_path).map_err(|e| io(&settings_path, e))?;
        let index = Index::create_in_dir(path, schema())?;
        Self::from_index(path, index, settings.analysis)
    }

    /// Opens an existing index.
    pub fn open(path: impl AsRef<Path>) -> Result<Engine> {
        let path = path.as_ref();
        if !path.join("meta.json").exists() {
            return Err(Error::NoIndex { path: path.into() });
        }
        let settings_path = path.join(SETTINGS_FILE);
        let text = std::fs::read_to_string(&settings_path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::NoIndex { path: path.into() }
            } else {
                Error::Io {
                    path: settings_path.clone(),
                    source: e,
                }
            }
        })?;
        let settings: StoredSettings =
            serde_json::from_str(&text).map_err(|e| Error::Settings {
                path: settings_path.clone(),
                message: e.to_string(),
            })?;
        if settings.format_version != SETTINGS_VERSION {
            return Err(Error::Settings {
                path: settings_path,
                message: format!(
                    "format version {} is not supported (expected {SETTINGS_VERSION})",
                    settings.format_version
                ),
            });
        }
        let read_only = crate::readonly::is_read_only(path);
        let index = if read_only {
            Index::open(crate::readonly::ReadOnlyDirectory::open(path)?)?
        } else {
            Index::open_in_dir(path)?
        };
        let mut engine = Self::from_index(path, index, settings.analysis)?;
        engine.read_only = read_only;
        Ok(engine)
    }

    /// True if the index was opened read-only (its folder refuses writes): searches work,
    /// writes are [`Error::ReadOnly`].
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Opens the index at `path`, or creates it with `analysis` if there is none (see
    /// [`Engine::create`] for what a folder may hold).
    ///
    /// An existing index keeps the analysis it was built with.
    pub fn open_or_create(path: impl AsRef<Path>, analysis: Analysis) -> Result<Engine> {
        let path = path.as_ref();
        if path.join("meta.json").exists() {
            return Self::open(path);
        }
        let _lock = CreationLock::take(path)?;
        // Another process may have created it while this one waited for the lock.
        if path.join("meta.json").exists() {
            return Self::open(path);
        }
        Self::create_locked(path, analysis)
    }

    fn from_index(path: &Path, index: Index, analysis: Analysis) -> Result<Engine> {
        index.tokenizers().register(TOKENIZER, analysis.analyzer());
        let schema = index.schema();
        let field = |name: &str| {
            schema.get_field(name).map_err(|_| Error::Settings {
                path: path.join("meta.json"),
                message: format!("the index has no `{name}` field: not an index of this engine"),
            })
        };
        let fields = Fields {
            id: field("id")?,
            title: field("title")?,
            body: field("body")?,
            all: field("all")?,
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()?;
        Ok(Engine {
            path: path.to_path_buf(),
            index,
            reader,
            writer: Mutex::new(None),
            fields,
            analysis,
            read_only: false,
        })
    }

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

    fn with_writer<T>(&self, f: impl FnOnce(&mut IndexWriter) -> Result<T>) -> Result<T> {
        if self.read_only {
            return Err(Error::ReadOnly {
                path: self.path.clone(),
            });
        }
        let mut guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
            let writer = self
                .index
                .writer_with_num_threads(threads, WRITER_MEMORY)
                .map_err(|e| match e {
                    TantivyError::LockFailure(LockError::LockBusy, _) => Error::Locked {
                        path: self.path.clone(),
                    },
                    e => Error::Tantivy(e),
                })?;
            *guard = Some(writer);
        }
        f(guard.as_mut().expect("writer was just set"))
    }

    fn id_term(&self, id: &str) -> Term {
        Term::from_field_text(self.fields.id, id)
    }

    /// Refuses an id the index cannot key exactly (longer than [`MAX_ID_BYTES`]).
    fn check_id(id: &str) -> Result<()> {
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
    fn live_with_id(&self, searcher: &tantivy::Searcher, id: &str) -> Result<usize> {
        let query = TermQuery::new(self.id_term(id), IndexRecordOption::Basic);
        Ok(searcher.search(&query, &tantivy::collector::Count)?)
    }

    fn to_tantivy(&self, doc: &Document) -> TantivyDocument {
        let mut d = TantivyDocument::default();
        d.add_text(self.fields.id, &doc.id);
        d.add_text(self.fields.title, &doc.title);
        d.add_text(self.fields.body, &doc.body);
        d.add_text(self.fields.all, all_text(&doc.title, &doc.body));
        d
    }

    /// Adds a document, replacing any document with the same id. Visible after [`commit`].
    ///
    /// [`commit`]: Engine::commit
    pub fn upsert(&self, doc: &Document) -> Result<()> {
        Self::check_id(&doc.id)?;
        self.with_writer(|w| {
            w.delete_term(self.id_term(&doc.id));
            w.add_document(self.to_tantivy(doc))?;
            Ok(())
        })
    }

    /// Deletes the document with this id, if any. Visible after [`commit`](Engine::commit).
    pub fn delete(&self, id: &str) -> Result<()> {
        Self::check_id(id)?;
        self.with_writer(|w| {
            w.delete_term(self.id_term(id));
            Ok(())
        })
    }

    /// Makes every write so far durable and visible to searches.
    pub fn commit(&self) -> Result<()> {
        self.with_writer(|w| {
            w.commit()?;
            Ok(())
        })?;
        self.reader.reload()?;
        Ok(())
    }

    /// Drops every write since the last commit.
    pub fn rollback(&self) -> Result<()> {
        self.with_writer(|w| {
            w.rollback()?;
            Ok(())
        })
    }

    /// Deletes the documents with these ids (visible after [`commit`](Engine::commit)) and
    /// says how many of the distinct ids were in the index.
    pub fn delete_ids(&self, ids: &[String]) -> Result<DeleteReport> {
        let mut distinct: Vec<&str> = ids.iter().map(String::as_str).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let searcher = self.reader.searcher();
        let mut found = 0;
        for id in &distinct {
            Self::check_id(id)?;
            if self.live_with_id(&searcher, id)? > 0 {
                found += 1;
            }
            self.delete(id)?;
        }
        Ok(DeleteReport {
            requested: ids.len(),
            distinct: distinct.len(),
            found,
        })
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

    /// Deletes every document whose id is not in `keep` (what a folder index synced with its
    /// folder keeps) and commits.
    pub fn delete_all_but(&self, keep: &[String]) -> Result<DeleteReport> {
        let keep: HashSet<&str> = keep.iter().map(String::as_str).collect();
        let gone: Vec<String> = self
            .live_ids()?
            .into_iter()
            .filter(|id| !keep.contains(id.as_str()))
            .collect();
        let report = self.delete_ids(&gone)?;
        self.commit()?;
        Ok(report)
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

    /// Indexes a stream of documents (upserting by id), committing at the end and, if asked,
    /// every [`IndexOptions::commit_every`] documents. `progress` is called after each document.
    ///
    /// A bad record stops the run with its error (naming file and line) unless
    /// [`IndexOptions::skip_bad`] is set; writes since the last commit are then rolled back, so
    /// the index stays at its last commit.
    pub fn index_documents<I>(
        &self,
        docs: I,
        options: &IndexOptions,
        progress: &mut dyn FnMut(&IndexStats),
    ) -> Result<IndexStats>
    where
        I: IntoIterator<Item = index_data::Result<Document>>,
    {
        let start = Instant::now();
        let mut stats = IndexStats::default();
        let mut seen: HashSet<String> = HashSet::new();
        let searcher = self.reader.searcher();
        let mut since_commit = 0usize;
        for item in docs {
            let doc = match item {
                Ok(doc) => doc,
                Err(e) if options.skip_bad && e.is_record_error() => {
                    stats.skipped += 1;
                    if stats.skip_examples.len() < 5 {
                        stats.skip_examples.push(e.to_string());
                    }
                    continue;
                }
                Err(e) => {
                    self.rollback()?;
                    return Err(e.into());
                }
            };
            Self::check_id(&doc.id)?;
            let known = !seen.insert(doc.id.clone()) || self.live_with_id(&searcher, &doc.id)? > 0;
            if known {
                stats.replaced += 1;
            }
            self.upsert(&doc)?;
            stats.indexed += 1;
            since_commit += 1;
            if options.commit_every.is_some_and(|n| since_commit >= n) {
                self.commit()?;
                since_commit = 0;
            }
            stats.seconds = start.elapsed().as_secs_f64();
            progress(&stats);
        }
        self.commit()?;
        stats.seconds = start.elapsed().as_secs_f64();
        Ok(stats)
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

    fn top_docs(
        &self,
        searcher: &tantivy::Searcher,
        query: &str,
        k: usize,
        syntax: QuerySyntax,
    ) -> Result<Vec<(Score, DocAddress)>> {
        if k == 0 {
            return Ok(Vec::new());
        }
        let query: Box<dyn Query> = match syntax {
            QuerySyntax::Lenient => match self.lenient_query(query)? {
                Some(q) => q,
                None => return Ok(Vec::new()),
            },
            QuerySyntax::Tantivy => {
                let parser = QueryParser::for_index(&self.index, vec![self.fields.all]);
                parser
                    .parse_query(query)
                    .map_err(|e| Error::QuerySyntax(e.to_string()))?
            }
        };
        Ok(searcher.search(&query, &TopDocs::with_limit(k).order_by_score())?)
    }

    /// The query's analysed terms OR-ed over the title-and-body field (a repeated term counts
    /// each time). `None` if no term survives analysis.
    ///
    /// One field for title and body, as Anserini indexes BEIR, measured better on SciFact
    /// than BM25 summed over separate title and body fields (nDCG@10 0.684 against 0.668).
    fn lenient_query(&self, text: &str) -> Result<Option<Box<dyn Query>>> {
        let mut analyzer = self.index.tokenizer_for_field(self.fields.all)?;
        let mut stream = analyzer.token_stream(text);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        while stream.advance() {
            let term = Term::from_field_text(self.fields.all, &stream.token().text);
            clauses.push((
                Occur::Should,
                Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)),
            ));
        }
        if clauses.is_empty() {
            return Ok(None);
        }
        Ok(Some(Box::new(BooleanQuery::new(clauses))))
    }

    fn load_hit(
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
