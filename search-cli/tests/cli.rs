//! `search-cli` as a user runs it: a child process, its output and exit status.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_search-cli"))
}

fn run(args: &[&str]) -> Output {
    cli().args(args).output().expect("search-cli runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/datasets")
        .join(rel)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A failure is one line on stderr, a non-zero status, and never a panic.
/// The `system` names of `eval --json` output, in order.
fn system_names(v: &serde_json::Value) -> Vec<&str> {
    v["systems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["system"].as_str().unwrap())
        .collect()
}

/// Indexes CISI into `idx` with the CLI.
fn index_cisi(idx: &Path) {
    let o = run(&[
        "index",
        "--index",
        s(idx),
        "--format",
        "smart",
        s(&shared("cisi/CISI.ALL")),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

fn assert_clean_failure(o: &Output, needle: &str) {
    let err = stderr(o);
    assert!(!o.status.success(), "expected failure, got success: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "more than one line: {err}"
    );
    assert!(err.contains(needle), "stderr {err:?} lacks {needle:?}");
}

#[test]
fn index_query_eval_on_cisi() {
    if test_support::skip_unless(
        "index_query_eval_on_cisi",
        &[test_support::Need::Models, test_support::Need::Shared],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let idx = dir.path().join("idx");
    let o = run(&[
        "index",
        "--index",
        s(&idx),
        "--format",
        "smart",
        s(&shared("cisi/CISI.ALL")),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("indexed 1460 documents"),
        "{}",
        stdout(&o)
    );

    let o = run(&[
        "query",
        "--index",
        s(&idx),
        "--no-rerank",
        "-k",
        "3",
        "--json",
        "dewey decimal classification",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let hits = v["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 3);
    assert!(hits.iter().any(|h| h["id"] == "1"), "{v}");
    assert!(hits[0]["score"].as_f64().unwrap() >= hits[1]["score"].as_f64().unwrap());

    let o = run(&[
        "query",
        "--index",
        s(&idx),
        "--no-rerank",
        "\"unbalanced (query: -x",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));

    let run_file = dir.path().join("run.txt");
    let o = run(&[
        "eval",
        "--index",
        s(&idx),
        "--queries",
        s(&shared("cisi/CISI.QRY")),
        "--qrels",
        s(&shared("cisi/CISI.REL")),
        "--metrics",
        "ndcg@10,map",
        "--json",
        "--run-out",
        s(&run_file),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["queries"], 76);
    let ndcg = v["mean"]["ndcg@10"].as_f64().unwrap();
    assert!(ndcg > 0.2 && ndcg < 1.0, "{ndcg}");
    let lines = std::fs::read_to_string(&run_file).unwrap().lines().count();
    assert_eq!(lines, 76 * 100);
}

#[test]
fn bad_input_gives_one_clear_line() {
    if test_support::skip_unless(
        "bad_input_gives_one_clear_line",
        &[test_support::Need::Models, test_support::Need::Shared],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let idx = dir.path().join("idx");
    // No index.
    let o = run(&["query", "--index", s(&dir.path().join("nothing")), "x"]);
    assert_clean_failure(&o, "no index at");
    // A SMART file read as BEIR JSONL: the error names the file and line.
    let o = run(&[
        "index",
        "--index",
        s(&idx),
        "--format",
        "beir",
        s(&shared("cisi/CISI.ALL")),
    ]);
    assert_clean_failure(&o, "CISI.ALL:1: invalid JSON");
    // A missing file.
    let o = run(&[
        "index",
        "--index",
        s(&idx),
        "--format",
        "smart",
        "/no/such/file",
    ]);
    assert_clean_failure(&o, "/no/such/file");
    // An unknown format is a usage error.
    let o = run(&["index", "--index", s(&idx), "--format", "xml", "x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown format `xml`"));
    // A bad measure name.
    let o = run(&[
        "index",
        "--index",
        s(&idx),
        "--format",
        "smart",
        s(&shared("cisi/CISI.ALL")),
    ]);
    assert!(o.status.success());
    let o = run(&[
        "eval",
        "--index",
        s(&idx),
        "--queries",
        s(&shared("cisi/CISI.QRY")),
        "--qrels",
        s(&shared("cisi/CISI.REL")),
        "--metrics",
        "bleu@4",
    ]);
    assert_clean_failure(&o, "unknown measure `bleu@4`");
    // A syntax error in tantivy mode.
    let o = run(&["query", "--index", s(&idx), "--syntax", "title:("]);
    assert_clean_failure(&o, "query syntax error");
}

#[test]
fn skip_bad_counts_and_duplicates_replace() {
    if test_support::skip_unless(
        "skip_bad_counts_and_duplicates_replace",
        &[test_support::Need::Models, test_support::Need::Shared],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("c.jsonl");
    std::fs::write(
        &corpus,
        b"{\"id\": \"1\", \"text\": \"one\"}\n{\"id\": \"1\", \"text\": \"uno\"}\n{\"text\": \"no id\"}\n\xff\n{\"id\": \"2\", \"text\": \"two\"}\n",
    )
    .unwrap();
    let idx = dir.path().join("idx");
    let o = run(&["index", "--index", s(&idx), "--format", "jsonl", s(&corpus)]);
    assert_clean_failure(&o, "c.jsonl:3: missing field `id`");
    let o = run(&[
        "index",
        "--index",
        s(&idx),
        "--format",
        "jsonl",
        "--skip-bad",
        s(&corpus),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("indexed 3 documents (1 replaced an existing id), skipped 2 bad records"),
        "{out}"
    );
    assert!(out.contains("c.jsonl:4: invalid UTF-8"), "{out}");
    let o = run(&["query", "--index", s(&idx), "--no-rerank", "--json", "uno"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["hits"][0]["id"], "1");
    let o = run(&["delete", "--index", s(&idx), "1", "nope"]);
    assert!(
        stdout(&o).contains("deleted 1 of 2 ids; 1 documents remain"),
        "{}",
        stdout(&o)
    );
}

/// SIGKILL half-way through indexing leaves an index that opens at its last commit.
#[test]
fn killed_indexing_leaves_a_usable_index() {
    if test_support::skip_unless(
        "killed_indexing_leaves_a_usable_index",
        &[test_support::Need::Models, test_support::Need::Shared],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("big.jsonl");
    let total = 400_000;
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&corpus).unwrap());
        for i in 0..total {
            writeln!(
                f,
                "{{\"id\": \"d{i}\", \"text\": \"token{} shared words here {i}\"}}",
                i % 97
            )
            .unwrap();
        }
    }
    let idx = dir.path().join("idx");
    let mut child = cli()
        .args([
            "index",
            "--index",
            s(&idx),
            "--format",
            "jsonl",
            "--commit-every",
            "2000",
            s(&corpus),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "indexing finished before it was killed"
        );
        if let Ok(engine) = engine::Engine::open(&idx) {
            if engine.num_docs() > 0 {
                break;
            }
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no commit seen");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();

    let engine = engine::Engine::open(&idx).unwrap();
    let n = engine.num_docs();
    assert!(n > 0 && n < total as u64, "{n}");
    assert_eq!(n % 2000, 0, "a partial commit is visible: {n}");
    assert_eq!(engine.search("shared words", 5).unwrap().len(), 5);
    drop(engine);

    // The writer lock died with the process: indexing again completes the index.
    let o = run(&["index", "--index", s(&idx), "--format", "jsonl", s(&corpus)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(engine::Engine::open(&idx).unwrap().num_docs(), total as u64);
}

#[test]
fn rerank_query_and_eval_with_the_teacher() {
    if test_support::skip_unless(
        "rerank_query_and_eval_with_the_teacher",
        &[test_support::Need::Models, test_support::Need::Shared],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let idx = dir.path().join("idx");
    index_cisi(&idx);
    let o = run(&[
        "query",
        "--index",
        s(&idx),
        "--rerank",
        "teacher",
        "--depth",
        "10",
        "-k",
        "3",
        "--json",
        "--threads",
        "2",
        "computerized information retrieval systems",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let hits = v["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 3);
    for h in hits {
        assert!(h["ce"].as_f64().unwrap().is_finite());
        let fused = h["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&fused), "{fused}");
    }
    assert!(hits[0]["score"].as_f64() >= hits[1]["score"].as_f64());

    // eval: BM25, the model alone and fused rows; the second run reads the score cache.
    let (qry, rel) = (shared("cisi/CISI.QRY"), shared("cisi/CISI.REL"));
    let args = [
        "eval",
        "--index",
        s(&idx),
        "--queries",
        s(&qry),
        "--qrels",
        s(&rel),
        "--rerank",
        "teacher",
        "--depth",
        "5",
        "--sample",
        "4",
        "--alpha",
        "0.3,0.5",
        "--threads",
        "2",
        "--json",
    ];
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names = system_names(&v);
    assert_eq!(
        names,
        [
            "bm25",
            "teacher alone",
            "bm25+teacher a=0.3",
            "bm25+teacher a=0.5"
        ]
    );
    assert_eq!(v["queries"], 4);
    let cache = std::fs::read_to_string(idx.join("score-cache.tsv")).unwrap();
    assert_eq!(cache.lines().count(), 20);
    let again = run(&args);
    assert_eq!(again.stdout, o.stdout, "cached scores give the same result");
    assert_eq!(
        std::fs::read_to_string(idx.join("score-cache.tsv"))
            .unwrap()
            .lines()
            .count(),
        20,
        "nothing was scored twice"
    );

    // Unknown model: one clear line.
    let o = run(&["query", "--index", s(&idx), "--rerank", "nope", "x"]);
    assert_clean_failure(&o, "no model `nope`");
}

#[test]
fn query_and_eval_rerank_with_the_bundled_student_by_default() {
    if test_support::skip_unless(
        "query_and_eval_rerank_with_the_bundled_student_by_default",
        &[test_support::Need::Models, test_support::Need::Shared],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let idx = dir.path().join("idx");
    index_cisi(&idx);
    // No flag: reranked (hits carry the cross-encoder's score).
    let query = [
        "query",
        "--index",
        s(&idx),
        "--depth",
        "20",
        "-k",
        "5",
        "--json",
    ];
    let text = "computerized information retrieval systems";
    let o = run(&[&query[..], &["--threads", "2", text]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let hits = v["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 5);
    assert!(
        hits.iter().all(|h| h["ce"].as_f64().unwrap().is_finite()),
        "{v}"
    );
    // --no-rerank: BM25 alone, no cross-encoder score.
    let o = run(&[&query[..], &["--no-rerank", text]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["hits"][0].get("ce").is_none(), "{v}");
    // eval --rerank with no model: the student, at the weight its fusion.json recommends.
    let alpha = reranker::recommended_alpha(&reranker::resolve_model("student").unwrap())
        .expect("assets/student/fusion.json");
    let (qry, rel) = (shared("cisi/CISI.QRY"), shared("cisi/CISI.REL"));
    let o = run(&[
        "eval",
        "--index",
        s(&idx),
        "--queries",
        s(&qry),
        "--qrels",
        s(&rel),
        "--rerank",
        "--depth",
        "5",
        "--sample",
        "3",
        "--no-cache",
        "--threads",
        "2",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names = system_names(&v);
    assert_eq!(
        names,
        ["bm25", "student alone", &format!("bm25+student a={alpha}")]
    );
}

/// A BEIR folder of 40 documents on five topics and 10 queries (8 train, 2 test).
fn tiny_beir(dir: &Path) {
    let topics = [
        "solar panels convert sunlight into electricity",
        "vaccines train the immune system against viruses",
        "glaciers retreat as the climate warms",
        "bees pollinate flowering crops",
        "compilers translate source code into machine code",
    ];
    std::fs::create_dir_all(dir.join("qrels")).unwrap();
    let (mut corpus, mut queries) = (String::new(), String::new());
    let mut train = String::from("query-id\tcorpus-id\tscore\n");
    let mut test = train.clone();
    for (t, topic) in topics.iter().enumerate() {
        for i in 0..8 {
            let other = topics[(t + i) % topics.len()];
            corpus.push_str(&format!(
                "{{\"_id\": \"d{t}-{i}\", \"title\": \"\", \"text\": \"{topic}, note {i}; see also: {other}\"}}\n"
            ));
        }
        for i in 0..2 {
            let qid = format!("q{t}-{i}");
            queries.push_str(&format!(
                "{{\"_id\": \"{qid}\", \"text\": \"{topic} {i}\"}}\n"
            ));
            let line = format!("{qid}\td{t}-{i}\t1\n");
            if t < 4 {
                train.push_str(&line)
            } else {
                test.push_str(&line)
            }
        }
    }
    std::fs::write(dir.join("corpus.jsonl"), corpus).unwrap();
    std::fs::write(dir.join("queries.jsonl"), queries).unwrap();
    std::fs::write(dir.join("qrels/train.tsv"), train).unwrap();
    std::fs::write(dir.join("qrels/test.tsv"), test).unwrap();
}

#[test]
fn experiment_with_two_workers_runs_each_seed_once() {
    if test_support::skip_unless(
        "experiment_with_two_workers_runs_each_seed_once",
        &[test_support::Need::Models, test_support::Need::Shared],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let beir = root.join("beir");
    tiny_beir(&beir);
    let idx = root.join("idx");
    let o = run(&["index", "--index", s(&idx), "--format", "beir", s(&beir)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let config = root.join("experiment.json");
    let text = serde_json::json!({
        "out": root.join("out"), "train_index": idx, "train_queries": beir,
        "train_qrels": beir, "init": "splade-tiny", "depth": 8, "dev_fraction": 0.25,
        "train": {"epochs": 1, "lr": 0.001, "batch": 2, "group_size": 4, "max_len": 32},
        "runs": [{"name": "kl", "loss": "kl", "seeds": [0, 1]}],
        "evals": [{"name": "tiny-test", "index": idx, "queries": beir, "qrels": beir,
                   "split": "test", "depth": 8}]
    });
    std::fs::write(&config, text.to_string()).unwrap();
    // A second configuration queued behind the first, with its own folder and table.
    let second = root.join("second.json");
    let mut text2 = text.clone();
    text2["out"] = serde_json::json!(root.join("out2"));
    text2["runs"] = serde_json::json!([{"name": "ce", "loss": "ce", "seeds": [0]}]);
    std::fs::write(&second, text2.to_string()).unwrap();
    let queue = format!("{},{}", s(&config), s(&second));
    let o = run(&["experiment", "--config", &queue, "--jobs", "2"]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    // Two worker processes ran and each seed was trained exactly once (which worker trains
    // which depends on timing: tiny runs may all finish in the first worker).
    let mut workers: Vec<&str> = err
        .lines()
        .filter_map(|l| l.strip_prefix("[worker ")?.split(']').next())
        .collect();
    workers.sort();
    workers.dedup();
    assert_eq!(workers.len(), 2, "{err}");
    let trained = err.lines().filter(|l| l.ends_with(": training")).count();
    assert_eq!(trained, 3, "{err}");
    assert!(root.join("out2/runs/ce-s0/result.json").exists(), "{err}");
    let table2 = std::fs::read_to_string(root.join("out2/results.md")).unwrap();
    assert!(table2.contains("| ce alone | 1 |"), "{table2}");
    for seed in [0, 1] {
        let run_dir = root.join(format!("out/runs/kl-s{seed}"));
        assert!(run_dir.join("result.json").exists(), "{err}");
        assert!(!run_dir.join("claim").exists(), "a claim outlived its run");
    }
    let table = std::fs::read_to_string(root.join("out/results.md")).unwrap();
    assert!(table.contains("| kl alone | 2 |"), "{table}");
    // One table path per configuration, in queue order.
    let out = stdout(&o);
    let printed: Vec<&str> = out.lines().collect();
    assert_eq!(printed.len(), 2, "{out}");
    assert!(printed[0].ends_with("out/results.md"), "{out}");
    assert!(printed[1].ends_with("out2/results.md"), "{out}");
}
