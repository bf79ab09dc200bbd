//! Helpers shared by the trainer's integration tests (each test crate uses some of them).
#![allow(dead_code)]

use std::path::Path;

/// Six topics the tiny test corpora are made of.
pub const TOPICS: [&str; 6] = [
    "berlin city",
    "rust language",
    "vitamin health",
    "ocean water",
    "music piano",
    "chess game",
];

/// A tiny random BERT cross-encoder (hidden 16, 2 layers) with splade-tiny's tokenizer, saved
/// as a candle model folder.
pub fn tiny_model(dir: &Path) {
    let tokenizer = reranker::models_dir().join("splade-tiny/tokenizer.json");
    assert!(tokenizer.exists(), "run `python3 scripts/fetch_models.py`");
    let cfg = reranker::BertConfig {
        hidden_size: 16,
        num_hidden_layers: 2,
        num_attention_heads: 2,
        intermediate_size: 32,
        ..reranker::BertConfig::minilm_l12_h384()
    };
    reranker::save_random_model(&cfg, &tokenizer, dir).unwrap();
}
