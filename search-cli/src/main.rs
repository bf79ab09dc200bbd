//! `search-cli`: index a collection, query it, evaluate it, benchmark it.
//!
//! This binary only parses arguments, calls the `index-data` and `engine` libraries, and
//! prints. Errors end the process with one line on stderr and exit status 1 (2 for usage
//! errors, from clap).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use engine::metrics::{self, EvalOptions};
use engine::{Analysis, Engine, IndexOptions, QuerySyntax, RerankOptions};
use index_data::{DocumentFormat, JsonlFields, QrelsFormat};
use reranker::{Backend, CachedCrossEncoder, CrossEncoder, RerankerOptions, ScoreCache};

mod bench;
mod output;
mod progress;
mod run;

/// An embedded BM25 search engine with trec_eval-exact evaluation.
#[derive(Parser)]
#[command(name = "search-cli", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Index a collection (documents with an existing id are replaced).
    Index(IndexArgs),
    /// Search an index and print the ranked hits.
    Query(QueryArgs),
    /// Run a query set against an index and print evaluation measures.
    Eval(EvalArgs),
    /// Run every query of a topics file (or standard input) in one process and write the
    /// ranked hits as a TREC run or JSON lines.
    Run(run::RunArgs),
    /// Delete documents by id.
    Delete(DeleteArgs),
    /// Measure indexing throughput and query latency on a collection.
    Bench(BenchArgs),
    /// Measure reranking throughput: this project's ONNX backend against Python onnxruntime on
    /// the same pairs, the candle backend, and the tokenizer.
    BenchRerank(bench::BenchRerankArgs),
    /// Training throughput (pairs/s) phase by phase, PyTorch side by side with --torch.
    BenchTrain(bench::BenchTrainArgs),
    /// One query end to end (BM25, tokenization, cross-encoder, fusion): latency, pairs/s and
    /// nDCG@10 for each model, depth and max_len.
    BenchPipeline(bench::BenchPipelineArgs),
    /// Train and evaluate students of several losses and seeds from one configuration file
    /// (resumable: finished runs are kept), and write the results table.
    Experiment(ExperimentArgs),
    /// Distil the teacher into a small student on this index's documents (and judgments).
    Retrain(RetrainArgs),
    /// Export a candle model folder (e.g. a trained student) to ONNX, to serve it with ONNX
    /// Runtime.
    Export(ExportArgs),
}

#[derive(Args)]
struct IndexArgs {
    /// The index folder (created if missing).
    #[arg(long)]
    index: PathBuf,
    /// The input format: beir (folder or corpus.jsonl), jsonl, smart, dir.
    #[arg(long, default_value = "beir")]
    format: DocumentFormat,
    /// Skip malformed records and count them, instead of stopping at the first.
    #[arg(long)]
    skip_bad: bool,
    /// JSONL: the id field.
    #[arg(long, default_value = "id")]
    id_field: String,
    /// JSONL: the title field ("" for none).
    #[arg(long, default_value = "title")]
    title_field: String,
    /// JSONL: the body fields, comma-separated.
    #[arg(long, default_value = "text")]
    text_fields: String,
    /// Stemmer language for a new index (english, french, german, ... or none).
    #[arg(long, default_value = "english")]
    stemmer: String,
    /// Drop the stemmer language's stop words (new index only).
    #[arg(long)]
    stop_words: bool,
    /// Commit every N documents, so a killed run keeps its progress.
    #[arg(long, default_value_t = 10_000)]
    commit_every: usize,
    /// dir: make the index mirror the folder: documents whose file is gone (or no longer
    /// included) are deleted once the folder is indexed.
    #[arg(long)]
    sync: bool,
    /// dir: read only files matching this glob (repeatable; default: .txt, .md, .markdown),
    /// e.g. `**/*.rst`. Globs match the path relative to the folder.
    #[arg(long)]
    include: Vec<String>,
    /// dir: skip files matching this glob (repeatable), e.g. `drafts/**`.
    #[arg(long)]
    exclude: Vec<String>,
    /// The collection: a file or folder, depending on the format.
    path: PathBuf,
}

