//! Cross-encoder rerankers: a (query, passage) pair in, one relevance logit out.
//!
//! Two backends behind one trait, [`CrossEncoder`]:
//! - [`OnnxCrossEncoder`]: any HF cross-encoder exported to ONNX, run by ONNX Runtime (loaded
//!   at run time from `libonnxruntime.so`; see [`init_runtime`]). The fast way to serve.
//! - [`CandleCrossEncoder`]: the project's own BERT ([`BertCrossEncoder`]) in candle, the
//!   same code the trainer trains. [`export_onnx_dir`] turns such a model into an ONNX one.
//!
//! Scores are raw logits: higher means more relevant, comparable between passages of one query
//! under one model, not across models. [`load_cross_encoder`] picks the backend from a
//! folder's files, and knows the fetched models by short name (`teacher`, `splade-tiny`,
//! `minilm-l6`; see `scripts/fetch_models.py`).
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use reranker::{load_cross_encoder, CrossEncoder, RerankerOptions};
//! let teacher = load_cross_encoder("teacher", &RerankerOptions::default())?;
//! let scores = teacher.score(
//!     "How many people live in Berlin?",
//!     &["Berlin has a population of 3.5 million.", "New York is a city."],
//! )?;
//! assert!(scores[0] > scores[1]);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod batched;
pub mod bert;
mod cache;
mod candle;
mod error;
mod export;
pub mod fused;
mod import;
mod models;
mod onnx;
mod tokenize;

pub use crate::candle::{
    has_bert_prefix, load_bert_dir, read_config, save_random_model, CandleCrossEncoder,
};
pub use batched::{BatchStats, Batched};
pub use bert::{BertConfig, BertCrossEncoder};
pub use cache::{CachedCrossEncoder, ScoreCache};
pub use error::{ExportError, LoadError, ScoreError};
pub use export::{export_onnx, export_onnx_dir, Precision};
pub use import::read_onnx_weights;
pub use models::{
    bundled_student_dir, data_dir, detect_backend, load_cross_encoder, model_inventory, models_dir,
    recommended_alpha, recommended_passages, resolve_model, ModelEntry, ModelInfo, RerankerOptions,
    DEFAULT_RERANKER, KNOWN_MODELS,
};
pub use onnx::{init_runtime, runtime_library_path, OnnxCrossEncoder, RUNTIME_LIBRARY};
pub use tokenize::{Batch, EncodedPair, PairTokenizer, DEFAULT_MAX_LEN};

/// Which engine runs a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// ONNX Runtime through `ort`.
    Onnx,
    /// candle, the project's BERT.
    Candle,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Onnx => "onnx",
            Backend::Candle => "candle",
        })
    }
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "onnx" | "ort" => Ok(Backend::Onnx),
            "candle" => Ok(Backend::Candle),
            _ => Err(format!("unknown backend `{s}` (onnx, candle)")),
        }
    }
}

/// A cross-encoder: scores (query, passage) pairs, one logit each.
pub trait CrossEncoder: Send + Sync + std::fmt::Debug {
    /// Scores pairs, possibly of different queries, in one batched pass; one logit per pair,
    /// in input order. Consecutive pairs with the same query share its tokenization.
    fn score_pairs(&self, pairs: &[(&str, &str)]) -> Result<Vec<f32>, ScoreError>;

    /// Scores one query against passages; one logit per passage, in input order.
    fn score(&self, query: &str, passages: &[&str]) -> Result<Vec<f32>, ScoreError> {
        let pairs: Vec<(&str, &str)> = passages.iter().map(|p| (query, *p)).collect();
        self.score_pairs(&pairs)
    }

    /// What model this is.
    fn info(&self) -> &ModelInfo;
}

/// Forwards [`CrossEncoder`] through a pointer type to the model it points at.
macro_rules! forward_cross_encoder {
    ($($ptr:ty),*) => {$(
        impl<T: CrossEncoder + ?Sized> CrossEncoder for $ptr {
            fn score_pairs(&self, pairs: &[(&str, &str)]) -> Result<Vec<f32>, ScoreError> {
                (**self).score_pairs(pairs)
            }

            fn score(&self, query: &str, passages: &[&str]) -> Result<Vec<f32>, ScoreError> {
                (**self).score(query, passages)
            }

            fn info(&self) -> &ModelInfo {
                (**self).info()
            }
        }
    )*};
}

forward_cross_encoder!(&T, Box<T>, std::sync::Arc<T>);
