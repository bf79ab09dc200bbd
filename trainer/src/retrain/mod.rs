//! One call from an index (and optional judgments) to a trained student that carries its
//! fusion weight: what `search-cli retrain` runs.
//!
//! Stages, each resumable after a kill: pseudo-queries (seeded, so remade identically),
//! teacher scoring (through the score cache), training (from `out/last/`), selection (the
//! best checkpoint exported to ONNX and its BM25 weight chosen on the dev queries, recomputed).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use engine::Engine;
use index_data::{Document, Qrels, Query};
use reranker::{CrossEncoder, RerankerOptions};
use search::Passages;
use serde::{Deserialize, Serialize};

use crate::data::{labeled_queries, split_dev, DataStats, TrainQuery};
use crate::dev::{alpha_grid, DevKind, DevSet};
use crate::error::{Error, Result};
use crate::fusion::Fusion;
use crate::pseudo::{dev_mix, pseudo_queries_in, PseudoMix};
use crate::teacher::{consistency_filter, ConsistencyFilter, FilterReport};
use crate::train::{train, TrainConfig, TrainState};

mod groups;

pub use groups::write_groups;
use groups::{groups_for, load_extra_groups};

/// Label-free training data: how many pseudo-queries, of which kinds, filtered how.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PseudoOptions {
    /// Documents to make training pseudo-queries from; `None`: sized to the corpus
    /// ([`default_pseudo_queries`]) when there are no judged queries, none when there are.
    pub queries: Option<usize>,
    /// Their kinds.
    pub mix: PseudoMix,
    /// The consistency filter.
    pub filter: ConsistencyFilter,
    /// Pseudo-queries held out as the label-free dev set when there are no judged dev
    /// queries; `None`: [`default_pseudo_dev`].
    pub dev: Option<usize>,
}

/// Training pseudo-queries for a corpus of `docs` documents when none are asked for: a
/// quarter of the documents, at least 100 and at most 250. The teacher scoring them bounds a
/// retrain's cost (about 4 pairs/s on a 2-core machine, 21 pairs a query): 250 keep a
/// 5,000-document corpus near half an hour, and fine-tuning the bundled student needs no more
/// to adapt it (docs/RESULTS.md §6).
pub fn default_pseudo_queries(docs: u64) -> usize {
    ((docs / 4) as usize).clamp(100, 250)
}

/// Label-free dev queries when none are asked for: 100 (fewer in a corpus under 1,000
/// documents: a tenth of it, at least 30, and never over a third of it, so that a corpus of
/// a few dozen documents keeps most of them to train on). They cost no teacher scoring.
pub fn default_pseudo_dev(docs: u64) -> usize {
    ((docs / 10) as usize)
        .clamp(30, 100)
        .min((docs / 3) as usize)
}

/// The label-free dev queries of a corpus: `n` held-out sentence and title pseudo-queries
/// (the sentence removed from its source document) from a sample of its own (`split_seed`),
/// the set a label-free [`retrain`] of that split seed chooses its checkpoint and fusion
/// weight on, and [`DevSet::pseudo`] turns into a dev set to compare rerankers on.
pub fn pseudo_dev_queries(engine: &Engine, n: usize, split_seed: u64) -> Result<Vec<TrainQuery>> {
    pseudo_dev_queries_in(engine, n, split_seed, &Passages::first_only())
}

/// As [`pseudo_dev_queries`], long documents read as `passages`: the set of a label-free
/// [`retrain`] with [`RetrainOptions::passages`].
pub fn pseudo_dev_queries_in(
    engine: &Engine,
    n: usize,
    split_seed: u64,
    passages: &Passages,
) -> Result<Vec<TrainQuery>> {
    let sample = engine.sample_documents(2 * n, split_seed ^ 0xde5e7)?;
    let made = pseudo_queries_in(engine, &sample, &dev_mix(), split_seed, passages)?;
    Ok(made.into_iter().take(n).collect())
}

