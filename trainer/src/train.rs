//! The training loop: AdamW with linear warmup and decay, gradient clipping, seeded batches of
//! query groups, dev evaluation, best and last checkpoints, resume.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use reranker::{Backend, Batch, CandleCrossEncoder, ModelInfo, PairTokenizer};
use serde::{Deserialize, Serialize};

use crate::data::{sample_group, Group};
use crate::dev::{alpha_grid, DevScores, DevSet};
use crate::error::{Error, Result};
use crate::loss::{ckl, kl, listwise_ce, margin_mse, CklParams};
use crate::model::{frozen, student_from_checkpoint, Student};
use crate::teacher::{apply_target, Target};

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
}

/// How the best checkpoint is chosen on the dev queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Select {
    /// By the student's nDCG@10 alone (reranking BM25's candidates).
    #[default]
    Alone,
    /// By its nDCG@10 fused with BM25 at the best weight of [`alpha_grid`]: how a student is
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
    /// Dev nDCG@10 fused with BM25 at the best weight of [`alpha_grid`] (runs before that
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

struct AdamW {
    m: HashMap<String, Tensor>,
    v: HashMap<String, Tensor>,
}

const B1: f64 = 0.9;
const B2: f64 = 0.999;
const EPS: f64 = 1e-8;

fn no_decay(name: &str) -> bool {
    name.contains("bias") || name.contains("LayerNorm")
}

fn lr_at(cfg: &TrainConfig, step: usize, total: usize) -> f64 {
    let warm = ((cfg.warmup * total as f64).ceil() as usize).max(1);
    if step < warm {
        cfg.lr * (step + 1) as f64 / warm as f64
    } else {
        cfg.lr * (total - step) as f64 / (total - warm).max(1) as f64
    }
}

/// One step's inputs: sampled groups, tokenized and padded.
pub(crate) struct StepBatch {
    ids: Tensor,
    types: Tensor,
    mask: Tensor,
    teacher: Tensor,
    positive: Tensor,
    groups: usize,
    /// (query, passage) pairs in the batch.
    pub(crate) pairs: usize,
    /// Padded sequence length.
    pub(crate) seq_len: usize,
}

/// The student, its tokenizer and optimizer state: one training step is
/// [`Trainer::batch`] → [`Trainer::scores`] → [`Trainer::loss`] → `backward` →
/// [`Trainer::update`] (the benchmark times each part).
pub(crate) struct Trainer {
    cfg: TrainConfig,
    pub(crate) student: Student,
    pub(crate) tokenizer: PairTokenizer,
    opt: AdamW,
    /// The parameters by name, sorted.
    pub(crate) vars: Vec<(String, Var)>,
    ckl: CklParams,
}

