//! The experiment runner end to end on a tiny corpus and tiny models: every run trains,
//! exports and evaluates; a second call runs nothing again; a run without its result reruns.

mod common;

use common::TOPICS;

use std::path::Path;

use engine::{Analysis, Engine, IndexOptions};
use index_data::Document;
use trainer::experiment::{read_config, run_dir, run_experiment, ExperimentConfig};

/// An index of 48 documents and a BEIR folder with 12 queries (8 train, 4 test).
fn dataset(root: &Path) {
    let engine = Engine::create(root.join("index"), Analysis::default()).unwrap();
    let mut docs = Vec::new();
    let beir = root.join("beir");
    std::fs::create_dir_all(beir.join("qrels")).unwrap();
    let mut queries = String::new();
    let mut train = String::from("query-id\tcorpus-id\tscore\n");
    let mut test = train.clone();
    for (t, topic) in TOPICS.iter().enumerate() {
        for i in 0..8 {
            docs.push(Ok(Document {
                id: format!("d{t}-{i}"),
                title: String::new(),
                body: format!(
                    "{topic} document {i} with filler words {}",
                    TOPICS[(t + i) % 6]
                ),
            }));
        }
        for i in 0..2 {
            let qid = format!("q{t}-{i}");
            queries.push_str(&format!(
                "{{\"_id\": \"{qid}\", \"text\": \"{topic} document {i}\"}}\n"
            ));
            let line = format!("{qid}\td{t}-{i}\t1\n");
            if t < 4 {
                train.push_str(&line);
            } else {
                test.push_str(&line);
            }
        }
    }
    engine
        .index_documents(docs, &IndexOptions::default(), &mut |_| {})
        .unwrap();
    std::fs::write(beir.join("queries.jsonl"), queries).unwrap();
    std::fs::write(beir.join("qrels/train.tsv"), train).unwrap();
    std::fs::write(beir.join("qrels/test.tsv"), test).unwrap();
}

/// Runs the whole experiment and returns its log lines.
fn logged(cfg: &ExperimentConfig) -> Vec<String> {
    let mut log = Vec::new();
    run_experiment(cfg, &[], &mut |l| log.push(l.to_string())).unwrap();
    log
}

