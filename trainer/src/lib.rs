//! Distillation trainer: a teacher cross-encoder's scores on BM25 hard negatives train a small
//! student cross-encoder (the reranker crate's candle BERT) with CKL, KL, MarginMSE or CE.
//!
//! The flow: [`labeled_queries`] and/or [`pseudo_queries`] → [`split_dev`] or a label-free
//! [`DevSet`] → [`build_groups`] (BM25 candidates + teacher scores, cached on disk) →
//! [`consistency_filter`] → [`train`] (checkpoints in HF layout, resumable) → a folder
//! `search-cli query --rerank` loads, with its fusion weight ([`retrain`] does it all).
#![deny(missing_docs)]

mod bench;
mod data;
mod dev;
mod error;
pub mod experiment;
mod fusion;
pub mod loss;
mod model;
mod plot;
mod prose;
mod pseudo;
mod retrain;
mod teacher;
mod train;

pub use bench::{bench_train, TrainBench};
pub use data::{
    build_groups, build_groups_in, labeled_queries, load_groups, load_training_judgments,
    sample_group, save_groups, split_dev, Candidate, DataStats, Group, Source, TrainQuery,
};
pub use dev::{alpha_grid, DevCandidate, DevKind, DevQuery, DevScores, DevSet};
pub use error::{Error, Result};
pub use fusion::{install, is_student_dir, Current, Fusion, NotInstalled, MIN_GAIN};
pub use model::{frozen, student_from_checkpoint, Student};
pub use prose::{is_prose, sentences};
pub use pseudo::{
    dev_mix, pseudo_queries, pseudo_queries_for, pseudo_queries_in, PseudoKind, PseudoMix,
};
pub use retrain::{
    default_pseudo_dev, default_pseudo_queries, plan, pseudo_dev_queries, pseudo_dev_queries_in,
    retrain, retrain_planned, write_groups, DataSummary, Plan, PseudoOptions, RetrainOptions,
    RetrainReport, Stage, StageCosts,
};
pub use teacher::{
    apply_target, consistency_filter, ConsistencyFilter, FilterReport, RankBy, Target,
};
pub use train::{last_checkpoint_dir, train, LogEntry, LossKind, Select, TrainConfig, TrainState};
