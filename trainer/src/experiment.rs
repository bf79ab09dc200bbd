//! Controlled experiments: students of several losses and seeds trained on one set of
//! distillation data from one initialization, each evaluated on test collections alone and
//! fused with BM25, and a table of mean ± standard deviation over seeds. What
//! `search-cli experiment --config FILE` runs.
//!
//! Layout of `out`:
//! - `groups.jsonl`: the training groups (BM25 candidates + teacher scores), built once;
//! - `runs/<name>-s<seed>/`: one student (the `retrain` output), its ONNX export in `onnx/`,
//!   and `result.json` once evaluated. A run with a `result.json` is never run again; a run
//!   killed half-way resumes from its last checkpoint;
//! - `baselines.json`: BM25 and the teacher on each evaluation collection;
//! - `results.md`, `results.json`: the table (`table` in the configuration names them), and
//!   `results.config.json`, the configuration that wrote it.
//!
//! Several worker processes may run one experiment at once (`search-cli experiment --jobs N`):
//! a worker claims a run with a `claim` file holding its process id before training it, and
//! skips runs claimed by a live process; the baselines and the shared groups are built by one
//! worker while the others wait. A claim left by a dead process is taken over (liveness is read
//! from `/proc`, so parallel workers need Linux; one worker works anywhere).
//!
//! Configurations sharing one `out` share its runs: a run is named by family and seed, and a
//! finished run trained with other settings than its family asks for is an error, not a
//! silent reuse.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use engine::metrics::{evaluate, EvalOptions, Evaluation, Measure};
use engine::Engine;
use index_data::Query;
use reranker::{CachedCrossEncoder, CrossEncoder, RerankerOptions, ScoreCache};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::retrain::{retrain, write_groups, RetrainOptions};
use crate::train::{LossKind, TrainConfig};

/// The measures of the table.
pub const MEASURES: [Measure; 4] = [
    Measure::Ndcg(Some(10)),
    Measure::Rr(Some(10)),
    Measure::Recall(100),
    Measure::Ap(None),
];

/// One experiment, as read from its JSON configuration file. Relative paths are taken from
/// the directory the command runs in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Where everything is written.
    pub out: PathBuf,
    /// The index of the training documents.
    pub train_index: PathBuf,
    /// Judged training queries.
    pub train_queries: PathBuf,
    /// Their judgments.
    pub train_qrels: PathBuf,
    /// The split of `train_qrels` when it is a folder.
    #[serde(default = "default_train_split")]
    pub train_split: String,
    /// Fraction of the training queries held out as dev queries.
    #[serde(default = "default_dev_fraction")]
    pub dev_fraction: f64,
    /// Seed of the dev split, shared by every run.
    #[serde(default)]
    pub split_seed: u64,
    /// The teacher (folder or fetched name).
    #[serde(default = "default_teacher")]
    pub teacher: String,
    /// The students' starting checkpoint (folder or fetched name).
    #[serde(default = "default_init")]
    pub init: String,
    /// Layers of `init` to keep (all if absent).
    #[serde(default)]
    pub layers: Option<Vec<usize>>,
    /// BM25 candidates per training query.
    #[serde(default = "default_depth")]
    pub depth: usize,
    /// Training settings shared by all runs (loss, seed and loss parameters come from each
    /// run). Absent fields take `retrain`'s defaults.
    #[serde(default)]
    pub train: TrainSettings,
    /// The runs.
    pub runs: Vec<RunSpec>,
    /// The evaluation collections.
    pub evals: Vec<EvalSpec>,
    /// The fusion weight of BM25 reported beside each student alone.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Threads for ONNX inference (students and teacher).
    #[serde(default)]
    pub threads: Option<usize>,
    /// Pairs of families compared seed by seed (`[["ckl", "kl"]]`): the table gets the mean
    /// and standard deviation of the per-seed differences in nDCG@10, and their paired t.
    #[serde(default)]
    pub compare: Vec<(String, String)>,
    /// BM25 weights at which each student is evaluated fused on the dev queries (the
    /// shipping criterion: the default reranker is used fused). Default 0.3 to 0.8 by 0.1.
    #[serde(default = "default_dev_alphas")]
    pub dev_alphas: Vec<f64>,
    /// BM25 candidates per dev query for that evaluation (default 100, the default pipeline's).
    #[serde(default = "default_dev_depth")]
    pub dev_depth: usize,
    /// Base name of the table files in `out` (`<table>.md`, `<table>.json`). Several
    /// configurations may share one `out` (and so its finished runs) with their own tables.
    #[serde(default = "default_table")]
    pub table: String,
}

/// Training settings shared by the runs of an experiment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSettings {
    /// Passes over the training groups.
    pub epochs: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Query groups per step.
    pub batch: usize,
    /// Candidates per group.
    pub group_size: usize,
    /// Longest pair in tokens.
    pub max_len: usize,
}

impl Default for TrainSettings {
    fn default() -> Self {
        let d = TrainConfig::default();
        TrainSettings {
            epochs: d.epochs,
            lr: d.lr,
            batch: d.batch,
            group_size: d.group_size,
            max_len: d.max_len,
        }
    }
}

