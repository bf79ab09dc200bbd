//! The ONNX Runtime backend, through `ort` with the runtime library loaded at run time.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::Tensor;

use crate::error::{LoadError, ScoreError};
use crate::models::{fingerprint_file, models_dir, ModelInfo, RerankerOptions};
use crate::tokenize::{Batch, PairTokenizer};
use crate::{Backend, CrossEncoder};

/// The file name of the ONNX Runtime library that `scripts/fetch_models.py` fetches.
pub const RUNTIME_LIBRARY: &str = "libonnxruntime.so.1.32.0";

/// Where the ONNX Runtime library is looked for: the given path, else `ORT_DYLIB_PATH`, else
/// `<models dir>/onnxruntime/libonnxruntime.so.1.32.0`.
pub fn runtime_library_path(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        return PathBuf::from(p);
    }
    models_dir().join("onnxruntime").join(RUNTIME_LIBRARY)
}

static RUNTIME: OnceLock<Result<(PathBuf, ort::environment::Environment), String>> =
    OnceLock::new();

/// Loads the ONNX Runtime library once per process. A missing or incompatible library is an
/// error (never the panic that `ort`'s lazy default load gives).
pub fn init_runtime(explicit: Option<&Path>) -> Result<(), LoadError> {
    environment(explicit).map(|_| ())
}

fn environment(
    explicit: Option<&Path>,
) -> Result<&'static ort::environment::Environment, LoadError> {
    let wanted = runtime_library_path(explicit);
    let loaded = RUNTIME.get_or_init(|| {
        if !wanted.exists() {
            return Err(format!("{} does not exist", wanted.display()));
        }
        let path = wanted.clone();
        // ort panics on some incompatibilities (an API version the library lacks): catch it.
        let result = std::panic::catch_unwind(move || {
            ort::init_from(&path)
                .map_err(|e| e.to_string())?
                .with_name("search")
                .build()
                .map_err(|e| e.to_string())
        });
        match result {
            Ok(Ok(env)) => Ok((wanted.clone(), env)),
            Ok(Err(e)) => Err(e),
            Err(panic) => Err(panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the library panicked while loading".into())),
        }
    });
    match loaded {
        Ok((_, env)) => Ok(env),
        Err(message) => Err(LoadError::Runtime {
            path: wanted,
            message: message.clone(),
        }),
    }
}

/// A cross-encoder exported to ONNX (inputs `input_ids`, `attention_mask`, optionally
/// `token_type_ids`; output logits `[batch, 1]`), run by ONNX Runtime on the CPU.
///
/// The folder holds `model.onnx` and `tokenizer.json`.
pub struct OnnxCrossEncoder {
    session: Mutex<Session>,
    tokenizer: PairTokenizer,
    batch_size: usize,
    uses_token_types: bool,
    info: ModelInfo,
}

impl std::fmt::Debug for OnnxCrossEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxCrossEncoder")
            .field("info", &self.info)
            .finish()
    }
}

impl OnnxCrossEncoder {
    /// Loads `dir/model.onnx` and `dir/tokenizer.json`.
    pub fn load(dir: impl AsRef<Path>, options: &RerankerOptions) -> Result<Self, LoadError> {
        let dir = dir.as_ref();
        let model_path = dir.join("model.onnx");
        if !model_path.exists() {
            return Err(LoadError::MissingFile { path: model_path });
        }
        let tokenizer = PairTokenizer::from_file(dir.join("tokenizer.json"), options.max_len)?;
        let env = environment(options.runtime_library.as_deref())?;
        let corrupt = |message: String| LoadError::Corrupt {
            path: model_path.clone(),
            message,
        };
        let unreadable = |e: ort::Error| LoadError::unreadable(&model_path, e);
        let threads = options.threads();
        let session = Session::builder(env)
            .map_err(unreadable)?
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .map_err(|e| unreadable(e.into()))?
            .with_intra_threads(threads)
            .map_err(|e| unreadable(e.into()))?
            .with_inter_threads(1)
            .map_err(|e| unreadable(e.into()))?
            .commit_from_file(&model_path)
            .map_err(unreadable)?;
        let names: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        for required in ["input_ids", "attention_mask"] {
            if !names.contains(&required) {
                return Err(corrupt(format!(
                    "the model has no `{required}` input (inputs: {names:?})"
                )));
            }
        }
        let uses_token_types = names.contains(&"token_type_ids");
        let info = ModelInfo {
            path: dir.to_path_buf(),
            backend: Backend::Onnx,
            max_len: options.max_len,
            fingerprint: fingerprint_file(&model_path)?,
        };
        Ok(OnnxCrossEncoder {
            session: Mutex::new(session),
            tokenizer,
            batch_size: options.batch_size,
            uses_token_types,
            info,
        })
    }

    fn forward(&self, batch: &Batch) -> Result<Vec<f32>, ScoreError> {
        let shape = [batch.batch as i64, batch.seq_len as i64];
        let ids = Tensor::from_array((shape, batch.input_ids.clone()))?;
        let mask = Tensor::from_array((shape, batch.attention_mask.clone()))?;
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let outputs = if self.uses_token_types {
            let types = Tensor::from_array((shape, batch.token_type_ids.clone()))?;
            session.run(ort::inputs![
                "input_ids" => ids,
                "attention_mask" => mask,
                "token_type_ids" => types,
            ])?
        } else {
            session.run(ort::inputs!["input_ids" => ids, "attention_mask" => mask])?
        };
        let (shape, data) = outputs[0].try_extract_tensor::<f32>()?;
        let cols = if shape.len() >= 2 {
            shape[shape.len() - 1] as usize
        } else {
            1
        };
        if cols == 0 || data.len() != batch.batch * cols {
            return Err(ScoreError::Shape {
                got: data.len(),
                batch: batch.batch,
            });
        }
        // One logit per row; for two-class heads, the last column (the "relevant" class).
        Ok(data.chunks(cols).map(|row| row[cols - 1]).collect())
    }
}

impl CrossEncoder for OnnxCrossEncoder {
    fn score_pairs(&self, pairs: &[(&str, &str)]) -> Result<Vec<f32>, ScoreError> {
        self.tokenizer
            .score_pairs_with(pairs, self.batch_size, |b| self.forward(b))
    }

    fn info(&self) -> &ModelInfo {
        &self.info
    }
}
