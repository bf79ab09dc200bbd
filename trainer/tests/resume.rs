//! Interrupted scoring and training resume where they stopped, on a tiny index and model.

mod common;

use common::TOPICS;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::Ordering;

use common::OverlapTeacher;
use engine::{Analysis, Engine, IndexOptions};
use index_data::{Document, Qrels, Query};
use reranker::{CachedCrossEncoder, ScoreCache};
use trainer::{build_groups, labeled_queries, train, DevSet, LossKind, TrainConfig};

fn corpus(dir: &Path) -> (Engine, Vec<Query>, Qrels) {
    let engine = Engine::create(dir, Analysis::default()).unwrap();
    let mut docs = Vec::new();
    let mut qrels = Qrels::default();
    let mut queries = Vec::new();
    for (t, topic) in TOPICS.iter().enumerate() {
        for i in 0..8 {
            let id = format!("d{t}-{i}");
            let body = format!(
                "{topic} document {i} with some shared filler words {}",
                TOPICS[(t + i) % 6]
            );
            docs.push(Ok(Document {
                id: id.clone(),
                title: String::new(),
                body,
            }));
            if i < 2 {
                qrels.insert(&format!("q{t}-{i}"), &id, 1);
            }
        }
        for i in 0..2 {
            queries.push(Query {
                id: format!("q{t}-{i}"),
                text: format!("{topic} document {i}"),
            });
        }
    }
    engine
        .index_documents(docs, &IndexOptions::default(), &mut |_| {})
        .unwrap();
    (engine, queries, qrels)
}

/// The tiny corpus, its queries and judgments, and training groups scored by word overlap;
/// a tiny random student in `dir/init`.
fn training_data(dir: &Path) -> (Engine, Vec<Query>, Qrels, Vec<trainer::Group>) {
    let (engine, queries, qrels) = corpus(&dir.join("idx"));
    common::tiny_model(&dir.join("init"));
    let tq = labeled_queries(&queries, &qrels);
    let (groups, _) = build_groups(
        &engine,
        &OverlapTeacher::new(usize::MAX),
        &tq,
        10,
        &mut |_, _| {},
    )
    .unwrap();
    (engine, queries, qrels, groups)
}

/// Three epochs of 3 steps on those groups, an evaluation every 2 steps.
fn small_config(dir: &Path) -> TrainConfig {
    TrainConfig {
        loss: LossKind::Ckl,
        epochs: 3,
        lr: 1e-3,
        batch: 4,
        group_size: 4,
        max_len: 64,
        eval_every: 2,
        dev_depth: 5,
        init: dir.join("init"),
        ..Default::default()
    }
}

#[test]
fn killed_scoring_resumes_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, queries, qrels) = corpus(&dir.path().join("idx"));
    let tq = labeled_queries(&queries, &qrels);
    let cache = dir.path().join("cache.tsv");
    // First run dies after 50 pairs (scores are flushed in chunks of 10).
    let first = CachedCrossEncoder::new(
        OverlapTeacher::new(50),
        ScoreCache::open(&cache).unwrap(),
        10,
    );
    let died = catch_unwind(AssertUnwindSafe(|| {
        build_groups(&engine, &first, &tq, 10, &mut |_, _| {})
    }));
    assert!(died.is_err());
    drop(first);
    let kept = ScoreCache::open(&cache).unwrap().len();
    assert!(kept > 0 && kept <= 50, "{kept}");
    // The second run scores only what the first did not.
    let second = CachedCrossEncoder::new(
        OverlapTeacher::new(usize::MAX),
        ScoreCache::open(&cache).unwrap(),
        10,
    );
    let (groups, stats) = build_groups(&engine, &second, &tq, 10, &mut |_, _| {}).unwrap();
    let rescored = second.inner().scored.load(Ordering::SeqCst);
    assert_eq!(rescored, stats.pairs - kept, "pairs scored twice");
    assert_eq!(groups.len(), 12);
    // And the result is the same as an uninterrupted run's.
    let fresh = OverlapTeacher::new(usize::MAX);
    let (again, _) = build_groups(&engine, &fresh, &tq, 10, &mut |_, _| {}).unwrap();
    assert_eq!(groups, again);
}

