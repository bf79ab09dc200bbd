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
    /// A file is there but its content is wrong (bad JSON, bad tensors, bad ONNX ...).
    #[error("{}: {message}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The ONNX Runtime library could not be loaded or is incompatible.
    #[error("ONNX Runtime library {}: {message} (run `python3 scripts/fetch_models.py`, or set ORT_DYLIB_PATH)", path.display())]
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
    #[error("no model `{name}`: not a folder, and not one of the fetched models (teacher, splade-tiny, minilm-l6) under {}", dir.display())]
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
    Tokenize(String),
    /// The model failed to run.
    #[error("inference failed: {0}")]
    Inference(String),
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

impl From<candle_core::Error> for ScoreError {
    fn from(e: candle_core::Error) -> Self {
        ScoreError::Inference(e.to_string())
    }
}

impl From<ort::Error> for ScoreError {
    fn from(e: ort::Error) -> Self {
        ScoreError::Inference(e.to_string())
    }
}