/// A family of runs: one loss and its parameters, over several seeds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// Its name in the table and in `runs/<name>-s<seed>`.
    pub name: String,
    /// The loss.
    pub loss: LossKind,
    /// The training seeds.
    pub seeds: Vec<u64>,
    /// CKL γ.
    #[serde(default = "one")]
    pub gamma: f64,
    /// CKL β.
    #[serde(default = "half")]
    pub beta: f64,
    /// KL and CKL temperature.
    #[serde(default = "one")]
    pub tau: f64,
}

/// A test collection: an index, its queries and judgments.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalSpec {
    /// Its name in the table.
    pub name: String,
    /// The index (its `score-cache.tsv` caches the teacher's scores).
    pub index: PathBuf,
    /// The queries.
    pub queries: PathBuf,
    /// The judgments.
    pub qrels: PathBuf,
    /// The split, when `qrels` is a folder.
    #[serde(default)]
    pub split: Option<String>,
    /// BM25 candidates reranked.
    #[serde(default = "default_eval_depth")]
    pub depth: usize,
}

fn default_train_split() -> String {
    "train".into()
}
fn default_dev_fraction() -> f64 {
    0.2
}
fn default_teacher() -> String {
    "teacher".into()
}
fn default_init() -> String {
    "splade-tiny".into()
}
fn default_depth() -> usize {
    30
}
fn default_eval_depth() -> usize {
    100
}
fn default_table() -> String {
    "results".into()
}
fn default_dev_alphas() -> Vec<f64> {
    vec![0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
}
fn default_dev_depth() -> usize {
    100
}
fn default_alpha() -> f64 {
    0.5
}
fn one() -> f64 {
    1.0
}
fn half() -> f64 {
    0.5
}

/// Means of [`MEASURES`] for one system on one collection.
pub type Scores = Vec<f64>;

/// What one finished run wrote to its `result.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    /// The run family.
    pub name: String,
    /// The loss.
    pub loss: LossKind,
    /// The seed.
    pub seed: u64,
    /// Best dev nDCG@10 (student alone) and its step.
    pub dev_ndcg10: Option<(f64, usize)>,
    /// Training pairs seen.
    pub pairs: usize,
    /// Training wall seconds (all sessions of a resumed run).
    pub train_seconds: f64,
    /// Per collection: the student alone.
    pub alone: BTreeMap<String, Scores>,
    /// Per collection: fused with BM25 at the experiment's alpha.
    pub fused: BTreeMap<String, Scores>,
    /// nDCG@10 on the dev queries, fused with BM25 at each of the experiment's `dev_alphas`
    /// (absent in results written before it existed; the runner fills it in).
    #[serde(default)]
    pub dev_fused: Option<DevFused>,
    /// Per collection: fused with BM25 at this run's own best dev alpha (what a user who
    /// tunes the fusion weight on dev would deploy); filled in like `dev_fused`.
    #[serde(default)]
    pub fused_dev_alpha: BTreeMap<String, Scores>,
}

/// A student fused with BM25 on the dev queries (which chose its checkpoint; never test).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DevFused {
    /// BM25 candidates per query.
    pub depth: usize,
    /// Dev queries evaluated.
    pub queries: usize,
    /// BM25 alone.
    pub bm25: f64,
    /// (alpha, nDCG@10 fused at alpha), in the configuration's order.
    pub by_alpha: Vec<(f64, f64)>,
}

impl DevFused {
    /// The best (alpha, nDCG@10); ties go to the first alpha listed.
    pub fn best(&self) -> Option<(f64, f64)> {
        self.by_alpha
            .iter()
            .copied()
            .fold(None, |best: Option<(f64, f64)>, x| match best {
                Some(b) if b.1 >= x.1 => Some(b),
                _ => Some(x),
            })
    }
}

/// BM25 and the teacher on one collection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Baseline {
    /// Queries evaluated.
    pub queries: usize,
    /// BM25 alone.
    pub bm25: Scores,
    /// The teacher alone.
    pub teacher: Scores,
    /// The teacher fused with BM25 at the experiment's alpha.
    pub teacher_fused: Scores,
}

/// Reads an experiment configuration.
pub fn read_config(path: &Path) -> Result<ExperimentConfig> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::json(path, e))
}

/// The folder of one run.
pub fn run_dir(cfg: &ExperimentConfig, name: &str, seed: u64) -> PathBuf {
    cfg.out.join("runs").join(format!("{name}-s{seed}"))
}

struct EvalSet {
    name: String,
    engine: Engine,
    queries: Vec<Query>,
    qrels: index_data::Qrels,
    depth: usize,
}

fn load_evals(cfg: &ExperimentConfig) -> Result<Vec<EvalSet>> {
    cfg.evals
        .iter()
        .map(|e| {
            let qrels = index_data::load_qrels(&e.qrels, e.split.as_deref(), None)?;
            let queries = index_data::read_queries(&e.queries)?
                .into_iter()
                .filter(|q| qrels.get(&q.id).is_some())
                .collect::<Vec<_>>();
            if queries.is_empty() {
                return Err(Error::Experiment(format!(
                    "evaluation `{}`: no query of {} is judged in {}",
                    e.name,
                    e.queries.display(),
                    e.qrels.display()
                )));
            }
            Ok(EvalSet {
                name: e.name.clone(),
                engine: Engine::open(&e.index)?,
                queries,
                qrels,
                depth: e.depth,
            })
        })
        .collect()
}

fn means(set: &EvalSet, run: &index_data::Run) -> Scores {
    let e: Evaluation = evaluate(&set.qrels, run, &MEASURES, &EvalOptions::default());
    e.mean
}