#[test]
fn killed_training_resumes_to_the_same_model() {
    if test_support::skip_unless(
        "killed_training_resumes_to_the_same_model",
        &[test_support::Need::Models],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (engine, queries, qrels, groups) = training_data(dir.path());
    let cfg = small_config(dir.path());
    let dev = DevSet::judged(&engine, &queries[..4], &qrels, cfg.dev_depth).unwrap();
    let data = serde_json::json!({});

    let whole = dir.path().join("whole");
    let full = train(
        &cfg,
        &groups,
        Some(&dev),
        data.clone(),
        &whole,
        &mut |_, _, _| {},
    )
    .unwrap();
    assert_eq!(full.step, 9);
    assert!(whole.join("training.svg").exists());
    assert!(whole.join("config.json").exists() && whole.join("tokenizer.json").exists());

    // Killed at step 5: the last checkpoint is step 4.
    let cut = dir.path().join("cut");
    let died = catch_unwind(AssertUnwindSafe(|| {
        train(
            &cfg,
            &groups,
            Some(&dev),
            data.clone(),
            &cut,
            &mut |s, _, _| {
                if s == 5 {
                    panic!("killed");
                }
            },
        )
    }));
    assert!(died.is_err());
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cut.join("last/training.json")).unwrap())
            .unwrap();
    assert_eq!(saved["step"], 4);
    let mut steps_seen = Vec::new();
    let resumed = train(&cfg, &groups, Some(&dev), data, &cut, &mut |s, _, _| {
        steps_seen.push(s)
    })
    .unwrap();
    assert_eq!(steps_seen.first(), Some(&5), "did not resume at step 5");
    assert_eq!(resumed.step, 9);
    assert_eq!(resumed.history.len(), full.history.len());

    // Same data, same seed, optimizer state restored: the same final weights.
    let a = candle_core::safetensors::load(
        whole.join("last/model.safetensors"),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let b = candle_core::safetensors::load(
        cut.join("last/model.safetensors"),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    for (name, t) in &a {
        let diff = (t - &b[name])
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-6, "{name} differs by {diff}");
    }
    // The trained folder loads as a reranker.
    let student = reranker::load_cross_encoder(
        whole.to_str().unwrap(),
        &reranker::RerankerOptions::default(),
    )
    .unwrap();
    assert_eq!(student.score("berlin", &["berlin city"]).unwrap().len(), 1);
}

#[test]
fn a_run_out_of_patience_stops_and_stays_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, queries, qrels, groups) = training_data(dir.path());
    // A learning rate of 0 leaves the weights as they are, so no evaluation point after the
    // first can beat it: with patience 1 the run stops at the second (step 4 of 9).
    let cfg = TrainConfig {
        loss: LossKind::Kl,
        lr: 0.0,
        patience: 1,
        ..small_config(dir.path())
    };
    let dev = DevSet::judged(&engine, &queries[..4], &qrels, cfg.dev_depth).unwrap();
    let run = |cfg: &TrainConfig, out: &Path, progress: &mut dyn FnMut(usize, usize, f64)| {
        train(
            cfg,
            &groups,
            Some(&dev),
            serde_json::json!({}),
            out,
            progress,
        )
        .unwrap()
    };
    let out = dir.path().join("out");
    let state = run(&cfg, &out, &mut |_, _, _| {});
    assert_eq!(state.total_steps, 9);
    assert_eq!(state.step, 4);
    assert_eq!(state.stopped_early(), Some(4));
    assert_eq!(state.best.map(|(_, s)| s), Some(2));
    assert_eq!(state.history.len(), 2);

    // Run again on the same folder (as after a kill): it resumes at the stop and trains no more.
    let mut steps = 0;
    let again = run(&cfg, &out, &mut |_, _, _| steps += 1);
    assert_eq!((steps, again.step, again.history.len()), (0, 4, 2));

    // Patience 0 (the default) trains every step of the same run.
    let full = run(
        &TrainConfig {
            patience: 0,
            ..cfg.clone()
        },
        &dir.path().join("full"),
        &mut |_, _, _| {},
    );
    assert_eq!((full.step, full.stopped_early()), (9, None));
}
