//! Controlled experiments: students of several losses and seeds trained on one set of
//! distillation data from one initialization, each evaluated on test collections alone and
//! fused with BM25, and a table of mean ± standard deviation over seeds. What
//! `search-cli experiment --config FILE` runs.
//!
//! Layout of `out`:
//! - `groups.jsonl`: the training groups (BM25 candidates + teacher scores), built once;
//! - `runs/<name>-s<seed>/`: one student (the `retrain` output), its ONNX export in `onnx/`,
//!   and `result.json` once evaluated. A run with a `result.json` is never run again; a run
//!   killed half-way resumes from its last checkpoint;
//! - `baselines.json`: BM25 and the teacher on each evaluation collection;
//! - `results.md`, `results.json`: the table (`table` in the configuration names them), and
//!   `results.config.json`, the configuration that wrote it.
//!
//! Several worker processes may run one experiment at once (`search-cli experiment --jobs N`):
//! a worker claims a run with a `claim` file holding its process id before training it, and
//! skips runs claimed by a live process; the baselines and the shared groups are built by one
//! worker while the others wait. A claim left by a dead process is taken over (liveness is read
//! from `/proc`, so parallel workers need Linux; one worker works anywhere).
//!
//! Configurations sharing one `out` share its runs: a run is named by family and seed, and a
//! finished run trained with other settings than its family asks for is an error, not a
//! silent reuse.

use std::collections::BTreeMap;
use std::path::PathBuf;

use engine::metrics::Measure;
use serde::{Deserialize, Serialize};

use crate::train::LossKind;

mod claims;
mod config;
mod report;
mod runner;
mod stats;

pub use claims::run_workers;
pub use config::{read_config, EvalSpec, ExperimentConfig, RunSpec, TrainSettings};
pub use report::{write_table, Report};
pub use runner::run_experiment;
pub use stats::{mean_std, paired_t, significant};

/// The measures of the table.
pub const MEASURES: [Measure; 4] = [
    Measure::Ndcg(Some(10)),
    Measure::Rr(Some(10)),
    Measure::Recall(100),
    Measure::Ap(None),
];

/// Means of [`MEASURES`] for one system on one collection.
pub type Scores = Vec<f64>;

/// What one finished run wrote to its `result.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    /// The run family.
    pub name: String,
    /// The loss.
    pub loss: LossKind,
    /// The seed.
    pub seed: u64,
    /// Best dev nDCG@10 (student alone) and its step.
    pub dev_ndcg10: Option<(f64, usize)>,
    /// Training pairs seen.
    pub pairs: usize,
    /// Training wall seconds (all sessions of a resumed run).
    pub train_seconds: f64,
    /// Per collection: the student alone.
    pub alone: BTreeMap<String, Scores>,
    /// Per collection: fused with BM25 at the experiment's alpha.
    pub fused: BTreeMap<String, Scores>,
    /// nDCG@10 on the dev queries, fused with BM25 at each of the experiment's `dev_alphas`
    /// (absent in results written before it existed; the runner fills it in).
    #[serde(default)]
    pub dev_fused: Option<DevFused>,
    /// Per collection: fused with BM25 at this run's own best dev alpha (what a user who
    /// tunes the fusion weight on dev would deploy); filled in like `dev_fused`.
    #[serde(default)]
    pub fused_dev_alpha: BTreeMap<String, Scores>,
}

/// A student fused with BM25 on the dev queries (which chose its checkpoint; never test).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DevFused {
    /// BM25 candidates per query.
    pub depth: usize,
    /// Dev queries evaluated.
    pub queries: usize,
    /// BM25 alone.
    pub bm25: f64,
    /// (alpha, nDCG@10 fused at alpha), in the configuration's order.
    pub by_alpha: Vec<(f64, f64)>,
}

impl DevFused {
    /// The best (alpha, nDCG@10); ties go to the first alpha listed.
    pub fn best(&self) -> Option<(f64, f64)> {
        self.by_alpha
            .iter()
            .copied()
            .fold(None, |best: Option<(f64, f64)>, x| match best {
                Some(b) if b.1 >= x.1 => Some(b),
                _ => Some(x),
            })
    }
}

/// BM25 and the teacher on one collection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Baseline {
    /// Queries evaluated.
    pub queries: usize,
    /// BM25 alone.
    pub bm25: Scores,
    /// The teacher alone.
    pub teacher: Scores,
    /// The teacher fused with BM25 at the experiment's alpha.
    pub teacher_fused: Scores,
}

/// The folder of one run.
pub fn run_dir(cfg: &ExperimentConfig, name: &str, seed: u64) -> PathBuf {
    cfg.out.join("runs").join(format!("{name}-s{seed}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_dev_alpha_is_the_highest_and_ties_go_to_the_first() {
        let dev = |by_alpha: Vec<(f64, f64)>| DevFused {
            depth: 100,
            queries: 3,
            bm25: 0.5,
            by_alpha,
        };
        assert_eq!(
            dev(vec![(0.3, 0.6), (0.5, 0.7), (0.7, 0.65)]).best(),
            Some((0.5, 0.7))
        );
        assert_eq!(dev(vec![(0.3, 0.7), (0.5, 0.7)]).best(), Some((0.3, 0.7)));
        assert_eq!(dev(vec![]).best(), None);
    }
}
