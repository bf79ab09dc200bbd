//! Writing: upserts and deletes by id, bulk indexing with periodic commits, commit and
//! rollback. The writer is taken at the first write and holds tantivy's lock.

use std::collections::HashSet;
use std::time::Instant;

use index_data::Document;
use tantivy::directory::error::LockError;
use tantivy::{IndexWriter, TantivyDocument, TantivyError};

use crate::error::{Error, Result};
use crate::index::{all_text, DeleteReport, Engine, IndexOptions, IndexStats, WRITER_MEMORY};

impl Engine {
    pub(crate) fn with_writer<T>(
        &self,
        f: impl FnOnce(&mut IndexWriter) -> Result<T>,
    ) -> Result<T> {
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
        let limit = index_data::max_document_bytes();
        if doc.title.len() + doc.body.len() > limit {
            return Err(Error::InvalidArgument(format!(
                "document `{}` has {} bytes, more than the {limit} a document may have (SEARCH_MAX_DOCUMENT_BYTES raises it)",
                doc.id,
                doc.title.len() + doc.body.len()
            )));
        }
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
}
