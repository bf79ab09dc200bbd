//! Hostile sizes and damaged files (issue 16): each input the library must bound or refuse
//! itself, whoever calls it.

use std::path::Path;

use engine::{Analysis, Engine, Error, IndexOptions, Limits, QuerySyntax, Verify};
use index_data::Document;

fn doc(id: &str, title: &str, body: &str) -> Document {
    Document {
        id: id.into(),
        title: title.into(),
        body: body.into(),
    }
}

fn corpus(dir: &Path) -> Engine {
    let engine = Engine::create(dir, Analysis::default()).unwrap();
    let docs: Vec<_> = (0..200)
        .map(|i| {
            Ok(doc(
                &format!("d{i}"),
                &format!("title {i}"),
                &format!(
                    "protein folding number {i} with cells {} and rare{}",
                    "and membranes ".repeat(i % 7),
                    i % 13
                ),
            ))
        })
        .collect();
    engine
        .index_documents(docs, &IndexOptions::default(), &mut |_| {})
        .unwrap();
    engine
}

/// Flips 32 bytes mid-file in place, as bit rot would: the file never shrinks, so an engine
/// that still maps it (the in-place test) reads garbage, not past the end of the file (which
/// is SIGBUS; `fs::write` truncates first).
fn garble(path: &Path) {
    use std::os::unix::fs::FileExt;
    let b = std::fs::read(path).unwrap();
    let mid = b.len() / 2;
    let end = (mid + 32).min(b.len());
    let flipped: Vec<u8> = b[mid..end].iter().map(|x| x ^ 0x5a).collect();
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.write_all_at(&flipped, mid as u64).unwrap();
}

#[test]
fn a_damaged_segment_file_is_named_on_open_and_by_a_full_check() {
    for ext in ["idx", "term", "fast", "fieldnorm", "store", "pos"] {
        let dir = tempfile::tempdir().unwrap();
        let engine = corpus(dir.path());
        let first = engine.verify(Verify::Changed).unwrap();
        assert!(first.files > 0);
        // Nothing changed since: a second open checks nothing.
        drop(engine);
        let again = Engine::open(dir.path()).unwrap();
        assert_eq!(again.verify(Verify::Changed).unwrap().checked, 0);
        assert!(again.verify(Verify::Full).unwrap().checked > 0);
        drop(again);

        let file = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == ext))
            .unwrap_or_else(|| panic!("no .{ext} file"));
        garble(&file);
        match Engine::open(dir.path()) {
            Err(Error::Damaged { path, count }) => {
                assert_eq!(path, file, ".{ext}");
                assert_eq!(count, 1);
            }
            Err(e) => panic!(".{ext}: {e}"),
            Ok(_) => panic!(".{ext}: a damaged index opened"),
        }
    }
}

#[test]
fn garbling_an_already_verified_file_in_place_is_found_by_the_full_check() {
    let dir = tempfile::tempdir().unwrap();
    let engine = corpus(dir.path());
    let file = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "term"))
        .unwrap();
    // Same size, and the old modification time put back: only a full check can tell.
    let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
    garble(&file);
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    assert!(matches!(
        engine.verify(Verify::Full),
        Err(Error::Damaged { .. })
    ));
}

#[test]
fn hit_counts_past_the_limit_are_refused_not_allocated() {
    let dir = tempfile::tempdir().unwrap();
    let engine = corpus(dir.path());
    for k in [usize::MAX, 1 << 40, Limits::default().max_hits + 1] {
        let e = engine.search("protein", k).unwrap_err();
        assert!(e.to_string().contains("SEARCH_MAX_HITS"), "{e}");
    }
    assert_eq!(
        engine
            .search("protein", Limits::default().max_hits)
            .unwrap()
            .len(),
        200
    );
}

