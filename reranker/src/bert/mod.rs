//! A BERT cross-encoder in candle: the model the trainer trains and the candle backend serves.
//!
//! BERT: Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers for Language
//! Understanding" (<https://arxiv.org/abs/1810.04805>). The cross-encoder is HF's
//! `BertForSequenceClassification` with one label: the encoder, a pooler (dense + tanh on the
//! first token) and a linear classifier giving one logit per (query, passage) pair.
//!
//! Tensor names follow HF checkpoints: `bert.embeddings.word_embeddings.weight`,
//! `bert.encoder.layer.{i}.attention.self.query.weight`, ..., `bert.pooler.dense.weight`,
//! `classifier.weight`. Checkpoints without the `bert.` prefix and with LayerNorm
//! `gamma`/`beta` instead of `weight`/`bias` load too.
//!
//! Everything here is built from differentiable candle ops (candle_nn's fused LayerNorm would
//! cut the autograd graph), and dropout has a train/eval switch, so the same code trains end
//! to end.

use candle_core::{DType, Module, Result, Tensor, D};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use candle_nn::{init::Init, Embedding, VarBuilder};

use crate::fused;

mod config;

pub use config::{Activation, BertConfig};

const INIT_STD: f64 = 0.02;

/// Where dropout masks come from: a seed advanced at every dropout call, so a forward pass
/// is repeatable after [`BertCrossEncoder::reseed`].
#[derive(Debug, Clone, Default)]
struct Seeds(Arc<AtomicU64>);

impl Seeds {
    fn next(&self) -> u64 {
        self.0.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
    }
}

/// Dropout with probability `p` when training, identity otherwise.
#[derive(Debug, Clone)]
struct Dropout {
    p: f32,
    seeds: Seeds,
}

impl Dropout {
    fn new(p: f32, seeds: &Seeds) -> Self {
        Dropout {
            p,
            seeds: seeds.clone(),
        }
    }

    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        if train && self.p > 0.0 {
            fused::dropout(x, self.p, self.seeds.next())
        } else {
            Ok(x.clone())
        }
    }
}

/// A dense layer over the last dim: one `(rows, in) × (in, out)` product, then the bias
/// added with [`fused::bias_add`], whose gradient sums the rows on all threads. (candle_nn
/// 0.11.1's `Linear` also multiplies one matrix for contiguous inputs — earlier versions
/// broadcast the weight over the batch, the reason this type was written — but adds the
/// bias with `broadcast_add`, whose backward sums on one thread; it also takes any layout.)
#[derive(Debug, Clone)]
pub struct Linear {
    inner: candle_nn::Linear,
}

impl Linear {
    /// `weight`: `(out, in)`; `bias`: `(out,)`.
    pub fn new(weight: Tensor, bias: Option<Tensor>) -> Self {
        Linear {
            inner: candle_nn::Linear::new(weight, bias),
        }
    }

    /// The `(out, in)` weight.
    pub fn weight(&self) -> &Tensor {
        self.inner.weight()
    }

    /// The bias, if any.
    pub fn bias(&self) -> Option<&Tensor> {
        self.inner.bias()
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dims = x.dims();
        let Some((&last, lead)) = dims.split_last() else {
            return self.inner.forward(x);
        };
        let rows: usize = lead.iter().product();
        let y = x.reshape((rows, last))?.matmul(&self.weight().t()?)?;
        let y = match self.bias() {
            Some(b) if y.dtype() == DType::F32 && y.device().is_cpu() => fused::bias_add(&y, b)?,
            Some(b) => y.broadcast_add(b)?,
            None => y,
        };
        let mut out = lead.to_vec();
        out.push(y.dim(1)?);
        y.reshape(out)
    }
}

fn linear(in_dim: usize, out_dim: usize, vb: VarBuilder) -> Result<Linear> {
    let w = vb.get_with_hints(
        (out_dim, in_dim),
        "weight",
        Init::Randn {
            mean: 0.0,
            stdev: INIT_STD,
        },
    )?;
    let b = vb.get_with_hints(out_dim, "bias", Init::Const(0.0))?;
    Ok(Linear::new(w, Some(b)))
}

