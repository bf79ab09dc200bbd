//! `search-cli experiment`.

use std::ffi::OsString;

use anyhow::{Context, Result};

use crate::args::ExperimentArgs;

pub fn experiment(a: ExperimentArgs) -> Result<()> {
    // Read every configuration first, so that a bad one fails before hours of training.
    let mut cfgs = Vec::new();
    for path in &a.config {
        cfgs.push(trainer::experiment::read_config(path)?);
    }
    if let Some(t) = a.threads {
        // Before any thread pool exists: candle and rayon size theirs from this variable.
        std::env::set_var("RAYON_NUM_THREADS", t.max(1).to_string());
        for cfg in &mut cfgs {
            cfg.threads = Some(t.max(1));
        }
    }
    if a.jobs > 1 {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = a.threads.unwrap_or((cores / a.jobs).max(1));
        let exe = std::env::current_exe().context("finding this program")?;
        let mut args: Vec<OsString> = vec!["experiment".into()];
        for path in &a.config {
            args.push("--config".into());
            args.push(path.into());
        }
        args.extend([
            "--threads".into(),
            threads.to_string().into(),
            "--worker".into(),
        ]);
        if !a.only.is_empty() {
            args.extend(["--only".into(), a.only.join(",").into()]);
        }
        trainer::experiment::run_workers(&exe, &args, a.jobs, threads)?;
    }
    let pid = std::process::id();
    for cfg in &cfgs {
        trainer::experiment::run_experiment(cfg, &a.only, &mut |line| {
            // One write per line: workers share stderr, and a line written in pieces would
            // interleave with another worker's.
            let line = if a.worker {
                format!("[worker {pid}] {line}\n")
            } else {
                format!("{line}\n")
            };
            use std::io::Write;
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        })?;
        if !a.worker {
            println!("{}", cfg.out.join(format!("{}.md", cfg.table)).display());
        }
    }
    Ok(())
}