/// Scores `set` with `model` once and returns the model alone and fused at each alpha.
fn eval_model(
    set: &EvalSet,
    model: &dyn CrossEncoder,
    alphas: &[f64],
) -> Result<(Scores, Vec<Scores>)> {
    let scores =
        search::score_candidates(&set.engine, model, &set.queries, set.depth, &mut |_, _| {})?;
    let fused = alphas.iter().map(|&a| means(set, &scores.run(a))).collect();
    Ok((means(set, &scores.run(0.0)), fused))
}

/// The dev queries of the finished run in `dir` (its `training.json` names them) with their
/// training judgments, retrieved from the training index.
fn dev_set(cfg: &ExperimentConfig, dir: &Path) -> Result<EvalSet> {
    let path = dir.join("training.json");
    let state: crate::train::TrainState = read_json(&path)?;
    let ids: std::collections::HashSet<String> = state
        .data
        .get("dev_query_ids")
        .and_then(|v| v.as_array())
        .ok_or_else(|| Error::Experiment(format!("{}: no data.dev_query_ids", path.display())))?
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let qrels = index_data::load_qrels(&cfg.train_qrels, Some(&cfg.train_split), None)?;
    let queries: Vec<Query> = index_data::read_queries(&cfg.train_queries)?
        .into_iter()
        .filter(|q| ids.contains(&q.id) && qrels.get(&q.id).is_some())
        .collect();
    if queries.is_empty() {
        return Err(Error::Experiment(format!(
            "{}: none of its dev queries is judged in {}",
            path.display(),
            cfg.train_qrels.display()
        )));
    }
    Ok(EvalSet {
        name: "dev".into(),
        engine: Engine::open(&cfg.train_index)?,
        queries,
        qrels,
        depth: cfg.dev_depth,
    })
}

/// nDCG@10 of `model` fused with BM25 on the dev queries of the run in `dir`, at each of the
/// configuration's `dev_alphas` (one scoring pass; fusing is free).
fn eval_dev(cfg: &ExperimentConfig, dir: &Path, model: &dyn CrossEncoder) -> Result<DevFused> {
    let set = dev_set(cfg, dir)?;
    // Alpha 1 is BM25 alone; nDCG@10 is the first of MEASURES.
    let alphas: Vec<f64> = std::iter::once(1.0)
        .chain(cfg.dev_alphas.iter().copied())
        .collect();
    let (_, fused) = eval_model(&set, model, &alphas)?;
    Ok(DevFused {
        depth: set.depth,
        queries: set.queries.len(),
        bm25: fused[0][0],
        by_alpha: cfg
            .dev_alphas
            .iter()
            .zip(&fused[1..])
            .map(|(&a, m)| (a, m[0]))
            .collect(),
    })
}

/// Whether a finished run's result lacks the dev fusion or the test numbers at its dev alpha
/// (results written before the runner measured them).
fn incomplete(r: &RunResult, evals: &[EvalSet]) -> bool {
    r.dev_fused.is_none()
        || evals
            .iter()
            .any(|e| !r.fused_dev_alpha.contains_key(&e.name))
}

/// Measures what [`incomplete`] finds missing in the result of the finished run in `dir`.
fn fill_in(
    cfg: &ExperimentConfig,
    dir: &Path,
    evals: &[EvalSet],
    options: &RerankerOptions,
    result: &mut RunResult,
    log: &mut dyn FnMut(&str),
) -> Result<()> {
    let run = format!("{}-s{}", result.name, result.seed);
    let student = reranker::OnnxCrossEncoder::load(dir.join("onnx"), options)?;
    if result.dev_fused.is_none() {
        log(&format!("{run}: evaluating fused on dev"));
        result.dev_fused = Some(eval_dev(cfg, dir, &student)?);
    }
    let alpha = dev_alpha(result, cfg);
    for set in evals {
        if !result.fused_dev_alpha.contains_key(&set.name) {
            log(&format!(
                "{run}: evaluating {} fused at its dev alpha {alpha}",
                set.name
            ));
            let (_, mut fused) = eval_model(set, &student, &[alpha])?;
            result
                .fused_dev_alpha
                .insert(set.name.clone(), fused.remove(0));
        }
    }
    Ok(())
}

/// The run's best dev alpha, else the configuration's.
fn dev_alpha(result: &RunResult, cfg: &ExperimentConfig) -> f64 {
    result
        .dev_fused
        .as_ref()
        .and_then(DevFused::best)
        .map_or(cfg.alpha, |b| b.0)
}

fn write_json(path: &Path, v: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(v).map_err(|e| Error::json(path, e))?;
    write_atomic(path, text.as_bytes())
}

/// Writes `path` whole or not at all (a temporary file of this process, then a rename), so
/// that readers, other workers included, never see half a file.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// A worker's claim on a piece of work: a file holding its process id, removed when dropped.
struct Claim(PathBuf);