/// What to train on and how.
#[derive(Debug, Clone)]
pub struct RetrainOptions {
    /// The BM25 index with the user's documents.
    pub index: PathBuf,
    /// Judged training queries and their judgments, if any.
    pub labeled: Option<(Vec<Query>, Qrels)>,
    /// Label-free training data.
    pub pseudo: PseudoOptions,
    /// Fraction of the labeled queries held out as dev queries.
    pub dev_fraction: f64,
    /// Seed of the dev split and of the pseudo-queries, apart from the training seed so that
    /// runs of several seeds share one dev set (and one set of training groups).
    pub split_seed: u64,
    /// The teacher (folder or fetched name).
    pub teacher: String,
    /// Teacher inference settings (max_len, threads ...).
    pub teacher_options: RerankerOptions,
    /// BM25 candidates per training query (hard negatives).
    pub depth: usize,
    /// The teacher score cache (default: `<index>/score-cache.tsv`, shared with `eval`).
    pub score_cache: Option<PathBuf>,
    /// Rebuild `out/groups.jsonl` even if it exists and matches.
    pub rebuild_groups: bool,
    /// Training groups of other runs (their `groups.jsonl`, which carry their texts and
    /// teacher scores) added to this run's training data, not to its dev set, and filtered
    /// as its own are: one student trained on several corpora.
    pub extra_groups: Vec<PathBuf>,
    /// The training settings.
    pub train: TrainConfig,
    /// BM25 candidates per dev query when the fusion weight is chosen (the depth queries
    /// rerank at; default 100).
    pub fusion_depth: usize,
    /// How long documents are read, in training and on dev: [`Passages::first_only`] (the
    /// default), or windows scored by their best (MaxP) with pseudo-queries made from one
    /// window. The student is then meant to rerank with the same passages (`fusion.json`'s
    /// `passages`).
    pub passages: Passages,
    /// The output folder.
    pub out: PathBuf,
}

/// The stages of [`retrain`], for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Making pseudo-queries (documents done / total).
    Queries,
    /// BM25 candidates scored by the teacher (queries done / total).
    Scoring,
    /// Training (steps done / total).
    Training,
    /// Choosing the fusion weight on the dev queries (queries done / total).
    Selection,
}

impl Stage {
    /// Its name in progress lines.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Queries => "pseudo-queries",
            Stage::Scoring => "teacher scoring",
            Stage::Training => "training",
            Stage::Selection => "selection",
        }
    }
}

/// The data a run trained on (`training.json`'s `data`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DataSummary {
    /// The index.
    pub index: PathBuf,
    /// Judged training queries.
    pub labeled_train_queries: usize,
    /// Training pseudo-queries made (before the filter).
    pub pseudo_queries: usize,
    /// Their kinds.
    #[serde(default)]
    pub pseudo_mix: Option<PseudoMix>,
    /// Dev queries.
    pub dev_queries: usize,
    /// Where the dev judgments come from.
    #[serde(default)]
    pub dev_kind: Option<DevKind>,
    /// The seed of the dev split and the pseudo-queries.
    pub split_seed: u64,
    /// The dev queries' ids.
    pub dev_query_ids: Vec<String>,
    /// The teacher.
    pub teacher: String,
    /// BM25 candidates per training query.
    pub depth: usize,
    /// Passages a long document was read as (1: its first only).
    #[serde(default = "one")]
    pub passages: usize,
    /// Training groups after the filter (this run's and the extra ones).
    pub groups: usize,
    /// The extra groups files and how many groups each added (before the filter).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_groups: Vec<(PathBuf, usize)>,
    /// What building the groups kept and skipped (when built by this run).
    pub build_stats: Option<DataStats>,
    /// What the consistency filter kept.
    #[serde(default)]
    pub filter: FilterReport,
}

fn one() -> usize {
    1
}

/// Seconds each stage took in this call (a resumed stage counts only its new work).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageCosts {
    /// Making queries and BM25 candidates.
    pub queries_seconds: f64,
    /// Teacher scoring.
    pub scoring_seconds: f64,
    /// Pairs the teacher scored in this call (cache misses).
    pub teacher_pairs: usize,
    /// Pairs in the groups (scored now or read from the cache).
    pub group_pairs: usize,
    /// Training.
    pub training_seconds: f64,
    /// Export and the fusion weight.
    pub selection_seconds: f64,
}

/// What [`retrain`] did.
#[derive(Debug, Clone)]
pub struct RetrainReport {
    /// The training run.
    pub state: TrainState,
    /// The data.
    pub data: DataSummary,
    /// The fusion weight, also in `out/fusion.json`.
    pub fusion: Fusion,
    /// What each stage cost.
    pub costs: StageCosts,
    /// What the run could not do and went on without, for the user to read.
    pub notes: Vec<String>,
}