#[test]
fn runs_every_seed_once_and_writes_the_table() {
    if test_support::skip_unless(
        "runs_every_seed_once_and_writes_the_table",
        &[test_support::Need::Models],
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    dataset(root);
    common::tiny_model(&root.join("teacher"));
    common::tiny_model(&root.join("init"));
    let config = root.join("experiment.json");
    let p = |s: &str| root.join(s).display().to_string();
    let text = serde_json::json!({
        "out": p("out"), "train_index": p("index"), "train_queries": p("beir"),
        "train_qrels": p("beir"), "teacher": p("teacher"), "init": p("init"), "depth": 8,
        "dev_fraction": 0.25,
        "train": {"epochs": 1, "lr": 0.001, "batch": 2, "group_size": 4, "max_len": 32},
        "threads": 1,
        "runs": [{"name": "kl", "loss": "kl", "seeds": [0, 1]},
                 {"name": "ckl", "loss": "ckl", "seeds": [0]}],
        "compare": [["ckl", "kl"]],
        "evals": [{"name": "tiny-test", "index": p("index"), "queries": p("beir"),
                   "qrels": p("beir"), "split": "test", "depth": 8}]
    });
    std::fs::write(&config, text.to_string()).unwrap();
    let cfg = read_config(&config).unwrap();

    let log = logged(&cfg);
    let trained = log.iter().filter(|l| l.ends_with(": training")).count();
    assert_eq!(trained, 3, "{log:?}");
    for (name, seed) in [("kl", 0), ("kl", 1), ("ckl", 0)] {
        let dir = run_dir(&cfg, name, seed);
        assert!(dir.join("result.json").exists(), "{}", dir.display());
        assert!(dir.join("onnx/model.onnx").exists());
    }
    let table = std::fs::read_to_string(cfg.out.join("results.md")).unwrap();
    assert!(table.contains("| BM25 |"), "{table}");
    assert!(table.contains("| kl alone | 2 |"), "{table}");
    assert!(table.contains("| ckl fused a=0.5 | 1 |"), "{table}");
    assert!(table.contains("| kl fused a=dev | 2 |"), "{table}");
    // Paired by seed: only seed 0 has both.
    assert!(table.contains("| ckl − kl | tiny-test | 1 |"), "{table}");
    // Every run is measured fused with BM25 on its dev queries at each dev alpha, and the
    // runs are ranked by it (the shipping criterion).
    let result = |name, seed| -> serde_json::Value {
        let path = run_dir(&cfg, name, seed).join("result.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let dev = result("kl", 0)["dev_fused"].clone();
    let alphas: Vec<f64> = dev["by_alpha"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[0].as_f64().unwrap())
        .collect();
    assert_eq!(alphas, cfg.dev_alphas, "{dev}");
    assert!(dev["queries"].as_u64().unwrap() > 0, "{dev}");
    for p in dev["by_alpha"].as_array().unwrap() {
        let v = p[1].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{dev}");
    }
    assert!(
        table.contains("### Runs by dev nDCG@10 fused with BM25"),
        "{table}"
    );
    // Seeds differ: two kl students are not the same model.
    let w = |seed| std::fs::read(run_dir(&cfg, "kl", seed).join("model.safetensors")).unwrap();
    assert_ne!(w(0), w(1));

    // An interrupted experiment still has its table: `--only` a family with nothing left
    // to run rewrites it from the results on disk.
    std::fs::remove_file(cfg.out.join("results.md")).unwrap();
    run_experiment(&cfg, &["ckl".to_string()], &mut |_| {}).unwrap();
    assert!(cfg.out.join("results.md").exists());

    // A result written before dev fusion was measured gets it, without retraining, and the
    // same numbers as when the run was trained.
    let path = run_dir(&cfg, "kl", 0).join("result.json");
    let mut old = result("kl", 0);
    let fused_dev_alpha = old["fused_dev_alpha"].clone();
    assert!(fused_dev_alpha["tiny-test"].is_array(), "{old}");
    old["dev_fused"] = serde_json::Value::Null;
    old.as_object_mut().unwrap().remove("fused_dev_alpha");
    std::fs::write(&path, old.to_string()).unwrap();
    let backfill = logged(&cfg);
    assert!(
        backfill.contains(&"kl-s0: evaluating fused on dev".to_string())
            && backfill.iter().all(|l| !l.ends_with(": training")),
        "{backfill:?}"
    );
    assert!(
        backfill
            .iter()
            .any(|l| l.starts_with("kl-s0: evaluating tiny-test fused at its dev alpha")),
        "{backfill:?}"
    );
    assert_eq!(result("kl", 0)["fused_dev_alpha"], fused_dev_alpha);
    let refilled = result("kl", 0)["dev_fused"].clone();
    for (a, b) in dev["by_alpha"]
        .as_array()
        .unwrap()
        .iter()
        .zip(refilled["by_alpha"].as_array().unwrap())
    {
        let (a, b) = (a[1].as_f64().unwrap(), b[1].as_f64().unwrap());
        assert!((a - b).abs() < 1e-6, "{dev} vs {refilled}");
    }

    // Nothing is run again ...
    let again = logged(&cfg);
    assert!(
        again.iter().all(|l| !l.ends_with(": training")),
        "{again:?}"
    );
    // ... except a run whose result is missing, unless another live worker claimed it
    // (process 1 is alive) ...
    std::fs::remove_file(run_dir(&cfg, "kl", 1).join("result.json")).unwrap();
    let claim = run_dir(&cfg, "kl", 1).join("claim");
    std::fs::write(&claim, "1").unwrap();
    let skipped = logged(&cfg);
    assert!(
        skipped.contains(&"kl-s1: running in another worker".to_string())
            && skipped.iter().all(|l| !l.ends_with(": training")),
        "{skipped:?}"
    );
    // ... and a claim left by a dead process is taken over.
    std::fs::write(&claim, "4000000000").unwrap();
    let third = logged(&cfg);
    let retrained: Vec<_> = third.iter().filter(|l| l.ends_with(": training")).collect();
    assert_eq!(retrained, vec!["kl-s1: training"], "{third:?}");
    assert!(!claim.exists(), "a finished run keeps no claim");
    let table = std::fs::read_to_string(cfg.out.join("results.md")).unwrap();
    assert!(table.contains("Families by dev nDCG@10"), "{table}");

    // A second configuration (a sweep) shares `out` and its finished runs, and writes its
    // own table ...
    let mut sweep = text.clone();
    sweep["table"] = "sweep".into();
    sweep["runs"] = serde_json::json!([{"name": "ckl", "loss": "ckl", "seeds": [0]}]);
    std::fs::write(&config, sweep.to_string()).unwrap();
    let sweep_cfg = read_config(&config).unwrap();
    let fourth = logged(&sweep_cfg);
    assert_eq!(fourth, vec!["ckl-s0: done"]);
    let sweep_table = std::fs::read_to_string(cfg.out.join("sweep.md")).unwrap();
    assert!(sweep_table.contains("| ckl alone | 1 |"), "{sweep_table}");
    assert!(!sweep_table.contains("| kl alone"), "{sweep_table}");
    // Each table keeps the configuration that wrote it.
    let recorded = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(cfg.out.join(name)).unwrap()).unwrap()
    };
    assert_eq!(recorded("sweep.config.json")["table"], "sweep");
    assert_eq!(recorded("results.config.json")["table"], "results");

    // ... but a family whose finished run was trained otherwise is an error naming the field,
    // never a silent reuse.
    sweep["runs"] = serde_json::json!([{"name": "ckl", "loss": "ckl", "gamma": 2.0, "seeds": [0]}]);
    std::fs::write(&config, sweep.to_string()).unwrap();
    let err = run_experiment(&read_config(&config).unwrap(), &[], &mut |_| {}).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("gamma = 1") && msg.contains("ckl-s0"), "{msg}");
}
