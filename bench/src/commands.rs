//! The benchmark commands: reranking throughput (Rust and Python onnxruntime side by side),
//! training throughput (candle and PyTorch side by side), and the pipeline end to end.

use std::path::PathBuf;
use std::process::Command;

use crate::measure::{bench_pairs, pair_refs, time_scoring, time_tokenizer};
use anyhow::{bail, Context, Result};
use clap::Args;
use reranker::{CandleCrossEncoder, OnnxCrossEncoder, PairTokenizer, RerankerOptions};

#[derive(Args)]
pub struct BenchRerankArgs {
    /// A BEIR folder: its queries and corpus make the pairs.
    #[arg(long, default_value = "../shared/datasets/scifact")]
    dataset: PathBuf,
    /// The ONNX model (folder or fetched name).
    #[arg(long, default_value = "teacher")]
    model: String,
    /// How many (query, passage) pairs.
    #[arg(long, default_value_t = 1000)]
    pairs: usize,
    /// Pairs for the candle backend (slower; 0 to skip).
    #[arg(long, default_value_t = 256)]
    candle_pairs: usize,
    /// The longest pair in tokens.
    #[arg(long, default_value_t = 256)]
    max_len: usize,
    /// Pairs per forward pass.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Inference threads, on both sides.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Timed rounds per side (alternating Rust and Python).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Skip the Python onnxruntime side.
    #[arg(long)]
    no_python: bool,
}

/// The Python side's scripts: this crate's `scripts/` (the benchmarks run from a checkout).
fn scripts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts")
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