impl Claim {
    /// Takes the claim `path` unless a live process holds it; a claim whose process is gone
    /// is taken over. The file appears with its content in one step (a hard link of a
    /// written temporary file), so no reader sees it empty.
    fn take(path: &Path) -> Result<Option<Claim>> {
        let me = std::process::id();
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".tmp{me}"));
        let tmp = PathBuf::from(tmp);
        std::fs::write(&tmp, me.to_string()).map_err(|e| Error::io(&tmp, e))?;
        let taken = (|| {
            for _ in 0..2 {
                match std::fs::hard_link(&tmp, path) {
                    Ok(()) => return Ok(Some(Claim(path.to_path_buf()))),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        let holder = std::fs::read_to_string(path)
                            .ok()
                            .and_then(|t| t.trim().parse::<u32>().ok());
                        match holder {
                            Some(pid) if pid != me && process_alive(pid) => return Ok(None),
                            // Left by a dead process (or by an earlier process with our id).
                            _ => {
                                let _ = std::fs::remove_file(path);
                            }
                        }
                    }
                    Err(e) => return Err(Error::io(path, e)),
                }
            }
            Ok(None)
        })();
        let _ = std::fs::remove_file(&tmp);
        taken
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Whether process `pid` runs (read from `/proc`; without it, every other process is taken
/// for dead, which is right for a single worker).
fn process_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// Runs `jobs` copies of the program `exe` with `args`, each a worker of the same experiment
/// with `RAYON_NUM_THREADS=threads`, and waits for all of them: the workers share the work
/// through claim files, so they need no coordination here. An error names how many failed
/// (each reports its own error on stderr).
pub fn run_workers(
    exe: &Path,
    args: &[std::ffi::OsString],
    jobs: usize,
    threads: usize,
) -> Result<()> {
    let mut children = Vec::new();
    for _ in 0..jobs {
        let child = std::process::Command::new(exe)
            .args(args)
            .env("RAYON_NUM_THREADS", threads.to_string())
            .spawn()
            .map_err(|e| Error::io(exe, e))?;
        children.push(child);
    }
    let mut failed = 0;
    for mut c in children {
        if !c.wait().map_err(|e| Error::io(exe, e))?.success() {
            failed += 1;
        }
    }
    if failed > 0 {
        return Err(Error::Experiment(format!(
            "{failed} of {jobs} experiment workers failed (see their messages above)"
        )));
    }
    Ok(())
}

/// Makes sure one worker builds `done`: returns `None` once `done` exists (waiting while
/// another live worker builds it), or the claim under which this worker must build it.
fn build_once(
    done: &Path,
    claim: &Path,
    what: &str,
    log: &mut dyn FnMut(&str),
) -> Result<Option<Claim>> {
    let mut said = false;
    loop {
        if done.exists() {
            return Ok(None);
        }
        if let Some(c) = Claim::take(claim)? {
            // Built by another worker between the check and the claim?
            return Ok((!done.exists()).then_some(c));
        }
        if !said {
            log(&format!("waiting for another worker to build {what}"));
            said = true;
        }
        std::thread::sleep(std::time::Duration::from_secs(5));
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::json(path, e))
}

/// Runs every run of `cfg` that has no `result.json` yet (all of them if `only` is empty,
/// else those whose name is in `only`), then writes the table. `log` gets one line per event.
pub fn run_experiment(
    cfg: &ExperimentConfig,
    only: &[String],
    log: &mut dyn FnMut(&str),
) -> Result<()> {
    std::fs::create_dir_all(cfg.out.join("runs")).map_err(|e| Error::io(&cfg.out, e))?;
    // Named after the table: configurations sharing `out` keep their own record.
    write_json(&cfg.out.join(format!("{}.config.json", cfg.table)), cfg)?;
    let options = RerankerOptions {
        max_len: cfg.train.max_len,
        num_threads: cfg.threads,
        ..Default::default()
    };
    let evals = load_evals(cfg)?;

    // Baselines: BM25 and the teacher, once.
    let baselines_path = cfg.out.join("baselines.json");
    let baselines_claim = build_once(
        &baselines_path,
        &cfg.out.join("baselines.claim"),
        "the baselines",
        log,
    )?;
    let baselines: BTreeMap<String, Baseline> = if baselines_claim.is_none() {
        read_json(&baselines_path)?
    } else {
        let mut out = BTreeMap::new();
        for set in &evals {
            log(&format!(
                "baselines on {} ({} queries)",
                set.name,
                set.queries.len()
            ));
            let bm25 = means(
                set,
                &engine::bm25_run(&set.engine, &set.queries, set.depth)?,
            );
            let cache = ScoreCache::open(set.engine.path().join("score-cache.tsv"))?;
            let teacher = reranker::load_cross_encoder(&cfg.teacher, &options)?;
            let cached = CachedCrossEncoder::new(teacher, cache, 256);
            let (alone, mut fused) = eval_model(set, &cached, &[cfg.alpha])?;
            let fused = fused.remove(0);
            out.insert(
                set.name.clone(),
                Baseline {
                    queries: set.queries.len(),
                    bm25,
                    teacher: alone,
                    teacher_fused: fused,
                },
            );
        }
        write_json(&baselines_path, &out)?;
        out
    };
    drop(baselines_claim);

    let labeled = Some(crate::data::load_training_judgments(
        &cfg.train_queries,
        &cfg.train_qrels,
        &cfg.train_split,
    )?);
    let init = reranker::resolve_model(&cfg.init)?;
    let shared_groups = cfg.out.join("groups.jsonl");
    let retrain_options = |train: TrainConfig, out: PathBuf| RetrainOptions {
        index: cfg.train_index.clone(),
        labeled: labeled.clone(),
        pseudo: crate::retrain::PseudoOptions {
            queries: Some(0),
            ..Default::default()
        },
        dev_fraction: cfg.dev_fraction,
        split_seed: cfg.split_seed,
        teacher: cfg.teacher.clone(),
        teacher_options: options.clone(),
        depth: cfg.depth,
        score_cache: None,
        rebuild_groups: false,
        train,
        fusion_depth: cfg.dev_depth,
        out,
    };
    // Seed by seed across the families, so that an interrupted experiment has comparable
    // numbers of seeds for each loss.
    let mut order: Vec<(&RunSpec, u64, usize)> = Vec::new();
    for spec in cfg
        .runs
        .iter()
        .filter(|s| only.is_empty() || only.contains(&s.name))
    {
        for (i, &seed) in spec.seeds.iter().enumerate() {
            order.push((spec, seed, i));
        }
    }
    order.sort_by_key(|&(_, _, i)| i);
    for (spec, seed, _) in order {
        let dir = run_dir(cfg, &spec.name, seed);
        let train = TrainConfig {
            loss: spec.loss,
            gamma: spec.gamma,
            beta: spec.beta,
            tau: spec.tau,
            epochs: cfg.train.epochs,
            lr: cfg.train.lr,
            batch: cfg.train.batch,
            group_size: cfg.train.group_size,
            max_len: cfg.train.max_len,
            seed,
            init: init.clone(),
            layers: cfg.layers.clone(),
            ..Default::default()
        };
        let result_path = dir.join("result.json");
        if result_path.exists() {
            check_settings(&dir, &train)?;
            if incomplete(&read_json(&result_path)?, &evals) {
                // Written before these were measured: measure them now, once.
                let Some(_claim) = Claim::take(&dir.join("claim"))? else {
                    log(&format!(
                        "{}-s{seed}: evaluated in another worker",
                        spec.name
                    ));
                    continue;
                };
                let mut result: RunResult = read_json(&result_path)?;
                if incomplete(&result, &evals) {
                    fill_in(cfg, &dir, &evals, &options, &mut result, log)?;
                    write_json(&result_path, &result)?;
                    write_table(cfg, &baselines)?;
                }
            }
            log(&format!("{}-s{seed}: done", spec.name));
            continue;
        }
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let Some(_claim) = Claim::take(&dir.join("claim"))? else {
            log(&format!("{}-s{seed}: running in another worker", spec.name));
            continue;
        };
        if result_path.exists() {
            // Finished by another worker since the check above.
            log(&format!("{}-s{seed}: done", spec.name));
            continue;
        }
        // Every run reads the same groups, built once by the first worker to need them.
        if let Some(_building) = build_once(
            &shared_groups,
            &cfg.out.join("groups.claim"),
            "the training groups",
            log,
        )? {
            log("building the training groups (BM25 candidates scored by the teacher)");
            write_groups(
                &retrain_options(TrainConfig::default(), cfg.out.clone()),
                &mut |_, _, _| {},
            )?;
        }
        let groups = dir.join("groups.jsonl");
        if !groups.exists() {
            std::fs::hard_link(&shared_groups, &groups)
                .or_else(|_| std::fs::copy(&shared_groups, &groups).map(|_| ()))
                .map_err(|e| Error::io(&groups, e))?;
        }
        log(&format!("{}-s{seed}: training", spec.name));
        let started = Instant::now();
        let state = retrain(&retrain_options(train, dir.clone()), &mut |_, _, _| {})?.state;
        log(&format!(
            "{}-s{seed}: trained in {:.1} min; evaluating",
            spec.name,
            started.elapsed().as_secs_f64() / 60.0
        ));
        let onnx = dir.join("onnx");
        reranker::export_onnx_dir(&dir, &onnx)?;
        let student = reranker::OnnxCrossEncoder::load(&onnx, &options)?;
        let mut result = RunResult {
            name: spec.name.clone(),
            loss: spec.loss,
            seed,
            dev_ndcg10: state.best,
            pairs: state.history.last().map_or(0, |h| h.pairs),
            train_seconds: state.history.last().map_or(0.0, |h| h.seconds),
            alone: BTreeMap::new(),
            fused: BTreeMap::new(),
            dev_fused: Some(eval_dev(cfg, &dir, &student)?),
            fused_dev_alpha: BTreeMap::new(),
        };
        let alpha = dev_alpha(&result, cfg);
        for set in &evals {
            let (alone, fused) = eval_model(set, &student, &[cfg.alpha, alpha])?;
            result.alone.insert(set.name.clone(), alone);
            result.fused.insert(set.name.clone(), fused[0].clone());
            result
                .fused_dev_alpha
                .insert(set.name.clone(), fused[1].clone());
        }
        write_json(&result_path, &result)?;
        // The table is rewritten after every run, so an interrupted experiment has one.
        write_table(cfg, &baselines)?;
        log(&format!("{}-s{seed}: done", spec.name));
    }
    write_table(cfg, &baselines)
}

/// Fails when the finished run in `dir` was trained with other settings than `want` (another
/// loss, loss parameter, schedule, seed or starting checkpoint), naming the field.
fn check_settings(dir: &Path, want: &TrainConfig) -> Result<()> {
    let path = dir.join("training.json");
    let have: crate::train::TrainState = read_json(&path)?;
    let have = &have.config;
    let differs = |field: &str, a: String, b: String| -> Result<()> {
        if a == b {
            Ok(())
        } else {
            Err(Error::Experiment(format!(
                "{}: this finished run has {field} = {a}, its family in the configuration asks \
                 for {b}; give the family another name or move the run away",
                path.display()
            )))
        }
    };
    differs(
        "loss",
        format!("{:?}", have.loss),
        format!("{:?}", want.loss),
    )?;
    if matches!(want.loss, LossKind::Ckl) {
        differs("gamma", have.gamma.to_string(), want.gamma.to_string())?;
        differs("beta", have.beta.to_string(), want.beta.to_string())?;
    }
    if matches!(want.loss, LossKind::Ckl | LossKind::Kl) {
        differs("tau", have.tau.to_string(), want.tau.to_string())?;
    }
    differs("epochs", have.epochs.to_string(), want.epochs.to_string())?;
    differs("lr", have.lr.to_string(), want.lr.to_string())?;
    differs("batch", have.batch.to_string(), want.batch.to_string())?;
    differs(
        "group_size",
        have.group_size.to_string(),
        want.group_size.to_string(),
    )?;
    differs(
        "max_len",
        have.max_len.to_string(),
        want.max_len.to_string(),
    )?;
    differs("seed", have.seed.to_string(), want.seed.to_string())?;
    differs(
        "layers",
        format!("{:?}", have.layers),
        format!("{:?}", want.layers),
    )?;
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    differs(
        "init",
        format!("{:?}", name(&have.init)),
        format!("{:?}", name(&want.init)),
    )
}

/// Whether a paired t over `n` differences is significant at p < 0.05, two-sided (Student's
/// t critical values for 1..=30 degrees of freedom; 1.96 beyond).
pub fn significant(t: f64, n: usize) -> bool {
    const T95: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    if n < 2 || !t.is_finite() {
        return false;
    }
    t.abs() > T95.get(n - 2).copied().unwrap_or(1.96)
}

/// `mean ± std` of `n` values, or the mean alone for one value (no spread to show).
fn pm(mean: f64, std: f64, n: usize) -> String {
    if n < 2 {
        format!("{mean:.4}")
    } else {
        format!("{mean:.4} ± {std:.4}")
    }
}

/// The paired t statistic of `n` differences with this mean and sample standard deviation
/// (NaN below two differences or without spread).
pub fn paired_t(mean: f64, std: f64, n: usize) -> f64 {
    if n < 2 || std <= 0.0 {
        return f64::NAN;
    }
    mean / (std / (n as f64).sqrt())
}

/// Mean and sample standard deviation (0 for one value).
pub fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    if xs.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 {
        xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// The three ways a student is reported: alone, fused at the configuration's alpha, and
/// fused at the run's own best dev alpha.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Alone,
    Fused,
    FusedDevAlpha,
}

const KINDS: [Kind; 3] = [Kind::Alone, Kind::Fused, Kind::FusedDevAlpha];

impl Kind {
    fn of<'a>(self, r: &'a RunResult, collection: &str) -> Option<&'a Scores> {
        match self {
            Kind::Alone => r.alone.get(collection),
            Kind::Fused => r.fused.get(collection),
            Kind::FusedDevAlpha => r.fused_dev_alpha.get(collection),
        }
    }

    fn key(self) -> &'static str {
        match self {
            Kind::Alone => "alone",
            Kind::Fused => "fused",
            Kind::FusedDevAlpha => "fused_dev_alpha",
        }
    }
}

