//! Running an experiment: baselines, the shared training groups, each run trained, exported
//! and evaluated, and the table rewritten after every run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use engine::metrics::{evaluate, EvalOptions, Evaluation};
use engine::Engine;
use index_data::Query;
use reranker::{CachedCrossEncoder, CrossEncoder, RerankerOptions, ScoreCache};

use super::claims::{build_once, read_json, write_json, Claim};
use super::{
    run_dir, write_table, Baseline, DevFused, ExperimentConfig, RunResult, RunSpec, Scores,
    MEASURES,
};
use crate::error::{Error, Result};
use crate::retrain::{retrain, write_groups, RetrainOptions};
use crate::train::{LossKind, TrainConfig};

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
    let scores = search::score_candidates(
        &set.engine,
        model,
        &set.queries,
        set.depth,
        &search::Passages::default(),
        &mut |_, _| {},
    )?;
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
        extra_groups: Vec::new(),
        train,
        fusion_depth: cfg.dev_depth,
        passages: search::Passages::first_only(),
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
        reranker::export_onnx_dir(&dir, &onnx, reranker::Precision::F32)?;
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