/// The queries of a run: training queries (judged and pseudo), dev queries, and the
/// dev set's kind.
struct Queries {
    train: Vec<TrainQuery>,
    dev: Vec<TrainQuery>,
    dev_kind: Option<DevKind>,
    labeled: usize,
    qrels: Qrels,
    /// A label-free dev set was asked for and none could be made.
    no_dev: bool,
}

fn make_queries(
    options: &RetrainOptions,
    engine: &Engine,
    progress: &mut dyn FnMut(Stage, usize, usize),
) -> Result<Queries> {
    let (mut train_q, mut dev_q, qrels) = match &options.labeled {
        Some((queries, qrels)) => {
            let labeled = labeled_queries(queries, qrels);
            let (t, d) = split_dev(labeled, options.dev_fraction, options.split_seed);
            (t, d, qrels.clone())
        }
        None => (Vec::new(), Vec::new(), Qrels::default()),
    };
    let labeled = train_q.len();
    let docs = engine.num_docs();
    let n_pseudo = options
        .pseudo
        .queries
        .unwrap_or(if options.labeled.is_some() {
            0
        } else {
            default_pseudo_queries(docs)
        });
    let mut dev_kind = (!dev_q.is_empty()).then_some(DevKind::Judged);
    // The label-free dev set comes first, from its own sample and with its own kinds, so that
    // runs of other mixes and sizes share it; its documents make no training query.
    let mut dev_docs: HashSet<String> = HashSet::new();
    let mut no_dev = false;
    if dev_q.is_empty() && n_pseudo > 0 {
        let n_dev = options
            .pseudo
            .dev
            .unwrap_or_else(|| default_pseudo_dev(docs));
        dev_q = pseudo_dev_queries_in(engine, n_dev, options.split_seed, &options.passages)?;
        dev_docs = dev_q.iter().flat_map(|q| q.positives.clone()).collect();
        dev_kind = (!dev_q.is_empty()).then_some(DevKind::Pseudo);
        no_dev = n_dev > 0 && dev_q.is_empty();
    }
    if n_pseudo > 0 {
        let sample: Vec<Document> = engine
            .sample_documents(n_pseudo + dev_docs.len(), options.split_seed)?
            .into_iter()
            .filter(|d| !dev_docs.contains(&d.id))
            .take(n_pseudo)
            .collect();
        let total = sample.len();
        for (i, chunk) in sample.chunks(64).enumerate() {
            train_q.extend(pseudo_queries_in(
                engine,
                chunk,
                &options.pseudo.mix,
                options.split_seed,
                &options.passages,
            )?);
            progress(Stage::Queries, (64 * (i + 1)).min(total), total);
        }
    }
    if train_q.is_empty() {
        return Err(Error::NoTrainingQueries);
    }
    let dev_qrels = if dev_kind == Some(DevKind::Judged) {
        qrels.clone()
    } else {
        Qrels::default()
    };
    Ok(Queries {
        train: train_q,
        dev: dev_q,
        dev_kind,
        labeled,
        qrels: dev_qrels,
        no_dev,
    })
}

/// Writes `out/queries.jsonl`: every training and dev query with its kind and source, for
/// a user to see what the student was trained and chosen on.
fn write_queries(out: &Path, queries: &Queries) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut text = String::new();
    for (split, qs) in [("train", &queries.train), ("dev", &queries.dev)] {
        for q in qs.iter() {
            let line = serde_json::json!({
                "split": split, "id": q.id, "text": q.text,
                "kind": q.kind.map_or("judged".to_string(), |k| k.to_string()),
                "positives": q.positives,
            });
            text.push_str(&line.to_string());
            text.push('\n');
        }
    }
    let path = out.join("queries.jsonl");
    std::fs::write(&path, text).map_err(|e| Error::io(&path, e))
}

/// The queries a [`retrain`] run trains and chooses on, made (and written to
/// `out/queries.jsonl`) by [`plan`] before any teacher scoring: what a dry run shows, and
/// what a caller checks before the costly stages ([`Plan::no_dev_query`]).
pub struct Plan {
    engine: Engine,
    queries: Queries,
    queries_seconds: f64,
}

