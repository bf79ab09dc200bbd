//! The candle backend: the project's own BERT, weights memory-mapped as plain tensors.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use crate::bert::{BertConfig, BertCrossEncoder};
use crate::error::{LoadError, ScoreError};
use crate::models::{fingerprint_file, ModelInfo, RerankerOptions};
use crate::tokenize::{Batch, PairTokenizer};
use crate::{Backend, CrossEncoder};

/// Reads an HF `config.json`.
pub fn read_config(path: impl AsRef<Path>) -> Result<BertConfig, LoadError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            LoadError::MissingFile { path: path.into() }
        } else {
            LoadError::Io {
                path: path.into(),
                source: e,
            }
        }
    })?;
    let cfg: BertConfig =
        serde_json::from_str(&text).map_err(|e| LoadError::unreadable(path, e))?;
    cfg.validate().map_err(|message| LoadError::Corrupt {
        path: path.into(),
        message,
    })?;
    Ok(cfg)
}

/// The tensor names of a safetensors file.
fn tensor_names(weights: &Path) -> Result<Vec<String>, LoadError> {
    if !weights.exists() {
        return Err(LoadError::MissingFile {
            path: weights.into(),
        });
    }
    // SAFETY: the file is memory-mapped read-only; it must not be changed while mapped.
    let st = unsafe { candle_core::safetensors::MmapedSafetensors::new(weights) }
        .map_err(|e| LoadError::unreadable(weights, e))?;
    Ok(st.tensors().into_iter().map(|(n, _)| n).collect())
}

/// True if the safetensors file holds a reranking head (`classifier.weight`): a cross-encoder,
/// not an encoder to train one from.
pub(crate) fn has_head(weights: &Path) -> Result<bool, LoadError> {
    Ok(tensor_names(weights)?
        .iter()
        .any(|n| n == "classifier.weight"))
}

/// True if the safetensors file names its encoder tensors with a `bert.` prefix.
pub fn has_bert_prefix(weights: &Path) -> Result<bool, LoadError> {
    if !weights.exists() {
        return Err(LoadError::MissingFile {
            path: weights.into(),
        });
    }
    // SAFETY: the file is memory-mapped read-only; it must not be changed while mapped.
    let st = unsafe { candle_core::safetensors::MmapedSafetensors::new(weights) }
        .map_err(|e| LoadError::unreadable(weights, e))?;
    Ok(st.tensors().iter().any(|(n, _)| n.starts_with("bert.")))
}

/// Loads `dir/config.json` + `dir/model.safetensors` as a [`BertCrossEncoder`] for inference:
/// memory-mapped, immutable tensors (no autograd graph is recorded when it runs).
///
/// The checkpoint must hold the pooler and classifier; a missing tensor is an error naming
/// the file and the tensor.
pub fn load_bert_dir(dir: impl AsRef<Path>) -> Result<BertCrossEncoder, LoadError> {
    let dir = dir.as_ref();
    let config = read_config(dir.join("config.json"))?;
    let weights: PathBuf = dir.join("model.safetensors");
    let prefix = has_bert_prefix(&weights)?;
    // SAFETY: as above.
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&weights], DType::F32, &Device::Cpu) }
        .map_err(|e| LoadError::unreadable(weights.clone(), e))?;
    BertCrossEncoder::load(&config, vb, prefix).map_err(|e| LoadError::unreadable(weights, e))
}

/// A BERT cross-encoder run by candle on the CPU (the same model code the trainer trains).
///
/// The folder holds `config.json`, `model.safetensors` (with pooler and classifier) and
/// `tokenizer.json`. About 3–4× slower than ONNX Runtime on the same model: export to ONNX to
/// serve (see [`crate::export_onnx_dir`]).
#[derive(Debug)]
pub struct CandleCrossEncoder {
    model: BertCrossEncoder,
    tokenizer: PairTokenizer,
    batch_size: usize,
    info: ModelInfo,
}

impl CandleCrossEncoder {
    /// Loads a model folder.
    pub fn load(dir: impl AsRef<Path>, options: &RerankerOptions) -> Result<Self, LoadError> {
        let dir = dir.as_ref();
        let tokenizer = PairTokenizer::from_file(dir.join("tokenizer.json"), options.max_len)?;
        let model = load_bert_dir(dir)?;
        let info = ModelInfo {
            path: dir.to_path_buf(),
            backend: Backend::Candle,
            max_len: options.max_len,
            fingerprint: fingerprint_file(&dir.join("model.safetensors"))?,
        };
        Ok(CandleCrossEncoder {
            model,
            tokenizer,
            batch_size: options.batch_size,
            info,
        })
    }

    /// Wraps a model already in memory (e.g. one being trained) with a tokenizer.
    pub fn from_model(
        model: BertCrossEncoder,
        tokenizer: PairTokenizer,
        batch_size: usize,
        info: ModelInfo,
    ) -> Self {
        CandleCrossEncoder {
            model,
            tokenizer,
            batch_size,
            info,
        }
    }

    fn forward(&self, batch: &Batch) -> Result<Vec<f32>, ScoreError> {
        let dev = Device::Cpu;
        let shape = (batch.batch, batch.seq_len);
        let ids = Tensor::from_vec(batch.input_ids.clone(), shape, &dev)?;
        let types = Tensor::from_vec(batch.token_type_ids.clone(), shape, &dev)?;
        let mask = Tensor::from_vec(batch.attention_mask.clone(), shape, &dev)?;
        Ok(self
            .model
            .forward(&ids, &types, &mask, false)?
            .to_vec1::<f32>()?)
    }
}

impl CrossEncoder for CandleCrossEncoder {
    fn score_pairs(&self, pairs: &[(&str, &str)]) -> Result<Vec<f32>, ScoreError> {
        self.tokenizer
            .score_pairs_with(pairs, self.batch_size, |b| self.forward(b))
    }

    fn info(&self) -> &ModelInfo {
        &self.info
    }
}

/// Writes a candle model folder (`config.json`, `model.safetensors` with HF names and a
/// `bert.` prefix, a copy of `tokenizer`) holding a freshly initialized model of shape `cfg`:
/// for tests and speed measurements, where the weights' values do not matter.
pub fn save_random_model(
    cfg: &BertConfig,
    tokenizer: &Path,
    out: &Path,
) -> Result<(), crate::ExportError> {
    let err = |message: String| crate::ExportError::Write {
        path: out.into(),
        message,
    };
    let varmap = candle_nn::VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    BertCrossEncoder::load(cfg, vb, true).map_err(|e| err(e.to_string()))?;
    std::fs::create_dir_all(out).map_err(|e| err(e.to_string()))?;
    varmap
        .save(out.join("model.safetensors"))
        .map_err(|e| err(e.to_string()))?;
    let json = serde_json::to_string_pretty(&cfg.to_hf_json()).map_err(|e| err(e.to_string()))?;
    std::fs::write(out.join("config.json"), json).map_err(|e| err(e.to_string()))?;
    std::fs::copy(tokenizer, out.join("tokenizer.json")).map_err(|e| err(e.to_string()))?;
    Ok(())
}
