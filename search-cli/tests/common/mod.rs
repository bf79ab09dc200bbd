//! Helpers shared by the CLI's integration tests.

use std::path::Path;
use std::process::Output;

/// A path as the `&str` argument a command line takes.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The standard output of a command that must have succeeded (else its stderr is shown).
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A tiny random cross-encoder (1 layer, hidden 16) with the fetched splade-tiny tokenizer,
/// written to `dir`: fast enough to train and score in a test.
pub fn tiny_model(dir: &Path) {
    let cfg = reranker::BertConfig {
        hidden_size: 16,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        intermediate_size: 32,
        ..reranker::BertConfig::minilm_l12_h384()
    };
    reranker::save_random_model(
        &cfg,
        &reranker::models_dir().join("splade-tiny/tokenizer.json"),
        dir,
    )
    .unwrap();
}
