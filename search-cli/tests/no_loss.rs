//! Nothing lost, nothing silently wrong: one regression test per item of the issue, each
//! through the binary as a user meets it (set `SEARCH_CLI_UNDER_TEST` to run them against
//! another build, e.g. an older one, to see them fail there).

mod common;

use common::{ok, s};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn cli() -> Command {
    match std::env::var_os("SEARCH_CLI_UNDER_TEST") {
        Some(p) => Command::new(p),
        None => Command::new(env!("CARGO_BIN_EXE_search-cli")),
    }
}

fn run(args: &[&str]) -> Output {
    cli().args(args).output().expect("search-cli runs")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/datasets")
        .join(rel)
}

/// A clean failure: non-zero status, no panic, one line naming `needle`.
fn refused(o: &Output, needle: &str) {
    let e = err(o);
    assert!(
        !o.status.success(),
        "expected a refusal, got success: {}",
        out(o)
    );
    assert!(!e.contains("panicked"), "panic: {e}");
    assert!(e.contains(needle), "stderr {e:?} lacks {needle:?}");
}

fn jsonl(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

fn docs(n: usize, word: &str) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!("{{\"id\": \"d{i}\", \"title\": \"t{i}\", \"text\": \"{word} number {i}\"}}")
        })
        .collect()
}

fn index_jsonl(idx: &Path, file: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["index", "--index", s(idx), "--format", "jsonl"];
    args.extend_from_slice(extra);
    args.push(s(file));
    run(&args)
}

fn num_docs(idx: &Path) -> usize {
    // `delete` of an id that is not there reports what remains.
    let o = ok(&run(&["delete", "--index", s(idx), "no-such-id-here"]));
    let n = o
        .split("; ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    n.parse().unwrap()
}

// 1. An index folder without its meta.json is not silently replaced by a new index.
#[test]
fn item01_an_index_missing_meta_json_is_not_recreated() {
    let dir = tempfile::tempdir().unwrap();
    let idx = dir.path().join("idx");
    let file = jsonl(dir.path(), "a.jsonl", &docs(20, "alpha"));
    ok(&index_jsonl(&idx, &file, &["--stemmer", "none"]));
    std::fs::remove_file(idx.join("meta.json")).unwrap();
    let before: Vec<_> = std::fs::read_dir(&idx)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let settings = std::fs::read_to_string(idx.join("engine.json")).unwrap();
    let o = index_jsonl(&idx, &file, &["--stemmer", "english"]);
    refused(&o, "is not an index");
    let after: Vec<_> = std::fs::read_dir(&idx)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before.len(), after.len(), "files were removed or added");
    assert_eq!(
        std::fs::read_to_string(idx.join("engine.json")).unwrap(),
        settings
    );
}

// 7. An unrelated engine.json is not overwritten.
#[test]
fn item07_an_unrelated_engine_json_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let idx = dir.path().join("app");
    std::fs::create_dir(&idx).unwrap();
    std::fs::write(idx.join("engine.json"), "{\"rpm\": 7000}").unwrap();
    let file = jsonl(dir.path(), "a.jsonl", &docs(3, "alpha"));
    refused(&index_jsonl(&idx, &file, &[]), "is not an index");
    assert_eq!(
        std::fs::read_to_string(idx.join("engine.json")).unwrap(),
        "{\"rpm\": 7000}"
    );
}

