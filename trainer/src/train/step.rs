//! One training step: sampled groups tokenized, the student's scores, the loss, the update.

use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor, Var};
use rand::SeedableRng;
use reranker::{Batch, PairTokenizer};

use crate::data::{sample_group, Group};
use crate::error::{Error, Result};
use crate::loss::{ckl, kl, listwise_ce, margin_mse, CklParams};
use crate::model::{student_from_checkpoint, Student};
use crate::train::optim::{lr_at, AdamW};
use crate::train::{LossKind, TrainConfig};

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
    pub(crate) opt: AdamW,
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
            opt: AdamW::default(),
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
        let lr = lr_at(&self.cfg, step, total);
        self.opt.step(&self.vars, grads, &self.cfg, step, lr)?;
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