#[test]
fn deep_nesting_is_refused_and_shallow_nesting_parses() {
    let dir = tempfile::tempdir().unwrap();
    let engine = corpus(dir.path());
    let deep = format!("{}protein{}", "(".repeat(10_000), ")".repeat(10_000));
    let e = engine
        .search_with(&deep, 10, QuerySyntax::Tantivy)
        .unwrap_err();
    assert!(e.to_string().contains("nested 10000 deep"), "{e}");
    let ok = format!("{}protein{}", "(".repeat(20), ")".repeat(20));
    assert!(!engine
        .search_with(&ok, 10, QuerySyntax::Tantivy)
        .unwrap()
        .is_empty());
}

#[test]
fn a_repeated_term_weighs_as_its_repeats_did() {
    let dir = tempfile::tempdir().unwrap();
    let engine = corpus(dir.path());
    let once = engine.search_ids("membranes rare3", 200).unwrap();
    let thrice = engine
        .search_ids("membranes membranes membranes rare3", 200)
        .unwrap();
    // BM25 of a query with a term three times = the sum over its terms with that term's
    // score counted three times.
    let one: std::collections::HashMap<_, _> = once.into_iter().collect();
    let rare = engine.search_ids("rare3", 200).unwrap();
    let rare: std::collections::HashMap<_, _> = rare.into_iter().collect();
    for (id, s3) in &thrice {
        let r = rare.get(id).copied().unwrap_or(0.0);
        let m = one[id] - r;
        assert!(
            (s3 - (r + 3.0 * m)).abs() < 1e-3 * s3.abs().max(1.0),
            "{id}: {s3}"
        );
    }
}

#[test]
fn long_queries_keep_their_rarest_terms_and_oversized_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut engine = corpus(dir.path());
    engine.set_limits(Limits {
        max_query_terms: 1,
        ..Limits::default()
    });
    // "protein" is in every document, "rare5" in few: the one term kept is the rare one.
    let capped = engine.search_ids("protein rare5", 200).unwrap();
    let rare = engine.search_ids("rare5", 200).unwrap();
    assert_eq!(capped, rare);

    engine.set_limits(Limits {
        max_query_bytes: 100,
        ..Limits::default()
    });
    let e = engine.search(&"protein ".repeat(20), 10).unwrap_err();
    assert!(e.to_string().contains("SEARCH_MAX_QUERY_BYTES"), "{e}");
}

#[test]
fn a_document_past_the_size_limit_is_refused_with_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let engine = corpus(dir.path());
    let limit = index_data::max_document_bytes();
    let big = doc("big", "", &"x".repeat(limit + 1));
    let e = engine.upsert(&big).unwrap_err().to_string();
    assert!(e.contains("document `big`"), "{e}");
    assert!(e.contains("SEARCH_MAX_DOCUMENT_BYTES"), "{e}");
    assert!(!engine.contains("big").unwrap());
}

#[test]
fn snippets_show_the_matching_passage_with_its_terms_marked() {
    let dir = tempfile::tempdir().unwrap();
    let engine = corpus(dir.path());
    let long = format!(
        "{} The protein folds into membranes here. {}",
        "Nothing to see. ".repeat(40),
        "More filler. ".repeat(40)
    );
    let s = engine
        .snippets("folding membrane", &[&long, "no match at all"], 80)
        .unwrap();
    assert!(s[0].text.contains("folds into membranes"), "{:?}", s[0]);
    // Stemmed matches: "folds" for "folding", "membranes" for "membrane".
    let marked = s[0].marked("[", "]");
    assert!(
        marked.contains("[folds]") && marked.contains("[membranes]"),
        "{marked}"
    );
    assert!(s[1].highlights.is_empty());
    assert_eq!(s[1].text, "no match at all");
    // A huge text costs a bounded scan and still gives a snippet.
    let huge = "protein ".repeat(2_000_000);
    let s = engine.snippets("protein", &[&huge], 100).unwrap();
    assert!(s[0].text.len() < 200 && !s[0].highlights.is_empty());
}
