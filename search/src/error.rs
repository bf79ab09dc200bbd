//! The facade's error type: what the index, a model, or the pipeline itself reports.

/// Everything that can go wrong when searching and reranking.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The index failed (opening, writing, searching).
    #[error(transparent)]
    Engine(#[from] engine::Error),
    /// A model could not be loaded.
    #[error(transparent)]
    Load(#[from] reranker::LoadError),
    /// The cross-encoder failed while scoring.
    #[error("reranking failed: {0}")]
    Score(#[from] reranker::ScoreError),
    /// A collection file could not be read.
    #[error(transparent)]
    Data(#[from] index_data::Error),
    /// A bad argument (a BM25 weight outside [0, 1] ...).
    #[error("{0}")]
    InvalidArgument(String),
    /// The reranker gave NaN or infinite scores: ranking by them would be noise.
    #[error("the reranker scored {bad} of {total} passages NaN or infinite: the model is broken")]
    NonFiniteScores {
        /// Passages with a bad score.
        bad: usize,
        /// Passages scored.
        total: usize,
    },
}

/// The facade's result type.
pub type Result<T> = std::result::Result<T, Error>;
