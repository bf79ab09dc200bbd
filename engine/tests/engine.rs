//! The engine through its public API: writes by id, search, lenient queries, errors.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use engine::{Analysis, Engine, Error, IndexOptions, QuerySyntax};
use index_data::Document;

fn doc(id: &str, title: &str, body: &str) -> Document {
    Document {
        id: id.into(),
        title: title.into(),
        body: body.into(),
    }
}

fn shared_datasets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets")
}

fn ids(engine: &Engine, q: &str) -> Vec<String> {
    engine
        .search(q, 10)
        .unwrap()
        .into_iter()
        .map(|h| h.id)
        .collect()
}

#[test]
fn add_update_delete_search() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::create(dir.path(), Analysis::default()).unwrap();
    let docs = vec![
        Ok(doc(
            "a",
            "Berlin",
            "Berlin has about 3.7 million inhabitants.",
        )),
        Ok(doc("b", "Paris", "Paris is the capital of France.")),
        Ok(doc("c", "Rome", "Rome was not built in a day.")),
    ];
    let stats = engine
        .index_documents(docs, &IndexOptions::default(), &mut |_| {})
        .unwrap();
    assert_eq!((stats.indexed, stats.replaced), (3, 0));
    assert_eq!(engine.num_docs(), 3);
    let hits = engine.search("inhabitants of berlin", 10).unwrap();
    assert_eq!(hits[0].id, "a");
    assert_eq!(hits[0].title, "Berlin");
    assert!(hits[0].text.contains("3.7 million"));
    assert!(hits[0].score > 0.0);
    // Stemming: "capitals" finds "capital".
    assert_eq!(ids(&engine, "capitals"), vec!["b"]);

    // Update by id: the old text is gone, the new one is found, the count is unchanged.
    engine
        .upsert(&doc("b", "Paris", "Paris hosts the Louvre museum."))
        .unwrap();
    // Not visible before the commit.
    assert_eq!(ids(&engine, "capital"), vec!["b"]);
    engine.commit().unwrap();
    assert!(ids(&engine, "capital").is_empty());
    assert_eq!(ids(&engine, "louvre"), vec!["b"]);
    assert_eq!(engine.num_docs(), 3);

    // Re-indexing an existing id counts as a replacement.
    let stats = engine
        .index_documents(
            vec![
                Ok(doc("c", "Rome", "Eternal city.")),
                Ok(doc("d", "Oslo", "Fjords.")),
            ],
            &IndexOptions::default(),
            &mut |_| {},
        )
        .unwrap();
    assert_eq!((stats.indexed, stats.replaced), (2, 1));
    assert_eq!(engine.num_docs(), 4);

    engine.delete("a").unwrap();
    engine.commit().unwrap();
    assert!(ids(&engine, "berlin").is_empty());
    assert_eq!(engine.num_docs(), 3);
    assert!(!engine.contains("a").unwrap());
    assert_eq!(engine.get("d").unwrap().unwrap().body, "Fjords.");
    assert!(engine.get("a").unwrap().is_none());

    // Reopening sees the last commit.
    drop(engine);
    let engine = Engine::open(dir.path()).unwrap();
    assert_eq!(engine.num_docs(), 3);
    assert_eq!(ids(&engine, "louvre"), vec!["b"]);
}

#[test]
fn duplicate_ids_in_one_input_keep_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::create(dir.path(), Analysis::default()).unwrap();
    let docs = vec![
        Ok(doc("x", "", "first version")),
        Ok(doc("x", "", "second version")),
    ];
    let stats = engine
        .index_documents(docs, &IndexOptions::default(), &mut |_| {})
        .unwrap();
    assert_eq!((stats.indexed, stats.replaced), (2, 1));
    assert_eq!(engine.num_docs(), 1);
    assert_eq!(engine.get("x").unwrap().unwrap().body, "second version");
}

#[test]
fn bad_records_stop_or_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("c.jsonl");
    std::fs::write(
        &corpus,
        "{\"_id\": \"1\", \"text\": \"one\"}\n{broken\n{\"_id\": \"2\", \"text\": \"two\"}\n",
    )
    .unwrap();
    let idx = dir.path().join("idx");
    let engine = Engine::create(&idx, Analysis::default()).unwrap();
    let open =
        || index_data::JsonlDocuments::open(&corpus, index_data::JsonlFields::beir()).unwrap();
    let err = engine
        .index_documents(open(), &IndexOptions::default(), &mut |_| {})
        .unwrap_err();
    assert!(err.to_string().contains("c.jsonl:2: invalid JSON"), "{err}");
    // Nothing was committed: the index stays at its last commit (empty).
    engine.commit().unwrap();
    assert_eq!(engine.num_docs(), 0);
    let options = IndexOptions {
        skip_bad: true,
        ..Default::default()
    };
    let stats = engine
        .index_documents(open(), &options, &mut |_| {})
        .unwrap();
    assert_eq!((stats.indexed, stats.skipped), (2, 1));
    assert!(stats.skip_examples[0].contains("c.jsonl:2:"));
    assert_eq!(engine.num_docs(), 2);
}