// 3. Two first-time `index` runs on one new path: the index is queried as it was built.
#[test]
fn item03_racing_first_indexers_never_mix_their_settings() {
    let dir = tempfile::tempdir().unwrap();
    let file = jsonl(dir.path(), "a.jsonl", &docs(200, "running"));
    for trial in 0..12 {
        let idx = dir.path().join(format!("idx{trial}"));
        let spawn = |stemmer: &str| {
            cli()
                .args([
                    "index",
                    "--index",
                    s(&idx),
                    "--format",
                    "jsonl",
                    "--stemmer",
                    stemmer,
                ])
                .arg(&file)
                .output()
        };
        let (a, b) = std::thread::scope(|sc| {
            let a = sc.spawn(|| spawn("english"));
            let b = sc.spawn(|| spawn("none"));
            (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
        });
        assert!(
            a.status.success() || b.status.success(),
            "{} {}",
            err(&a),
            err(&b)
        );
        // Whatever won, the index finds its own documents.
        let hits = ok(&run(&[
            "query",
            "--index",
            s(&idx),
            "--no-rerank",
            "running",
        ]));
        assert!(
            !hits.contains("no hits"),
            "trial {trial}: the index is analysed one way and queried another"
        );
    }
}

// 4. Ids an index cannot key, and CR-only SMART files.
#[test]
fn item04_overlong_ids_are_refused_and_cr_files_split() {
    let dir = tempfile::tempdir().unwrap();
    let idx = dir.path().join("idx");
    let long = "x".repeat(70_000);
    let file = jsonl(
        dir.path(),
        "long.jsonl",
        &[format!("{{\"id\": \"{long}\", \"text\": \"body\"}}")],
    );
    let o = index_jsonl(&idx, &file, &[]);
    refused(&o, "long.jsonl:1:");
    // Skipped on request, never indexed where it could not be replaced.
    let o = ok(&index_jsonl(&idx, &file, &["--skip-bad"]));
    assert!(o.contains("skipped 1"), "{o}");

    let smart = dir.path().join("CR.ALL");
    std::fs::write(
        &smart,
        ".I 1\r.T\rFirst title\r.W\rFirst body.\r.I 2\r.W\rSecond body.\r",
    )
    .unwrap();
    let idx2 = dir.path().join("idx2");
    let o = ok(&run(&[
        "index",
        "--index",
        s(&idx2),
        "--format",
        "smart",
        s(&smart),
    ]));
    assert!(o.contains("indexed 2 documents"), "{o}");
}

// 5. JSON numeric ids are exact or refused.
#[test]
fn item05_numeric_ids_are_exact_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let idx = dir.path().join("idx");
    for (i, id) in ["1e+23", "1.0", "1e2", "123456789012345678901234567890"]
        .iter()
        .enumerate()
    {
        let file = jsonl(
            dir.path(),
            &format!("n{i}.jsonl"),
            &[format!("{{\"id\": {id}, \"text\": \"x\"}}")],
        );
        refused(&index_jsonl(&idx, &file, &[]), "write the id as a string");
    }
    let file = jsonl(
        dir.path(),
        "ok.jsonl",
        &["{\"id\": 18446744073709551615, \"text\": \"big\"}".into()],
    );
    ok(&index_jsonl(&idx, &file, &[]));
    let hits = ok(&run(&[
        "query",
        "--index",
        s(&idx),
        "--no-rerank",
        "--json",
        "big",
    ]));
    assert!(hits.contains("\"18446744073709551615\""), "{hits}");
}

// 6. File names that are not UTF-8 never share an id.
#[cfg(unix)]
#[test]
fn item06_non_utf8_file_names_are_refused_not_merged() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("notes");
    std::fs::create_dir(&folder).unwrap();
    for (name, body) in [
        (&b"a\xff.txt"[..], "first file"),
        (&b"a\xfe.txt"[..], "second file"),
    ] {
        std::fs::write(folder.join(std::ffi::OsStr::from_bytes(name)), body).unwrap();
    }
    std::fs::write(folder.join("ok.txt"), "third file").unwrap();
    let idx = dir.path().join("idx");
    let args = ["index", "--index", s(&idx), "--format", "dir", s(&folder)];
    refused(&run(&args), "not valid UTF-8");
    let mut skip = args.to_vec();
    skip.insert(5, "--skip-bad");
    let o = ok(&run(&skip));
    assert!(o.contains("skipped 2"), "{o}");
    assert_eq!(num_docs(&idx), 1);
}

