//! `search-cli delete`.

use anyhow::Result;
use engine::Engine;

use crate::args::DeleteArgs;

pub fn delete(a: DeleteArgs) -> Result<()> {
    let engine = Engine::open(&a.index)?;
    let report = engine.delete_ids(&a.ids)?;
    engine.commit()?;
    let repeats = report.requested - report.distinct;
    println!(
        "deleted {} of {} ids{}; {} documents remain",
        report.found,
        report.distinct,
        if repeats > 0 {
            format!(" ({repeats} repeated ids counted once)")
        } else {
            String::new()
        },
        engine.num_docs()
    );
    Ok(())
}