impl Trainer {
    /// The student of `cfg.init` (fresh head drawn from `cfg.seed`), its tokenizer, and an
    /// empty optimizer state.
    pub(crate) fn from_init(cfg: &TrainConfig) -> Result<Self> {
        let tokenizer = PairTokenizer::from_file(cfg.init.join("tokenizer.json"), cfg.max_len)?;
        let student = student_from_checkpoint(&cfg.init, cfg.layers.as_deref(), cfg.seed)?;
        tracing::info!(loaded = student.loaded, fresh = ?student.fresh, "student initialized");
        let vars: Vec<(String, Var)> = {
            let data = student.varmap.data().lock().expect("varmap lock");
            let mut v: Vec<_> = data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        Ok(Trainer {
            cfg: cfg.clone(),
            student,
            tokenizer,
            opt: AdamW {
                m: HashMap::new(),
                v: HashMap::new(),
            },
            vars,
            ckl: CklParams {
                gamma: cfg.gamma,
                beta: cfg.beta,
                tau: cfg.tau,
                attach_weights: cfg.attach_weights,
            },
        })
    }

    /// Samples a group of `group_size` candidates from each of `chosen` (seeded by step)
    /// and tokenizes the pairs.
    pub(crate) fn batch(&self, chosen: &[&Group], step: usize) -> Result<StepBatch> {
        let size = self.cfg.group_size;
        let mut rng = rand::rngs::StdRng::seed_from_u64(self.cfg.seed ^ ((step as u64 + 1) << 20));
        let mut texts: Vec<(&str, &str)> = Vec::new();
        let mut teacher = Vec::new();
        let mut positive = Vec::new();
        for g in chosen {
            for c in sample_group(g, size, &mut rng) {
                texts.push((g.query.as_str(), c.text.as_str()));
                teacher.push(c.teacher);
                positive.push(if c.positive { 1f32 } else { 0.0 });
            }
        }
        let b = chosen.len();
        let encoded = self.tokenizer.encode_pairs(&texts)?;
        let rows: Vec<_> = encoded.iter().collect();
        let batch = Batch::pad(&rows, self.tokenizer.pad_id());
        let dev = Device::Cpu;
        let shape = (batch.batch, batch.seq_len);
        Ok(StepBatch {
            ids: Tensor::from_vec(batch.input_ids, shape, &dev)?,
            types: Tensor::from_vec(batch.token_type_ids, shape, &dev)?,
            mask: Tensor::from_vec(batch.attention_mask, shape, &dev)?,
            teacher: Tensor::from_vec(teacher, (b, size), &dev)?,
            positive: Tensor::from_vec(positive, (b, size), &dev)?,
            groups: b,
            pairs: texts.len(),
            seq_len: batch.seq_len,
        })
    }

    /// The student's training-mode scores, `(groups, group_size)`. Dropout masks are a
    /// function of (seed, step), so a resumed run draws the same ones.
    pub(crate) fn scores(&self, batch: &StepBatch, step: usize) -> Result<Tensor> {
        self.student
            .model
            .reseed(self.cfg.seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ step as u64);
        Ok(self
            .student
            .model
            .forward(&batch.ids, &batch.types, &batch.mask, true)?
            .reshape((batch.groups, self.cfg.group_size))?)
    }

    /// The configured loss of `scores` against the batch's teacher scores or labels.
    pub(crate) fn loss(&self, scores: &Tensor, batch: &StepBatch) -> Result<Tensor> {
        let (t, pos) = (&batch.teacher, &batch.positive);
        Ok(match self.cfg.loss {
            LossKind::Ckl => ckl(scores, t, pos, &self.ckl)?,
            LossKind::Kl => kl(scores, t, self.cfg.tau)?,
            LossKind::MarginMse => margin_mse(scores, t, pos)?,
            LossKind::Ce => listwise_ce(scores, pos)?,
        })
    }

    /// Clips the gradients to the global norm and applies one AdamW step; returns the
    /// learning rate used.
    pub(crate) fn update(&mut self, grads: &GradStore, step: usize, total: usize) -> Result<f64> {
        let cfg = &self.cfg;
        let mut sq = 0f64;
        for (_, var) in &self.vars {
            if let Some(g) = grads.get(var.as_tensor()) {
                sq += f64::from(g.sqr()?.sum_all()?.to_scalar::<f32>()?);
            }
        }
        let norm = sq.sqrt();
        let scale = if norm > cfg.clip {
            cfg.clip / norm
        } else {
            1.0
        };
        let lr = lr_at(cfg, step, total);
        let t1 = (step + 1) as i32;
        let (c1, c2) = (1.0 - B1.powi(t1), 1.0 - B2.powi(t1));
        for (name, var) in &self.vars {
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            let g = (g * scale)?;
            let m = match self.opt.m.get(name) {
                Some(m) => ((m * B1)? + (&g * (1.0 - B1))?)?,
                None => (&g * (1.0 - B1))?,
            };
            let v = match self.opt.v.get(name) {
                Some(v) => ((v * B2)? + (g.sqr()? * (1.0 - B2))?)?,
                None => (g.sqr()? * (1.0 - B2))?,
            };
            let update = ((&m / c1)? / ((&v / c2)?.sqrt()? + EPS)?)?;
            let theta = var.as_tensor();
            let decay = if no_decay(name) {
                0.0
            } else {
                cfg.weight_decay
            };
            let new = (theta - ((update + (theta * decay)?)? * lr)?)?;
            var.set(&new)?;
            self.opt.m.insert(name.clone(), m);
            self.opt.v.insert(name.clone(), v);
        }
        Ok(lr)
    }
}

/// The groups a step can sample from (at least `group_size` candidates, a negative among
/// them); an error if there is none.
pub(crate) fn usable_groups<'a>(groups: &'a [Group], cfg: &TrainConfig) -> Result<Vec<&'a Group>> {
    let usable: Vec<&Group> = groups
        .iter()
        .filter(|g| {
            g.candidates.len() >= cfg.group_size && g.candidates.iter().any(|c| !c.positive)
        })
        .collect();
    if usable.is_empty() {
        return Err(Error::NoUsableGroups {
            group_size: cfg.group_size,
        });
    }
    Ok(usable)
}

