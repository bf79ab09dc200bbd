//! Embedded search with a trained reranker: BM25 over your documents (tantivy), rescored by a
//! cross-encoder and fused with BM25, in a few lines.
//!
//! ```no_run
//! use search::{Document, Index, Reranker};
//!
//! # fn main() -> search::Result<()> {
//! let index = Index::open_or_create("my-index")?;
//! index.add(vec![
//!     Document::new("berlin", "Berlin", "Berlin has about 3.7 million inhabitants."),
//!     Document::new("paris", "Paris", "Paris is the capital of France."),
//! ])?;
//! let reranker = index.reranker()?; // the index's own, else the bundled student
//! for hit in reranker.search(&index, "How many people live in Berlin?", 5)? {
//!     println!("{} {:.3} (bm25 {:.2})", hit.hit.id, hit.score, hit.hit.score);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! A [`Reranker`] carries the BM25 weight chosen for its model (`fusion.json`), so this
//! ranks exactly as `search-cli query --index my-index` does. The crates underneath are
//! re-exported for everything else: [`index_data`] (formats), [`engine`] (the index and
//! trec_eval-exact metrics), [`reranker`] (cross-encoders on ONNX Runtime or candle).
#![deny(missing_docs)]

mod error;
mod index;
mod passages;
mod rerank;
mod rerankers;

pub use engine;
pub use index_data;
pub use reranker;

pub use engine::{bm25_run, metrics, Analysis, Engine, Hit, IndexOptions, IndexStats, QuerySyntax};
pub use error::{Error, Result};
pub use index::Index;
pub use index_data::{Document, Qrels, Query, Run};
pub use passages::{median_body_words, score_documents, Passages};
pub use rerank::{
    check_alpha, fuse, installed_reranker, installed_reranker_dir, passage_text, score_candidates,
    search_reranked, CandidateScores, RerankOptions, RerankedHit, System, DEFAULT_ALPHA,
};
pub use rerankers::{Reranker, DEFAULT_CHOICE};
