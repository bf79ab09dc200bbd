//! The JSON bodies of the API. Unknown fields are refused, so a misspelled option is an error
//! naming it rather than a silent default.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// `POST /search`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    pub query: String,
    #[serde(default = "default_k")]
    pub k: usize,
    /// BM25 candidates the reranker rescores (the reranker's own depth when absent).
    pub depth: Option<usize>,
    /// `true` (the server's reranker), `false` (BM25 alone), or a model name.
    #[serde(default)]
    pub rerank: Option<Rerank>,
    /// BM25's weight in the fused score (the model's fusion.json value when absent).
    pub alpha: Option<f64>,
}

fn default_k() -> usize {
    10
}

/// The `rerank` field: a switch or a model's name.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Rerank {
    Switch(bool),
    Model(String),
}

/// One hit of a search reply.
#[derive(Debug, Serialize)]
pub struct HitOut {
    pub id: String,
    pub title: String,
    /// The passage of the text that best matches the query.
    pub snippet: String,
    /// Byte ranges `[start, end)` of `snippet` (UTF-8) that match a query term.
    pub highlights: Vec<[usize; 2]>,
    /// The score the hits are ranked by (fused when reranked, else BM25).
    pub score: f64,
    pub bm25: f32,
    /// The cross-encoder's score, when reranked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ce: Option<f32>,
}

/// Milliseconds spent.
#[derive(Debug, Serialize)]
pub struct Timings {
    pub total_ms: f64,
}

/// The reply to `POST /search`.
#[derive(Debug, Serialize)]
pub struct SearchReply {
    pub hits: Vec<HitOut>,
    /// `bm25`, or the reranker's name.
    pub mode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depth: Option<usize>,
    pub timings: Timings,
}

/// One document, in and out.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentIn {
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub text: String,
}

/// The reply to a write.
#[derive(Debug, Serialize)]
pub struct WriteReply {
    /// Documents upserted, or ids deleted that were in the index.
    pub count: usize,
    /// Whether the write is on disk (it is at the next group commit otherwise).
    pub durable: bool,
    /// The longest wait until it is, when it is not yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub durable_within_ms: Option<u64>,
}

/// `?commit=true`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct WriteParams {
    #[serde(default)]
    pub commit: bool,
}

/// Parses a JSON body, naming the field at fault (`hits[0].k`) when the shape is wrong.
pub fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path.is_empty() || path == "." {
            ApiError::bad_request(format!("bad JSON body: {inner}"))
        } else {
            ApiError::field(path.clone(), format!("bad JSON body at `{path}`: {inner}"))
        }
    })
}

/// A documents body: a JSON array, or JSON lines (one document a line).
pub fn parse_documents(body: &[u8]) -> Result<Vec<DocumentIn>, ApiError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        return parse(body);
    }
    let mut docs = Vec::new();
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let doc: DocumentIn = parse(line).map_err(|e| ApiError {
            message: format!("line {}: {}", i + 1, e.message),
            field: Some(match e.field {
                Some(f) => format!("line {}: {f}", i + 1),
                None => format!("line {}", i + 1),
            }),
            ..e
        })?;
        docs.push(doc);
    }
    Ok(docs)
}
