//! The library in ten lines, from outside the workspace.
//!
//! An index is a folder; documents go in by id (an id already there is replaced) and are
//! searchable and durable once `add` returns. `index.reranker()` is the reranker that
//! `search-cli query --index FOLDER` would use: the index's own, installed by
//! `search-cli retrain --install`, or the bundled student; it carries the BM25 weight chosen
//! for it, so this program ranks exactly as the command line does.

use search::{Document, Index};

fn main() -> search::Result<()> {
    let folder = std::env::temp_dir().join(format!("newcomer-{}", std::process::id()));
    let index = Index::open_or_create(&folder)?;
    index.add(vec![
        Document::new(
            "berlin",
            "Berlin",
            "Berlin has about 3.7 million inhabitants.",
        ),
        Document::new("paris", "Paris", "Paris is the capital of France."),
        Document::new("rome", "Rome", "Rome was not built in a day."),
    ])?;
    let reranker = index.reranker()?;
    let hits = reranker.search(&index, "How many people live in Berlin?", 2)?;
    for hit in &hits {
        println!(
            "{} {:.3} (bm25 {:.2}, cross-encoder {:.2})",
            hit.hit.id, hit.score, hit.hit.score, hit.ce_score
        );
    }
    assert_eq!(
        hits[0].hit.id, "berlin",
        "the Berlin document answers the question"
    );
    std::fs::remove_dir_all(&folder).ok();
    Ok(())
}
