//! [`Index`]: an engine index with the everyday calls, for a program embedding search.

use std::path::Path;

use engine::{Analysis, DeleteReport, Engine, Hit, IndexOptions, IndexStats};
use index_data::Document;

use crate::error::Result;
use crate::rerankers::Reranker;

/// A BM25 index in a folder: add documents (replacing by id), delete, search, and find the
/// reranker that goes with it. [`Index::engine`] gives the whole engine API.
#[derive(Debug)]
pub struct Index {
    engine: Engine,
}

impl Index {
    /// Opens the index in `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Index> {
        Ok(Index {
            engine: Engine::open(path)?,
        })
    }

    /// Opens the index in `path`, or creates one there (English stemming) if the folder is
    /// missing or empty. A folder that holds anything else is an error, never emptied.
    pub fn open_or_create(path: impl AsRef<Path>) -> Result<Index> {
        Self::open_or_create_with(path, Analysis::default())
    }

    /// As [`Index::open_or_create`], with the text analysis of a new index.
    pub fn open_or_create_with(path: impl AsRef<Path>, analysis: Analysis) -> Result<Index> {
        Ok(Index {
            engine: Engine::open_or_create(path, analysis)?,
        })
    }

    /// Adds documents (a document whose id is indexed replaces it) and commits them, so that
    /// they are searchable and durable when this returns.
    pub fn add(&self, docs: impl IntoIterator<Item = Document>) -> Result<IndexStats> {
        Ok(self.engine.index_documents(
            docs.into_iter().map(Ok),
            &IndexOptions::default(),
            &mut |_| {},
        )?)
    }

    /// Deletes documents by id and commits; says how many were there.
    pub fn delete<S: AsRef<str>>(&self, ids: &[S]) -> Result<DeleteReport> {
        let ids: Vec<String> = ids.iter().map(|s| s.as_ref().to_owned()).collect();
        let report = self.engine.delete_ids(&ids)?;
        self.engine.commit()?;
        Ok(report)
    }

    /// BM25's best `k` documents for a query in plain text (any characters are fine).
    pub fn search(&self, query: &str, k: usize) -> Result<Vec<Hit>> {
        Ok(self.engine.search(query, k)?)
    }

    /// Documents in the index.
    pub fn len(&self) -> u64 {
        self.engine.num_docs()
    }

    /// True if the index holds no document.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.engine.path()
    }

    /// The reranker this index searches with: its own if `search-cli retrain --install` put
    /// one there, else the bundled student; with the model's own BM25 weight.
    pub fn reranker(&self) -> Result<Reranker> {
        Reranker::for_index(self.path(), &reranker::RerankerOptions::default())
    }

    /// The engine underneath.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

impl AsRef<Engine> for Index {
    fn as_ref(&self) -> &Engine {
        &self.engine
    }
}
