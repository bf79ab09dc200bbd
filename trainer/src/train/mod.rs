//! The training loop: seeded batches of query groups, AdamW with warmup and decay
//! ([`optim`]), dev evaluation at the configured points, best and last checkpoints and resume
//! ([`checkpoint`]).

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::DType;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use reranker::{Backend, CandleCrossEncoder, ModelInfo, PairTokenizer};

use crate::data::Group;
use crate::dev::{alpha_grid, DevScores, DevSet};
use crate::error::{Error, Result};
use crate::model::{frozen, Student};
use crate::teacher::apply_target;

mod checkpoint;
mod config;
pub(crate) mod optim;
pub(crate) mod step;

pub use checkpoint::last_checkpoint_dir;
use checkpoint::save_model;
pub(crate) use checkpoint::{atomic_dir, write_json};
pub use config::{LogEntry, LossKind, Select, TrainConfig, TrainState};
pub(crate) use step::{usable_groups, Trainer};

/// Trains a student on `groups` and writes to `out`:
/// - `out/config.json`, `model.safetensors`, `tokenizer.json`, `training.json`: the best
///   student by dev nDCG@10 (the last one without dev queries), loadable by
///   `search-cli query --rerank out`;
/// - `out/last/`: the last checkpoint with optimizer state, from which a killed run resumes
///   (a run resumes when `out/last/training.json` has the same settings);
/// - `out/training.svg`: training loss and dev nDCG@10 against steps.
///
/// With `cfg.patience` > 0 and dev queries, the run stops once that many evaluation points
/// in a row have not improved on the best ([`TrainState::out_of_patience`]); a resumed run
/// that had stopped so stays stopped.
///
/// `progress(step, total, loss)` is called after every step.
pub fn train(
    cfg: &TrainConfig,
    groups: &[Group],
    dev: Option<&DevSet>,
    data: serde_json::Value,
    out: &Path,
    progress: &mut dyn FnMut(usize, usize, f64),
) -> Result<TrainState> {
    if cfg.batch == 0 || cfg.group_size < 2 || cfg.epochs == 0 {
        return Err(Error::Settings(
            "batch ≥ 1, group size ≥ 2 and epochs ≥ 1 are needed".into(),
        ));
    }
    let mut groups = groups.to_vec();
    apply_target(&mut groups, cfg.target)?;
    let groups = groups.as_slice();
    let usable = usable_groups(groups, cfg)?;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let tokenizer_path = cfg.init.join("tokenizer.json");

    let steps_per_epoch = usable.len().div_ceil(cfg.batch);
    let total = steps_per_epoch * cfg.epochs;
    let mut state = TrainState {
        config: cfg.clone(),
        step: 0,
        total_steps: total,
        groups: usable.len(),
        groups_dropped: groups.len() - usable.len(),
        best: None,
        history: Vec::new(),
        data,
    };
    let mut tr = Trainer::from_init(cfg)?;
    if let Some(saved) = checkpoint::resume(&mut tr, cfg, total, out)? {
        state = saved;
    }
    let last = last_checkpoint_dir(out);

    let eval_every = if cfg.eval_every == 0 {
        steps_per_epoch
    } else {
        cfg.eval_every
    };
    let mut loss_sum = 0.0;
    let mut loss_n = 0usize;
    let mut pairs = state.history.last().map_or(0, |h| h.pairs);
    let seconds_before = state.history.last().map_or(0.0, |h| h.seconds);
    let started = Instant::now();

    while state.step < total && !state.out_of_patience() {
        let step = state.step;
        let epoch = step / steps_per_epoch;
        let mut order: Vec<usize> = (0..usable.len()).collect();
        order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(
            cfg.seed.wrapping_mul(1_000_003) ^ epoch as u64,
        ));
        let in_epoch = step % steps_per_epoch;
        let chosen = &order[in_epoch * cfg.batch..((in_epoch + 1) * cfg.batch).min(order.len())];
        let chosen: Vec<&Group> = chosen.iter().map(|&i| usable[i]).collect();
        let batch = tr.batch(&chosen, step)?;
        let scores = tr.scores(&batch, step)?;
        let loss = tr.loss(&scores, &batch)?;
        let value = loss.to_dtype(DType::F32)?.to_scalar::<f32>()?;
        if !value.is_finite() {
            return Err(Error::NonFiniteLoss {
                step,
                value,
                dir: last,
            });
        }
        let grads = loss.backward()?;
        let lr = tr.update(&grads, step, total)?;
        pairs += batch.pairs;
        loss_sum += f64::from(value);
        loss_n += 1;
        state.step += 1;
        progress(state.step, total, f64::from(value));

        if state.step.is_multiple_of(eval_every) || state.step == total {
            let entry = LogEntry {
                step: state.step,
                loss: loss_sum / loss_n.max(1) as f64,
                lr,
                pairs,
                seconds: seconds_before + started.elapsed().as_secs_f64(),
                dev_ndcg10: None,
                dev_ndcg10_fused: None,
                dev_alpha: None,
                dev_bm25: None,
            };
            loss_sum = 0.0;
            loss_n = 0;
            evaluation_point(&tr, &mut state, entry, dev, &tokenizer_path, out)?;
        }
    }
    Ok(state)
}

/// An evaluation point: the student on the dev queries (if any), the best model saved if it
/// improved by the configured selection, the state, the last checkpoint and the plot written.
fn evaluation_point(
    tr: &Trainer,
    state: &mut TrainState,
    mut entry: LogEntry,
    dev: Option<&DevSet>,
    tokenizer: &Path,
    out: &Path,
) -> Result<()> {
    let mut improved = dev.is_none();
    if let Some(dev) = dev {
        let scores = evaluate_dev(&tr.student, &tr.tokenizer, dev)?;
        let (alpha, fused) = scores.best_fused();
        entry.dev_ndcg10 = Some(scores.alone);
        entry.dev_ndcg10_fused = Some(fused);
        entry.dev_alpha = Some(alpha);
        entry.dev_bm25 = Some(scores.bm25);
        let value = match state.config.select {
            Select::Alone => scores.alone,
            Select::Fused => fused,
        };
        if state.best.is_none_or(|(b, _)| value > b) {
            state.best = Some((value, entry.step));
            improved = true;
        }
    }
    state.history.push(entry);
    if improved {
        save_model(&tr.student, tokenizer, out)?;
    }
    write_json(&out.join("training.json"), state)?;
    checkpoint::save_last(tr, state, tokenizer, out)?;
    let svg = out.join("training.svg");
    std::fs::write(&svg, crate::plot::svg(&state.history)).map_err(|e| Error::io(&svg, e))
}

/// The student (frozen) on the dev queries: alone, BM25, and fused at each weight of
/// [`alpha_grid`].
fn evaluate_dev(student: &Student, tokenizer: &PairTokenizer, dev: &DevSet) -> Result<DevScores> {
    let model = frozen(student)?;
    let info = ModelInfo {
        path: PathBuf::from("<training>"),
        backend: Backend::Candle,
        max_len: tokenizer.max_len(),
        fingerprint: String::new(),
    };
    let enc = CandleCrossEncoder::from_model(model, tokenizer.clone(), 64, info);
    let scores = dev.score(&enc)?;
    Ok(dev.evaluate(&scores, &alpha_grid()))
}
