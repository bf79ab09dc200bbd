//! `search-bench`: this project against other stacks on the same inputs, side by side in
//! one run (ratios are what to read; machines differ in absolute speed).
//!
//! ```text
//! cargo run --release -p search-bench -- rerank --model teacher --pairs 1000
//! cargo run --release -p search-bench -- train --groups runs/scifact-groups.jsonl --torch
//! cargo run --release -p search-bench -- pipeline --index runs/scifact --queries ... --qrels ...
//! ```

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;
mod measure;

/// Benchmarks of reranking, training and the whole pipeline.
#[derive(Parser)]
#[command(name = "search-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Reranking throughput: this project's ONNX backend against Python onnxruntime on the
    /// same pairs, the candle backend, and the tokenizer.
    Rerank(commands::BenchRerankArgs),
    /// Training throughput (pairs/s) phase by phase, PyTorch side by side with --torch.
    Train(commands::BenchTrainArgs),
    /// One query end to end (BM25, tokenization, cross-encoder, fusion): latency, pairs/s and
    /// nDCG@10 for each model, depth and max_len.
    Pipeline(commands::BenchPipelineArgs),
}

fn main() -> ExitCode {
    // As the product binary: keep freed memory for reuse (see search-cli's main).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called first thing, before any thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
    let result = match Cli::parse().command {
        Command::Rerank(a) => commands::bench_rerank(a),
        Command::Train(a) => commands::bench_train(a),
        Command::Pipeline(a) => commands::bench_pipeline(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
