//! One file per command; each reads its arguments, calls the libraries and prints.

use anyhow::Result;

use crate::args::Command;

mod bench;
mod check;
mod compare;
mod delete;
mod eval;
mod experiment;
mod export;
mod index;
mod models;
mod query;
mod retrain;
mod run;
mod serve;

/// Runs one command.
pub fn run(command: Command) -> Result<()> {
    match command {
        Command::Index(a) => index::index(a),
        Command::Query(a) => query::query(a),
        Command::Eval(a) => eval::eval(a),
        Command::Run(a) => run::run(a),
        Command::Delete(a) => delete::delete(a),
        Command::Check(a) => check::check(a),
        Command::Serve(a) => serve::serve(a),
        Command::Bench(a) => bench::bench(a),
        Command::Retrain(a) => retrain::retrain(*a),
        Command::Compare(a) => compare::compare(a),
        Command::Experiment(a) => experiment::experiment(a),
        Command::Export(a) => export::export(a),
        Command::Models(a) => models::models(a),
    }
}

/// True if the error is a closed output pipe (`search-cli query ... | head`).
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes on one line (`a: b: c`), each cause once, with the hint a
/// user needs where the library's message cannot give it (library messages name no command).
pub fn one_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = cause.to_string().replace('\n', " ");
        // A transparent wrapper repeats its source's message: keep it once.
        if parts.last().is_some_and(|p| p.contains(&text)) {
            continue;
        }
        parts.push(text);
    }
    let mut line = parts.join(": ");
    if let Some(hint) = hint(e) {
        line.push_str(" (");
        line.push_str(hint);
        line.push(')');
    }
    line
}

/// What to do about an error, when that is a command to run.
fn hint(e: &anyhow::Error) -> Option<&'static str> {
    for cause in e.chain() {
        if let Some(engine::Error::NoIndex { .. }) = cause.downcast_ref::<engine::Error>() {
            return Some("create one with `search-cli index --index FOLDER COLLECTION`");
        }
        // The facade's errors are transparent: the load error is the error itself, not a cause.
        let load = cause.downcast_ref::<reranker::LoadError>().or_else(|| {
            match cause.downcast_ref::<search::Error>() {
                Some(search::Error::Load(l)) => Some(l),
                _ => None,
            }
        });
        if let Some(
            reranker::LoadError::Runtime { .. } | reranker::LoadError::UnknownModel { .. },
        ) = load
        {
            return Some("`search-cli models` lists what is installed; `search-cli models --fetch` fetches the rest");
        }
        if let Some(engine::Error::ForeignQrels { .. }) = cause.downcast_ref::<engine::Error>() {
            return Some("name the format with --qrels-format if it was misread");
        }
    }
    None
}
