//! The one error type of the engine crate.

use std::path::PathBuf;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No index at the path (no `engine.json` / tantivy `meta.json`).
    #[error("no index at {}: create one with `search-cli index --index {0}`", path.display())]
    NoIndex {
        /// The folder that was opened.
        path: PathBuf,
    },
    /// An index already exists where a new one was to be created.
    #[error("an index already exists at {}", path.display())]
    IndexExists {
        /// The folder.
        path: PathBuf,
    },
    /// Another process (or another `Engine` in this one) is writing to the index.
    #[error("the index at {} is being written by another process", path.display())]
    Locked {
        /// The folder.
        path: PathBuf,
    },
    /// The index settings file is missing fields or unreadable.
    #[error("{}: bad index settings: {message}", path.display())]
    Settings {
        /// The settings file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A query in tantivy syntax did not parse (lenient queries never fail).
    #[error("query syntax error: {0}")]
    QuerySyntax(String),
    /// An invalid argument (a bad metric name, a zero cutoff ...).
    #[error("{0}")]
    InvalidArgument(String),
    /// Reading the input collection failed.
    #[error(transparent)]
    Data(#[from] index_data::Error),
    /// The cross-encoder failed while scoring.
    #[error("reranking failed: {0}")]
    Rerank(#[from] reranker::ScoreError),
    /// The underlying tantivy index failed.
    #[error("index error: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
}

/// The result type of the engine crate.
pub type Result<T> = std::result::Result<T, Error>;