impl Plan {
    /// The training queries (judged, then pseudo).
    pub fn train(&self) -> &[TrainQuery] {
        &self.queries.train
    }

    /// The dev queries (held-out judged ones, or label-free pseudo-queries).
    pub fn dev(&self) -> &[TrainQuery] {
        &self.queries.dev
    }

    /// Where the dev judgments come from; `None` when there are no dev queries.
    pub fn dev_kind(&self) -> Option<DevKind> {
        self.queries.dev_kind
    }

    /// True when a label-free dev set was asked for and none could be made (documents of
    /// one sentence and no title: taking the sentence out would leave nothing). Nothing can
    /// then show that the student beats BM25, so it will be fused at alpha 1.0.
    pub fn no_dev_query(&self) -> bool {
        self.queries.no_dev
    }
}

/// Makes the training and dev queries of `options` and writes them to `out/queries.jsonl`,
/// without scoring or training anything: to see what pseudo-queries a corpus gives, and the
/// first stage of [`retrain`] (go on with [`retrain_planned`]).
pub fn plan(
    options: &RetrainOptions,
    progress: &mut dyn FnMut(Stage, usize, usize),
) -> Result<Plan> {
    check_out(options)?;
    let engine = Engine::open(&options.index)?;
    let t = Instant::now();
    let queries = make_queries(options, &engine, progress)?;
    write_queries(&options.out, &queries)?;
    Ok(Plan {
        engine,
        queries,
        queries_seconds: t.elapsed().as_secs_f64(),
    })
}

/// Builds (or reloads) the distillation data, filters it, trains, exports the best student to
/// ONNX in `out` and chooses its fusion weight on the dev queries (`out/fusion.json`); see
/// [`crate::train`] for the rest of what is written to `out`. [`plan`] and then
/// [`retrain_planned`].
pub fn retrain(
    options: &RetrainOptions,
    progress: &mut dyn FnMut(Stage, usize, usize),
) -> Result<RetrainReport> {
    let plan = plan(options, progress)?;
    retrain_planned(options, plan, progress)
}

/// The stages of [`retrain`] after its queries: `plan` must come from [`plan`] with the same
/// `options`.
pub fn retrain_planned(
    options: &RetrainOptions,
    plan: Plan,
    progress: &mut dyn FnMut(Stage, usize, usize),
) -> Result<RetrainReport> {
    let Plan {
        engine,
        queries,
        queries_seconds,
    } = plan;
    let mut costs = StageCosts {
        queries_seconds,
        ..Default::default()
    };
    let mut notes = Vec::new();

    // Before the teacher's work, so that a wrong file is said at once.
    let extras = load_extra_groups(options)?;
    let t = Instant::now();
    let (mut groups, stats, scored) = groups_for(options, &engine, &queries.train, progress)?;
    costs.scoring_seconds = t.elapsed().as_secs_f64();
    costs.teacher_pairs = scored;
    costs.group_pairs = groups.iter().map(|g| g.candidates.len()).sum();
    let mut extra_groups = Vec::new();
    for (path, extra) in extras {
        extra_groups.push((path, extra.len()));
        groups.extend(extra);
    }
    let (groups, filter) = consistency_filter(groups, &options.pseudo.filter)?;
    if groups.is_empty() {
        return Err(Error::FilterKeptNothing {
            top: options.pseudo.filter.top,
        });
    }

    let dev_ids: Vec<String> = queries.dev.iter().map(|q| q.id.clone()).collect();
    let dev = dev_set(
        &engine,
        &queries,
        options.train.dev_depth,
        &options.passages,
    )?;
    let data = DataSummary {
        index: options.index.clone(),
        labeled_train_queries: queries.labeled,
        pseudo_queries: queries.train.len() - queries.labeled,
        pseudo_mix: (queries.train.len() > queries.labeled).then(|| options.pseudo.mix.clone()),
        dev_queries: queries.dev.len(),
        dev_kind: queries.dev_kind,
        split_seed: options.split_seed,
        dev_query_ids: dev_ids,
        teacher: options.teacher.clone(),
        depth: options.depth,
        passages: options.passages.max,
        groups: groups.len(),
        extra_groups,
        build_stats: stats,
        filter,
    };
    let t = Instant::now();
    let state = train(
        &options.train,
        &groups,
        dev.as_ref(),
        serde_json::to_value(&data)
            .map_err(|e| Error::json(&options.out.join("training.json"), e))?,
        &options.out,
        &mut |s, total, _| progress(Stage::Training, s, total),
    )?;
    costs.training_seconds = t.elapsed().as_secs_f64();

    let t = Instant::now();
    reranker::export_onnx_dir(&options.out, &options.out, reranker::Precision::F32)?;
    let fusion = match dev_set(&engine, &queries, options.fusion_depth, &options.passages)? {
        Some(dev) => {
            let student = reranker::OnnxCrossEncoder::load(
                &options.out,
                &RerankerOptions {
                    max_len: options.train.max_len,
                    ..options.teacher_options.clone()
                },
            )?;
            let scores = score_with_progress(&dev, &student, progress)?;
            let mut fusion = Fusion::choose(&dev, dev.evaluate(&scores, &alpha_grid()));
            // What the index reranks with now: a student that does not beat it is no gain to
            // install. Best effort: without it, only the comparison with BM25 guards.
            match search::Reranker::for_index(&options.index, &options.teacher_options) {
                Ok(current) => {
                    let scores = score_with_progress(&dev, current.model(), progress)?;
                    let ndcg = dev.evaluate(&scores, &[current.alpha()]);
                    let at = ndcg.fused.first().map_or(ndcg.bm25, |&(_, v)| v);
                    fusion.compare_with(current.label(), current.alpha(), at);
                }
                Err(e) => notes.push(format!(
                    "the reranker in use could not be loaded to compare the student with: {e}"
                )),
            }
            fusion
        }
        None => Fusion::without_dev(),
    };
    let fusion = Fusion {
        passages: options.passages.max,
        ..fusion
    };
    crate::train::write_json(&options.out.join("fusion.json"), &fusion)?;
    costs.selection_seconds = t.elapsed().as_secs_f64();
    Ok(RetrainReport {
        state,
        data,
        fusion,
        costs,
        notes,
    })
}

