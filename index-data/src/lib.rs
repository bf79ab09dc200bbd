//! Streaming readers and writers for information-retrieval collections.
//!
//! This crate knows file formats and nothing else: no index, no model. Documents and queries
//! are read as iterators of `Result<_>` in constant memory, so a corpus of any size streams
//! through; an item that fails names its file and line, and the iterator goes on with the next
//! record, so a caller can stop at the first error or count and skip bad records.
//!
//! | format | documents | queries | judgments |
//! |---|---|---|---|
//! | BEIR folder | [`BeirDataset::corpus`] | [`BeirDataset::queries`] | [`BeirDataset::qrels`] |
//! | JSON Lines | [`JsonlDocuments`] (fields configurable) | [`JsonlQueries`] | |
//! | SMART (CISI ...) | [`SmartDocuments`] | [`SmartQueries`] | [`QrelsFormat::Smart`] |
//! | text folder | [`DirDocuments`] | | |
//! | TREC | | | [`read_qrels`], [`write_trec_qrels`]; runs: [`read_trec_run`], [`write_trec_run`] |
//!
//! ```
//! # fn main() -> index_data::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("corpus.jsonl");
//! # std::fs::write(&path, "{\"_id\": \"d1\", \"title\": \"Berlin\", \"text\": \"A city.\"}\n").unwrap();
//! use index_data::{JsonlDocuments, JsonlFields};
//! for doc in JsonlDocuments::open(&path, JsonlFields::beir())? {
//!     let doc = doc?;
//!     assert_eq!(doc.id, "d1");
//! }
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod beir;
mod collection;
mod dir;
mod error;
mod jsonl;
mod lines;
mod markdown;
mod qrels;
mod smart;
mod types;

pub use beir::BeirDataset;
pub use collection::{
    detect_qrels_format, load_qrels, open_documents, read_queries, DocumentFormat, DocumentStream,
};
pub use dir::{DirDocuments, DirFilter, DirListing, TEXT_EXTENSIONS};
pub use error::{Error, Result};
pub use jsonl::{JsonlDocuments, JsonlFields, JsonlQueries};
pub use lines::{max_document_bytes, max_line_bytes};
pub use markdown::markdown_to_text;
pub use qrels::{
    read_qrels, read_qrels_with, read_trec_run, write_trec_qrels, write_trec_run, QrelsFormat,
};
pub use smart::{SmartDocuments, SmartFields, SmartQueries, SmartRecord, SmartRecords};
pub use types::{
    judged_queries, sample_queries, Document, Qrels, Query, Run, ScoredDoc, MAX_ID_BYTES,
};
