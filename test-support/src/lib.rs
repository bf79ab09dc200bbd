//! What the workspace's tests need from outside the checkout, and skipping clearly when it is
//! missing: a plain `cargo test` on a fresh clone runs every test that needs nothing and
//! prints one line for each it skips. `scripts/test.sh` (what CI runs) sets
//! `SEARCH_TESTS_REQUIRE_ALL=1` after the set-up, which turns every skip into a failure, so
//! nothing is skipped there unnoticed.
#![deny(missing_docs)]

use std::path::PathBuf;

/// Something a test needs that a fresh clone may not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The fetched models and the ONNX Runtime library (`python3 scripts/fetch_models.py`).
    Models,
    /// The datasets in `../shared/datasets`.
    Shared,
}

/// The models folder, as `reranker::models_dir` finds it (kept equal by a reranker test).
pub fn models_dir() -> PathBuf {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(p) = var("SEARCH_MODELS_DIR") {
        return p;
    }
    let data = var("SEARCH_DATA_DIR")
        .or_else(|| var("XDG_DATA_HOME").map(|p| p.join("search-cli")))
        .or_else(|| var("HOME").map(|h| h.join(".local/share/search-cli")))
        .unwrap_or_else(|| std::env::temp_dir().join("search-cli"));
    data.join("models")
}

/// `../shared/datasets` of the workspace.
pub fn shared_datasets() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets")
}

fn missing(need: Need) -> Option<String> {
    match need {
        Need::Models => {
            let dir = models_dir();
            let ok = ["teacher", "splade-tiny", "onnxruntime"]
                .iter()
                .all(|m| dir.join(m).join(".complete").is_file());
            (!ok).then(|| {
                format!(
                    "the fetched models in {} (python3 scripts/fetch_models.py)",
                    dir.display()
                )
            })
        }
        Need::Shared => {
            let p = shared_datasets();
            (!p.join("scifact/corpus.jsonl").is_file())
                .then(|| format!("the datasets in {}", p.display()))
        }
    }
}

/// True if the calling test must be skipped for want of `needs` (it says so on stderr);
/// with `SEARCH_TESTS_REQUIRE_ALL` set, a missing need is a failure instead.
pub fn skip_unless(test: &str, needs: &[Need]) -> bool {
    let gone: Vec<String> = needs.iter().filter_map(|&n| missing(n)).collect();
    if gone.is_empty() {
        return false;
    }
    let what = gone.join(" and ");
    if std::env::var_os("SEARCH_TESTS_REQUIRE_ALL").is_some() {
        panic!("{test} needs {what}");
    }
    eprintln!("skipped {test}: needs {what}");
    true
}