#[derive(Args)]
struct QueryArgs {
    /// The index folder.
    #[arg(long)]
    index: PathBuf,
    /// How many hits to print.
    #[arg(short, long, default_value_t = 10)]
    k: usize,
    /// Print one JSON document instead of a table.
    #[arg(long)]
    json: bool,
    /// Read the query in tantivy's query syntax (`+must -not "phrase" title:x`) instead of as
    /// plain text.
    #[arg(long)]
    syntax: bool,
    #[command(flatten)]
    model: ModelArgs,
    /// BM25 alone: do not rerank (the default reranks with the bundled student, except with
    /// --syntax).
    #[arg(long, conflicts_with = "rerank")]
    no_rerank: bool,
    /// BM25 candidates to rerank.
    #[arg(long, default_value_t = 100)]
    depth: usize,
    /// Weight of BM25 in the fused score, in [0, 1] (0: the cross-encoder alone). Default:
    /// the weight the model folder's fusion.json recommends, else 0.3.
    #[arg(long, value_parser = parse_alpha, allow_negative_numbers = true)]
    alpha: Option<f64>,
    /// The query text.
    text: String,
}

/// Which cross-encoder reranks, and how it runs.
#[derive(Args)]
struct ModelArgs {
    /// Rerank the BM25 candidates with a cross-encoder: a model folder, or a model's name
    /// (student, teacher). Without a value: the index's own reranker if `retrain --install`
    /// put one there, else the bundled student (assets/student).
    #[arg(long, num_args = 0..=1, default_missing_value = DEFAULT_CHOICE, value_name = "MODEL")]
    rerank: Option<String>,
    /// The longest (query, passage) input in tokens.
    #[arg(long, default_value_t = 256)]
    max_len: usize,
    /// Pairs per forward pass.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Inference threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Force a backend (onnx, candle) instead of choosing by the model folder's files.
    #[arg(long)]
    backend: Option<Backend>,
}

/// A BM25 weight: a number in [0, 1].
fn parse_alpha(s: &str) -> std::result::Result<f64, String> {
    let a: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number"))?;
    engine::check_alpha(a).map_err(|e| e.to_string())?;
    Ok(a)
}

/// The model `--rerank` uses when no model is named (and `query` uses unless
/// `--no-rerank`), if the index has none of its own.
const DEFAULT_MODEL: &str = reranker::DEFAULT_RERANKER;

/// What `--rerank` without a value means: the index's reranker, else [`DEFAULT_MODEL`].
const DEFAULT_CHOICE: &str = "default";

/// The model to rerank with: the one named, or for [`DEFAULT_CHOICE`] the index's installed
/// reranker, else the bundled student.
fn model_for(index: &std::path::Path, name: &str) -> String {
    if name != DEFAULT_CHOICE {
        return name.to_owned();
    }
    match engine::installed_reranker(index) {
        Some(dir) => dir.display().to_string(),
        None => DEFAULT_MODEL.to_owned(),
    }
}

impl ModelArgs {
    fn options(&self) -> RerankerOptions {
        RerankerOptions {
            max_len: self.max_len,
            batch_size: self.batch,
            num_threads: self.threads,
            backend: self.backend,
            ..Default::default()
        }
    }

    /// The model `--rerank` names for this index (see [`model_for`]).
    fn name(&self, index: &std::path::Path) -> Option<String> {
        self.rerank.as_deref().map(|n| model_for(index, n))
    }

    fn load(&self, index: &std::path::Path) -> Result<Option<Box<dyn CrossEncoder>>> {
        match self.name(index) {
            None => Ok(None),
            Some(name) => Ok(Some(reranker::load_cross_encoder(&name, &self.options())?)),
        }
    }
}

