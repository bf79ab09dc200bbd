//! Model folders: where fetched models live, short names, options, and picking a backend.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::LoadError;
use crate::tokenize::DEFAULT_MAX_LEN;
use crate::{Backend, CandleCrossEncoder, CrossEncoder, OnnxCrossEncoder};

/// The short names of the fetched models, each a folder under [`models_dir`], and of the
/// bundled default reranker ([`DEFAULT_RERANKER`]).
pub const KNOWN_MODELS: &[&str] = &["teacher", "splade-tiny", "minilm-l6", DEFAULT_RERANKER];

/// The reranker used when none is named: a small student distilled from the teacher by this
/// project's trainer, exported to ONNX and committed in `assets/student` (see
/// docs/RESULTS.md for how it was trained and how it scores).
pub const DEFAULT_RERANKER: &str = "student";

/// Where the committed models live: the `assets/` folder of the workspace this crate was
/// built in.
pub fn bundled_models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets")
}

/// Where `scripts/fetch_models.py` puts models: `$SEARCH_MODELS_DIR`, else the `models/`
/// folder of the workspace this crate was built in.
pub fn models_dir() -> PathBuf {
    match std::env::var_os("SEARCH_MODELS_DIR") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../models"),
    }
}

/// Resolves a model given as a folder path or a short name (`teacher`, `splade-tiny`,
/// `minilm-l6` under [`models_dir`]; `student` there or in [`bundled_models_dir`]).
pub fn resolve_model(name: &str) -> Result<PathBuf, LoadError> {
    let path = Path::new(name);
    if path.is_dir() {
        return Ok(path.to_path_buf());
    }
    let dir = models_dir();
    if KNOWN_MODELS.contains(&name) {
        let p = dir.join(name);
        if p.is_dir() {
            return Ok(p);
        }
        let bundled = bundled_models_dir().join(name);
        if bundled.is_dir() {
            return Ok(bundled);
        }
    }
    Err(LoadError::UnknownModel {
        name: name.into(),
        dir,
    })
}

/// The BM25 weight a model folder recommends for fusion: `alpha` in its `fusion.json`
/// (written when the weight was chosen on held-out queries), if there is one.
pub fn recommended_alpha(dir: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(dir.join("fusion.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["alpha"].as_f64().filter(|a| (0.0..=1.0).contains(a))
}

/// Options shared by the backends.
#[derive(Debug, Clone)]
pub struct RerankerOptions {
    /// The longest (query, passage) pair in tokens; longer passages are cut. Default 256.
    pub max_len: usize,
    /// Pairs per forward pass. Default 32.
    pub batch_size: usize,
    /// Intra-op threads; `None`: as many as the machine has cores.
    pub num_threads: Option<usize>,
    /// The ONNX Runtime library; `None`: see [`crate::runtime_library_path`].
    pub runtime_library: Option<PathBuf>,
    /// Force a backend instead of choosing by the folder's files.
    pub backend: Option<Backend>,
}

impl Default for RerankerOptions {
    fn default() -> Self {
        RerankerOptions {
            max_len: DEFAULT_MAX_LEN,
            batch_size: 32,
            num_threads: None,
            runtime_library: None,
            backend: None,
        }
    }
}

impl RerankerOptions {
    pub(crate) fn threads(&self) -> usize {
        self.num_threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1)
    }
}

/// What a loaded model is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    /// The model folder.
    pub path: PathBuf,
    /// The backend running it.
    pub backend: Backend,
    /// The maximum pair length it was loaded with.
    pub max_len: usize,
    /// sha256 of the weights file (hex): identifies the model in score caches.
    pub fingerprint: String,
}

/// sha256 of a file, hex.
pub(crate) fn fingerprint_file(path: &Path) -> Result<String, LoadError> {
    let io = |e| LoadError::Io {
        path: path.into(),
        source: e,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("{:x}", h.finalize()))
}

/// The backend a folder calls for: `model.onnx` → ONNX Runtime; `config.json` +
/// `model.safetensors` → candle.
pub fn detect_backend(dir: &Path) -> Result<Backend, LoadError> {
    if dir.join("model.onnx").exists() {
        Ok(Backend::Onnx)
    } else if dir.join("model.safetensors").exists() {
        Ok(Backend::Candle)
    } else if dir.is_dir() {
        Err(LoadError::MissingFile {
            path: dir.join("model.onnx"),
        })
    } else {
        Err(LoadError::UnknownModel {
            name: dir.display().to_string(),
            dir: models_dir(),
        })
    }
}

/// Loads a cross-encoder from a folder or short name, with the backend its files call for
/// (or the one forced in `options`).
pub fn load_cross_encoder(
    name: &str,
    options: &RerankerOptions,
) -> Result<Box<dyn CrossEncoder>, LoadError> {
    let dir = resolve_model(name)?;
    let backend = match options.backend {
        Some(b) => b,
        None => detect_backend(&dir)?,
    };
    Ok(match backend {
        Backend::Onnx => Box::new(OnnxCrossEncoder::load(&dir, options)?),
        Backend::Candle => Box::new(CandleCrossEncoder::load(&dir, options)?),
    })
}
