//! The whole library in ten lines: an index, documents, a search reranked exactly as
//! `search-cli query --index` reranks it.
//!
//! ```text
//! cargo run --release -p search --example ten_lines
//! ```

use search::{Document, Index};

fn main() -> search::Result<()> {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let index = Index::open_or_create(dir.path())?;
    index.add(vec![
        Document::new(
            "berlin",
            "Berlin",
            "Berlin has about 3.7 million inhabitants.",
        ),
        Document::new("paris", "Paris", "Paris is the capital of France."),
        Document::new("rome", "Rome", "Rome was not built in a day."),
    ])?;
    let reranker = index.reranker()?; // the index's own, else the bundled student
    for hit in reranker.search(&index, "How many people live in Berlin?", 2)? {
        println!(
            "{} {:.3} (bm25 {:.2}, ce {:.2})",
            hit.hit.id, hit.score, hit.hit.score, hit.ce_score
        );
    }
    Ok(())
}
