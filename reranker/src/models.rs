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
/// project's trainer, exported to ONNX and carried inside the binary (see docs/RESULTS.md for
/// how it was trained and how it scores).
pub const DEFAULT_RERANKER: &str = "student";

/// The bundled student's files, carried in the binary so that it works wherever it is copied.
const BUNDLED: &[(&str, &[u8])] = &[
    (
        "model.onnx",
        include_bytes!("../../assets/student/model.onnx"),
    ),
    (
        "tokenizer.json",
        include_bytes!("../../assets/student/tokenizer.json"),
    ),
    (
        "config.json",
        include_bytes!("../../assets/student/config.json"),
    ),
    (
        "fusion.json",
        include_bytes!("../../assets/student/fusion.json"),
    ),
    (
        "README.md",
        include_bytes!("../../assets/student/README.md"),
    ),
];

/// The per-user folder this project keeps data in: `$SEARCH_DATA_DIR`, else
/// `$XDG_DATA_HOME/search-cli`, else `~/.local/share/search-cli` (a temporary folder when
/// there is no home).
pub fn data_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("SEARCH_DATA_DIR").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::var_os("XDG_DATA_HOME").filter(|p| !p.is_empty()) {
        return PathBuf::from(p).join("search-cli");
    }
    match std::env::var_os("HOME").filter(|p| !p.is_empty()) {
        Some(home) => PathBuf::from(home).join(".local/share/search-cli"),
        None => std::env::temp_dir().join("search-cli"),
    }
}

/// Where fetched models (and the ONNX Runtime library) live: `$SEARCH_MODELS_DIR`, else
/// `models/` in [`data_dir`]. `search-cli models --fetch` and the set-up fill it.
pub fn models_dir() -> PathBuf {
    match std::env::var_os("SEARCH_MODELS_DIR").filter(|p| !p.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => data_dir().join("models"),
    }
}

/// The bundled student as a model folder: written once from the binary into
/// `<data dir>/bundled/student-<hash>` (a temporary folder if that cannot be written), so
/// that everything that reads model folders reads it. A `student` folder in [`models_dir`]
/// takes its place.
pub fn bundled_student_dir() -> Result<PathBuf, LoadError> {
    let own = models_dir().join(DEFAULT_RERANKER);
    if own.join("model.onnx").is_file() {
        return Ok(own);
    }
    let mut h = Sha256::new();
    for (name, bytes) in BUNDLED {
        h.update(name.as_bytes());
        h.update(bytes);
    }
    let tag = format!("{:x}", h.finalize());
    let name = format!("student-{}", &tag[..16]);
    for root in [
        data_dir().join("bundled"),
        std::env::temp_dir().join("search-cli-bundled"),
    ] {
        let dir = root.join(&name);
        if dir.join(".complete").is_file() {
            return Ok(dir);
        }
        if write_bundled(&root, &dir).is_ok() {
            return Ok(dir);
        }
    }
    Err(LoadError::Io {
        path: data_dir().join("bundled").join(name),
        source: std::io::Error::other("cannot write the bundled student anywhere"),
    })
}

/// Writes the bundled files into a fresh folder, then renames it to `dir` (so a folder that
/// exists is whole).
fn write_bundled(root: &Path, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(root)?;
    let tmp = root.join(format!(".tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    for (name, bytes) in BUNDLED {
        std::fs::write(tmp.join(name), bytes)?;
    }
    std::fs::write(tmp.join(".complete"), b"")?;
    match std::fs::rename(&tmp, dir) {
        Ok(()) => Ok(()),
        // Another process wrote it first.
        Err(_) if dir.join(".complete").is_file() => {
            let _ = std::fs::remove_dir_all(&tmp);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Resolves a model given as a folder path or a short name (`teacher`, `splade-tiny`,
/// `minilm-l6` under [`models_dir`]; `student`: the bundled one, see
/// [`bundled_student_dir`]).
pub fn resolve_model(name: &str) -> Result<PathBuf, LoadError> {
    let path = Path::new(name);
    if path.is_dir() {
        return Ok(path.to_path_buf());
    }
    if name == DEFAULT_RERANKER {
        return bundled_student_dir();
    }
    let dir = models_dir();
    if KNOWN_MODELS.contains(&name) {
        let p = dir.join(name);
        if p.is_dir() {
            return Ok(p);
        }
    }
    Err(LoadError::UnknownModel {
        name: name.into(),
        dir,
    })
}

/// A model this program knows by name, and whether it is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelEntry {
    /// Its short name.
    pub name: &'static str,
    /// Its folder.
    pub path: PathBuf,
    /// True if the folder holds the model.
    pub present: bool,
    /// What it is for.
    pub role: &'static str,
}

/// Every model this program knows by name: the fetched ones and the bundled student.
pub fn model_inventory() -> Vec<ModelEntry> {
    let dir = models_dir();
    let fetched = |name: &'static str, role: &'static str| {
        let path = dir.join(name);
        ModelEntry {
            name,
            present: path.join(".complete").is_file(),
            path,
            role,
        }
    };
    let student = bundled_student_dir();
    vec![
        ModelEntry {
            name: DEFAULT_RERANKER,
            present: student.is_ok(),
            path: student.unwrap_or_else(|_| data_dir().join("bundled")),
            role: "the default reranker (bundled in the binary)",
        },
        fetched("teacher", "the teacher retrain distils from"),
        fetched(
            "splade-tiny",
            "the student's starting checkpoint (retrain --init)",
        ),
        fetched("minilm-l6", "a larger starting checkpoint (retrain --init)"),
    ]
}

/// The BM25 weight a model folder recommends for fusion: `alpha` in its `fusion.json`
/// (written when the weight was chosen on held-out queries), if there is one.
pub fn recommended_alpha(dir: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(dir.join("fusion.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["alpha"].as_f64().filter(|a| (0.0..=1.0).contains(a))
}

/// The passages a model folder was trained and chosen to read a long document as:
/// `passages` in its `fusion.json` (written by a retrain with passages), if there is one.
pub fn recommended_passages(dir: &Path) -> Option<usize> {
    let text = std::fs::read_to_string(dir.join("fusion.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["passages"]
        .as_u64()
        .filter(|p| (1..=64).contains(p))
        .map(|p| p as usize)
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
    if backend == Backend::Candle && !crate::candle::has_head(&dir.join("model.safetensors"))? {
        return Err(LoadError::NotAReranker { path: dir });
    }
    Ok(match backend {
        Backend::Onnx => Box::new(OnnxCrossEncoder::load(&dir, options)?),
        Backend::Candle => Box::new(CandleCrossEncoder::load(&dir, options)?),
    })
}
