//! What decides a training run and what it leaves (`training.json`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::teacher::Target;

/// Which loss trains the student.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossKind {
    /// Contrastively weighted KL (the seed paper's).
    Ckl,
    /// Plain KL to the teacher's distribution.
    Kl,
    /// MarginMSE on (positive, negative) score margins.
    MarginMse,
    /// Listwise cross-entropy on the labels (no teacher).
    Ce,
}

impl std::str::FromStr for LossKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "ckl" => Ok(LossKind::Ckl),
            "kl" => Ok(LossKind::Kl),
            "margin-mse" | "marginmse" => Ok(LossKind::MarginMse),
            "ce" => Ok(LossKind::Ce),
            _ => Err(format!("unknown loss `{s}` (ckl, kl, margin-mse, ce)")),
        }
    }
}

/// Everything that decides a training run (written to `training.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The loss.
    pub loss: LossKind,
    /// CKL γ.
    pub gamma: f64,
    /// CKL β.
    pub beta: f64,
    /// Temperature of KL and CKL.
    pub tau: f64,
    /// Let CKL's gradients flow through its weights.
    pub attach_weights: bool,
    /// Passes over the training groups.
    pub epochs: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Query groups per step.
    pub batch: usize,
    /// Candidates per group: 1 positive + (size − 1) sampled negatives.
    pub group_size: usize,
    /// Longest pair in tokens.
    pub max_len: usize,
    /// Seed of the batch order and negative sampling.
    pub seed: u64,
    /// Fraction of steps of linear warmup (then linear decay to 0).
    pub warmup: f64,
    /// Global gradient-norm clip.
    pub clip: f64,
    /// AdamW weight decay (not on biases and LayerNorms).
    pub weight_decay: f64,
    /// Evaluate on the dev queries (and checkpoint) every this many steps; 0: once per epoch.
    pub eval_every: usize,
    /// BM25 candidates the student reranks in dev evaluation.
    pub dev_depth: usize,
    /// The checkpoint folder the student starts from.
    pub init: PathBuf,
    /// Layers of `init` to keep (all if `None`).
    pub layers: Option<Vec<usize>>,
    /// What the student learns to reproduce: the teacher, or BM25 fused with it.
    #[serde(default)]
    pub target: Target,
    /// How the best checkpoint is chosen on the dev queries.
    #[serde(default)]
    pub select: Select,
    /// Stop when this many evaluation points in a row have not beaten the best dev score
    /// (0: never stop early). The schedule is not shortened, so every step up to the stop is
    /// the step a full run takes.
    #[serde(default)]
    pub patience: usize,
}

/// How the best checkpoint is chosen on the dev queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Select {
    /// By the student's nDCG@10 alone (reranking BM25's candidates).
    #[default]
    Alone,
    /// By its nDCG@10 fused with BM25 at the best weight of [`crate::alpha_grid`]: how a student is
    /// used.
    Fused,
}

impl std::str::FromStr for Select {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "alone" => Ok(Select::Alone),
            "fused" => Ok(Select::Fused),
            _ => Err(format!("unknown selection `{s}` (alone, fused)")),
        }
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            loss: LossKind::Ckl,
            gamma: 1.0,
            beta: 0.5,
            tau: 1.0,
            attach_weights: false,
            epochs: 6,
            lr: 1e-3,
            batch: 8,
            group_size: 16,
            max_len: 256,
            seed: 0,
            warmup: 0.1,
            clip: 1.0,
            weight_decay: 0.01,
            eval_every: 0,
            dev_depth: 30,
            init: PathBuf::new(),
            layers: None,
            target: Target::Teacher,
            select: Select::Alone,
            patience: 0,
        }
    }
}

/// One evaluation point of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Optimizer steps done.
    pub step: usize,
    /// Mean training loss since the previous entry.
    pub loss: f64,
    /// Learning rate at the last step.
    pub lr: f64,
    /// (query, passage) pairs seen so far.
    pub pairs: usize,
    /// Training seconds so far (resumed runs add up).
    pub seconds: f64,
    /// Dev nDCG@10, the student alone reranking BM25's top `dev_depth`.
    pub dev_ndcg10: Option<f64>,
    /// Dev nDCG@10 fused with BM25 at the best weight of [`crate::alpha_grid`] (runs before that
    /// grid: at the engine's default weight).
    pub dev_ndcg10_fused: Option<f64>,
    /// That best weight.
    #[serde(default)]
    pub dev_alpha: Option<f64>,
    /// Dev nDCG@10 of BM25 alone.
    #[serde(default)]
    pub dev_bm25: Option<f64>,
}

/// What `training.json` holds beside the model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainState {
    /// The settings.
    pub config: TrainConfig,
    /// Steps done.
    pub step: usize,
    /// Total steps of the run.
    pub total_steps: usize,
    /// Training groups used, and groups dropped for having fewer candidates than a group.
    pub groups: usize,
    /// Groups dropped (fewer candidates than `group_size`).
    pub groups_dropped: usize,
    /// The best dev nDCG@10 so far (by the configured selection) and its step.
    pub best: Option<(f64, usize)>,
    /// Every evaluation point.
    pub history: Vec<LogEntry>,
    /// Free-form description of the data (sources, counts), from the caller.
    pub data: serde_json::Value,
}

impl TrainState {
    /// Whether the run has spent its patience: `config.patience` evaluation points since the
    /// best one, none better. Never without dev queries or with patience 0.
    pub fn out_of_patience(&self) -> bool {
        let patience = self.config.patience;
        match self.best {
            Some((_, best)) if patience > 0 => {
                self.history.iter().filter(|h| h.step > best).count() >= patience
            }
            _ => false,
        }
    }

    /// The step the run stopped at before its last one, if it ran out of patience.
    pub fn stopped_early(&self) -> Option<usize> {
        (self.out_of_patience() && self.step < self.total_steps).then_some(self.step)
    }
}
