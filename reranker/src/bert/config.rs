//! The model shape: an HF `config.json` for BERT, with HF's defaults for what it leaves out.

use serde::{Deserialize, Serialize};

/// The activation of the feed-forward layers, by its HF `hidden_act` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Activation {
    /// Exact GELU, with erf (`gelu`).
    #[serde(rename = "gelu")]
    Gelu,
    /// GELU's tanh approximation (`gelu_new`, `gelu_pytorch_tanh`, `gelu_fast`).
    #[serde(rename = "gelu_new", alias = "gelu_pytorch_tanh", alias = "gelu_fast")]
    GeluTanh,
    /// ReLU (`relu`).
    #[serde(rename = "relu")]
    Relu,
}

fn default_act() -> Activation {
    Activation::Gelu
}
fn default_dropout() -> f32 {
    0.1
}
fn default_positions() -> usize {
    512
}
fn default_types() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}

/// The model shape, read from an HF `config.json` (extra keys are ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BertConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Hidden size.
    pub hidden_size: usize,
    /// Number of transformer layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer; must divide `hidden_size`.
    pub num_attention_heads: usize,
    /// Feed-forward inner size.
    pub intermediate_size: usize,
    /// Feed-forward activation.
    #[serde(default = "default_act")]
    pub hidden_act: Activation,
    /// Dropout after embeddings and sub-layers (training only).
    #[serde(default = "default_dropout")]
    pub hidden_dropout_prob: f32,
    /// Dropout on attention probabilities (training only).
    #[serde(default = "default_dropout")]
    pub attention_probs_dropout_prob: f32,
    /// Position embeddings, i.e. the longest input.
    #[serde(default = "default_positions")]
    pub max_position_embeddings: usize,
    /// Segment (token type) embeddings.
    #[serde(default = "default_types")]
    pub type_vocab_size: usize,
    /// LayerNorm epsilon.
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
}

impl BertConfig {
    /// Checks that the numbers fit together.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.num_attention_heads == 0
            || !self.hidden_size.is_multiple_of(self.num_attention_heads)
        {
            return Err(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if self.vocab_size == 0 || self.num_hidden_layers == 0 || self.intermediate_size == 0 {
            return Err("vocab_size, num_hidden_layers and intermediate_size must be > 0".into());
        }
        Ok(())
    }

    /// The shape of MiniLM-L12-H384 (the teacher, ms-marco-MiniLM-L-12-v2): 12 layers,
    /// hidden 384, 12 heads, intermediate 1536, BERT's uncased vocabulary.
    pub fn minilm_l12_h384() -> Self {
        BertConfig {
            vocab_size: 30522,
            hidden_size: 384,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            intermediate_size: 1536,
            hidden_act: Activation::Gelu,
            hidden_dropout_prob: 0.1,
            attention_probs_dropout_prob: 0.1,
            max_position_embeddings: 512,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
        }
    }

    /// The config as an HF `config.json` for a one-logit `BertForSequenceClassification`.
    pub fn to_hf_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).expect("config serializes");
        v["architectures"] = serde_json::json!(["BertForSequenceClassification"]);
        v["model_type"] = serde_json::json!("bert");
        v["num_labels"] = serde_json::json!(1);
        v["id2label"] = serde_json::json!({"0": "LABEL_0"});
        v["label2id"] = serde_json::json!({"LABEL_0": 0});
        v["pad_token_id"] = serde_json::json!(0);
        v
    }
}