/// Refuses an output folder that is the starting checkpoint's (or the index's): the run
/// would write its student over what it reads.
fn check_out(options: &RetrainOptions) -> Result<()> {
    let same = |a: &Path, b: &Path| match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same(&options.out, &options.train.init) {
        return Err(Error::OutputIsInput {
            path: options.out.clone(),
            what: "the starting checkpoint's folder",
        });
    }
    if same(&options.out, &options.index) {
        return Err(Error::OutputIsInput {
            path: options.out.clone(),
            what: "the index",
        });
    }
    Ok(())
}

fn dev_set(
    engine: &Engine,
    queries: &Queries,
    depth: usize,
    passages: &Passages,
) -> Result<Option<DevSet>> {
    Ok(match queries.dev_kind {
        None => None,
        Some(DevKind::Judged) => {
            let qs: Vec<Query> = queries
                .dev
                .iter()
                .map(|q| Query {
                    id: q.id.clone(),
                    text: q.text.clone(),
                })
                .collect();
            Some(DevSet::judged_in(
                engine,
                &qs,
                &queries.qrels,
                depth,
                passages,
            )?)
        }
        Some(DevKind::Pseudo) => Some(DevSet::pseudo_in(engine, &queries.dev, depth, passages)?),
    })
}

fn score_with_progress(
    dev: &DevSet,
    model: &dyn CrossEncoder,
    progress: &mut dyn FnMut(Stage, usize, usize),
) -> Result<search::CandidateScores> {
    let mut out = search::CandidateScores::default();
    for (i, q) in dev.queries.iter().enumerate() {
        let one = DevSet {
            queries: vec![q.clone()],
            qrels: Qrels::default(),
            kind: dev.kind,
            depth: dev.depth,
        };
        out.by_query.extend(one.score(model)?.by_query);
        progress(Stage::Selection, i + 1, dev.len());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dev_set_leaves_a_small_corpus_most_of_its_documents() {
        assert_eq!(default_pseudo_dev(5_000), 100);
        assert_eq!(default_pseudo_dev(500), 50);
        assert_eq!(default_pseudo_dev(120), 30);
        // Under 90 documents a third, not 30 of them.
        assert_eq!(default_pseudo_dev(60), 20);
        assert_eq!(default_pseudo_dev(25), 8);
        assert_eq!(default_pseudo_dev(2), 0);
    }
}
