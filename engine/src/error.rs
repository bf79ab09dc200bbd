//! The one error type of the engine crate.

use std::path::PathBuf;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No index at the path (no `engine.json` / tantivy `meta.json`).
    #[error("no index at {}", path.display())]
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
    /// A folder that is neither an index nor empty, where an index was to be created.
    #[error("{} is not an index (it has no meta.json) and is not empty (it holds {found}): refusing to create an index there (an index copied without its meta.json is incomplete; copy it again)", path.display())]
    NotAnIndex {
        /// The folder.
        path: PathBuf,
        /// A few of the entries found.
        found: String,
    },
    /// Another process (or another `Engine` in this one) is writing to the index.
    #[error("the index at {} is being written by another process", path.display())]
    Locked {
        /// The folder.
        path: PathBuf,
    },
    /// A write to an index opened read-only (its folder refuses writes).
    #[error("the index at {} is read-only (its folder refuses writes): it can be searched, not changed", path.display())]
    ReadOnly {
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
    /// Judgments none of whose documents is in the index.
    #[error("none of the {checked} judged documents checked is in the index {}: the judgments belong to another collection, or their format was misread", path.display())]
    ForeignQrels {
        /// The index.
        path: PathBuf,
        /// Judged documents looked up.
        checked: usize,
    },
    /// A file of the index does not match its checksum (or is missing).
    #[error("the index is damaged: {} does not match its checksum{} (restore the index from a copy, or index the collection again)", path.display(), if *count > 1 { format!(", nor do {} other files", count - 1) } else { String::new() })]
    Damaged {
        /// The first damaged file.
        path: PathBuf,
        /// Damaged files.
        count: usize,
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
