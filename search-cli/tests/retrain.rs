//! `search-cli retrain` as a user runs it, on a tiny corpus with a tiny random teacher and
//! student: the defaults it picks without judgments reach the trainer.

mod common;

use common::{ok, s};

use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_search-cli"))
        .args(args)
        .output()
        .expect("search-cli runs")
}

/// The settings `retrain` wrote to OUT/training.json.
fn config(out: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(out.join("training.json")).unwrap();
    serde_json::from_str::<serde_json::Value>(&text).unwrap()["config"].clone()
}

#[test]
fn label_free_retrain_records_patience_2_unless_told_otherwise() {
    if test_support::skip_unless(
        "label_free_retrain_records_patience_2_unless_told_otherwise",
        &[test_support::Need::Models],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let topics = ["berlin", "rome", "paris", "madrid", "vienna", "lisbon"];
    let mut lines = String::new();
    for (t, topic) in topics.iter().enumerate() {
        for i in 0..8 {
            let other = topics[(t + i) % topics.len()];
            let doc = serde_json::json!({
                "_id": format!("d{t}-{i}"),
                "title": format!("All about {topic} number {i}"),
                "text": format!(
                    "The {topic} report {i} describes many careful observations today. \
                     Does the {topic} matter for the {other} people at all? \
                     Readers of item {i} learned a great deal about {topic} recently."
                ),
            });
            lines.push_str(&format!("{doc}\n"));
        }
    }
    let corpus = root.join("corpus.jsonl");
    std::fs::write(&corpus, lines).unwrap();
    let idx = root.join("idx");
    ok(&run(&["index", "--index", s(&idx), s(&corpus)]));
    let model = root.join("tiny");
    common::tiny_model(&model);
    let retrain = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "retrain",
            "--index",
            s(&idx),
            "--teacher",
            s(&model),
            "--init",
            s(&model),
            "--out",
            s(out),
            "--max-len",
            "48",
            "--epochs",
            "2",
            "--batch",
            "4",
            "--group-size",
            "4",
            "--depth",
            "8",
            "--dev-depth",
            "8",
            "--fusion-depth",
            "8",
        ];
        args.extend_from_slice(extra);
        ok(&run(&args))
    };
    let default = root.join("default");
    retrain(&default, &[]);
    assert_eq!(config(&default)["patience"], 2);
    let full = root.join("full");
    retrain(&full, &["--patience", "0"]);
    assert_eq!(config(&full)["patience"], 0);
    assert!(full.join("fusion.json").exists() && default.join("fusion.json").exists());
}
