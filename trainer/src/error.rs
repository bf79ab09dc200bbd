//! The trainer's error type: one variant per kind of failure, each keeping its source.

use std::path::{Path, PathBuf};

/// Everything that can stop training.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The index failed.
    #[error(transparent)]
    Engine(#[from] engine::Error),
    /// The rerank pipeline failed.
    #[error(transparent)]
    Search(#[from] search::Error),
    /// A model failed to load.
    #[error(transparent)]
    Load(#[from] reranker::LoadError),
    /// A model failed to score.
    #[error(transparent)]
    Score(#[from] reranker::ScoreError),
    /// A query, judgment or run file is malformed.
    #[error(transparent)]
    Format(#[from] index_data::Error),
    /// A student could not be exported to ONNX.
    #[error(transparent)]
    Export(#[from] reranker::ExportError),
    /// A tensor operation failed.
    #[error("tensor error: {0}")]
    Tensor(#[from] candle_core::Error),
    /// A JSON file (settings, state, groups, results) could not be read or written.
    #[error("{}{}: {source}", path.display(), line.map_or(String::new(), |l| format!(":{l}")))]
    Json {
        /// The file.
        path: PathBuf,
        /// The line, for JSON Lines files.
        line: Option<u64>,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
    /// Settings that cannot train (a batch of 0, a layer the checkpoint lacks ...).
    #[error("{0}")]
    Settings(String),
    /// Training judgments of a test split were asked for.
    #[error("refusing to train on test queries ({}, split test): train and choose on train or dev judgments only", qrels.display())]
    TestSplit {
        /// The judgments.
        qrels: PathBuf,
    },
    /// Training groups from another run (`retrain --extra-groups`) that cannot be added.
    #[error("{}: {reason}", path.display())]
    ExtraGroups {
        /// The groups file.
        path: PathBuf,
        /// Why (empty, or scored by another teacher or at another max_len).
        reason: String,
    },
    /// Neither judged queries nor pseudo-queries to train on.
    #[error("no training queries: give judged queries, or pseudo-queries (the index may have no document to make one from)")]
    NoTrainingQueries,
    /// The consistency filter kept nothing.
    #[error("the consistency filter (teacher rank ≤ {top}) kept no training query: loosen it")]
    FilterKeptNothing {
        /// The rank it asked for.
        top: usize,
    },
    /// No group has enough candidates for a training group.
    #[error("no training group has {group_size} candidates with a positive among them")]
    NoUsableGroups {
        /// Candidates a group needs.
        group_size: usize,
    },
    /// The output folder is one the run reads from.
    #[error("the output folder {} is {what}: the run would overwrite what it reads (choose another output folder)", path.display())]
    OutputIsInput {
        /// The folder.
        path: PathBuf,
        /// What else it is ("the starting checkpoint's folder", "the index").
        what: &'static str,
    },
    /// Groups written by a version that did not keep what this one needs.
    #[error(
        "group `{query_id}` has no BM25 scores (built by an older version): rebuild the groups"
    )]
    OutdatedGroups {
        /// The group's query.
        query_id: String,
    },
    /// A query that cannot be in a label-free dev set.
    #[error("dev query `{id}`: {reason}")]
    DevQuery {
        /// The query.
        id: String,
        /// Why not.
        reason: String,
    },
    /// A checkpoint that does not fit the model (a missing or misshapen tensor).
    #[error("{}: {message}", path.display())]
    Checkpoint {
        /// The checkpoint file or folder.
        path: PathBuf,
        /// What does not fit.
        message: String,
    },
    /// An experiment whose configuration, finished runs or workers disagree.
    #[error("{0}")]
    Experiment(String),
    /// The loss became NaN or infinite; the last good checkpoint is kept.
    #[error("the loss became {value} at step {step}; stopped (the last good checkpoint is kept in {})", dir.display())]
    NonFiniteLoss {
        /// The step.
        step: usize,
        /// The value.
        value: f32,
        /// Where the last checkpoint is.
        dir: PathBuf,
    },
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

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn json(path: &Path, source: serde_json::Error) -> Self {
        Error::Json {
            path: path.into(),
            line: None,
            source,
        }
    }
}

/// The trainer's result type.
pub type Result<T> = std::result::Result<T, Error>;