pub(crate) fn atomic_dir(final_dir: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let tmp = final_dir.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    fill(&tmp)?;
    let old = final_dir.with_extension("old");
    let _ = std::fs::remove_dir_all(&old);
    if final_dir.exists() {
        std::fs::rename(final_dir, &old).map_err(|e| Error::io(final_dir, e))?;
    }
    std::fs::rename(&tmp, final_dir).map_err(|e| Error::io(final_dir, e))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

pub(crate) fn write_json(path: &Path, v: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(v).map_err(|e| Error::json(path, e))?;
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

/// The folder of a run's last checkpoint (model, optimizer state, `training.json`).
pub fn last_checkpoint_dir(out: &Path) -> PathBuf {
    out.join("last")
}

/// Trains a student on `groups` and writes to `out`:
/// - `out/config.json`, `model.safetensors`, `tokenizer.json`, `training.json`: the best
///   student by dev nDCG@10 (the last one without dev queries), loadable by
///   `search-cli query --rerank out`;
/// - `out/last/`: the last checkpoint with optimizer state, from which a killed run resumes
///   (a run resumes when `out/last/training.json` has the same settings);
/// - `out/training.svg`: training loss and dev nDCG@10 against steps.
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
    let vars = tr.vars.clone();
    // Resume from the last checkpoint if it is of this same run.
    let last = last_checkpoint_dir(out);
    if let Ok(text) = std::fs::read_to_string(last.join("training.json")) {
        if let Ok(saved) = serde_json::from_str::<TrainState>(&text) {
            if saved.config == *cfg && saved.total_steps == total {
                let weights =
                    candle_core::safetensors::load(last.join("model.safetensors"), &Device::Cpu)?;
                let moments = candle_core::safetensors::load(
                    last.join("optimizer.safetensors"),
                    &Device::Cpu,
                )?;
                for (name, var) in &vars {
                    let w = weights.get(name).ok_or_else(|| Error::Checkpoint {
                        path: last.clone(),
                        message: format!("no tensor {name}"),
                    })?;
                    var.set(w)?;
                    if let (Some(m), Some(v)) = (
                        moments.get(&format!("m.{name}")),
                        moments.get(&format!("v.{name}")),
                    ) {
                        tr.opt.m.insert(name.clone(), m.clone());
                        tr.opt.v.insert(name.clone(), v.clone());
                    }
                }
                tracing::info!(step = saved.step, "resuming");
                state = saved;
            }
        }
    }

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

    while state.step < total {
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
            let mut entry = LogEntry {
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
            let mut improved = dev.is_none();
            if let Some(dev) = dev {
                let scores = evaluate_dev(&tr.student, &tr.tokenizer, dev)?;
                let (alpha, fused) = scores.best_fused();
                entry.dev_ndcg10 = Some(scores.alone);
                entry.dev_ndcg10_fused = Some(fused);
                entry.dev_alpha = Some(alpha);
                entry.dev_bm25 = Some(scores.bm25);
                let value = match cfg.select {
                    Select::Alone => scores.alone,
                    Select::Fused => fused,
                };
                if state.best.is_none_or(|(b, _)| value > b) {
                    state.best = Some((value, state.step));
                    improved = true;
                }
            }
            state.history.push(entry);
            if improved {
                save_model(&tr.student, &tokenizer_path, out)?;
            }
            write_json(&out.join("training.json"), &state)?;
            atomic_dir(&last, |dir| {
                save_model(&tr.student, &tokenizer_path, dir)?;
                let mut moments = HashMap::new();
                for (name, m) in &tr.opt.m {
                    moments.insert(format!("m.{name}"), m.clone());
                }
                for (name, v) in &tr.opt.v {
                    moments.insert(format!("v.{name}"), v.clone());
                }
                candle_core::safetensors::save(&moments, dir.join("optimizer.safetensors"))?;
                write_json(&dir.join("training.json"), &state)
            })?;
            std::fs::write(out.join("training.svg"), crate::plot::svg(&state.history))
                .map_err(|e| Error::io(&out.join("training.svg"), e))?;
        }
    }
    Ok(state)
}

fn save_model(student: &Student, tokenizer: &Path, dir: &Path) -> Result<()> {
    student.varmap.save(dir.join("model.safetensors"))?;
    write_json(&dir.join("config.json"), &student.config.to_hf_json())?;
    let to = dir.join("tokenizer.json");
    // Copying a file onto itself truncates it: never (a run whose output is its init).
    let same = matches!(
        (std::fs::canonicalize(tokenizer), std::fs::canonicalize(&to)),
        (Ok(a), Ok(b)) if a == b
    );
    if !same {
        std::fs::copy(tokenizer, &to).map_err(|e| Error::io(tokenizer, e))?;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_warms_up_then_decays_to_zero() {
        let cfg = TrainConfig {
            lr: 1.0,
            warmup: 0.1,
            ..Default::default()
        };
        assert!((lr_at(&cfg, 0, 100) - 0.1).abs() < 1e-12);
        assert!((lr_at(&cfg, 9, 100) - 1.0).abs() < 1e-12);
        assert!((lr_at(&cfg, 10, 100) - 1.0).abs() < 1e-12);
        assert!((lr_at(&cfg, 99, 100) - 1.0 / 90.0).abs() < 1e-12);
    }
}
