//! [`Reranker`]: a cross-encoder together with the BM25 weight and depth it is used at.

use std::path::Path;
use std::sync::Arc;

use engine::Engine;
use reranker::{BatchStats, Batched, CrossEncoder, RerankerOptions};

use crate::error::Result;
use crate::rerank::{
    check_alpha, installed_reranker, search_reranked, RerankOptions, RerankedHit, DEFAULT_ALPHA,
};

/// A cross-encoder ready to rerank: the model, and the BM25 weight (`alpha`) and candidate
/// depth it fuses at. Loaded from a folder with a `fusion.json` (what `retrain` writes, and
/// the bundled student has), it fuses at the weight chosen for it on held-out queries, as
/// `search-cli` does, and reads long documents as the passages it was trained with;
/// otherwise at [`DEFAULT_ALPHA`], the first passage only.
#[derive(Debug)]
pub struct Reranker {
    model: Box<dyn CrossEncoder>,
    name: String,
    options: RerankOptions,
    installed: bool,
    /// The model behind `model` when it batches across callers ([`Reranker::batched`]).
    batches: Option<Arc<Batched<Box<dyn CrossEncoder>>>>,
}

/// What a command's `--rerank` without a model name asks for: the index's own reranker,
/// else the bundled student.
pub const DEFAULT_CHOICE: &str = "default";

impl Reranker {
    /// Loads a model by name (`student`, `teacher`) or folder, with default inference
    /// settings.
    pub fn load(name: &str) -> Result<Reranker> {
        Self::load_with(name, &RerankerOptions::default())
    }

    /// Loads a model by name or folder with these inference settings.
    pub fn load_with(name: &str, options: &RerankerOptions) -> Result<Reranker> {
        let dir = reranker::resolve_model(name)?;
        let model = reranker::load_cross_encoder(name, options)?;
        let alpha = reranker::recommended_alpha(&dir).unwrap_or(DEFAULT_ALPHA);
        let passages = reranker::recommended_passages(&dir)
            .map_or_else(crate::Passages::first_only, crate::Passages::max_p);
        Ok(Reranker {
            model,
            name: name.to_owned(),
            options: RerankOptions {
                alpha,
                passages,
                ..RerankOptions::default()
            },
            installed: false,
            batches: None,
        })
    }

    /// The reranker a command asks for: `None` or [`DEFAULT_CHOICE`] is the index's own
    /// (else the bundled student); anything else a model name or folder.
    pub fn choose(
        index: &Path,
        requested: Option<&str>,
        options: &RerankerOptions,
    ) -> Result<Reranker> {
        match requested {
            None | Some(DEFAULT_CHOICE) => Self::for_index(index, options),
            Some(name) => Self::load_with(name, options),
        }
    }

    /// A short name for tables and run tags: a model's name as it is, the index's own
    /// reranker as `index-reranker`, another folder by its last component.
    pub fn label(&self) -> String {
        if self.installed {
            return "index-reranker".into();
        }
        if reranker::KNOWN_MODELS.contains(&self.name.as_str()) {
            return self.name.clone();
        }
        Path::new(&self.name)
            .file_name()
            .map_or_else(|| self.name.clone(), |n| n.to_string_lossy().into_owned())
    }

    /// The reranker of the index in `index`: its installed one if there is one, else the
    /// bundled student ([`reranker::DEFAULT_RERANKER`]).
    pub fn for_index(index: &Path, options: &RerankerOptions) -> Result<Reranker> {
        match installed_reranker(index) {
            Some(dir) => {
                let mut r = Self::load_with(&dir.display().to_string(), options)?;
                r.installed = true;
                Ok(r)
            }
            None => Self::load_with(reranker::DEFAULT_RERANKER, options),
        }
    }

    /// The same reranker fusing at another BM25 weight (in [0, 1]).
    pub fn with_alpha(mut self, alpha: f64) -> Result<Reranker> {
        check_alpha(alpha)?;
        self.options.alpha = alpha;
        Ok(self)
    }

    /// The same reranker rescoring BM25's top `depth` candidates (default 100).
    pub fn with_depth(mut self, depth: usize) -> Reranker {
        self.options.depth = depth;
        self
    }

    /// The same reranker reading each candidate as these passages (default: the first only).
    pub fn with_passages(mut self, passages: crate::Passages) -> Reranker {
        self.options.passages = passages;
        self
    }

    /// The same reranker, its concurrent callers (threads searching at once) scored together
    /// in passes of up to `max_pairs` pairs ([`reranker::Batched`]): what a server wants.
    pub fn batched(self, max_pairs: usize) -> Reranker {
        let shared = Arc::new(Batched::new(self.model, max_pairs));
        Reranker {
            model: Box::new(shared.clone()),
            batches: Some(shared),
            ..self
        }
    }

    /// Passes and pairs scored so far, when [`batched`](Reranker::batched).
    pub fn batch_stats(&self) -> Option<BatchStats> {
        self.batches.as_ref().map(|b| b.stats())
    }

    /// BM25's weight in the fused score.
    pub fn alpha(&self) -> f64 {
        self.options.alpha
    }

    /// How a candidate is read (its folder's `fusion.json` `passages`, else the first only).
    pub fn passages(&self) -> crate::Passages {
        self.options.passages
    }

    /// BM25 candidates rescored per query.
    pub fn depth(&self) -> usize {
        self.options.depth
    }

    /// The depth and weight, as the pipeline functions take them.
    pub fn options(&self) -> RerankOptions {
        self.options
    }

    /// The name or folder it was loaded from.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cross-encoder.
    pub fn model(&self) -> &dyn CrossEncoder {
        self.model.as_ref()
    }

    /// BM25's top [`depth`](Reranker::depth) for `query`, rescored by the cross-encoder and
    /// fused at [`alpha`](Reranker::alpha); the best `k`, best first.
    pub fn search(
        &self,
        index: &impl AsRef<Engine>,
        query: &str,
        k: usize,
    ) -> Result<Vec<RerankedHit>> {
        search_reranked(index.as_ref(), self.model(), query, k, &self.options)
    }
}