#[test]
fn lenient_queries_never_fail() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::create(dir.path(), Analysis::default()).unwrap();
    engine
        .index_documents(
            vec![Ok(doc(
                "1",
                "C++ and Rust",
                "title: a \"quoted\" (thing) -minus +plus",
            ))],
            &IndexOptions::default(),
            &mut |_| {},
        )
        .unwrap();
    for q in [
        "?",
        ":",
        "\"",
        "\"unbalanced quote",
        "(",
        ")",
        "((a)",
        "-",
        "+",
        "*",
        "^",
        "^2",
        "title:",
        "title:rust",
        "body:(",
        "a AND",
        "OR",
        "NOT",
        "[1 TO",
        "{",
        "}",
        "~",
        "!",
        "\\",
        "/",
        "c++",
        "rust^",
        "*rust*",
        "",
        "   ",
        "ü ñ 中文 🦀",
        "a:b:c",
        "'",
    ] {
        let hits = engine.search(q, 10);
        assert!(hits.is_ok(), "query {q:?}: {:?}", hits.err());
    }
    assert_eq!(ids(&engine, "c++ (rust)"), vec!["1"]);
    assert!(engine.search("", 10).unwrap().is_empty());
    assert!(engine.search("rust", 0).unwrap().is_empty());
}

#[test]
fn tantivy_syntax_is_opt_in_and_errors_are_typed() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::create(dir.path(), Analysis::default()).unwrap();
    engine
        .index_documents(
            vec![
                Ok(doc("1", "Rust language", "systems programming")),
                Ok(doc("2", "Python language", "scripting")),
            ],
            &IndexOptions::default(),
            &mut |_| {},
        )
        .unwrap();
    let hits = engine
        .search_with("+language -python", 10, QuerySyntax::Tantivy)
        .unwrap();
    assert_eq!(
        hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
        ["1"]
    );
    let hits = engine
        .search_with("title:python", 10, QuerySyntax::Tantivy)
        .unwrap();
    assert_eq!(hits[0].id, "2");
    let err = engine
        .search_with("title:(", 10, QuerySyntax::Tantivy)
        .unwrap_err();
    assert!(matches!(err, Error::QuerySyntax(_)), "{err:?}");
    let err = engine
        .search_with("nosuchfield:x", 10, QuerySyntax::Tantivy)
        .unwrap_err();
    assert!(matches!(err, Error::QuerySyntax(_)), "{err:?}");
}

#[test]
fn open_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let err = Engine::open(dir.path().join("missing")).unwrap_err();
    assert!(matches!(err, Error::NoIndex { .. }));
    assert!(err.to_string().contains("no index at"));
    Engine::create(dir.path().join("i"), Analysis::default()).unwrap();
    let err = Engine::create(dir.path().join("i"), Analysis::default()).unwrap_err();
    assert!(matches!(err, Error::IndexExists { .. }));
}

#[test]
fn a_second_writer_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let first = Engine::create(dir.path(), Analysis::default()).unwrap();
    first.upsert(&doc("1", "", "x")).unwrap();
    let second = Engine::open(dir.path()).unwrap();
    let err = second.upsert(&doc("2", "", "y")).unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err:?}");
    // Searching from a second handle is fine.
    first.commit().unwrap();
    second.commit().ok();
    let reader = Engine::open(dir.path()).unwrap();
    assert_eq!(reader.num_docs(), 1);
}

#[test]
fn analysis_is_stored_with_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::create(dir.path(), Analysis::plain()).unwrap();
    engine.upsert(&doc("1", "", "running")).unwrap();
    engine.commit().unwrap();
    assert!(ids(&engine, "run").is_empty());
    drop(engine);
    let engine = Engine::open(dir.path()).unwrap();
    assert_eq!(engine.analysis(), &Analysis::plain());
    assert_eq!(ids(&engine, "running"), vec!["1"]);
}

#[test]
fn search_while_indexing_from_another_thread() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(Engine::create(dir.path(), Analysis::default()).unwrap());
    engine.upsert(&doc("seed", "", "common word")).unwrap();
    engine.commit().unwrap();
    let writer = {
        let engine = Arc::clone(&engine);
        std::thread::spawn(move || {
            for batch in 0..20 {
                for i in 0..50 {
                    let id = format!("{batch}-{i}");
                    engine.upsert(&doc(&id, "", "common word filler")).unwrap();
                }
                engine.commit().unwrap();
            }
        })
    };
    let mut last = 0;
    while !writer.is_finished() {
        let hits = engine.search("common", 2000).unwrap();
        assert!(hits.len() >= last, "a reader went back in time");
        last = hits.len();
    }
    writer.join().unwrap();
    assert_eq!(engine.search("common", 2000).unwrap().len(), 1001);
}

/// Every query of both shared collections runs in lenient mode.
#[test]
fn every_scifact_and_cisi_query_runs() {
    if test_support::skip_unless(
        "every_scifact_and_cisi_query_runs",
        &[test_support::Need::Shared],
    ) {
        return;
    }
    let data = shared_datasets();
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::create(dir.path(), Analysis::default()).unwrap();
    engine
        .index_documents(
            index_data::SmartDocuments::open(data.join("cisi/CISI.ALL")).unwrap(),
            &IndexOptions::default(),
            &mut |_| {},
        )
        .unwrap();
    let mut queries = index_data::read_queries(data.join("scifact")).unwrap();
    assert_eq!(queries.len(), 1109);
    let cisi = index_data::read_queries(data.join("cisi/CISI.QRY")).unwrap();
    assert_eq!(cisi.len(), 112);
    queries.extend(cisi);
    for q in &queries {
        engine
            .search(&q.text, 100)
            .unwrap_or_else(|e| panic!("query {}: {e}", q.id));
    }
}
