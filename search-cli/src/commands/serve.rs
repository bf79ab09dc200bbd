//! `search-cli serve`.

use anyhow::Result;

use crate::args::ServeArgs;

pub fn serve(a: ServeArgs) -> Result<()> {
    let mut config = server::Config::new(a.index);
    config.addr = a.addr;
    config.reranker = a.rerank;
    config.api_key = a.api_key;
    config.commit_ms = a.commit_ms;
    config.max_body_bytes = a.max_body_bytes;
    config.timeout = std::time::Duration::from_secs(a.timeout_s);
    config.batch_pairs = a.batch_pairs;
    config.passages = a.passages.map_or(0, usize::from);
    server::run(config)?;
    Ok(())
}
