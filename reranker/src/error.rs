//! Errors, split by when they happen: loading a model, or scoring with it.

use std::path::PathBuf;

/// A model could not be loaded: a file is missing or corrupt, or the runtime is unusable.
/// Every variant names the file it is about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A file the model folder must hold is not there.
    #[error("{}: missing (a model folder holds model.onnx or config.json + model.safetensors, and tokenizer.json)", path.display())]
    MissingFile {
        /// The file.
        path: PathBuf,
    },
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A file is there but its content is wrong (bad settings, a missing input ...).
    #[error("{}: {message}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file is there but its reader refused it (bad JSON, bad tensors, bad ONNX, a bad
    /// tokenizer); the reader's error is kept as the source.
    #[error("{}: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What the reader said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The ONNX Runtime library could not be loaded or is incompatible.
    #[error("ONNX Runtime library {}: {message} (set ORT_DYLIB_PATH to use another)", path.display())]
    Runtime {
        /// The library path tried.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A checkpoint without a reranking head (an encoder to start training from).
    #[error("{} is a checkpoint without a reranking head (a starting point for `retrain --init`), not a reranker", path.display())]
    NotAReranker {
        /// The model folder.
        path: PathBuf,
    },
    /// A short model name that is not known, or a folder that does not exist.
    #[error("no model `{name}`: not a folder, and not one of the known models (student, teacher, splade-tiny, minilm-l6) under {}", dir.display())]
    UnknownModel {
        /// The name or path given.
        name: String,
        /// Where fetched models are looked for.
        dir: PathBuf,
    },
}

/// Scoring failed after the model loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScoreError {
    /// The tokenizer failed on an input.
    #[error("tokenization failed: {0}")]
    Tokenize(#[source] tokenizers::Error),
    /// candle failed to run the model.
    #[error("inference failed (candle): {0}")]
    Candle(#[from] candle_core::Error),
    /// ONNX Runtime failed to run the model.
    #[error("inference failed (ONNX Runtime): {0}")]
    Ort(#[from] ort::Error),
    /// The model's output does not have one score per input pair.
    #[error("the model returned {got} scores for a batch of {batch} pairs")]
    Shape {
        /// Scores returned.
        got: usize,
        /// Pairs given.
        batch: usize,
    },
    /// The pass these pairs shared with other callers' (see [`crate::Batched`]) was abandoned:
    /// the model panicked on another caller's pairs.
    #[error("scoring abandoned: the model failed on a batch these pairs shared")]
    Abandoned,
    /// The score cache could not be written.
    #[error("writing the score cache {}: {source}", path.display())]
    Cache {
        /// The cache file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
}

/// Writing an ONNX model failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The source model could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Building or writing the graph failed.
    #[error("{}: {message}", path.display())]
    Write {
        /// The output file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl LoadError {
    /// A reader's error about `path`, kept as the source.
    pub(crate) fn unreadable(
        path: impl Into<PathBuf>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        LoadError::Unreadable {
            path: path.into(),
            source: source.into(),
        }
    }
}
