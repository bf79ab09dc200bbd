//! `search-cli retrain` as a user runs it, on a tiny corpus with a tiny random teacher and
//! student: the defaults it picks without judgments reach the trainer.

mod common;

use common::{ok, s};

use std::path::{Path, PathBuf};
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

/// What `retrain` wrote to OUT/fusion.json.
fn fusion(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("fusion.json")).unwrap()).unwrap()
}

/// `search-cli CMD --index IDX --rerank OUT --max-len 48 EXTRA...`: a command on the student
/// in `out`, at the tiny model's length.
fn with_student(cmd: &str, idx: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        cmd,
        "--index",
        s(idx),
        "--rerank",
        s(out),
        "--max-len",
        "48",
    ];
    args.extend_from_slice(extra);
    run(&args)
}

/// `compare`'s report on the student in `out` (tiny settings), `extra` arguments added.
fn compare(idx: &Path, out: &Path, extra: &[&str]) -> String {
    let mut args = vec!["--depth", "8"];
    args.extend_from_slice(extra);
    ok(&with_student("compare", idx, out, &args))
}

/// A tiny corpus indexed in `root/idx` and a tiny random model (`root/tiny`) to serve as
/// teacher and student.
fn tiny_setup(root: &Path) -> (PathBuf, PathBuf) {
    tiny_setup_with(root, 0)
}

