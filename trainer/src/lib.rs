//! Distillation trainer: a teacher cross-encoder's scores on BM25 hard negatives train a small
//! student cross-encoder (the reranker crate's candle BERT) with CKL, KL, MarginMSE or CE.
//!
//! The flow: [`labeled_queries`] and/or [`pseudo_queries`] → [`split_dev`] → [`build_groups`]
//! (BM25 candidates + teacher scores, cached on disk) → [`train`] (checkpoints in HF layout,
//! resumable) → a folder `search-cli query --rerank` loads.
#![deny(missing_docs)]

mod bench;
mod data;
mod error;
pub mod experiment;
pub mod loss;
mod model;
mod plot;
mod retrain;
mod train;

pub use bench::{bench_train, TrainBench};
pub use data::{
    build_groups, labeled_queries, load_groups, pseudo_queries, sample_group, save_groups,
    split_dev, Candidate, DataStats, Group, Source, TrainQuery,
};
pub use error::{Error, Result};
pub use model::{frozen, student_from_checkpoint, Student};
pub use retrain::{is_student_dir, retrain, RetrainOptions};
pub use train::{last_checkpoint_dir, train, DevSet, LogEntry, LossKind, TrainConfig, TrainState};