// 2. Exporting or retraining a model onto its own folder keeps its files.
#[test]
fn item02_a_model_written_onto_its_source_keeps_its_files() {
    if test_support::skip_unless(
        "item02_a_model_written_onto_its_source_keeps_its_files",
        &[test_support::Need::Models],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m");
    common::tiny_model(&m);
    let sizes = |d: &Path| {
        ["config.json", "tokenizer.json"].map(|f| std::fs::metadata(d.join(f)).unwrap().len())
    };
    let before = sizes(&m);
    ok(&run(&["export", "--model", s(&m), "--out", s(&m)]));
    assert_eq!(sizes(&m), before, "export emptied its source's files");
    assert!(m.join("model.onnx").exists());
    let idx = dir.path().join("idx");
    ok(&index_jsonl(
        &idx,
        &jsonl(dir.path(), "a.jsonl", &docs(5, "alpha")),
        &[],
    ));
    let o = run(&[
        "retrain",
        "--index",
        s(&idx),
        "--init",
        s(&m),
        "--out",
        s(&m),
    ]);
    refused(&o, "is the starting checkpoint's");
    assert_eq!(sizes(&m), before, "retrain emptied its init's files");
}

/// CISI indexed once per test that needs it.
fn cisi(dir: &Path) -> PathBuf {
    let idx = dir.join("cisi");
    ok(&run(&[
        "index",
        "--index",
        s(&idx),
        "--format",
        "smart",
        s(&shared("cisi/CISI.ALL")),
    ]));
    idx
}

/// Rank inversions in a TREC run file: a line ranked after one with a lower score.
fn inversions(run_file: &Path) -> usize {
    let text = std::fs::read_to_string(run_file).unwrap();
    let mut last: Option<(String, f64)> = None;
    let mut n = 0;
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols.len(), 6, "{line}");
        let score: f64 = cols[4].parse().unwrap();
        if let Some((q, prev)) = &last {
            if q == cols[0] && score > *prev {
                n += 1;
            }
        }
        last = Some((cols[0].to_owned(), score));
    }
    n
}

// 8. Reranked run files are in rank order, one per system; ids with spaces are refused.
#[test]
fn item08_reranked_runs_mean_what_they_say() {
    if test_support::skip_unless(
        "item08_reranked_runs_mean_what_they_say",
        &[test_support::Need::Models, test_support::Need::Shared],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let idx = cisi(dir.path());
    let runf = dir.path().join("run.txt");
    let o = run(&[
        "eval",
        "--index",
        s(&idx),
        "--queries",
        s(&shared("cisi/CISI.QRY")),
        "--qrels",
        s(&shared("cisi/CISI.REL")),
        "--rerank",
        "student",
        "--depth",
        "10",
        "--alpha",
        "0.3,0.7",
        "--run-out",
        s(&runf),
        "--no-cache",
    ]);
    ok(&o);
    let files: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("run."))
        .collect();
    // bm25, the student alone, and the two fused weights (the default 0.7 among them).
    assert_eq!(files.len(), 4, "{files:?}");
    for f in &files {
        assert_eq!(inversions(f), 0, "{}", f.display());
    }
    // The same run evaluates to what eval printed (the file means what it says).
    let fused = files.iter().find(|f| s(f).contains("a=0.3")).unwrap();
    assert!(std::fs::read_to_string(fused).unwrap().lines().count() > 0);

    let spaced = dir.path().join("spaced");
    let file = jsonl(
        dir.path(),
        "sp.jsonl",
        &["{\"id\": \"a b\", \"text\": \"word\"}".into()],
    );
    ok(&index_jsonl(&spaced, &file, &[]));
    let q = dir.path().join("q.tsv");
    std::fs::write(&q, "q1\tword\n").unwrap();
    let qrels = dir.path().join("qrels.tsv");
    std::fs::write(&qrels, "query-id\tcorpus-id\tscore\nq1\ta b\t1\n").unwrap();
    let o = run(&[
        "eval",
        "--index",
        s(&spaced),
        "--queries",
        s(&q),
        "--qrels",
        s(&qrels),
        "--run-out",
        s(&dir.path().join("sp.run")),
    ]);
    refused(&o, "white space");
}