/// As [`tiny_setup`], each body followed by `more` sentences of 12 words (with 13 or more,
/// a body has over 150 words: two passages).
fn tiny_setup_with(root: &Path, more: usize) -> (PathBuf, PathBuf) {
    let topics = ["berlin", "rome", "paris", "madrid", "vienna", "lisbon"];
    let mut lines = String::new();
    for (t, topic) in topics.iter().enumerate() {
        for i in 0..8 {
            let other = topics[(t + i) % topics.len()];
            let tail: String = (0..more)
                .map(|k| {
                    format!(
                        " Part {k} of the {other} report {i} adds a careful detail for readers."
                    )
                })
                .collect();
            let doc = serde_json::json!({
                "_id": format!("d{t}-{i}"),
                "title": format!("All about {topic} number {i}"),
                "text": format!(
                    "The {topic} report {i} describes many careful observations today. \
                     Does the {topic} matter for the {other} people at all? \
                     Readers of item {i} learned a great deal about {topic} recently.{tail}"
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
    (idx, model)
}

/// A label-free retrain of the tiny setup into `out`, small in every dimension.
fn retrain(idx: &Path, model: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec![
        "retrain",
        "--index",
        s(idx),
        "--teacher",
        s(model),
        "--init",
        s(model),
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
    ok(&run(&args));
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
    let (idx, model) = tiny_setup(root);
    let default = root.join("default");
    retrain(&idx, &model, &default, &[]);
    assert_eq!(config(&default)["patience"], 2);
    let full = root.join("full");
    retrain(&idx, &model, &full, &["--patience", "0"]);
    assert_eq!(config(&full)["patience"], 0);
    assert!(full.join("fusion.json").exists() && default.join("fusion.json").exists());
}

#[test]
fn compare_scores_a_student_on_the_dev_set_its_retrain_chose_on() {
    if test_support::skip_unless(
        "compare_scores_a_student_on_the_dev_set_its_retrain_chose_on",
        &[test_support::Need::Models],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (idx, model) = tiny_setup(root);
    let out = root.join("student");
    retrain(&idx, &model, &out, &["--patience", "0"]);
    let fusion = fusion(&out);
    let text = compare(&idx, &out, &[]);
    // The same queries, candidates and student: the numbers retrain wrote.
    let dev = &fusion["dev"];
    let bm25 = format!("bm25 {:.4}", dev["bm25"].as_f64().unwrap());
    let squeezed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(squeezed.contains(&bm25), "{bm25} not in {text}");
    let alpha = fusion["alpha"].as_f64().unwrap();
    let at = dev["fused"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| (p[0].as_f64().unwrap() - alpha).abs() < 1e-9)
        .map(|p| p[1].as_f64().unwrap())
        .expect("the chosen alpha is one of the grid's");
    let line = format!("fused at its alpha {alpha:.2}: {at:.4}");
    assert!(squeezed.contains(&line), "{line} not in {text}");
    let alone = format!("alone {:.4}", dev["alone"].as_f64().unwrap());
    assert!(squeezed.contains(&alone), "{alone} not in {text}");

    // A model that cannot be loaded is named.
    let bad = run(&["compare", "--index", s(&idx), "--rerank", "no-such-model"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no-such-model"));
}

#[test]
fn a_retrain_on_passages_is_read_with_them_after() {
    if test_support::skip_unless(
        "a_retrain_on_passages_is_read_with_them_after",
        &[test_support::Need::Models],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (idx, model) = tiny_setup_with(root, 14);
    let out = root.join("student");
    retrain(&idx, &model, &out, &["--passages", "2", "--patience", "0"]);
    let fusion = fusion(&out);
    assert_eq!(fusion["passages"], 2);
    let training: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("training.json")).unwrap()).unwrap();
    assert_eq!(training["data"]["passages"], 2);
    // Positives are windows: none of them is a whole document.
    let groups = std::fs::read_to_string(out.join("groups.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(groups.lines().next().unwrap()).unwrap();
    for c in first["candidates"].as_array().unwrap() {
        let words = c["text"].as_str().unwrap().split_whitespace().count();
        assert!(
            words <= 155,
            "a candidate of {words} words is not one window"
        );
    }
    // Loaded by folder, the student reads two passages unless told otherwise.
    let student = search::Reranker::load(s(&out)).unwrap();
    assert_eq!(student.passages(), search::Passages::max_p(2));
    // compare with the same passages scores the dev set the retrain chose on.
    let text = compare(&idx, &out, &["--passages", "2"]);
    let bm25 = format!("bm25 {:.4}", fusion["dev"]["bm25"].as_f64().unwrap());
    let alone = format!("alone {:.4}", fusion["dev"]["alone"].as_f64().unwrap());
    let squeezed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(squeezed.contains(&bm25), "{bm25} not in {text}");
    assert!(squeezed.contains(&alone), "{alone} not in {text}");
    // A query reranks with it (two passages a candidate) without being told.
    ok(&with_student("query", &idx, &out, &["berlin report"]));
    // eval says how it read long documents, and where that came from.
    std::fs::write(
        root.join("q.jsonl"),
        "{\"_id\": \"q1\", \"text\": \"berlin report\"}\n",
    )
    .unwrap();
    std::fs::write(root.join("qrels.tsv"), "q1 0 d0-0 1\n").unwrap();
    let (queries, qrels) = (root.join("q.jsonl"), root.join("qrels.tsv"));
    let eval = |extra: &[&str]| {
        let mut args = vec![
            "--depth",
            "8",
            "--queries",
            s(&queries),
            "--qrels",
            s(&qrels),
            "--qrels-format",
            "trec",
        ];
        args.extend_from_slice(extra);
        let o = with_student("eval", &idx, &out, &args);
        ok(&o);
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let said = eval(&[]);
    assert!(
        said.contains("up to 2 passages") && said.contains("fusion.json"),
        "{said}"
    );
    let said = eval(&["--passages", "1"]);
    assert!(!said.contains("passages of"), "{said}");
}

#[test]
fn retrain_reads_long_documents_as_passages_unless_told() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let dry_run = |more: usize, extra: &[&str]| {
        let sub = root.join(format!("more{more}-{}", extra.len()));
        std::fs::create_dir_all(&sub).unwrap();
        let (idx, _) = tiny_setup_with(&sub, more);
        let mut args = vec!["retrain", "--index", s(&idx), "--dry-run"];
        args.extend_from_slice(extra);
        let o = run(&args);
        ok(&o);
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    // Bodies of about 30 words: one passage, nothing said.
    assert!(!dry_run(0, &[]).contains("passages"));
    // Bodies of over 400 words: four passages, and the note names the median and the way out.
    let said = dry_run(32, &[]);
    assert!(
        said.contains("are long (median") && said.contains("up to 4 passages"),
        "{said}"
    );
    assert!(said.contains("--passages 1"), "{said}");
    // Told one passage, it reads one and says what it gives up.
    let said = dry_run(32, &["--passages", "1"]);
    assert!(
        said.contains("are long (median") && said.contains("--passages 4"),
        "{said}"
    );
    // Told any number, it is quiet.
    assert!(!dry_run(32, &["--passages", "2"]).contains("are long"));
}

#[test]
fn a_retrain_on_long_documents_trains_on_passages_by_default() {
    if test_support::skip_unless(
        "a_retrain_on_long_documents_trains_on_passages_by_default",
        &[test_support::Need::Models],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (idx, model) = tiny_setup_with(root, 32);
    let out = root.join("student");
    retrain(&idx, &model, &out, &[]);
    assert_eq!(fusion(&out)["passages"], 4);
    let student = search::Reranker::load(s(&out)).unwrap();
    assert_eq!(student.passages(), search::Passages::max_p(4));
}

#[test]
fn a_corpus_with_no_possible_dev_query_is_said_before_training_and_fused_at_bm25() {
    if test_support::skip_unless(
        "a_corpus_with_no_possible_dev_query_is_said_before_training_and_fused_at_bm25",
        &[test_support::Need::Models],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Untitled documents of one sentence each: no sentence can be taken out of one.
    let topics = ["berlin", "rome", "paris", "madrid", "vienna", "lisbon"];
    let lines: String = (0..48)
        .map(|i| {
            let (a, b) = (topics[i % 6], topics[(i / 6) % 6]);
            let doc = serde_json::json!({
                "_id": format!("s{i}"),
                "text": format!("The {a} report {i} describes the {b} people carefully."),
            });
            format!("{doc}\n")
        })
        .collect();
    std::fs::write(root.join("corpus.jsonl"), lines).unwrap();
    let idx = root.join("idx");
    ok(&run(&[
        "index",
        "--index",
        s(&idx),
        s(&root.join("corpus.jsonl")),
    ]));
    let model = root.join("tiny");
    common::tiny_model(&model);
    let out = root.join("student");
    let o = run(&[
        "retrain",
        "--index",
        s(&idx),
        "--teacher",
        s(&model),
        "--init",
        s(&model),
        "--out",
        s(&out),
        "--max-len",
        "32",
        "--epochs",
        "1",
        "--batch",
        "4",
        "--group-size",
        "4",
        "--depth",
        "8",
    ]);
    ok(&o);
    let said = String::from_utf8_lossy(&o.stderr);
    let note = said
        .find("no label-free dev query can be made")
        .unwrap_or_else(|| panic!("no note: {said}"));
    let training = said.find("training:").unwrap_or(said.len());
    assert!(note < training, "the note comes before the work: {said}");
    assert_eq!(fusion(&out)["alpha"], 1.0);
}
