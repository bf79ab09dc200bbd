//! One call from an index (and optional judgments) to a trained student: what
//! `search-cli retrain` runs.

use std::path::{Path, PathBuf};

use engine::Engine;
use index_data::{Qrels, Query};
use reranker::{CachedCrossEncoder, RerankerOptions, ScoreCache};
use serde_json::json;

use crate::data::{
    build_groups, labeled_queries, load_groups, pseudo_queries, save_groups, split_dev, DataStats,
    Group, TrainQuery,
};
use crate::error::{Error, Result};
use crate::train::{train, DevSet, TrainConfig, TrainState};

/// What to train on and how.
#[derive(Debug, Clone)]
pub struct RetrainOptions {
    /// The BM25 index with the user's documents.
    pub index: PathBuf,
    /// Judged training queries and their judgments, if any.
    pub labeled: Option<(Vec<Query>, Qrels)>,
    /// Pseudo-queries to make from the corpus (0: none).
    pub pseudo_queries: usize,
    /// Fraction of the labeled queries held out as dev queries.
    pub dev_fraction: f64,
    /// Seed of the dev split, apart from the training seed so that runs of several seeds
    /// share one dev set (and one set of training groups).
    pub split_seed: u64,
    /// The teacher (folder or fetched name).
    pub teacher: String,
    /// Teacher inference settings (max_len, threads ...).
    pub teacher_options: RerankerOptions,
    /// BM25 candidates per training query (hard negatives).
    pub depth: usize,
    /// The teacher score cache (default: `<index>/score-cache.tsv`, shared with `eval`).
    pub score_cache: Option<PathBuf>,
    /// Rebuild `out/groups.jsonl` even if it exists.
    pub rebuild_groups: bool,
    /// The training settings.
    pub train: TrainConfig,
    /// The output folder.
    pub out: PathBuf,
}

/// The training queries (labeled and pseudo), the dev queries and the judgments of `options`.
fn split_queries(
    options: &RetrainOptions,
    engine: &Engine,
) -> Result<(Vec<TrainQuery>, Vec<TrainQuery>, Qrels, usize)> {
    let (mut train_q, dev_q, qrels) = match &options.labeled {
        Some((queries, qrels)) => {
            let labeled = labeled_queries(queries, qrels);
            let (t, d) = split_dev(labeled, options.dev_fraction, options.split_seed);
            (t, d, qrels.clone())
        }
        None => (Vec::new(), Vec::new(), Qrels::default()),
    };
    let n_labeled = train_q.len();
    if options.pseudo_queries > 0 {
        train_q.extend(pseudo_queries(
            engine,
            options.pseudo_queries,
            options.split_seed,
        )?);
    }
    if train_q.is_empty() {
        return Err(Error::Data(
            "no training queries: give judged queries (--queries/--qrels) or --pseudo-queries N"
                .into(),
        ));
    }
    Ok((train_q, dev_q, qrels, n_labeled))
}

/// Builds `out/groups.jsonl` (BM25 candidates of the training queries, scored by the
/// teacher) unless it exists and `rebuild_groups` is off, and returns the groups and, when
/// built, the build statistics. What [`retrain`] does first; the experiment runner calls it
/// alone to build the groups its runs share.
pub fn write_groups(
    options: &RetrainOptions,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<(Vec<Group>, Option<DataStats>)> {
    let engine = Engine::open(&options.index)?;
    let (train_q, _, _, _) = split_queries(options, &engine)?;
    groups_for(options, &engine, &train_q, progress)
}

fn groups_for(
    options: &RetrainOptions,
    engine: &Engine,
    train_q: &[TrainQuery],
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<(Vec<Group>, Option<DataStats>)> {
    std::fs::create_dir_all(&options.out).map_err(|e| Error::io(&options.out, e))?;
    let groups_path = options.out.join("groups.jsonl");
    if groups_path.exists() && !options.rebuild_groups {
        return Ok((load_groups(&groups_path)?, None));
    }
    let teacher = reranker::load_cross_encoder(&options.teacher, &options.teacher_options)?;
    let cache_path = options
        .score_cache
        .clone()
        .unwrap_or_else(|| options.index.join("score-cache.tsv"));
    let cached = CachedCrossEncoder::new(teacher, ScoreCache::open(&cache_path)?, 64);
    let (groups, stats) = build_groups(engine, &cached, train_q, options.depth, &mut |d, t| {
        progress("scoring", d, t)
    })?;
    save_groups(&groups_path, &groups)?;
    Ok((groups, Some(stats)))
}

/// Builds (or reloads) the distillation data, then trains; see [`crate::train`] for what is
/// written to `out`. `progress(stage, done, total)` reports teacher scoring ("scoring") and
/// training ("training").
pub fn retrain(
    options: &RetrainOptions,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<TrainState> {
    let engine = Engine::open(&options.index)?;
    let (train_q, dev_q, qrels, n_labeled) = split_queries(options, &engine)?;
    let (groups, stats) = groups_for(options, &engine, &train_q, progress)?;
    let dev_queries: Vec<Query> = dev_q
        .iter()
        .map(|q| Query {
            id: q.id.clone(),
            text: q.text.clone(),
        })
        .collect();
    let dev = (!dev_queries.is_empty()).then(|| DevSet {
        engine: &engine,
        queries: dev_queries,
        qrels: qrels.clone(),
    });
    let data = json!({
        "index": options.index,
        "labeled_train_queries": n_labeled,
        "pseudo_queries": train_q.len() - n_labeled,
        "dev_queries": dev_q.len(),
        "split_seed": options.split_seed,
        "dev_query_ids": dev_q.iter().map(|q| q.id.clone()).collect::<Vec<_>>(),
        "teacher": options.teacher,
        "depth": options.depth,
        "groups": groups.len(),
        "build_stats": stats,
    });
    train(
        &options.train,
        &groups,
        dev.as_ref(),
        data,
        &options.out,
        &mut |s, t, _| progress("training", s, t),
    )
}

/// True if `dir` holds a trained student (what `retrain` writes).
pub fn is_student_dir(dir: &Path) -> bool {
    dir.join("training.json").exists() && dir.join("model.safetensors").exists()
}