// 9. Judgments read as written.
#[test]
fn item09_qrels_are_read_as_written() {
    if test_support::skip_unless(
        "item09_qrels_are_read_as_written",
        &[test_support::Need::Shared],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let idx = cisi(dir.path());
    let q = s(&shared("cisi/CISI.QRY")).to_owned();
    let eval = |qrels: &Path, extra: &[&str]| {
        let mut a = vec![
            "eval",
            "--index",
            s(&idx),
            "--queries",
            &q,
            "--qrels",
            s(qrels),
            "--json",
        ];
        a.extend_from_slice(extra);
        run(&a)
    };
    let ndcg = |o: &Output| -> f64 {
        let v: serde_json::Value = serde_json::from_str(&ok(o)).unwrap();
        v["systems"][0]["mean"]["ndcg@10"].as_f64().unwrap()
    };
    let base = ndcg(&eval(&shared("cisi/CISI.REL"), &[]));
    // TREC qrels whose iteration column is 1, not 0.
    let rel = std::fs::read_to_string(shared("cisi/CISI.REL")).unwrap();
    let trec: String = rel
        .lines()
        .map(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            format!("{} 1 {} 1\n", c[0], c[1])
        })
        .collect();
    let trec_path = dir.path().join("qrels.trec");
    std::fs::write(&trec_path, &trec).unwrap();
    assert!((ndcg(&eval(&trec_path, &[])) - base).abs() < 1e-12);
    // A fractional grade is refused, naming the line.
    let frac = dir.path().join("frac.trec");
    std::fs::write(&frac, "1 0 28 1\n1 0 35 0.9\n").unwrap();
    refused(&eval(&frac, &[]), "frac.trec:2:");
    for bad in ["nan", "inf"] {
        std::fs::write(&frac, format!("1 0 28 {bad}\n")).unwrap();
        refused(&eval(&frac, &[]), "frac.trec:1:");
    }
    // --min-rel 0 does not make unjudged documents relevant.
    let recall = |o: &Output| -> f64 {
        let v: serde_json::Value = serde_json::from_str(&ok(o)).unwrap();
        v["systems"][0]["mean"]["recall@100"].as_f64().unwrap()
    };
    let r1 = recall(&eval(&shared("cisi/CISI.REL"), &[]));
    let r0 = recall(&eval(&shared("cisi/CISI.REL"), &["--min-rel", "0"]));
    assert!((r0 - r1).abs() < 1e-12, "min-rel 0: {r0} vs {r1}");
    // Judgments of another collection are an error, not all zeros.
    let other = dir.path().join("other.trec");
    std::fs::write(&other, "1 0 no-such-doc 1\n2 0 nor-this 1\n").unwrap();
    refused(&eval(&other, &[]), "is in the index");
}

