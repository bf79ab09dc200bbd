//! The trainer's error type.

use std::path::{Path, PathBuf};

/// Everything that can stop training.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The index or the pipeline failed.
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
    /// Training judgments of a test split were asked for.
    #[error("refusing to train on test queries ({}, split test): train and choose on train or dev judgments only", qrels.display())]
    TestSplit {
        /// The judgments.
        qrels: PathBuf,
    },
    /// Bad training data or settings.
    #[error("{0}")]
    Data(String),
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
}

/// The trainer's result type.
pub type Result<T> = std::result::Result<T, Error>;