pub fn bench_rerank(a: BenchRerankArgs) -> Result<()> {
    let dataset = index_data::BeirDataset::new(&a.dataset);
    let queries = index_data::read_queries(dataset.root())?;
    let docs: Vec<_> = dataset
        .corpus()?
        .take(a.pairs)
        .collect::<index_data::Result<_>>()?;
    let pairs = bench_pairs(&queries, &docs, a.pairs);
    let model_dir = reranker::resolve_model(&a.model)?;
    let options = RerankerOptions {
        max_len: a.max_len,
        batch_size: a.batch,
        num_threads: Some(a.threads),
        ..Default::default()
    };
    println!(
        "{} pairs from {}, model {}, max_len {}, batch {}, {} threads",
        pairs.len(),
        a.dataset.display(),
        model_dir.display(),
        a.max_len,
        a.batch,
        a.threads
    );

    // Tokenizer alone.
    let tok = PairTokenizer::from_file(model_dir.join("tokenizer.json"), a.max_len)?;
    let t = median(time_tokenizer(&tok, &pairs, a.rounds)?);
    println!("tokenizer (Rust): {:.0} pairs/s", pairs.len() as f64 / t);

    // Rust and Python, alternating rounds so both see the same machine load.
    let onnx = OnnxCrossEncoder::load(&model_dir, &options)?;
    let pairs_file = tempfile::NamedTempFile::new()?;
    {
        use std::io::Write;
        let mut w = std::io::BufWriter::new(pairs_file.as_file());
        for (q, p) in &pairs {
            let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
            writeln!(w, "{}\t{}", clean(q), clean(p))?;
        }
    }
    let script = scripts_dir().join("bench_python_ort.sh");
    let mut rust = Vec::new();
    let mut python = Vec::new();
    for _ in 0..a.rounds {
        rust.extend(time_scoring(&onnx, &pairs, 1)?);
        if !a.no_python {
            let out = Command::new("bash")
                .arg(&script)
                .arg("--model")
                .arg(&model_dir)
                .arg("--pairs")
                .arg(pairs_file.path())
                .args(["--max-len", &a.max_len.to_string()])
                .args(["--batch", &a.batch.to_string()])
                .args(["--threads", &a.threads.to_string()])
                .args(["--rounds", "1"])
                .output()
                .with_context(|| format!("running {}", script.display()))?;
            if !out.status.success() {
                bail!(
                    "the Python benchmark failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let v: serde_json::Value = serde_json::from_str(line)?;
                python.push(
                    v["seconds"]
                        .as_f64()
                        .context("no seconds in Python output")?,
                );
            }
        }
    }
    let n = pairs.len() as f64;
    // Tokens the model reads (padding excluded): what the machine's GEMM rate bounds.
    let tokens: usize = tok
        .encode_pairs(&pair_refs(&pairs))?
        .iter()
        .map(|p| p.ids.len())
        .sum();
    println!(
        "{tokens} tokens in all ({:.0} a pair, max_len {})",
        tokens as f64 / n,
        a.max_len
    );
    let rust_rate = n / median(rust.clone());
    println!(
        "ort (Rust, this project):  {:.1} pairs/s, {:.0} tokens/s (median of {} rounds: {:?} s)",
        rust_rate,
        rust_rate * tokens as f64 / n,
        rust.len(),
        rust.iter()
            .map(|s| (s * 100.0).round() / 100.0)
            .collect::<Vec<_>>()
    );
    if !python.is_empty() {
        let py_rate = n / median(python.clone());
        println!(
            "onnxruntime (Python):      {:.1} pairs/s, {:.0} tokens/s (median of {} rounds: {:?} s)",
            py_rate,
            py_rate * tokens as f64 / n,
            python.len(),
            python
                .iter()
                .map(|s| (s * 100.0).round() / 100.0)
                .collect::<Vec<_>>()
        );
        println!("ratio Rust / Python: {:.3}", rust_rate / py_rate);
    }

    // candle on a model of the same shape, if the folder has a candle config (else random
    // weights of the teacher's shape: speed does not depend on the values).
    if a.candle_pairs > 0 {
        let dir = tempfile::tempdir()?;
        let shape_dir = candle_model_of_shape(&model_dir, &dir.path().join("candle"))?;
        let candle = CandleCrossEncoder::load(&shape_dir, &options)?;
        let sub = &pairs[..a.candle_pairs.min(pairs.len())];
        let t = median(time_scoring(&candle, sub, a.rounds.min(2))?);
        let candle_rate = sub.len() as f64 / t;
        println!(
            "candle (Rust, same shape, f32): {:.1} pairs/s on {} pairs",
            candle_rate,
            sub.len(),
        );
        // The same f32 weights exported to ONNX: ort against candle on equal terms (the
        // fetched teacher is int8-quantized, which alone makes it faster).
        let onnx_dir = dir.path().join("onnx");
        reranker::export_onnx_dir(&shape_dir, &onnx_dir, reranker::Precision::F32)?;
        let exported = OnnxCrossEncoder::load(&onnx_dir, &options)?;
        let t = median(time_scoring(&exported, sub, a.rounds.min(2))?);
        println!(
            "ort (Rust) on the same f32 weights, exported: {:.1} pairs/s; ort / candle: {:.2}",
            sub.len() as f64 / t,
            sub.len() as f64 / t / candle_rate
        );
    }
    Ok(())
}

/// A candle model folder of the ONNX model's shape: its own `config.json` if it has one,
/// else the teacher's (MiniLM-L12-H384), with random weights.
fn candle_model_of_shape(model_dir: &std::path::Path, out: &std::path::Path) -> Result<PathBuf> {
    let cfg = reranker::read_config(model_dir.join("config.json"))
        .unwrap_or_else(|_| reranker::BertConfig::minilm_l12_h384());
    reranker::save_random_model(&cfg, &model_dir.join("tokenizer.json"), out)?;
    Ok(out.to_path_buf())
}

#[derive(Args)]
pub struct BenchTrainArgs {
    /// Training groups (a run's `groups.jsonl`, as `retrain` writes it).
    #[arg(long)]
    groups: PathBuf,
    /// The student's starting checkpoint (folder or fetched name).
    #[arg(long, default_value = "splade-tiny")]
    init: String,
    /// Keep only these layers of the checkpoint (e.g. 0,2,4), as `retrain --layers` does;
    /// candle side only.
    #[arg(long, value_delimiter = ',')]
    layers: Option<Vec<usize>>,
    /// The loss.
    #[arg(long, default_value = "ckl")]
    loss: trainer::LossKind,
    /// Timed steps per round.
    #[arg(long, default_value_t = 8)]
    steps: usize,
    /// Untimed steps first.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Query groups per step.
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Candidates per group.
    #[arg(long, default_value_t = 16)]
    group_size: usize,
    /// Longest pair in tokens.
    #[arg(long, default_value_t = 256)]
    max_len: usize,
    /// Threads, on both sides.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Rounds per side (alternating Rust and PyTorch).
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Also time PyTorch (bench/scripts/bench_train_torch.sh; installs torch on first use).
    #[arg(long)]
    torch: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// The timed phases of a training-step benchmark, as `TrainBench` and the PyTorch script
/// name them.
const PHASES: [(&str, &str); 5] = [
    ("tokenize_s", "tokenize"),
    ("forward_s", "forward"),
    ("loss_s", "loss"),
    ("backward_s", "backward"),
    ("optimizer_s", "optimizer"),
];

/// Seconds of all phases in one benchmark result.
fn phase_total(v: &serde_json::Value) -> f64 {
    PHASES
        .iter()
        .map(|(k, _)| v[k].as_f64().unwrap_or(0.0))
        .sum()
}

fn print_phases(name: &str, v: &serde_json::Value) {
    let total = phase_total(v);
    let pairs = v["pairs"].as_f64().unwrap_or(0.0);
    print!(
        "{name:<10} {:>7.1} pairs/s  seq {:>5.1}  ",
        pairs / total,
        v["mean_seq_len"].as_f64().unwrap_or(0.0)
    );
    for (k, label) in PHASES {
        let s = v[k].as_f64().unwrap_or(0.0);
        print!(
            "{label} {:.1}% ({:.0} ms/step)  ",
            100.0 * s / total,
            1000.0 * s / v["steps"].as_f64().unwrap_or(1.0)
        );
    }
    println!();
}

/// `search-cli bench-train`: training throughput phase by phase, and PyTorch side by side.
pub fn bench_train(a: BenchTrainArgs) -> Result<()> {
    // candle and its gemm size their thread pools from this; set before any pool starts.
    std::env::set_var("RAYON_NUM_THREADS", a.threads.to_string());
    if a.torch && a.layers.is_some() {
        bail!("--layers is not supported with --torch (the PyTorch side loads every layer)");
    }
    let init = reranker::resolve_model(&a.init)?;
    let groups = trainer::load_groups(&a.groups)?;
    let cfg = trainer::TrainConfig {
        loss: a.loss,
        layers: a.layers.clone(),
        batch: a.batch,
        group_size: a.group_size,
        max_len: a.max_len,
        init: init.clone(),
        ..Default::default()
    };
    println!(
        "{} groups from {}, init {} (layers {:?}), {} groups x {} pairs a step, max_len {}, {} threads, loss {:?}",
        groups.len(),
        a.groups.display(),
        init.display(),
        a.layers,
        a.batch,
        a.group_size,
        a.max_len,
        a.threads,
        a.loss
    );
    let script = scripts_dir().join("bench_train_torch.sh");
    let mut rows = Vec::new();
    let (mut rust_rates, mut torch_rates) = (Vec::new(), Vec::new());
    for round in 0..a.rounds {
        let b = trainer::bench_train(&cfg, &groups, a.steps, a.warmup)?;
        let v = serde_json::to_value(&b)?;
        rust_rates.push(b.pairs_per_s());
        print_phases(&format!("candle #{round}"), &v);
        rows.push(serde_json::json!({"side": "candle", "round": round, "result": v}));
        if a.torch {
            let out = Command::new("bash")
                .arg(&script)
                .arg("--init")
                .arg(&init)
                .arg("--groups")
                .arg(&a.groups)
                .args(["--steps", &a.steps.to_string()])
                .args(["--warmup", &a.warmup.to_string()])
                .args(["--batch", &a.batch.to_string()])
                .args(["--group-size", &a.group_size.to_string()])
                .args(["--max-len", &a.max_len.to_string()])
                .args(["--threads", &a.threads.to_string()])
                .output()
                .with_context(|| format!("running {}", script.display()))?;
            if !out.status.success() {
                bail!(
                    "the PyTorch benchmark failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            let text = String::from_utf8_lossy(&out.stdout);
            let line = text
                .lines()
                .last()
                .context("no output from the PyTorch benchmark")?;
            let v: serde_json::Value = serde_json::from_str(line)?;
            let total = phase_total(&v);
            torch_rates.push(v["pairs"].as_f64().unwrap_or(0.0) / total);
            print_phases(&format!("torch #{round}"), &v);
            rows.push(serde_json::json!({"side": "torch", "round": round, "result": v}));
        }
    }
    let rust = median(rust_rates);
    println!("candle (this project): {rust:.1} pairs/s (median of rounds)");
    if !torch_rates.is_empty() {
        let torch = median(torch_rates);
        println!("PyTorch:               {torch:.1} pairs/s (median of rounds)");
        println!("ratio candle / PyTorch: {:.2}", rust / torch);
    }
    if a.json {
        println!("{}", serde_json::to_string(&rows)?);
    }
    Ok(())
}

#[derive(Args)]
pub struct BenchPipelineArgs {
    /// The index.
    #[arg(long)]
    index: PathBuf,
    /// Judged queries.
    #[arg(long)]
    queries: PathBuf,
    /// Their judgments.
    #[arg(long)]
    qrels: PathBuf,
    /// The split, when --qrels is a folder.
    #[arg(long, default_value = "test")]
    split: String,
    /// Rerankers to compare (names or folders), each timed in this same run.
    #[arg(long, value_delimiter = ',', default_value = "student")]
    models: Vec<String>,
    /// BM25 candidates reranked.
    #[arg(long, value_delimiter = ',', default_value = "30,100")]
    depths: Vec<usize>,
    /// Longest pair in tokens.
    #[arg(long, value_delimiter = ',', default_value = "256")]
    max_lens: Vec<usize>,
    /// Weight of BM25 in the fused score.
    #[arg(long, default_value_t = search::DEFAULT_ALPHA)]
    alpha: f64,
    /// Inference threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Time this many of the judged queries (seeded sample; 0: all).
    #[arg(long, default_value_t = 0)]
    sample: usize,
    /// Passages read per candidate (1: the first; more: MaxP, as `query --passages`).
    /// Pairs/s then counts candidates, not passages.
    #[arg(long, default_value_t = 1)]
    passages: usize,
}

/// `search-cli bench-pipeline`: one query end to end (BM25, tokenization, cross-encoder,
/// fusion), for each model, depth and max_len: latency percentiles, pairs/s and nDCG@10.
pub fn bench_pipeline(a: BenchPipelineArgs) -> Result<()> {
    let engine = engine::Engine::open(&a.index)?;
    let qrels = index_data::load_qrels(&a.qrels, Some(&a.split), None)?;
    let queries: Vec<_> = index_data::read_queries(&a.queries)?
        .into_iter()
        .filter(|q| qrels.get(&q.id).is_some())
        .collect();
    let queries = if a.sample > 0 {
        index_data::sample_queries(queries, a.sample, 0)
    } else {
        queries
    };
    println!(
        "{} queries of {}, alpha {}, {} threads; latency = BM25 + stored text + tokenization + model + fusion",
        queries.len(),
        a.queries.display(),
        a.alpha,
        a.threads
    );
    println!(
        "{:<12} {:>6} {:>8} {:>9} {:>9} {:>9} {:>9}",
        "model", "depth", "max_len", "p50 ms", "p99 ms", "pairs/s", "nDCG@10"
    );
    for name in &a.models {
        for &max_len in &a.max_lens {
            let options = RerankerOptions {
                max_len,
                num_threads: Some(a.threads),
                ..Default::default()
            };
            let model = reranker::load_cross_encoder(name, &options)?;
            for &depth in &a.depths {
                let r = crate::measure::bench_pipeline(
                    &engine,
                    model.as_ref(),
                    &queries,
                    &qrels,
                    &search::RerankOptions {
                        depth,
                        alpha: a.alpha,
                        passages: search::Passages::max_p(a.passages),
                    },
                )?;
                println!(
                    "{:<12} {:>6} {:>8} {:>9.1} {:>9.1} {:>9.1} {:>9.4}",
                    name,
                    depth,
                    max_len,
                    r.latency.p50_ms,
                    r.latency.p99_ms,
                    r.pairs_per_s,
                    r.ndcg10
                );
            }
        }
    }
    Ok(())
}