#[derive(Args)]
struct EvalArgs {
    /// The index folder.
    #[arg(long)]
    index: PathBuf,
    /// Queries: a BEIR folder, queries.jsonl, a `id<TAB>text` .tsv, or a SMART file.
    #[arg(long)]
    queries: PathBuf,
    /// Judgments: a file (BEIR .tsv, TREC, SMART) or a folder with `<split>.tsv` or
    /// `qrels/<split>.tsv`.
    #[arg(long)]
    qrels: PathBuf,
    /// The split, when --qrels is a folder.
    #[arg(long, default_value = "test")]
    split: String,
    /// The qrels format (beir, trec, smart); detected when not given.
    #[arg(long)]
    qrels_format: Option<QrelsFormat>,
    /// Measures, comma-separated.
    #[arg(long, default_value = "ndcg@10,rr@10,recall@100,map")]
    metrics: String,
    /// How many documents to retrieve (and, with --rerank, rerank) per query.
    #[arg(long, default_value_t = 100)]
    depth: usize,
    #[command(flatten)]
    model: ModelArgs,
    /// With --rerank: BM25 weights of the fused score to evaluate, comma-separated, each in
    /// [0, 1] (0: the cross-encoder alone). Default: the weight the model folder's
    /// fusion.json recommends, else 0.3.
    #[arg(long, value_delimiter = ',', value_parser = parse_alpha, allow_negative_numbers = true)]
    alpha: Vec<f64>,
    /// With --rerank: do not read or write the score cache (`<index>/score-cache.tsv`).
    #[arg(long)]
    no_cache: bool,
    /// The lowest relevance level that counts as relevant (trec_eval -l).
    #[arg(long, default_value_t = 1)]
    min_rel: i32,
    /// Average over every judged query, missing ones scoring 0 (trec_eval -c).
    #[arg(long)]
    complete: bool,
    /// Write the run in TREC format to this file.
    #[arg(long)]
    run_out: Option<PathBuf>,
    /// Evaluate a seeded sample of this many judged queries instead of all of them.
    #[arg(long)]
    sample: Option<usize>,
    /// The seed of --sample.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print per-query values too.
    #[arg(long)]
    per_query: bool,
    /// Print one JSON document instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct RetrainArgs {
    /// The index with the documents to train on.
    #[arg(long)]
    index: PathBuf,
    /// Judged training queries (as for eval); their judgments come from --qrels. Without
    /// them, the student is trained and chosen label-free, on pseudo-queries.
    #[arg(long, requires = "qrels")]
    queries: Option<PathBuf>,
    /// Judgments of the training queries (a file, or a folder with <split>.tsv).
    #[arg(long, requires = "queries")]
    qrels: Option<PathBuf>,
    /// The split, when --qrels is a folder. Never train on test queries.
    #[arg(long, default_value = "train")]
    split: String,
    /// Documents to make training pseudo-queries from (default: a quarter of the corpus,
    /// 100 to 800, without judged queries; none with them).
    #[arg(long)]
    pseudo_queries: Option<usize>,
    /// Kinds of pseudo-query, with weights: keywords, sentence, title (`all`, or e.g.
    /// `keywords:2,sentence:1`).
    #[arg(long, default_value = "all")]
    pseudo_kinds: trainer::PseudoMix,
    /// Keep a pseudo-query only if the teacher ranks its source document within this many of
    /// its candidates (0: keep all).
    #[arg(long, default_value_t = 3)]
    filter_top: usize,
    /// Rank for the filter by the teacher alone, or by BM25 fused with it (`fused`, at
    /// --target-alpha).
    #[arg(long, default_value = "teacher", value_parser = ["teacher", "fused"])]
    filter_by: String,
    /// Label-free dev queries held out of the pseudo-queries (default: 150; a tenth of a
    /// small corpus).
    #[arg(long)]
    pseudo_dev: Option<usize>,
    /// What the student learns: the teacher's scores, or BM25 fused with them.
    #[arg(long, default_value = "teacher", value_parser = ["teacher", "fused"])]
    target: String,
    /// BM25's weight in the fused target and the fused filter.
    #[arg(long, default_value_t = 0.3)]
    target_alpha: f64,
    /// How the best checkpoint is chosen on the dev queries: alone, or fused with BM25
    /// (default: alone with judged dev queries, fused without).
    #[arg(long)]
    select: Option<trainer::Select>,
    /// Fraction of the judged queries held out as dev queries.
    #[arg(long, default_value_t = 0.2)]
    dev_fraction: f64,
    /// Seed of the dev split and of the pseudo-queries (kept apart from --seed so that runs
    /// of several seeds share one dev set).
    #[arg(long, default_value_t = 0)]
    split_seed: u64,
    /// The teacher: a model folder or a fetched name.
    #[arg(long, default_value = "teacher")]
    teacher: String,
    /// The student's starting checkpoint (folder or fetched name: splade-tiny, minilm-l6).
    #[arg(long, default_value = "splade-tiny")]
    init: String,
    /// Keep only these layers of the checkpoint, e.g. 0,2.
    #[arg(long, value_delimiter = ',')]
    layers: Option<Vec<usize>>,
    /// Keep only the first k layers (shorthand for --layers 0,...,k-1).
    #[arg(long, conflicts_with = "layers")]
    num_layers: Option<usize>,
    /// The loss: ckl, kl, margin-mse, ce.
    #[arg(long, default_value = "ckl")]
    loss: trainer::LossKind,
    /// CKL γ.
    #[arg(long, default_value_t = 1.0)]
    gamma: f64,
    /// CKL β.
    #[arg(long, default_value_t = 0.5)]
    beta: f64,
    /// Temperature of KL and CKL.
    #[arg(long, default_value_t = 1.0)]
    tau: f64,
    /// Let CKL's gradients flow through its weights.
    #[arg(long)]
    attach_weights: bool,
    /// Passes over the training groups.
    #[arg(long, default_value_t = 6)]
    epochs: usize,
    /// Peak learning rate (10% warmup, then linear decay).
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Query groups per step.
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Candidates per group: 1 positive + sampled BM25 negatives.
    #[arg(long, default_value_t = 16)]
    group_size: usize,
    /// BM25 candidates per training query.
    #[arg(long, default_value_t = 30)]
    depth: usize,
    /// BM25 candidates per dev query while training (the fusion weight is chosen at
    /// --fusion-depth).
    #[arg(long, default_value_t = 30)]
    dev_depth: usize,
    /// BM25 candidates per dev query when the fusion weight is chosen (as `query --depth`).
    #[arg(long, default_value_t = 100)]
    fusion_depth: usize,
    /// Longest pair in tokens.
    #[arg(long, default_value_t = 256)]
    max_len: usize,
    /// Seed of the head's initialization, batch order, negative sampling and dropout.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Evaluate on dev (and checkpoint) every this many steps (0: each epoch).
    #[arg(long, default_value_t = 0)]
    eval_every: usize,
    /// Teacher threads.
    #[arg(long)]
    threads: Option<usize>,
    /// Rebuild the training groups even if OUT/groups.jsonl exists.
    #[arg(long)]
    rebuild_groups: bool,
    /// The output folder (a student `query --rerank OUT` loads; resumes if it holds a run).
    /// Default: INDEX/retrain.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Install the student as the index's own reranker (INDEX/reranker), which `query` and
    /// `eval --rerank` then use by default; refused if it does not beat BM25 on the dev
    /// queries.
    #[arg(long)]
    install: bool,
    /// Only make the training and dev queries (OUT/queries.jsonl) and show some of each
    /// kind: no teacher scoring, no training.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Args)]
struct ExperimentArgs {
    /// The experiment's JSON configuration (see experiments/scifact.json); several
    /// (comma-separated) form a queue: each worker goes on to the next configuration's runs
    /// as soon as it finds nothing left to claim in one, so no core idles between them.
    #[arg(long, value_delimiter = ',', required = true)]
    config: Vec<PathBuf>,
    /// Run only these run families (by name, comma-separated); the table is rewritten from
    /// every finished run either way.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Worker processes training runs side by side, each with cores/jobs threads. On 2 cores
    /// two one-thread workers train ~1.3x the pairs/s of one two-thread worker (bench-train:
    /// 39.3 + 38.9 vs 59.0 pairs/s), since a small student does not keep two threads busy.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Threads of this process, for training and ONNX inference (default: all cores; the
    /// configuration's `threads` for inference). `--jobs` sets it for its workers.
    #[arg(long)]
    threads: Option<usize>,
    /// Prefix log lines with the process id (set by `--jobs` for its workers).
    #[arg(long, hide = true)]
    worker: bool,
}

#[derive(Args)]
struct ExportArgs {
    /// The candle model folder (config.json, model.safetensors, tokenizer.json).
    #[arg(long)]
    model: String,
    /// The folder to write model.onnx, tokenizer.json and config.json to.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct DeleteArgs {
    /// The index folder.
    #[arg(long)]
    index: PathBuf,
    /// The ids to delete.
    #[arg(required = true)]
    ids: Vec<String>,
}

#[derive(Args)]
struct BenchArgs {
    /// The input format of the collection.
    #[arg(long, default_value = "beir")]
    format: DocumentFormat,
    /// Queries to time (default: the BEIR folder's queries.jsonl).
    #[arg(long)]
    queries: Option<PathBuf>,
    /// Documents per query.
    #[arg(short, long, default_value_t = 100)]
    k: usize,
    /// How many times each query is timed.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// How many times the whole indexing is timed (the best and median are reported).
    #[arg(long, default_value_t = 3)]
    index_rounds: usize,
    /// The collection.
    path: PathBuf,
}

/// Training allocates and frees tensors of tens of MB every step. By default glibc's malloc
/// serves those with mmap and hands them back to the OS on free, so every step pays page
/// faults and TLB shootdowns again (~15% of a training step, measured with perf). Keeping
/// freed memory in the heap for reuse made `bench-train` ~14% faster.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called first thing, before any thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Index(a) => index(a),
        Command::Query(a) => query(a),
        Command::Eval(a) => eval(a),
        Command::Run(a) => run::run(a),
        Command::Delete(a) => delete(a),
        Command::Bench(a) => bench(a),
        Command::BenchRerank(a) => bench::bench_rerank(a),
        Command::BenchTrain(a) => bench::bench_train(a),
        Command::BenchPipeline(a) => bench::bench_pipeline(a),
        Command::Experiment(a) => experiment(a),
        Command::Retrain(a) => retrain(a),
        Command::Export(a) => export(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A closed pipe (`search-cli query ... | head`) is not an error.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn index(a: IndexArgs) -> Result<()> {
    let stemmer = Analysis::parse_language(&a.stemmer)
        .with_context(|| format!("unknown stemmer language `{}`", a.stemmer))?;
    let stop_words = match (a.stop_words, stemmer) {
        (false, _) => None,
        (true, Some(lang)) => Some(lang),
        (true, None) => bail!("--stop-words needs a --stemmer language to take the list from"),
    };
    let analysis = Analysis {
        stemmer,
        stop_words,
    };
    let fields = JsonlFields {
        id: a.id_field,
        title: Some(a.title_field).filter(|t| !t.is_empty()),
        body: a
            .text_fields
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
    };
    let dir_only = a.sync || !a.include.is_empty() || !a.exclude.is_empty();
    if dir_only && a.format != DocumentFormat::Dir {
        bail!("--sync, --include and --exclude are for --format dir");
    }
    let (docs, listed): (
        index_data::DocumentStream,
        Option<(Vec<String>, index_data::DirListing)>,
    ) = if a.format == DocumentFormat::Dir {
        let filter = index_data::DirFilter {
            include: a.include.clone(),
            exclude: a.exclude.clone(),
        };
        let d = index_data::DirDocuments::with_filter(&a.path, &filter)?;
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
    let bar = output::progress_bar();
    let stats = engine.index_documents(docs, &options, &mut |s| {
        if s.indexed % 256 == 0 {
            bar.set_position(s.indexed);
        }
    })?;
    bar.finish_and_clear();
    let mut removed = None;
    if let Some((ids, _)) = &listed {
        if a.sync {
            let keep: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
            let gone: Vec<String> = engine
                .live_ids()?
                .into_iter()
                .filter(|id| !keep.contains(id.as_str()))
                .collect();
            let report = engine.delete_ids(&gone)?;
            engine.commit()?;
            removed = Some(report.found);
        }
    }
    output::print_index_stats(&stats, engine.num_docs());
    if let Some((_, l)) = &listed {
        println!(
            "folder: {} files read; left out: {} without a text ending or --include match, {} --exclude matches, {} not plain files",
            l.files, l.not_included, l.excluded, l.not_files
        );
    }
    if let Some(n) = removed {
        println!("sync: deleted {n} documents whose file is gone or no longer included");
    }
    Ok(())
}

fn query(a: QueryArgs) -> Result<()> {
    let engine = Engine::open(&a.index)?;
    let syntax = if a.syntax {
        QuerySyntax::Tantivy
    } else {
        QuerySyntax::Lenient
    };
    let mut out = std::io::stdout().lock();
    let name = match (&a.model.rerank, a.no_rerank, a.syntax) {
        (_, true, _) | (None, false, true) => None,
        (Some(n), false, _) => Some(model_for(&a.index, n)),
        (None, false, false) => Some(model_for(&a.index, DEFAULT_CHOICE)),
    };
    if let Some(name) = name {
        if a.syntax {
            bail!("--syntax and --rerank cannot be combined (reranking reads the query as text)");
        }
        let model = reranker::load_cross_encoder(&name, &a.model.options()).map_err(|e| {
            if a.model.rerank.is_none() {
                anyhow::anyhow!("{e} (the default reranker; --no-rerank queries BM25 alone)")
            } else {
                e.into()
            }
        })?;
        let options = RerankOptions {
            depth: a.depth,
            alpha: a.alpha.unwrap_or_else(|| default_alpha(&name)),
        };
        let hits = engine::search_reranked(&engine, model.as_ref(), &a.text, a.k, &options)?;
        if a.json {
            output::write_reranked_json(&mut out, &a.text, &hits)?;
        } else {
            output::write_reranked_table(&mut out, &hits)?;
        }
    } else {
        let hits = engine.search_with(&a.text, a.k, syntax)?;
        if a.json {
            output::write_hits_json(&mut out, &a.text, &hits)?;
        } else {
            output::write_hits_table(&mut out, &hits)?;
        }
    }
    out.flush()?;
    Ok(())
}

fn eval(a: EvalArgs) -> Result<()> {
    let measures = metrics::parse_measures(&a.metrics)?;
    let engine = Engine::open(&a.index)?;
    let qrels = index_data::load_qrels(&a.qrels, Some(&a.split), a.qrels_format)?;
    check_qrels_match(&engine, &qrels, &a.qrels)?;
    let all = index_data::read_queries(&a.queries)?;
    let total = all.len();
    let queries: Vec<_> = all
        .into_iter()
        .filter(|q| qrels.get(&q.id).is_some())
        .collect();
    if queries.len() < total {
        eprintln!(
            "note: {} of {total} queries of {} have no judgments in {} and are not evaluated (nor in --run-out; `search-cli run` makes a run of every query)",
            total - queries.len(),
            a.queries.display(),
            a.qrels.display()
        );
    }
    let queries = match a.sample {
        Some(n) => index_data::sample_queries(queries, n, a.seed),
        None => queries,
    };
    if queries.is_empty() {
        bail!(
            "no query of {} is judged in {}",
            a.queries.display(),
            a.qrels.display()
        );
    }
    let options = EvalOptions {
        min_relevance: a.min_rel,
        complete: a.complete,
        ..Default::default()
    };
    let mut systems: Vec<(String, engine::metrics::Evaluation)> = Vec::new();
    let mut runs: Vec<(String, index_data::Run)> = Vec::new();
    match a.model.load(&a.index)? {
        None => {
            let run = engine::bm25_run(&engine, &queries, a.depth)?;
            systems.push((
                "bm25".into(),
                metrics::evaluate(&qrels, &run, &measures, &options),
            ));
            runs.push(("bm25".into(), run));
        }
        Some(model) => {
            let scores = if a.no_cache {
                score_with_progress(&engine, model.as_ref(), &queries, a.depth)?
            } else {
                let cache = ScoreCache::open(a.index.join("score-cache.tsv"))?;
                let cached = CachedCrossEncoder::new(model, cache, 256);
                score_with_progress(&engine, &cached, &queries, a.depth)?
            };
            let name = a
                .model
                .name(&a.index)
                .unwrap_or_else(|| DEFAULT_MODEL.into());
            let label = model_label(&a.index, &name);
            let mut alphas = vec![1.0, 0.0];
            if a.alpha.is_empty() {
                alphas.push(default_alpha(&name));
            }
            alphas.extend(a.alpha.iter().copied());
            let mut seen = Vec::new();
            for alpha in alphas {
                if seen.contains(&alpha) {
                    continue;
                }
                seen.push(alpha);
                let system = match alpha {
                    x if x >= 1.0 => "bm25".to_string(),
                    x if x <= 0.0 => format!("{label} alone"),
                    x => format!("bm25+{label} a={x}"),
                };
                let run = scores.run(alpha);
                systems.push((
                    system.clone(),
                    metrics::evaluate(&qrels, &run, &measures, &options),
                ));
                runs.push((system, run));
            }
        }
    };
    if let Some(path) = &a.run_out {
        for p in write_runs(path, &runs)? {
            eprintln!("wrote {}", p.display());
        }
    }
    let mut out = std::io::stdout().lock();
    if a.json {
        output::write_eval_json(&mut out, &systems, queries.len(), a.per_query)?;
    } else {
        output::write_eval_table(&mut out, &systems, queries.len(), a.per_query)?;
    }
    out.flush()?;
    Ok(())
}

/// Writes each system's run as a TREC run file: to `path` if there is one system, else to
/// `path` with the system's name before the extension (`run.bm25.txt`, ...).
fn write_runs(path: &std::path::Path, runs: &[(String, index_data::Run)]) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (system, run) in runs {
        let tag: String = system
            .chars()
            .map(|c| {
                if c.is_whitespace() || c == '/' {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        let file = if runs.len() == 1 {
            path.to_path_buf()
        } else {
            let stem = path
                .file_stem()
                .map_or("run".into(), |s| s.to_string_lossy());
            let name = match path.extension() {
                Some(ext) => format!("{stem}.{tag}.{}", ext.to_string_lossy()),
                None => format!("{stem}.{tag}"),
            };
            path.with_file_name(name)
        };
        index_data::write_trec_run(&file, run, &tag)?;
        written.push(file);
    }
    Ok(written)
}

/// A short name for a model in tables: a fetched or bundled name as it is, the index's own
/// reranker as `index-reranker`, another folder by its name.
fn model_label(index: &std::path::Path, name: &str) -> String {
    if reranker::KNOWN_MODELS.contains(&name) {
        return name.to_owned();
    }
    let path = std::path::Path::new(name);
    if engine::installed_reranker(index).is_some_and(|d| d == path) {
        return "index-reranker".into();
    }
    path.file_name()
        .map_or_else(|| name.to_owned(), |n| n.to_string_lossy().into_owned())
}

/// Refuses judgments none of whose documents is in the index: the qrels belong to another
/// collection, or their format was misread, and every metric would be 0.
fn check_qrels_match(
    engine: &Engine,
    qrels: &index_data::Qrels,
    path: &std::path::Path,
) -> Result<()> {
    let mut checked = 0;
    for docs in qrels.by_query.values() {
        for doc in docs.keys() {
            if engine.contains(doc)? {
                return Ok(());
            }
            checked += 1;
            if checked >= 2000 {
                break;
            }
        }
        if checked >= 2000 {
            break;
        }
    }
    if checked == 0 {
        bail!("{} holds no judgments", path.display());
    }
    bail!(
        "none of the {checked} judged documents checked from {} is in the index {}: the judgments belong to another collection, or their format was misread (name it with --qrels-format)",
        path.display(),
        engine.path().display()
    )
}

/// The BM25 weight for `model` (a name or folder): its fusion.json's, else the engine's.
fn default_alpha(model: &str) -> f64 {
    reranker::resolve_model(model)
        .ok()
        .and_then(|dir| reranker::recommended_alpha(&dir))
        .unwrap_or(engine::DEFAULT_ALPHA)
}

fn score_with_progress(
    engine: &Engine,
    model: &dyn CrossEncoder,
    queries: &[index_data::Query],
    depth: usize,
) -> Result<engine::CandidateScores> {
    let bar = output::query_bar(queries.len() as u64);
    let scores = engine::score_candidates(engine, model, queries, depth, &mut |done, _| {
        bar.set_position(done as u64)
    })?;
    bar.finish_and_clear();
    Ok(scores)
}

fn experiment(a: ExperimentArgs) -> Result<()> {
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
        let mut children = Vec::new();
        for _ in 0..a.jobs {
            let mut cmd = std::process::Command::new(&exe);
            cmd.arg("experiment");
            for path in &a.config {
                cmd.arg("--config").arg(path);
            }
            cmd.arg("--threads")
                .arg(threads.to_string())
                .arg("--worker")
                .env("RAYON_NUM_THREADS", threads.to_string());
            if !a.only.is_empty() {
                cmd.arg("--only").arg(a.only.join(","));
            }
            children.push(cmd.spawn().context("starting a worker")?);
            // Let the first worker claim its run (and any shared work) before the next looks.
            std::thread::sleep(std::time::Duration::from_secs(2));
        }
        let mut failed = 0;
        for mut c in children {
            if !c.wait().context("waiting for a worker")?.success() {
                failed += 1;
            }
        }
        if failed > 0 {
            bail!(
                "{failed} of {} workers failed (see their messages above)",
                a.jobs
            );
        }
    }
    let pid = std::process::id();
    for cfg in &cfgs {
        trainer::experiment::run_experiment(cfg, &a.only, &mut |line| {
            if a.worker {
                eprintln!("[worker {pid}] {line}");
            } else {
                eprintln!("{line}");
            }
        })?;
        if !a.worker {
            println!("{}", cfg.out.join(format!("{}.md", cfg.table)).display());
        }
    }
    Ok(())
}

fn retrain(a: RetrainArgs) -> Result<()> {
    let labeled = match (&a.queries, &a.qrels) {
        (Some(q), Some(r)) => {
            if a.split == "test" {
                bail!("refusing to train on test queries (--split test)");
            }
            let qrels = index_data::load_qrels(r, Some(&a.split), None)?;
            Some((index_data::read_queries(q)?, qrels))
        }
        _ => None,
    };
    let init = reranker::resolve_model(&a.init)?;
    let layers = match (a.layers, a.num_layers) {
        (Some(l), _) => Some(l),
        (None, Some(k)) => Some((0..k).collect()),
        (None, None) => None,
    };
    let fused = trainer::RankBy::Fused {
        alpha: a.target_alpha,
    };
    let select = a.select.unwrap_or(if labeled.is_some() {
        trainer::Select::Alone
    } else {
        trainer::Select::Fused
    });
    let out = a.out.clone().unwrap_or_else(|| a.index.join("retrain"));
    let options = trainer::RetrainOptions {
        index: a.index.clone(),
        labeled,
        pseudo: trainer::PseudoOptions {
            queries: a.pseudo_queries,
            mix: a.pseudo_kinds,
            filter: trainer::ConsistencyFilter {
                top: a.filter_top,
                by: if a.filter_by == "fused" {
                    fused
                } else {
                    trainer::RankBy::Teacher
                },
            },
            dev: a.pseudo_dev,
        },
        dev_fraction: a.dev_fraction,
        split_seed: a.split_seed,
        teacher: a.teacher,
        teacher_options: RerankerOptions {
            max_len: a.max_len,
            num_threads: a.threads,
            ..Default::default()
        },
        depth: a.depth,
        score_cache: None,
        rebuild_groups: a.rebuild_groups,
        train: trainer::TrainConfig {
            loss: a.loss,
            gamma: a.gamma,
            beta: a.beta,
            tau: a.tau,
            attach_weights: a.attach_weights,
            epochs: a.epochs,
            lr: a.lr,
            batch: a.batch,
            group_size: a.group_size,
            max_len: a.max_len,
            seed: a.seed,
            eval_every: a.eval_every,
            dev_depth: a.dev_depth,
            init,
            layers,
            target: if a.target == "fused" {
                trainer::Target::Fused {
                    alpha: a.target_alpha,
                }
            } else {
                trainer::Target::Teacher
            },
            select,
            ..Default::default()
        },
        fusion_depth: a.fusion_depth,
        out: out.clone(),
    };
    let mut progress = progress::StageProgress::new();
    if a.dry_run {
        let (train, dev) = trainer::dry_run(&options, &mut |s, d, t| {
            progress.update(s.name(), "documents", d, t)
        })?;
        progress.finish();
        output::print_queries(&train, &dev, &out);
        return Ok(());
    }
    let report = trainer::retrain(&options, &mut |stage, done, total| {
        let unit = match stage {
            trainer::Stage::Queries => "documents",
            trainer::Stage::Training => "steps",
            _ => "queries",
        };
        progress.update(stage.name(), unit, done, total)
    })?;
    progress.finish();
    output::print_retrain(&report, &out);
    if a.install {
        match trainer::install(&out, &a.index)? {
            Ok(dir) => println!(
                "installed as the reranker of {} ({}): `search-cli query --index {}` now reranks with it",
                a.index.display(),
                dir.display(),
                a.index.display()
            ),
            Err(trainer::NotInstalled::NoGain(f)) => println!(
                "not installed: on its dev queries the student does not beat BM25 ({}); the index keeps its current reranker",
                f.chosen_on
            ),
        }
    }
    Ok(())
}

fn export(a: ExportArgs) -> Result<()> {
    let src = reranker::resolve_model(&a.model)?;
    reranker::export_onnx_dir(&src, &a.out)?;
    println!("wrote {}", a.out.join("model.onnx").display());
    Ok(())
}

fn delete(a: DeleteArgs) -> Result<()> {
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

fn bench(a: BenchArgs) -> Result<()> {
    let docs: Vec<_> = index_data::open_documents(a.format, &a.path, &JsonlFields::default())?
        .collect::<index_data::Result<_>>()?;
    let queries_path = a.queries.clone().unwrap_or_else(|| a.path.clone());
    let queries = index_data::read_queries(&queries_path)?;
    let mut reports = Vec::new();
    for _ in 0..a.index_rounds.max(1) {
        let dir = tempfile::tempdir()?;
        let rounds = if reports.is_empty() { a.rounds } else { 0 };
        reports.push(engine::bench::bench_bm25(
            dir.path(),
            docs.clone(),
            &queries,
            a.k,
            rounds,
        )?);
    }
    output::print_bench(&reports, queries.len(), a.k);
    Ok(())
}