/// Collects every finished run's `result.json` and writes `results.md` and `results.json`.
pub fn write_table(cfg: &ExperimentConfig, baselines: &BTreeMap<String, Baseline>) -> Result<()> {
    let mut results: Vec<RunResult> = Vec::new();
    for spec in &cfg.runs {
        for &seed in &spec.seeds {
            let p = run_dir(cfg, &spec.name, seed).join("result.json");
            if p.exists() {
                results.push(read_json(&p)?);
            }
        }
    }
    let names: Vec<String> = MEASURES.iter().map(|m| m.to_string()).collect();
    let mut md = String::new();
    md.push_str(&format!(
        "Students trained from `{}` on `{}` ({} epochs, lr {}, {} groups of {} a step, max_len {}); \
         fused = BM25 fused with the student at alpha {} (min-max normalized scores); \
         fused a=dev = at each run's own best alpha on the dev queries. \
         mean ± sample std over seeds; n = seeds finished.\n\n",
        cfg.init,
        cfg.train_index.display(),
        cfg.train.epochs,
        cfg.train.lr,
        cfg.train.batch,
        cfg.train.group_size,
        cfg.train.max_len,
        cfg.alpha
    ));
    let mut json_rows = Vec::new();
    for set in &cfg.evals {
        md.push_str(&format!("### {}\n\n| system | n |", set.name));
        for n in &names {
            md.push_str(&format!(" {n} |"));
        }
        md.push_str(" dev nDCG@10 | pairs | train min |\n|---|---|");
        md.push_str(&"---|".repeat(names.len() + 3));
        md.push('\n');
        if let Some(b) = baselines.get(&set.name) {
            for (label, v) in [
                ("BM25".to_string(), &b.bm25),
                ("teacher alone".to_string(), &b.teacher),
                (format!("teacher fused a={}", cfg.alpha), &b.teacher_fused),
            ] {
                md.push_str(&format!("| {label} | – |"));
                for x in v {
                    md.push_str(&format!(" {x:.4} |"));
                }
                md.push_str(" | | |\n");
                json_rows.push(
                    serde_json::json!({"collection": set.name, "system": label, "n": 1,
                    "mean": v, "std": vec![0.0; v.len()]}),
                );
            }
        }
        for spec in &cfg.runs {
            let mine: Vec<&RunResult> = results.iter().filter(|r| r.name == spec.name).collect();
            if mine.is_empty() {
                continue;
            }
            for kind in KINDS {
                let label = match kind {
                    Kind::Alone => format!("{} alone", spec.name),
                    Kind::Fused => format!("{} fused a={}", spec.name, cfg.alpha),
                    Kind::FusedDevAlpha => format!("{} fused a=dev", spec.name),
                };
                let per: Vec<&Scores> = mine.iter().filter_map(|r| kind.of(r, &set.name)).collect();
                if per.is_empty() {
                    continue;
                }
                md.push_str(&format!("| {label} | {} |", per.len()));
                let mut mean_v = Vec::new();
                let mut std_v = Vec::new();
                for i in 0..names.len() {
                    let xs: Vec<f64> = per.iter().map(|v| v[i]).collect();
                    let (m, s) = mean_std(&xs);
                    md.push_str(&format!(" {} |", pm(m, s, xs.len())));
                    mean_v.push(m);
                    std_v.push(s);
                }
                let dev: Vec<f64> = mine
                    .iter()
                    .filter_map(|r| r.dev_ndcg10.map(|d| d.0))
                    .collect();
                let (dm, ds) = mean_std(&dev);
                let pairs = mine.iter().map(|r| r.pairs as f64).sum::<f64>() / mine.len() as f64;
                let mins =
                    mine.iter().map(|r| r.train_seconds).sum::<f64>() / mine.len() as f64 / 60.0;
                md.push_str(&format!(
                    " {} | {pairs:.0} | {mins:.1} |\n",
                    pm(dm, ds, dev.len())
                ));
                json_rows.push(serde_json::json!({"collection": set.name, "system": label,
                    "n": per.len(), "mean": mean_v, "std": std_v,
                    "seeds": mine.iter().map(|r| r.seed).collect::<Vec<_>>(),
                    "dev_ndcg10_mean": dm, "pairs_mean": pairs, "train_minutes_mean": mins}));
            }
        }
        md.push('\n');
    }
    // Paired comparisons: the same seed means the same head initialization and batch order.
    let mut json_pairs = Vec::new();
    if !cfg.compare.is_empty() {
        md.push_str(&format!(
            "### Paired by seed: nDCG@10 of the first family minus the second\n\n\
             | comparison | collection | n | alone: mean diff ± std (t) | fused a={} | fused a=dev |\n\
             |---|---|---|---|---|---|\n",
            cfg.alpha
        ));
    }
    for (a, b) in &cfg.compare {
        for set in &cfg.evals {
            let mut cells = Vec::new();
            let mut n = 0;
            for kind in KINDS {
                let pick = |r: &RunResult| kind.of(r, &set.name).and_then(|v| v.first().copied());
                let diffs: Vec<f64> = results
                    .iter()
                    .filter(|r| &r.name == a)
                    .filter_map(|ra| {
                        let rb = results.iter().find(|r| &r.name == b && r.seed == ra.seed)?;
                        Some(pick(ra)? - pick(rb)?)
                    })
                    .collect();
                if kind == Kind::Alone {
                    n = diffs.len();
                }
                let (m, sd) = mean_std(&diffs);
                let t = paired_t(m, sd, diffs.len());
                cells.push(if diffs.is_empty() {
                    String::new()
                } else if diffs.len() != n {
                    format!("{m:+.4} (n {})", diffs.len())
                } else if diffs.len() < 2 {
                    format!("{m:+.4}")
                } else {
                    let star = if significant(t, diffs.len()) {
                        " *"
                    } else {
                        ""
                    };
                    format!("{m:+.4} ± {sd:.4} ({t:.2}{star})")
                });
                json_pairs.push(serde_json::json!({"first": a, "second": b,
                    "collection": set.name, "kind": kind.key(), "n": diffs.len(),
                    "diffs": diffs, "mean": m, "std": sd, "t": t}));
            }
            md.push_str(&format!(
                "| {a} − {b} | {} | {n} | {} | {} | {} |\n",
                set.name, cells[0], cells[1], cells[2]
            ));
        }
    }
    if !cfg.compare.is_empty() {
        md.push_str(
            "\n(t = mean / (std / √n) with n − 1 degrees of freedom; * = p < 0.05 two-sided, \
             i.e. |t| above 12.71, 4.30, 3.18, 2.78 at n = 2, 3, 4, 5. Few seeds make this a \
             weak test: read the means and spreads first.)\n\n",
        );
    }

    // Selection is on dev only: the families ranked by their mean dev nDCG@10.
    let best_fused = |r: &RunResult| r.dev_fused.as_ref().and_then(DevFused::best);
    let mut by_dev: Vec<(f64, f64, usize, &str, String)> = cfg
        .runs
        .iter()
        .filter_map(|spec| {
            let family = || results.iter().filter(|r| r.name == spec.name);
            let dev: Vec<f64> = family().filter_map(|r| r.dev_ndcg10.map(|d| d.0)).collect();
            let fused: Vec<f64> = family().filter_map(|r| Some(best_fused(r)?.1)).collect();
            let (m, s) = mean_std(&dev);
            let (fm, fs) = mean_std(&fused);
            let fused_cell = if fused.is_empty() {
                String::new()
            } else {
                format!("{} (n {})", pm(fm, fs, fused.len()), fused.len())
            };
            (!dev.is_empty()).then_some((m, s, dev.len(), spec.name.as_str(), fused_cell))
        })
        .collect();
    by_dev.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.3.cmp(b.3)));
    if !by_dev.is_empty() {
        md.push_str("### Families by dev nDCG@10 (student alone; the selection criterion)\n\n");
        md.push_str(
            "| family | n | dev nDCG@10 | dev fused with BM25, each run's best alpha |\n\
             |---|---|---|---|\n",
        );
        for (m, s, n, name, fused) in &by_dev {
            md.push_str(&format!(
                "| {name} | {n} | {} | {fused} |\n",
                pm(*m, *s, *n)
            ));
        }
        md.push('\n');
    }
    // The default reranker is used fused, so it is chosen by its fused dev score.
    let mut by_fused: Vec<(&RunResult, (f64, f64))> = results
        .iter()
        .filter_map(|r| Some((r, best_fused(r)?)))
        .collect();
    by_fused.sort_by(|a, b| {
        (b.1 .1)
            .total_cmp(&a.1 .1)
            .then(a.0.name.cmp(&b.0.name))
            .then(a.0.seed.cmp(&b.0.seed))
    });
    if let Some((first, _)) = by_fused.first() {
        let dev = first.dev_fused.as_ref().expect("filtered on dev_fused");
        md.push_str(&format!(
            "### Runs by dev nDCG@10 fused with BM25 (the shipping criterion; BM25 top {}, \
             {} dev queries, BM25 alone {:.4})\n\n",
            dev.depth, dev.queries, dev.bm25
        ));
        md.push_str(&format!(
            "| run | dev fused | alpha | dev alone (top {}) |\n|---|---|---|---|\n",
            cfg.depth
        ));
        for (r, (alpha, ndcg)) in by_fused.iter().take(10) {
            let alone = r
                .dev_ndcg10
                .map_or(String::new(), |d| format!("{:.4}", d.0));
            md.push_str(&format!(
                "| {}-s{} | {ndcg:.4} | {alpha} | {alone} |\n",
                r.name, r.seed
            ));
        }
        if by_fused.len() > 10 {
            md.push_str(&format!("\n({} more in the JSON.)\n", by_fused.len() - 10));
        }
        md.push('\n');
    }
    let md_path = cfg.out.join(format!("{}.md", cfg.table));
    write_atomic(&md_path, md.as_bytes())?;
    write_json(
        &cfg.out.join(format!("{}.json", cfg.table)),
        &serde_json::json!({"measures": names, "alpha": cfg.alpha, "rows": json_rows,
            "paired": json_pairs, "runs": results}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_dev_alpha_is_the_highest_and_ties_go_to_the_first() {
        let dev = |by_alpha: Vec<(f64, f64)>| DevFused {
            depth: 100,
            queries: 3,
            bm25: 0.5,
            by_alpha,
        };
        assert_eq!(
            dev(vec![(0.3, 0.6), (0.5, 0.7), (0.7, 0.65)]).best(),
            Some((0.5, 0.7))
        );
        assert_eq!(dev(vec![(0.3, 0.7), (0.5, 0.7)]).best(), Some((0.3, 0.7)));
        assert_eq!(dev(vec![]).best(), None);
    }

    #[test]
    fn mean_and_sample_std() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0, 4.0]);
        assert!((m - 2.5).abs() < 1e-12);
        assert!((s - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(mean_std(&[0.7]), (0.7, 0.0));
    }

    #[test]
    fn paired_t_by_hand() {
        // Differences 1, 2, 3: mean 2, std 1, t = 2 / (1 / √3).
        let (m, s) = mean_std(&[1.0, 2.0, 3.0]);
        assert!((paired_t(m, s, 3) - 2.0 * 3f64.sqrt()).abs() < 1e-12);
        assert!(paired_t(0.5, 0.0, 4).is_nan());
        assert!(paired_t(0.5, 0.1, 1).is_nan());
        // Critical values: df 4 (n = 5) is 2.776.
        assert!(significant(2.8, 5) && !significant(2.7, 5) && significant(-2.8, 5));
        assert!(!significant(10.0, 2) && significant(13.0, 2));
        assert!(!significant(f64::NAN, 5) && !significant(100.0, 1));
        assert!(significant(2.0, 100) && !significant(1.9, 100));
    }

    #[test]
    fn a_config_reads_with_defaults_and_rejects_unknown_fields() {
        let text = r#"{"out": "o", "train_index": "i", "train_queries": "q", "train_qrels": "r",
            "runs": [{"name": "ckl", "loss": "ckl", "seeds": [0, 1]}],
            "evals": [{"name": "t", "index": "i", "queries": "q", "qrels": "r", "split": "test"}]}"#;
        let cfg: ExperimentConfig = serde_json::from_str(text).unwrap();
        assert_eq!(cfg.depth, 30);
        assert_eq!(cfg.train.epochs, 6);
        assert_eq!(cfg.runs[0].beta, 0.5);
        assert_eq!(cfg.evals[0].depth, 100);
        let bad = text
            .replace("\"depth\"", "\"dpeth\"")
            .replace("\"out\"", "\"otu\"");
        assert!(serde_json::from_str::<ExperimentConfig>(&bad).is_err());
    }
}