fn embedding(n: usize, dim: usize, vb: VarBuilder) -> Result<Embedding> {
    let w = vb.get_with_hints(
        (n, dim),
        "weight",
        Init::Randn {
            mean: 0.0,
            stdev: INIT_STD,
        },
    )?;
    Ok(Embedding::new(w, dim))
}

/// Layer normalization with a hand-written backward pass (candle_nn's fused LayerNorm has
/// none and silently cuts the autograd graph).
#[derive(Debug, Clone)]
pub struct LayerNorm {
    pub(crate) weight: Tensor,
    pub(crate) bias: Tensor,
    pub(crate) eps: f64,
}

impl LayerNorm {
    /// Loads `weight`/`bias`, or `gamma`/`beta` where the checkpoint names them so.
    pub fn load(size: usize, eps: f64, vb: VarBuilder) -> Result<Self> {
        let (w, b) = if vb.contains_tensor("gamma") {
            ("gamma", "beta")
        } else {
            ("weight", "bias")
        };
        Ok(LayerNorm {
            weight: vb.get_with_hints(size, w, Init::Const(1.0))?,
            bias: vb.get_with_hints(size, b, Init::Const(0.0))?,
            eps,
        })
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if x.dtype() == DType::F32 && x.device().is_cpu() {
            return fused::layer_norm(x, &self.weight, &self.bias, self.eps);
        }
        let mean = x.mean_keepdim(D::Minus1)?;
        let centered = x.broadcast_sub(&mean)?;
        let var = centered.sqr()?.mean_keepdim(D::Minus1)?;
        let normed = centered.broadcast_div(&(var + self.eps)?.sqrt()?)?;
        normed
            .broadcast_mul(&self.weight)?
            .broadcast_add(&self.bias)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Embeddings {
    pub(crate) word: Embedding,
    pub(crate) position: Embedding,
    pub(crate) token_type: Embedding,
    pub(crate) norm: LayerNorm,
    dropout: Dropout,
}

impl Embeddings {
    fn load(cfg: &BertConfig, vb: VarBuilder, seeds: &Seeds) -> Result<Self> {
        Ok(Embeddings {
            word: embedding(cfg.vocab_size, cfg.hidden_size, vb.pp("word_embeddings"))?,
            position: embedding(
                cfg.max_position_embeddings,
                cfg.hidden_size,
                vb.pp("position_embeddings"),
            )?,
            token_type: embedding(
                cfg.type_vocab_size,
                cfg.hidden_size,
                vb.pp("token_type_embeddings"),
            )?,
            norm: LayerNorm::load(cfg.hidden_size, cfg.layer_norm_eps, vb.pp("LayerNorm"))?,
            dropout: Dropout::new(cfg.hidden_dropout_prob, seeds),
        })
    }

    fn forward(&self, ids: &Tensor, types: &Tensor, train: bool) -> Result<Tensor> {
        let (_, seq) = ids.dims2()?;
        let positions = Tensor::arange(0u32, seq as u32, ids.device())?;
        let x = self
            .word
            .forward(ids)?
            .add(&self.token_type.forward(types)?)?
            .broadcast_add(&self.position.forward(&positions)?)?;
        self.dropout.forward(&self.norm.forward(&x)?, train)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Layer {
    pub(crate) query: Linear,
    pub(crate) key: Linear,
    pub(crate) value: Linear,
    pub(crate) attn_out: Linear,
    pub(crate) attn_norm: LayerNorm,
    pub(crate) intermediate: Linear,
    pub(crate) output: Linear,
    pub(crate) out_norm: LayerNorm,
    heads: usize,
    pub(crate) act: Activation,
    attn_dropout: f32,
    seeds: Seeds,
    dropout: Dropout,
}

impl Layer {
    fn load(cfg: &BertConfig, vb: VarBuilder, seeds: &Seeds) -> Result<Self> {
        let h = cfg.hidden_size;
        let att = vb.pp("attention");
        Ok(Layer {
            query: linear(h, h, att.pp("self").pp("query"))?,
            key: linear(h, h, att.pp("self").pp("key"))?,
            value: linear(h, h, att.pp("self").pp("value"))?,
            attn_out: linear(h, h, att.pp("output").pp("dense"))?,
            attn_norm: LayerNorm::load(h, cfg.layer_norm_eps, att.pp("output").pp("LayerNorm"))?,
            intermediate: linear(h, cfg.intermediate_size, vb.pp("intermediate").pp("dense"))?,
            output: linear(cfg.intermediate_size, h, vb.pp("output").pp("dense"))?,
            out_norm: LayerNorm::load(h, cfg.layer_norm_eps, vb.pp("output").pp("LayerNorm"))?,
            heads: cfg.num_attention_heads,
            act: cfg.hidden_act,
            attn_dropout: cfg.attention_probs_dropout_prob,
            seeds: seeds.clone(),
            dropout: Dropout::new(cfg.hidden_dropout_prob, seeds),
        })
    }

    /// `x`: `[batch, seq, hidden]`; `mask`: additive, `[batch, seq]`.
    fn forward(&self, x: &Tensor, mask: &Tensor, train: bool) -> Result<Tensor> {
        let (b, s, h) = x.dims3()?;
        let d = h / self.heads;
        let split = |t: Tensor| -> Result<Tensor> {
            t.reshape((b, s, self.heads, d))?
                .transpose(1, 2)?
                .contiguous()
        };
        // Scaling q (seq × head_dim) is cheaper than scaling the scores (seq × seq).
        let q = (split(self.query.forward(x)?)? * (1.0 / (d as f64).sqrt()))?;
        let k = split(self.key.forward(x)?)?;
        let v = split(self.value.forward(x)?)?;
        let scores = q.matmul(&k.t()?)?;
        let p = if train { self.attn_dropout } else { 0.0 };
        let seed = if p > 0.0 { self.seeds.next() } else { 0 };
        let probs = fused::attention_softmax(&scores, mask, p, seed)?;
        let ctx = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((b, s, h))?;
        let attended = self.dropout.forward(&self.attn_out.forward(&ctx)?, train)?;
        let x1 = self.attn_norm.forward(&(attended + x)?)?;
        let inner = self.intermediate.forward(&x1)?;
        let inner = match self.act {
            Activation::Gelu => fused::gelu_erf(&inner)?,
            Activation::GeluTanh => inner.gelu()?,
            Activation::Relu => inner.relu()?,
        };
        let out = self.dropout.forward(&self.output.forward(&inner)?, train)?;
        self.out_norm.forward(&(out + x1)?)
    }
}

/// A BERT cross-encoder: encoder, pooler, one-logit classifier.
#[derive(Debug, Clone)]
pub struct BertCrossEncoder {
    pub(crate) config: BertConfig,
    pub(crate) embeddings: Embeddings,
    pub(crate) layers: Vec<Layer>,
    pub(crate) pooler: Linear,
    pub(crate) classifier: Linear,
    dropout: Dropout,
    seeds: Seeds,
}

impl BertCrossEncoder {
    /// Builds the model from a `VarBuilder` rooted where `classifier.*` lives; the encoder and
    /// pooler are under `bert.` if `bert_prefix`, else at the root too.
    ///
    /// With a `VarBuilder` over a `VarMap`, missing tensors are created and initialized as HF
    /// does (normal(0, 0.02) weights, zero biases, unit LayerNorm).
    pub fn load(cfg: &BertConfig, vb: VarBuilder, bert_prefix: bool) -> Result<Self> {
        let layers: Vec<usize> = (0..cfg.num_hidden_layers).collect();
        Self::load_layers(cfg, vb, bert_prefix, &layers)
    }

    /// Like [`load`](Self::load), but layer `i` of the model is read from layer
    /// `source_layers[i]` of the checkpoint (to keep a subset of a deeper model's layers).
    /// `cfg.num_hidden_layers` is taken as `source_layers.len()`.
    pub fn load_layers(
        cfg: &BertConfig,
        vb: VarBuilder,
        bert_prefix: bool,
        source_layers: &[usize],
    ) -> Result<Self> {
        cfg.validate().map_err(candle_core::Error::msg)?;
        let mut config = cfg.clone();
        config.num_hidden_layers = source_layers.len();
        let enc = if bert_prefix {
            vb.pp("bert")
        } else {
            vb.clone()
        };
        let seeds = Seeds::default();
        let embeddings = Embeddings::load(&config, enc.pp("embeddings"), &seeds)?;
        let layers = source_layers
            .iter()
            .map(|i| {
                Layer::load(
                    &config,
                    enc.pp("encoder").pp("layer").pp(i.to_string()),
                    &seeds,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let h = config.hidden_size;
        let pooler = linear(h, h, enc.pp("pooler").pp("dense"))?;
        let classifier = linear(h, 1, vb.pp("classifier"))?;
        let dropout = Dropout::new(config.hidden_dropout_prob, &seeds);
        Ok(BertCrossEncoder {
            config,
            embeddings,
            layers,
            pooler,
            classifier,
            dropout,
            seeds,
        })
    }

    /// Restarts the dropout masks from `seed`: forward passes in training mode after the same
    /// seed draw the same masks.
    pub fn reseed(&self, seed: u64) {
        self.seeds.0.store(seed, Ordering::Relaxed);
    }

    /// The model's shape.
    pub fn config(&self) -> &BertConfig {
        &self.config
    }

    /// One logit per row, shape `[batch]`.
    ///
    /// `ids`, `types`: integer `[batch, seq]`; `mask`: `[batch, seq]`, 1 for tokens, 0 for
    /// padding (any dtype). `train` turns dropout on.
    pub fn forward(
        &self,
        ids: &Tensor,
        types: &Tensor,
        mask: &Tensor,
        train: bool,
    ) -> Result<Tensor> {
        let (b, s) = ids.dims2()?;
        let additive = ((mask.to_dtype(DType::F32)? - 1.0)? * 10000.0)?.reshape((b, s))?;
        let mut x = self.embeddings.forward(ids, types, train)?;
        for layer in &self.layers {
            x = layer.forward(&x, &additive, train)?;
        }
        let first = x.narrow(1, 0, 1)?.squeeze(1)?;
        let pooled = self.pooler.forward(&first)?.tanh()?;
        let pooled = self.dropout.forward(&pooled, train)?;
        self.classifier.forward(&pooled)?.squeeze(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use candle_nn::VarMap;

    #[test]
    fn flattened_linear_matches_candle_nn_in_values_and_gradients() -> Result<()> {
        let dev = Device::Cpu;
        let w = candle_core::Var::randn(0f32, 1.0, (5, 3), &dev)?;
        let b = candle_core::Var::randn(0f32, 1.0, 5, &dev)?;
        let x = candle_core::Var::randn(0f32, 1.0, (2, 4, 3), &dev)?;
        let ours = Linear::new(w.as_tensor().clone(), Some(b.as_tensor().clone()));
        let theirs = candle_nn::Linear::new(w.as_tensor().clone(), Some(b.as_tensor().clone()));
        let (y1, y2) = (ours.forward(&x)?, theirs.forward(&x)?);
        assert_eq!(y1.dims(), &[2, 4, 5]);
        let close = |a: &Tensor, b: &Tensor| -> Result<f32> {
            (a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()
        };
        assert!(close(&y1, &y2)? < 1e-5);
        // A loss that weighs every output differently, so any mix-up shows in the gradients.
        let weights = Tensor::randn(0f32, 1.0, (2, 4, 5), &dev)?;
        let g1 = (&y1 * &weights)?.sum_all()?.backward()?;
        let g2 = (&y2 * &weights)?.sum_all()?.backward()?;
        for v in [&w, &b, &x] {
            let (a, b) = (g1.get(v).expect("grad"), g2.get(v).expect("grad"));
            assert!(close(a, b)? < 1e-4, "gradient differs");
        }
        Ok(())
    }

    pub(crate) fn tiny_config() -> BertConfig {
        BertConfig {
            vocab_size: 50,
            hidden_size: 16,
            num_hidden_layers: 2,
            num_attention_heads: 4,
            intermediate_size: 32,
            hidden_act: Activation::Gelu,
            hidden_dropout_prob: 0.1,
            attention_probs_dropout_prob: 0.1,
            max_position_embeddings: 32,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
        }
    }

    fn inputs(dev: &Device) -> (Tensor, Tensor, Tensor) {
        let ids = Tensor::new(&[[2i64, 7, 9, 3, 11, 3], [2, 5, 3, 8, 3, 0]], dev).unwrap();
        let types = Tensor::new(&[[0i64, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 0]], dev).unwrap();
        let mask = Tensor::new(&[[1i64, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0]], dev).unwrap();
        (ids, types, mask)
    }

    #[test]
    fn gradients_reach_the_word_embeddings() {
        let dev = Device::Cpu;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
        let model = BertCrossEncoder::load(&tiny_config(), vb, true).unwrap();
        let (ids, types, mask) = inputs(&dev);
        let logits = model.forward(&ids, &types, &mask, true).unwrap();
        assert_eq!(logits.dims(), &[2]);
        let grads = logits.sum_all().unwrap().backward().unwrap();
        let vars = varmap.data().lock().unwrap();
        let mut with_grad = 0;
        for (name, var) in vars.iter() {
            if let Some(g) = grads.get(var.as_tensor()) {
                let norm = g
                    .sqr()
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap();
                if norm > 0.0 {
                    with_grad += 1;
                }
                if name == "bert.embeddings.word_embeddings.weight" {
                    assert!(norm > 0.0, "no gradient on the word embeddings");
                }
            }
        }
        assert!(
            grads
                .get(vars["bert.embeddings.word_embeddings.weight"].as_tensor())
                .is_some(),
            "the word embeddings are not in the graph"
        );
        // Every parameter takes part (the LayerNorms included): none is cut off.
        assert_eq!(with_grad, vars.len(), "some parameters got no gradient");
    }

    #[test]
    fn padding_does_not_change_the_score_and_eval_is_deterministic() {
        let dev = Device::Cpu;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
        let model = BertCrossEncoder::load(&tiny_config(), vb, false).unwrap();
        let (ids, types, mask) = inputs(&dev);
        let both = model
            .forward(&ids, &types, &mask, false)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let short = model
            .forward(
                &ids.narrow(0, 1, 1).unwrap().narrow(1, 0, 5).unwrap(),
                &types.narrow(0, 1, 1).unwrap().narrow(1, 0, 5).unwrap(),
                &mask.narrow(0, 1, 1).unwrap().narrow(1, 0, 5).unwrap(),
                false,
            )
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert!((both[1] - short[0]).abs() < 1e-5, "{both:?} vs {short:?}");
        let again = model
            .forward(&ids, &types, &mask, false)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert_eq!(both, again);
    }

    #[test]
    fn config_reads_hf_json() {
        let cfg: BertConfig = serde_json::from_str(
            r#"{"vocab_size": 30522, "hidden_size": 128, "num_hidden_layers": 2,
                "num_attention_heads": 2, "intermediate_size": 512, "hidden_act": "gelu",
                "architectures": ["BertForMaskedLM"], "layer_norm_eps": 1e-12}"#,
        )
        .unwrap();
        assert_eq!(cfg.max_position_embeddings, 512);
        assert_eq!(cfg.hidden_act, Activation::Gelu);
        let back: BertConfig = serde_json::from_value(cfg.to_hf_json()).unwrap();
        assert_eq!(back, cfg);
    }
}
