//! Training throughput, phase by phase: what `search-cli bench-train` prints.

use std::time::Instant;

use serde::Serialize;

use crate::data::Group;
use crate::error::{Error, Result};
use crate::train::{usable_groups, TrainConfig, Trainer};

/// Seconds spent in each part of the timed training steps (warm-up steps excluded).
#[derive(Debug, Clone, Default, Serialize)]
pub struct TrainBench {
    /// Timed steps.
    pub steps: usize,
    /// (query, passage) pairs in the timed steps.
    pub pairs: usize,
    /// Mean padded sequence length of the timed batches.
    pub mean_seq_len: f64,
    /// Sampling the groups and tokenizing the pairs.
    pub tokenize_s: f64,
    /// The student's forward pass (training mode, dropout on).
    pub forward_s: f64,
    /// The loss over the scores.
    pub loss_s: f64,
    /// `backward()` through the loss and the model.
    pub backward_s: f64,
    /// Gradient clipping and the AdamW update.
    pub optimizer_s: f64,
}

impl TrainBench {
    /// All timed seconds.
    pub fn total_s(&self) -> f64 {
        self.tokenize_s + self.forward_s + self.loss_s + self.backward_s + self.optimizer_s
    }

    /// Training pairs per second, everything included.
    pub fn pairs_per_s(&self) -> f64 {
        self.pairs as f64 / self.total_s().max(1e-12)
    }
}

/// Runs `warmup + steps` real training steps of `cfg` on `groups` (in order, cycling) and
/// times each phase of the last `steps`. The model is trained as in [`crate::train`]
/// (same sampling, loss and optimizer), nothing is written.
pub fn bench_train(
    cfg: &TrainConfig,
    groups: &[Group],
    steps: usize,
    warmup: usize,
) -> Result<TrainBench> {
    if cfg.batch == 0 {
        return Err(Error::Settings("batch ≥ 1 is needed".into()));
    }
    let usable = usable_groups(groups, cfg)?;
    let mut tr = Trainer::from_init(cfg)?;
    let total = warmup + steps;
    let mut out = TrainBench::default();
    let mut seq_len_sum = 0usize;
    for step in 0..total {
        let chosen: Vec<&Group> = (0..cfg.batch)
            .map(|i| usable[(step * cfg.batch + i) % usable.len()])
            .collect();
        let timed = step >= warmup;
        let t0 = Instant::now();
        let batch = tr.batch(&chosen, step)?;
        let t1 = Instant::now();
        let scores = tr.scores(&batch, step)?;
        let t2 = Instant::now();
        let loss = tr.loss(&scores, &batch)?;
        let _ = loss.to_scalar::<f32>()?;
        let t3 = Instant::now();
        let grads = loss.backward()?;
        let t4 = Instant::now();
        tr.update(&grads, step, total)?;
        let t5 = Instant::now();
        if timed {
            out.steps += 1;
            out.pairs += batch.pairs;
            seq_len_sum += batch.seq_len;
            out.tokenize_s += (t1 - t0).as_secs_f64();
            out.forward_s += (t2 - t1).as_secs_f64();
            out.loss_s += (t3 - t2).as_secs_f64();
            out.backward_s += (t4 - t3).as_secs_f64();
            out.optimizer_s += (t5 - t4).as_secs_f64();
        }
    }
    out.mean_seq_len = seq_len_sum as f64 / out.steps.max(1) as f64;
    Ok(out)
}
