//! The student: a [`BertCrossEncoder`] over a `VarMap`, initialized from a checkpoint folder.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use reranker::{BertConfig, BertCrossEncoder};

use crate::error::{Error, Result};

/// HF's default `initializer_range`: the std of fresh weights.
const INIT_STD: f64 = 0.02;

/// A trainable student and what it was initialized from.
pub struct Student {
    /// The trainable parameters, named as in HF checkpoints with the `bert.` prefix.
    pub varmap: VarMap,
    /// The model over `varmap` (its forward pass records gradients).
    pub model: BertCrossEncoder,
    /// Its shape.
    pub config: BertConfig,
    /// How many parameters were copied from the checkpoint, and how many were new.
    pub loaded: usize,
    /// Parameters freshly initialized (e.g. the pooler and classifier of an MLM checkpoint).
    pub fresh: Vec<String>,
}

/// Builds a student from `init` (`config.json` + `model.safetensors`, with or without the
/// `bert.` prefix, LayerNorm weight/bias or gamma/beta; or `config.json` + a `model.onnx`
/// this project exported). `layers`: which of the checkpoint's
/// layers to keep, in order (all if `None`). Tensors the checkpoint lacks (the pooler and
/// classifier of an MLM or sentence-embedding model) are initialized as HF does (weights
/// normal with std `initializer_range`, biases zero), from `seed`.
pub fn student_from_checkpoint(
    init: &Path,
    layers: Option<&[usize]>,
    seed: u64,
) -> Result<Student> {
    let mut config = reranker::read_config(init.join("config.json"))?;
    let source_layers: Vec<usize> = match layers {
        Some(l) => l.to_vec(),
        None => (0..config.num_hidden_layers).collect(),
    };
    if let Some(&bad) = source_layers
        .iter()
        .find(|&&l| l >= config.num_hidden_layers)
    {
        return Err(Error::Settings(format!(
            "layer {bad} does not exist: {} has {} layers",
            init.display(),
            config.num_hidden_layers
        )));
    }
    if source_layers.is_empty() {
        return Err(Error::Settings("keep at least one layer".into()));
    }
    let mut weights = init.join("model.safetensors");
    let tensors = if !weights.exists() && init.join("model.onnx").exists() {
        // An exported student (the bundled default, an installed reranker): its ONNX file
        // holds the weights.
        weights = init.join("model.onnx");
        reranker::read_onnx_weights(&weights)?
    } else {
        candle_core::safetensors::load(&weights, &Device::Cpu).map_err(|e| {
            Error::Load(reranker::LoadError::Corrupt {
                path: weights.clone(),
                message: e.to_string(),
            })
        })?
    };
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let model = BertCrossEncoder::load(
        &BertConfig {
            num_hidden_layers: source_layers.len(),
            ..config.clone()
        },
        vb,
        true,
    )?;
    config.num_hidden_layers = source_layers.len();
    let mut loaded = 0;
    let mut fresh = Vec::new();
    for (name, var) in varmap.data().lock().expect("varmap lock").iter() {
        match find_source(name, &tensors, &source_layers) {
            Some(t) => {
                if t.dims() != var.dims() {
                    return Err(Error::Checkpoint {
                        path: weights.clone(),
                        message: format!(
                            "tensor for {name} has shape {:?}, the model needs {:?}",
                            t.dims(),
                            var.dims()
                        ),
                    });
                }
                var.set(&t.to_dtype(DType::F32)?)?;
                loaded += 1;
            }
            None => {
                let value = if name.ends_with("bias") || name.ends_with("beta") {
                    var.zeros_like()?
                } else {
                    seeded_normal(var.dims(), INIT_STD, seed, name)?
                };
                var.set(&value)?;
                fresh.push(name.clone());
            }
        }
    }
    fresh.sort();
    if loaded == 0 {
        return Err(Error::Checkpoint {
            path: weights,
            message: "no tensor matches a BERT encoder".into(),
        });
    }
    Ok(Student {
        varmap,
        model,
        config,
        loaded,
        fresh,
    })
}

/// A tensor of normal(0, std) values drawn from `seed` and the parameter's name (so the
/// draw of one parameter does not depend on the others).
fn seeded_normal(dims: &[usize], std: f64, seed: u64, name: &str) -> Result<Tensor> {
    use rand::{Rng, SeedableRng};
    let salt = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ salt);
    let n: usize = dims.iter().product();
    let values: Vec<f32> = (0..n)
        .map(|_| {
            // Box-Muller.
            let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
            let u2: f64 = rng.random();
            (std * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
        })
        .collect();
    Ok(Tensor::from_vec(values, dims, &Device::Cpu)?)
}

/// The checkpoint tensor for one of our parameter names: layer index remapped, `bert.`
/// prefix optional, LayerNorm `gamma`/`beta` accepted.
fn find_source<'a>(
    name: &str,
    tensors: &'a HashMap<String, Tensor>,
    layers: &[usize],
) -> Option<&'a Tensor> {
    let mut name = name.to_owned();
    if let Some(rest) = name.strip_prefix("bert.encoder.layer.") {
        let (idx, tail) = rest.split_once('.')?;
        let i: usize = idx.parse().ok()?;
        name = format!("bert.encoder.layer.{}.{tail}", layers.get(i)?);
    }
    let mut candidates = vec![name.clone()];
    if let Some(bare) = name.strip_prefix("bert.") {
        candidates.push(bare.to_owned());
    }
    for c in candidates.clone() {
        if c.ends_with("LayerNorm.weight") {
            candidates.push(c.replace("LayerNorm.weight", "LayerNorm.gamma"));
        } else if c.ends_with("LayerNorm.bias") {
            candidates.push(c.replace("LayerNorm.bias", "LayerNorm.beta"));
        }
    }
    candidates.iter().find_map(|c| tensors.get(c))
}

/// A copy of the model over plain, detached tensors: for evaluation, where running on the
/// `VarMap` would record an autograd graph and multiply memory.
pub fn frozen(student: &Student) -> Result<BertCrossEncoder> {
    let map: HashMap<String, Tensor> = student
        .varmap
        .data()
        .lock()
        .expect("varmap lock")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().detach()))
        .collect();
    let vb = VarBuilder::from_tensors(map, DType::F32, &Device::Cpu);
    Ok(BertCrossEncoder::load(&student.config, vb, true)?)
}
