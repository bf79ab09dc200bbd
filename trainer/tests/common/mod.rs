//! Helpers shared by the trainer's integration tests (each test crate uses some of them).
#![allow(dead_code)]

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use reranker::{Backend, CrossEncoder, ModelInfo, ScoreError};

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

/// A stand-in teacher: word overlap between query and passage. Panics after `limit` pairs,
/// like a process killed half-way.
#[derive(Debug)]
pub struct OverlapTeacher {
    /// Pairs scored so far.
    pub scored: AtomicUsize,
    limit: usize,
    info: ModelInfo,
}

impl OverlapTeacher {
    /// A teacher that dies after `limit` pairs.
    pub fn new(limit: usize) -> Self {
        OverlapTeacher {
            scored: AtomicUsize::new(0),
            limit,
            info: ModelInfo {
                path: "overlap".into(),
                backend: Backend::Onnx,
                max_len: 64,
                fingerprint: "overlap-v1".into(),
            },
        }
    }
}

impl CrossEncoder for OverlapTeacher {
    fn score_pairs(&self, pairs: &[(&str, &str)]) -> Result<Vec<f32>, ScoreError> {
        let before = self.scored.fetch_add(pairs.len(), Ordering::SeqCst);
        if before + pairs.len() > self.limit {
            panic!("killed");
        }
        Ok(pairs
            .iter()
            .map(|(q, p)| {
                let p = p.to_lowercase();
                q.to_lowercase()
                    .split_whitespace()
                    .filter(|w| p.contains(w))
                    .count() as f32
            })
            .collect())
    }
    fn info(&self) -> &ModelInfo {
        &self.info
    }
}