// 10. Duplicate query ids are refused.
#[test]
fn item10_duplicate_query_ids_are_refused() {
    if test_support::skip_unless(
        "item10_duplicate_query_ids_are_refused",
        &[test_support::Need::Shared],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let idx = cisi(dir.path());
    let q = dir.path().join("q.tsv");
    std::fs::write(
        &q,
        "1\tlibrary automation\n2\tindexing\n1\tcitation analysis\n",
    )
    .unwrap();
    let o = run(&[
        "eval",
        "--index",
        s(&idx),
        "--queries",
        s(&q),
        "--qrels",
        s(&shared("cisi/CISI.REL")),
    ]);
    refused(&o, "q.tsv:3:");
}

/// A tiny random candle model whose classifier bias is NaN.
fn nan_model(dir: &Path) -> PathBuf {
    let m = dir.join("nan");
    common::tiny_model(&m);
    let path = m.join("model.safetensors");
    let mut t = candle_core::safetensors::load(&path, &candle_core::Device::Cpu).unwrap();
    let name = t
        .keys()
        .find(|k| k.ends_with("classifier.bias"))
        .unwrap()
        .clone();
    t.insert(
        name,
        candle_core::Tensor::new(&[f32::NAN], &candle_core::Device::Cpu).unwrap(),
    );
    candle_core::safetensors::save(&t, &path).unwrap();
    m
}

// 11. Weights outside [0, 1] are refused; a model giving NaN is an error, not BM25.
#[test]
fn item11_bad_alphas_and_nan_models_are_refused() {
    if test_support::skip_unless(
        "item11_bad_alphas_and_nan_models_are_refused",
        &[test_support::Need::Models, test_support::Need::Shared],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let idx = cisi(dir.path());
    for a in ["5", "-1", "NaN", "inf"] {
        let o = run(&[
            "query",
            "--index",
            s(&idx),
            "--rerank",
            "student",
            "--alpha",
            a,
            "library",
        ]);
        refused(&o, "between 0 and 1");
        let o = run(&[
            "eval",
            "--index",
            s(&idx),
            "--queries",
            s(&shared("cisi/CISI.QRY")),
            "--qrels",
            s(&shared("cisi/CISI.REL")),
            "--rerank",
            "student",
            "--alpha",
            a,
        ]);
        refused(&o, "between 0 and 1");
    }
    let m = nan_model(dir.path());
    let o = run(&[
        "query",
        "--index",
        s(&idx),
        "--rerank",
        s(&m),
        "--depth",
        "5",
        "library",
    ]);
    refused(&o, "NaN");
}

// 12. A damaged score cache costs its scores again, never a wrong number or a failed eval.
#[test]
fn item12_a_damaged_score_cache_is_survived() {
    if test_support::skip_unless(
        "item12_a_damaged_score_cache_is_survived",
        &[test_support::Need::Models, test_support::Need::Shared],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let idx = cisi(dir.path());
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
        "student",
        "--depth",
        "5",
        "--json",
    ];
    let first = ok(&run(&args));
    let cache = idx.join("score-cache.tsv");
    let mut bytes = std::fs::read(&cache).unwrap();
    // One non-UTF-8 byte in the middle, and a torn last line with its number cut.
    let mid = bytes.len() / 2;
    bytes[mid] = 0xff;
    let last_start = bytes[..bytes.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap()
        + 1;
    let tab = last_start
        + bytes[last_start..]
            .iter()
            .position(|&b| b == b'\t')
            .unwrap();
    bytes.truncate(tab + 3);
    std::fs::write(&cache, &bytes).unwrap();
    let again = ok(&run(&args));
    let v1: serde_json::Value = serde_json::from_str(&first).unwrap();
    let v2: serde_json::Value = serde_json::from_str(&again).unwrap();
    for i in 0..3 {
        let a = v1["systems"][i]["mean"]["ndcg@10"].as_f64().unwrap();
        let b = v2["systems"][i]["mean"]["ndcg@10"].as_f64().unwrap();
        assert!((a - b).abs() < 1e-6, "system {i}: {a} vs {b}");
    }
}

// 13. `delete` counts what it deleted.
#[test]
fn item13_delete_counts_distinct_live_ids() {
    let dir = tempfile::tempdir().unwrap();
    let idx = dir.path().join("idx");
    ok(&index_jsonl(
        &idx,
        &jsonl(dir.path(), "a.jsonl", &docs(3, "alpha")),
        &[],
    ));
    let o = ok(&run(&["delete", "--index", s(&idx), "d1", "d1"]));
    assert!(o.starts_with("deleted 1 of 1 ids"), "{o}");
    let o = ok(&run(&["delete", "--index", s(&idx), "d1"]));
    assert!(o.starts_with("deleted 0 of 1 ids"), "{o}");
    assert_eq!(num_docs(&idx), 2);
}

// 14. A read-only index can be searched (needs a read-only bind mount: root on Linux).
#[test]
fn item14_a_read_only_index_can_be_searched() {
    let dir = tempfile::tempdir().unwrap();
    let idx = dir.path().join("idx");
    ok(&index_jsonl(
        &idx,
        &jsonl(dir.path(), "a.jsonl", &docs(3, "alpha")),
        &[],
    ));
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    let mounted = Command::new("mount")
        .args(["--bind", s(&idx), s(&ro)])
        .status();
    if !mounted.is_ok_and(|s| s.success()) {
        eprintln!("skipped: cannot bind-mount here (needs root)");
        return;
    }
    let remount = Command::new("mount")
        .args(["-o", "remount,bind,ro", s(&ro)])
        .status()
        .is_ok_and(|s| s.success());
    let result = std::panic::catch_unwind(|| {
        assert!(remount);
        assert!(
            std::fs::File::create(ro.join("probe")).is_err(),
            "the mount is writable"
        );
        let hits = ok(&run(&["query", "--index", s(&ro), "--no-rerank", "alpha"]));
        assert!(hits.contains("d0"), "{hits}");
        refused(&run(&["delete", "--index", s(&ro), "d0"]), "read-only");
    });
    let _ = Command::new("umount").arg(&ro).status();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
