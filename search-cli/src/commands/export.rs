//! `search-cli export`.

use anyhow::Result;

use crate::args::ExportArgs;

pub fn export(a: ExportArgs) -> Result<()> {
    let src = reranker::resolve_model(&a.model)?;
    let precision = match a.int8 {
        true => reranker::Precision::Int8,
        false => reranker::Precision::F32,
    };
    reranker::export_onnx_dir(&src, &a.out, precision)?;
    let model = a.out.join("model.onnx");
    let mb = std::fs::metadata(&model).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    println!(
        "wrote {} ({}, {mb:.1} MB)",
        model.display(),
        precision.name()
    );
    Ok(())
}
