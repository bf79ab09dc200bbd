//! An experiment's JSON configuration.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::train::{LossKind, TrainConfig};

/// One experiment, as read from its JSON configuration file. Relative paths are taken from
/// the directory the command runs in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Where everything is written.
    pub out: PathBuf,
    /// The index of the training documents.
    pub train_index: PathBuf,
    /// Judged training queries.
    pub train_queries: PathBuf,
    /// Their judgments.
    pub train_qrels: PathBuf,
    /// The split of `train_qrels` when it is a folder.
    #[serde(default = "default_train_split")]
    pub train_split: String,
    /// Fraction of the training queries held out as dev queries.
    #[serde(default = "default_dev_fraction")]
    pub dev_fraction: f64,
    /// Seed of the dev split, shared by every run.
    #[serde(default)]
    pub split_seed: u64,
    /// The teacher (folder or fetched name).
    #[serde(default = "default_teacher")]
    pub teacher: String,
    /// The students' starting checkpoint (folder or fetched name).
    #[serde(default = "default_init")]
    pub init: String,
    /// Layers of `init` to keep (all if absent).
    #[serde(default)]
    pub layers: Option<Vec<usize>>,
    /// BM25 candidates per training query.
    #[serde(default = "default_depth")]
    pub depth: usize,
    /// Training settings shared by all runs (loss, seed and loss parameters come from each
    /// run). Absent fields take `retrain`'s defaults.
    #[serde(default)]
    pub train: TrainSettings,
    /// The runs.
    pub runs: Vec<RunSpec>,
    /// The evaluation collections.
    pub evals: Vec<EvalSpec>,
    /// The fusion weight of BM25 reported beside each student alone.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Threads for ONNX inference (students and teacher).
    #[serde(default)]
    pub threads: Option<usize>,
    /// Pairs of families compared seed by seed (`[["ckl", "kl"]]`): the table gets the mean
    /// and standard deviation of the per-seed differences in nDCG@10, and their paired t.
    #[serde(default)]
    pub compare: Vec<(String, String)>,
    /// BM25 weights at which each student is evaluated fused on the dev queries (the
    /// shipping criterion: the default reranker is used fused). Default 0.3 to 0.8 by 0.1.
    #[serde(default = "default_dev_alphas")]
    pub dev_alphas: Vec<f64>,
    /// BM25 candidates per dev query for that evaluation (default 100, the default pipeline's).
    #[serde(default = "default_dev_depth")]
    pub dev_depth: usize,
    /// Base name of the table files in `out` (`<table>.md`, `<table>.json`). Several
    /// configurations may share one `out` (and so its finished runs) with their own tables.
    #[serde(default = "default_table")]
    pub table: String,
}

/// Training settings shared by the runs of an experiment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSettings {
    /// Passes over the training groups.
    pub epochs: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Query groups per step.
    pub batch: usize,
    /// Candidates per group.
    pub group_size: usize,
    /// Longest pair in tokens.
    pub max_len: usize,
}

impl Default for TrainSettings {
    fn default() -> Self {
        let d = TrainConfig::default();
        TrainSettings {
            epochs: d.epochs,
            lr: d.lr,
            batch: d.batch,
            group_size: d.group_size,
            max_len: d.max_len,
        }
    }
}

/// A family of runs: one loss and its parameters, over several seeds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// Its name in the table and in `runs/<name>-s<seed>`.
    pub name: String,
    /// The loss.
    pub loss: LossKind,
    /// The training seeds.
    pub seeds: Vec<u64>,
    /// CKL γ.
    #[serde(default = "one")]
    pub gamma: f64,
    /// CKL β.
    #[serde(default = "half")]
    pub beta: f64,
    /// KL and CKL temperature.
    #[serde(default = "one")]
    pub tau: f64,
}

/// A test collection: an index, its queries and judgments.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalSpec {
    /// Its name in the table.
    pub name: String,
    /// The index (its `score-cache.tsv` caches the teacher's scores).
    pub index: PathBuf,
    /// The queries.
    pub queries: PathBuf,
    /// The judgments.
    pub qrels: PathBuf,
    /// The split, when `qrels` is a folder.
    #[serde(default)]
    pub split: Option<String>,
    /// BM25 candidates reranked.
    #[serde(default = "default_eval_depth")]
    pub depth: usize,
}

fn default_train_split() -> String {
    "train".into()
}
fn default_dev_fraction() -> f64 {
    0.2
}
fn default_teacher() -> String {
    "teacher".into()
}
fn default_init() -> String {
    "splade-tiny".into()
}
fn default_depth() -> usize {
    30
}
fn default_eval_depth() -> usize {
    100
}
fn default_table() -> String {
    "results".into()
}
fn default_dev_alphas() -> Vec<f64> {
    vec![0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
}
fn default_dev_depth() -> usize {
    100
}
fn default_alpha() -> f64 {
    0.5
}
fn one() -> f64 {
    1.0
}
fn half() -> f64 {
    0.5
}

/// Reads an experiment configuration.
pub fn read_config(path: &Path) -> Result<ExperimentConfig> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::json(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_reads_with_defaults_and_rejects_unknown_fields() {
        let text = r#"{"out": "o", "train_index": "i", "train_queries": "q", "train_qrels": "r",
            "runs": [{"name": "ckl", "loss": "ckl", "seeds": [0, 1]}],
            "evals": [{"name": "t", "index": "i", "queries": "q", "qrels": "r", "split": "test"}]}"#;
        let cfg: ExperimentConfig = serde_json::from_str(text).unwrap();
        assert_eq!(cfg.depth, 30);
        assert_eq!(cfg.train.epochs, 6);
        assert_eq!(cfg.runs[0].beta, 0.5);
        assert_eq!(cfg.evals[0].depth, 100);
        let bad = text
            .replace("\"depth\"", "\"dpeth\"")
            .replace("\"out\"", "\"otu\"");
        assert!(serde_json::from_str::<ExperimentConfig>(&bad).is_err());
    }
}
