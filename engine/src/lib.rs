//! BM25 retrieval on tantivy and trec_eval-exact metrics (the rerank pipeline is the
//! `search` crate's).
//!
//! ```
//! # fn main() -> engine::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! use engine::{Analysis, Engine, IndexOptions};
//! use index_data::Document;
//!
//! let engine = Engine::create(dir.path(), Analysis::default())?;
//! let docs = vec![
//!     Ok(Document { id: "d1".into(), title: "Berlin".into(), body: "Berlin has 3.7 million people.".into() }),
//!     Ok(Document { id: "d2".into(), title: "Paris".into(), body: "The capital of France.".into() }),
//! ];
//! engine.index_documents(docs, &IndexOptions::default(), &mut |_| {})?;
//! let hits = engine.search("How many people live in Berlin?", 10)?;
//! assert_eq!(hits[0].id, "d1");
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub mod bench;
mod error;
mod index;
pub mod metrics;
mod open;
mod query;
mod readonly;
mod settings;
mod snippet;
mod stats;
mod verify;
mod write;

pub use error::{Error, Result};
pub use index::{
    bm25_run, DeleteReport, Engine, Hit, IndexOptions, IndexStats, QuerySyntax, Score, MAX_ID_BYTES,
};
pub use query::Limits;
pub use settings::Analysis;
pub use snippet::Snippet;
pub use tantivy::tokenizer::Language;
pub use verify::{Verify, VerifyReport};
