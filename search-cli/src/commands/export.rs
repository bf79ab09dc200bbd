//! `search-cli export`.

use anyhow::Result;

use crate::args::ExportArgs;

pub fn export(a: ExportArgs) -> Result<()> {
    let src = reranker::resolve_model(&a.model)?;
    reranker::export_onnx_dir(&src, &a.out)?;
    println!("wrote {}", a.out.join("model.onnx").display());
    Ok(())
}
