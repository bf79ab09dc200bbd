//! `search-cli retrain`.

use anyhow::Result;
use reranker::RerankerOptions;

use crate::args::RetrainArgs;
use crate::output;

/// A median body longer than this (two 150-word windows laid end to end) makes `retrain`
/// train on passages unless `--passages` is given.
const LONG_BODY_WORDS: usize = 300;

/// Passages `retrain` reads long documents as when `--passages` is not given.
const LONG_PASSAGES: u16 = 4;

/// `--passages`, or the default for the index: [`LONG_PASSAGES`] when its documents are
/// long, else 1 (docs/RESULTS.md §6: on a long-document collection, label-free students
/// trained on first passages fell below BM25 in two seeds of three, those trained on four
/// passages were above it in all three). Says what it chose and why on stderr.
fn passages(a: &RetrainArgs) -> Result<u16> {
    let words = search::median_body_words(&search::Engine::open(&a.index)?, 200, 0)?;
    let long = words > LONG_BODY_WORDS;
    let index = a.index.display();
    Ok(match a.passages {
        Some(1) if long => {
            eprintln!(
                "note: the documents of {index} are long (median {words} words of body) and --passages 1 reads about the first 150–200 of each; without it, retrain trains and reranks on their best 150-word windows (--passages {LONG_PASSAGES})"
            );
            1
        }
        Some(n) => n,
        None if long => {
            eprintln!(
                "note: the documents of {index} are long (median {words} words of body): training and reranking on up to {LONG_PASSAGES} passages of 150 words each (MaxP; the teacher scores up to {LONG_PASSAGES}× the pairs); --passages 1 reads the first only"
            );
            LONG_PASSAGES
        }
        None => 1,
    })
}

pub fn retrain(a: RetrainArgs) -> Result<()> {
    let passages = passages(&a)?;
    let labeled_given = a.queries.is_some();
    let labeled = match (&a.queries, &a.qrels) {
        (Some(q), Some(r)) => Some(trainer::load_training_judgments(q, r, &a.split)?),
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
        depth: a.depth.unwrap_or(if labeled_given { 30 } else { 20 }),
        score_cache: None,
        rebuild_groups: a.rebuild_groups,
        extra_groups: a.extra_groups,
        passages: search::Passages::max_p(usize::from(passages)),
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
            patience: a.patience.unwrap_or(if labeled_given { 0 } else { 2 }),
            ..Default::default()
        },
        fusion_depth: a.fusion_depth,
        out: out.clone(),
    };
    let mut queries = crate::progress::StageProgress::new();
    let plan = trainer::plan(&options, &mut |s, d, t| {
        queries.update(s.name(), "documents", d, t)
    })?;
    queries.finish();
    // Said before the teacher's work, in a dry run too, where the user decides.
    if plan.no_dev_query() {
        eprintln!(
            "note: no label-free dev query can be made from {} (its documents have no title and no sentence that can be taken out of them, which a dev query needs), so nothing can show that the student beats BM25: it will be trained and saved, and fused at alpha 1.0 (BM25 alone). Judged queries (--queries, --qrels) give it a dev set",
            options.index.display()
        );
    }
    if a.dry_run {
        output::print_queries(plan.train(), plan.dev(), &out);
        return Ok(());
    }
    let mut progress = crate::progress::StageProgress::new();
    let report = trainer::retrain_planned(&options, plan, &mut |stage, done, total| {
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
            Err(trainer::NotInstalled::NotBetter(f)) => println!(
                "not installed: on its dev queries the student does not beat the reranker in use ({}); the index keeps it",
                f.chosen_on
            ),
        }
    }
    Ok(())
}
