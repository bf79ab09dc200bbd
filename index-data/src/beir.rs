//! A BEIR dataset folder: `corpus.jsonl`, `queries.jsonl`, `qrels/<split>.tsv`.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::jsonl::{JsonlDocuments, JsonlFields, JsonlQueries};
use crate::qrels::{read_qrels, QrelsFormat};
use crate::types::Qrels;

/// A BEIR dataset folder, as BEIR publishes them (e.g. `scifact/`).
#[derive(Debug, Clone)]
pub struct BeirDataset {
    root: PathBuf,
}

impl BeirDataset {
    /// Points at a folder; nothing is read until a method asks for it.
    pub fn new(root: impl AsRef<Path>) -> Self {
        BeirDataset {
            root: root.as_ref().to_path_buf(),
        }
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `corpus.jsonl`.
    pub fn corpus_path(&self) -> PathBuf {
        self.root.join("corpus.jsonl")
    }

    /// `queries.jsonl`.
    pub fn queries_path(&self) -> PathBuf {
        self.root.join("queries.jsonl")
    }

    /// `qrels/<split>.tsv`.
    pub fn qrels_path(&self, split: &str) -> PathBuf {
        self.root.join("qrels").join(format!("{split}.tsv"))
    }

    /// Streams the corpus.
    pub fn corpus(&self) -> Result<JsonlDocuments> {
        JsonlDocuments::open(self.corpus_path(), JsonlFields::beir())
    }

    /// Streams all queries (every split's).
    pub fn queries(&self) -> Result<JsonlQueries> {
        JsonlQueries::open(self.queries_path())
    }

    /// Reads the judgments of one split (`train`, `dev`, `test`).
    pub fn qrels(&self, split: &str) -> Result<Qrels> {
        read_qrels(self.qrels_path(split), QrelsFormat::BeirTsv)
    }
}
