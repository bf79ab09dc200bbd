//! BM25 candidates reranked by a cross-encoder, fused with BM25.
//!
//! ```text
//! python3 scripts/fetch_models.py       # once: the teacher and the ONNX Runtime library
//! cargo run --release -p search-examples --example rerank -- ../shared/datasets/scifact teacher
//! ```
//!
//! The second argument is a model folder or a fetched model's name (`teacher`, or a candle
//! folder with config.json + model.safetensors + tokenizer.json).

use std::path::PathBuf;

use anyhow::Result;
use engine::{Analysis, Engine, IndexOptions, RerankOptions};
use index_data::BeirDataset;
use reranker::{load_cross_encoder, RerankerOptions};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let root = args.next().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets/scifact")
    });
    let model_name = args.next().unwrap_or_else(|| "teacher".into());

    let dir = tempfile::tempdir()?;
    let engine = Engine::create(dir.path(), Analysis::default())?;
    engine.index_documents(
        BeirDataset::new(&root).corpus()?,
        &IndexOptions::default(),
        &mut |_| {},
    )?;

    // The backend (ONNX Runtime or candle) is chosen from the folder's files.
    let model = load_cross_encoder(&model_name, &RerankerOptions::default())?;
    println!(
        "model: {} ({})",
        model.info().path.display(),
        model.info().backend
    );

    let query = "Does vitamin D deficiency raise the risk of multiple sclerosis?";
    let options = RerankOptions {
        depth: 20,
        ..Default::default()
    };
    println!("BM25 top 20 reranked (alpha {}):", options.alpha);
    for (i, h) in engine::search_reranked(&engine, model.as_ref(), query, 5, &options)?
        .iter()
        .enumerate()
    {
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
