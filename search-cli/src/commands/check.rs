//! `search-cli check`.

use anyhow::Result;
use engine::{Engine, Verify};

use crate::args::CheckArgs;

pub fn check(a: CheckArgs) -> Result<()> {
    let engine = Engine::open(&a.index)?;
    let r = engine.verify(Verify::Full)?;
    println!(
        "ok: {} files, {:.1} MB checked in {:.2} s; {} documents",
        r.files,
        r.bytes as f64 / 1e6,
        r.seconds,
        engine.num_docs()
    );
    Ok(())
}
