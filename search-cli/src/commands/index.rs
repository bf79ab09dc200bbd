//! `search-cli index`.

use anyhow::{bail, Result};
use engine::{Analysis, Engine, IndexOptions};
use index_data::{DirDocuments, DirFilter, DocumentFormat, JsonlFields};

use crate::args::IndexArgs;
use crate::output;

pub fn index(a: IndexArgs) -> Result<()> {
    let analysis = Analysis::from_names(&a.stemmer, a.stop_words)?;
    let fields = JsonlFields::from_names(&a.id_field, &a.title_field, &a.text_fields);
    let folder_only = a.sync || !a.include.is_empty() || !a.exclude.is_empty();
    if folder_only && a.format != DocumentFormat::Dir {
        bail!("--sync, --include and --exclude are for --format dir");
    }
    let (docs, listed): (index_data::DocumentStream, _) = if a.format == DocumentFormat::Dir {
        let filter = DirFilter {
            include: a.include.clone(),
            exclude: a.exclude.clone(),
        };
        let d = DirDocuments::with_filter(&a.path, &filter)?;
        let listed = (d.ids(), d.listing().clone());
        (Box::new(d), Some(listed))
    } else {
        (
            index_data::open_documents(a.format, &a.path, &fields)?,
            None,
        )
    };
    let engine = Engine::open_or_create(&a.index, analysis)?;
    let options = IndexOptions {
        skip_bad: a.skip_bad,
        commit_every: Some(a.commit_every.max(1)),
    };
    let mut progress = crate::progress::StageProgress::new();
    let stats = engine.index_documents(docs, &options, &mut |s| {
        progress.update("indexing", "documents", s.indexed as usize, 0)
    })?;
    progress.finish();
    let removed = match &listed {
        Some((ids, _)) if a.sync => Some(engine.delete_all_but(ids)?.found),
        _ => None,
    };
    output::print_index_stats(&stats, engine.num_docs());
    if let Some((_, l)) = &listed {
        output::print_listing(l);
    }
    if let Some(n) = removed {
        println!("sync: deleted {n} documents whose file is gone or no longer included");
    }
    Ok(())
}
