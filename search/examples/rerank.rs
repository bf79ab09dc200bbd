//! BM25 candidates reranked by a cross-encoder, fused with BM25 at the model's own weight.
//!
//! ```text
//! cargo run --release -p search --example rerank -- ../shared/datasets/scifact teacher
//! ```
//!
//! The second argument is a model folder or a model's name (`student`, the bundled default;
//! `teacher`, fetched by the set-up).

use std::path::PathBuf;

use anyhow::Result;
use search::index_data::BeirDataset;
use search::{Index, Reranker};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let root = args.next().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets/scifact")
    });
    let model_name = args.next().unwrap_or_else(|| "student".into());

    let dir = tempfile::tempdir()?;
    let index = Index::open_or_create(dir.path())?;
    let docs = BeirDataset::new(&root)
        .corpus()?
        .collect::<search::index_data::Result<Vec<_>>>()?;
    index.add(docs)?;

    // The backend (ONNX Runtime or candle) is chosen from the folder's files, and the BM25
    // weight from its fusion.json (0.3 if it has none).
    let reranker = Reranker::load(&model_name)?.with_depth(20);
    let info = reranker.model().info();
    println!(
        "model: {} ({}), alpha {}",
        info.path.display(),
        info.backend,
        reranker.alpha()
    );

    let query = "Does vitamin D deficiency raise the risk of multiple sclerosis?";
    println!("BM25 top 20 reranked:");
    for (i, h) in reranker.search(&index, query, 5)?.iter().enumerate() {
        println!(
            "{}. [{}] fused {:.3} (bm25 {:.2}, logit {:.2}) {}",
            i + 1,
            h.hit.id,
            h.score,
            h.hit.score,
            h.ce_score,
            h.hit.title
        );
    }
    Ok(())
}
