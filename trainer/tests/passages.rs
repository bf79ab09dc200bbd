//! Training on passages (`retrain --passages N`): pseudo-queries from one window of a long
//! document with that window as the positive, groups whose candidates are the teacher's best
//! window, and dev sets that score a candidate by its best window.

mod common;

use std::path::Path;

use engine::{Analysis, Engine, IndexOptions};
use index_data::Document;
use reranker::CrossEncoder;
use search::Passages;
use trainer::{build_groups_in, pseudo_queries_for, pseudo_queries_in, DevSet, PseudoMix};

/// Words that make each sentence of a document its own.
const NOUNS: [&str; 24] = [
    "apple", "brick", "cloud", "delta", "ember", "fjord", "grove", "harbor", "island", "jungle",
    "kettle", "lantern", "meadow", "nectar", "orchard", "pepper", "quartz", "river", "saddle",
    "timber", "umbrella", "valley", "willow", "yarrow",
];

/// 12 documents of 24 sentences (288 words: three windows of 150 words, 75 apart),
/// sentence k of each about `NOUNS[k]`, so that a query's words point at one window.
fn corpus(dir: &Path) -> Engine {
    let engine = Engine::create(dir, Analysis::default()).unwrap();
    let docs = (0..12).map(|i| {
        let topic = common::TOPICS[i % 6];
        let body: Vec<String> = NOUNS
            .iter()
            .map(|n| format!("The {n} part of this {topic} story number {i} reads well."))
            .collect();
        Ok(Document {
            id: format!("d{i}"),
            title: format!("A long {topic} story {i}"),
            body: body.join(" "),
        })
    });
    engine
        .index_documents(docs, &IndexOptions::default(), &mut |_| {})
        .unwrap();
    engine
}

fn all_docs(engine: &Engine) -> Vec<Document> {
    (0..12)
        .map(|i| engine.get(&format!("d{i}")).unwrap().unwrap())
        .collect()
}

fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

#[test]
fn long_documents_give_queries_from_one_window() {
    let dir = tempfile::tempdir().unwrap();
    let engine = corpus(dir.path());
    let docs = all_docs(&engine);
    let four = Passages::max_p(4);
    let mix: PseudoMix = "sentence".parse().unwrap();
    let qs = pseudo_queries_in(&engine, &docs, &mix, 3, &four).unwrap();
    assert_eq!(qs.len(), 12);
    assert_eq!(
        qs,
        pseudo_queries_in(&engine, &docs, &mix, 3, &four).unwrap()
    );
    let mut later_windows = 0;
    for q in &qs {
        let doc = docs.iter().find(|d| d.id == q.positives[0]).unwrap();
        let shown = q.positive_text.as_deref().unwrap();
        let whole = q.positive_bm25_text.as_deref().unwrap();
        // The query is a sentence of the document, gone from both texts.
        assert!(doc.body.contains(&q.text), "{}", q.text);
        assert!(!shown.contains(&q.text) && !whole.contains(&q.text));
        // The positive is one window (at most 150 words with the query's) and the title.
        assert!(shown.starts_with(&doc.title));
        assert!(
            words(shown) + words(&q.text) <= words(&doc.title) + 150,
            "{shown}"
        );
        assert!(
            words(shown) + words(&q.text) >= words(&doc.title) + 75,
            "{shown}"
        );
        // BM25 scores the whole document without the query.
        assert_eq!(
            words(whole),
            words(&doc.title) + words(&doc.body) - words(&q.text)
        );
        if !shown.contains("The apple part") {
            later_windows += 1;
            // A window starting inside the body does not give its first, cut sentence.
            assert!(
                !q.text.starts_with(|c: char| c.is_lowercase()),
                "{}",
                q.text
            );
        }
    }
    assert!(
        later_windows >= 4,
        "{later_windows} of 12 from later windows"
    );

    // Keywords come from the window they are shown with.
    let kw: PseudoMix = "keywords".parse().unwrap();
    for q in pseudo_queries_in(&engine, &docs, &kw, 5, &four).unwrap() {
        let shown = q.positive_text.as_deref().unwrap().to_lowercase();
        for w in q.text.split_whitespace() {
            assert!(shown.contains(w), "{w} not in the window {shown}");
        }
        assert!(words(q.positive_bm25_text.as_deref().unwrap()) > words(&shown));
    }

    // One passage: the documents are read whole, as before passages.
    let one = pseudo_queries_in(&engine, &docs, &mix, 3, &Passages::first_only()).unwrap();
    assert_eq!(one, pseudo_queries_for(&engine, &docs, &mix, 3).unwrap());
    assert!(one.iter().all(|q| q.positive_bm25_text.is_none()));
}

#[test]
fn candidates_are_their_best_window_and_the_dev_set_reads_windows() {
    let dir = tempfile::tempdir().unwrap();
    let engine = corpus(dir.path());
    let docs = all_docs(&engine);
    let four = Passages::max_p(4);
    let mix: PseudoMix = "sentence".parse().unwrap();
    let qs = pseudo_queries_in(&engine, &docs[..4], &mix, 9, &four).unwrap();
    let teacher = common::OverlapTeacher::new(usize::MAX);
    let (groups, stats) =
        build_groups_in(&engine, &teacher, &qs, 8, &four, &mut |_, _| {}).unwrap();
    assert_eq!(groups.len(), qs.len());
    let candidates: usize = groups.iter().map(|g| g.candidates.len()).sum();
    // Every negative is read as its three windows; the positive as its one.
    assert_eq!(four.split("", &docs[0].body).len(), 3);
    assert_eq!(stats.pairs, candidates * 3 - 2 * groups.len());
    for (g, q) in groups.iter().zip(&qs) {
        for c in &g.candidates {
            if c.positive {
                assert_eq!(Some(c.text.as_str()), q.positive_text.as_deref());
                let whole = q.positive_bm25_text.as_deref().unwrap();
                assert_eq!(c.bm25, engine.score_text(&q.text, "", whole).unwrap());
                continue;
            }
            let d = engine.get(&c.doc_id).unwrap().unwrap();
            let windows = four.split(&d.title, &d.body);
            let refs: Vec<&str> = windows.iter().map(String::as_str).collect();
            let scores = teacher.score(&g.query, &refs).unwrap();
            let best = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            assert_eq!(c.teacher, best);
            let at = scores.iter().position(|&s| s == best).unwrap();
            assert_eq!(c.text, windows[at], "the first best window");
        }
    }

    let dev = DevSet::pseudo_in(&engine, &qs, 8, &four).unwrap();
    let scores = dev.score(&teacher).unwrap();
    for (dq, q) in dev.queries.iter().zip(&qs) {
        let by_doc = &scores.by_query[&dq.id];
        for (c, (id, bm25, ce)) in dq.candidates.iter().zip(by_doc) {
            assert_eq!(&c.doc_id, id);
            assert_eq!(c.bm25, *bm25);
            if c.doc_id == q.positives[0] {
                assert!(c.more.is_empty(), "the source is its one window");
                continue;
            }
            assert_eq!(c.more.len(), 2);
            let d = engine.get(&c.doc_id).unwrap().unwrap();
            let windows = four.split(&d.title, &d.body);
            let refs: Vec<&str> = windows.iter().map(String::as_str).collect();
            let best = teacher
                .score(&dq.text, &refs)
                .unwrap()
                .into_iter()
                .fold(f32::NEG_INFINITY, f32::max);
            assert_eq!(*ce, f64::from(best));
        }
    }
}
