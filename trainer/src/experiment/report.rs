//! The results table: every finished run of a configuration gathered into one typed
//! [`Report`], rendered to Markdown (`<table>.md`) and serialized as JSON (`<table>.json`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::claims::{read_json, write_atomic, write_json};
use super::stats::{mean_std, paired_t, pm, significant};
use super::{run_dir, Baseline, DevFused, ExperimentConfig, RunResult, Scores, MEASURES};
use crate::error::Result;

/// Mean, sample standard deviation and count of one value over seeds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (0 for one value).
    pub std: f64,
    /// Values.
    pub n: usize,
}

impl Spread {
    fn of(xs: &[f64]) -> Option<Spread> {
        (!xs.is_empty()).then(|| {
            let (mean, std) = mean_std(xs);
            Spread {
                mean,
                std,
                n: xs.len(),
            }
        })
    }

    fn cell(&self) -> String {
        pm(self.mean, self.std, self.n)
    }
}

/// One line of a collection's table: a baseline, or a family reported one way.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The system (`BM25`, `kl fused a=0.5` ...).
    pub system: String,
    /// Seeds averaged (`None` for a baseline).
    pub n: Option<usize>,
    /// Means of [`MEASURES`].
    pub mean: Vec<f64>,
    /// Their sample standard deviations.
    pub std: Vec<f64>,
    /// The seeds.
    pub seeds: Vec<u64>,
    /// The family's best dev nDCG@10 (student alone).
    pub dev_ndcg10: Option<Spread>,
    /// Training pairs per run.
    pub pairs_mean: Option<f64>,
    /// Training minutes per run.
    pub train_minutes_mean: Option<f64>,
}

/// One collection's table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Collection {
    /// Its name.
    pub name: String,
    /// Its rows.
    pub rows: Vec<Row>,
}

/// The per-seed differences of one paired comparison, one way of reporting.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairedCell {
    /// `alone`, `fused` or `fused_dev_alpha`.
    pub kind: &'static str,
    /// Differences (first family minus second, same seed).
    pub diffs: Vec<f64>,
    /// Their mean.
    pub mean: f64,
    /// Their sample standard deviation.
    pub std: f64,
    /// The paired t.
    pub t: f64,
}

/// Two families compared seed by seed on one collection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Paired {
    /// The first family.
    pub first: String,
    /// The second.
    pub second: String,
    /// The collection.
    pub collection: String,
    /// Alone, fused, fused at the dev alpha.
    pub cells: Vec<PairedCell>,
}

/// A family ranked by its dev nDCG@10.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FamilyDev {
    /// The family.
    pub family: String,
    /// Dev nDCG@10, student alone.
    pub dev: Spread,
    /// Dev nDCG@10 fused with BM25 at each run's best alpha.
    pub fused: Option<Spread>,
}

/// A run ranked by its dev nDCG@10 fused with BM25 (the shipping criterion).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunDevFused {
    /// `<family>-s<seed>`.
    pub run: String,
    /// Dev nDCG@10 fused at its best alpha.
    pub ndcg10: f64,
    /// That alpha.
    pub alpha: f64,
    /// Dev nDCG@10 alone.
    pub alone: Option<f64>,
}

/// Everything the table shows.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// What was trained and how, in words.
    pub description: String,
    /// The measures' names.
    pub measures: Vec<String>,
    /// The fusion weight of the `fused` rows.
    pub alpha: f64,
    /// One table per evaluation collection.
    pub collections: Vec<Collection>,
    /// The paired comparisons the configuration asks for.
    pub paired: Vec<Paired>,
    /// Families by mean dev nDCG@10 (the selection criterion).
    pub families_by_dev: Vec<FamilyDev>,
    /// Runs by dev nDCG@10 fused (best first).
    pub runs_by_dev_fused: Vec<RunDevFused>,
    /// The dev setting those were measured in: (BM25 depth, queries, BM25 alone).
    pub dev_setting: Option<(usize, usize, f64)>,
    /// Training candidates per dev query of the `dev alone` numbers.
    pub train_depth: usize,
    /// Every finished run's result.
    pub runs: Vec<RunResult>,
}

/// The three ways a student is reported.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Alone,
    Fused,
    FusedDevAlpha,
}

const KINDS: [Kind; 3] = [Kind::Alone, Kind::Fused, Kind::FusedDevAlpha];

impl Kind {
    fn of<'a>(self, r: &'a RunResult, collection: &str) -> Option<&'a Scores> {
        match self {
            Kind::Alone => r.alone.get(collection),
            Kind::Fused => r.fused.get(collection),
            Kind::FusedDevAlpha => r.fused_dev_alpha.get(collection),
        }
    }

    fn key(self) -> &'static str {
        match self {
            Kind::Alone => "alone",
            Kind::Fused => "fused",
            Kind::FusedDevAlpha => "fused_dev_alpha",
        }
    }

    fn label(self, family: &str, alpha: f64) -> String {
        match self {
            Kind::Alone => format!("{family} alone"),
            Kind::Fused => format!("{family} fused a={alpha}"),
            Kind::FusedDevAlpha => format!("{family} fused a=dev"),
        }
    }
}

impl Report {
    /// Gathers the report of `results` (finished runs of `cfg`) and the `baselines`.
    pub fn build(
        cfg: &ExperimentConfig,
        baselines: &BTreeMap<String, Baseline>,
        results: Vec<RunResult>,
    ) -> Report {
        let measures: Vec<String> = MEASURES.iter().map(|m| m.to_string()).collect();
        let description = format!(
            "Students trained from `{}` on `{}` ({} epochs, lr {}, {} groups of {} a step, max_len {}); \
             fused = BM25 fused with the student at alpha {} (min-max normalized scores); \
             fused a=dev = at each run's own best alpha on the dev queries. \
             mean ± sample std over seeds; n = seeds finished.",
            cfg.init,
            cfg.train_index.display(),
            cfg.train.epochs,
            cfg.train.lr,
            cfg.train.batch,
            cfg.train.group_size,
            cfg.train.max_len,
            cfg.alpha
        );
        let mut collections = Vec::new();
        for set in &cfg.evals {
            let mut rows = Vec::new();
            if let Some(b) = baselines.get(&set.name) {
                for (label, v) in [
                    ("BM25".to_string(), &b.bm25),
                    ("teacher alone".to_string(), &b.teacher),
                    (format!("teacher fused a={}", cfg.alpha), &b.teacher_fused),
                ] {
                    rows.push(Row {
                        system: label,
                        n: None,
                        mean: v.clone(),
                        std: vec![0.0; v.len()],
                        seeds: Vec::new(),
                        dev_ndcg10: None,
                        pairs_mean: None,
                        train_minutes_mean: None,
                    });
                }
            }
            for spec in &cfg.runs {
                let mine: Vec<&RunResult> =
                    results.iter().filter(|r| r.name == spec.name).collect();
                if mine.is_empty() {
                    continue;
                }
                for kind in KINDS {
                    let per: Vec<&Scores> =
                        mine.iter().filter_map(|r| kind.of(r, &set.name)).collect();
                    if per.is_empty() {
                        continue;
                    }
                    let (mut mean, mut std) = (Vec::new(), Vec::new());
                    for i in 0..measures.len() {
                        let xs: Vec<f64> = per.iter().map(|v| v[i]).collect();
                        let (m, s) = mean_std(&xs);
                        mean.push(m);
                        std.push(s);
                    }
                    let dev: Vec<f64> = mine
                        .iter()
                        .filter_map(|r| r.dev_ndcg10.map(|d| d.0))
                        .collect();
                    let runs = mine.len() as f64;
                    rows.push(Row {
                        system: kind.label(&spec.name, cfg.alpha),
                        n: Some(per.len()),
                        mean,
                        std,
                        seeds: mine.iter().map(|r| r.seed).collect(),
                        dev_ndcg10: Spread::of(&dev),
                        pairs_mean: Some(mine.iter().map(|r| r.pairs as f64).sum::<f64>() / runs),
                        train_minutes_mean: Some(
                            mine.iter().map(|r| r.train_seconds).sum::<f64>() / runs / 60.0,
                        ),
                    });
                }
            }
            collections.push(Collection {
                name: set.name.clone(),
                rows,
            });
        }

        // Paired comparisons: the same seed means the same head initialization and batch order.
        let mut paired = Vec::new();
        for (a, b) in &cfg.compare {
            for set in &cfg.evals {
                let cells = KINDS
                    .iter()
                    .map(|&kind| {
                        let pick =
                            |r: &RunResult| kind.of(r, &set.name).and_then(|v| v.first().copied());
                        let diffs: Vec<f64> = results
                            .iter()
                            .filter(|r| &r.name == a)
                            .filter_map(|ra| {
                                let rb =
                                    results.iter().find(|r| &r.name == b && r.seed == ra.seed)?;
                                Some(pick(ra)? - pick(rb)?)
                            })
                            .collect();
                        let (mean, std) = mean_std(&diffs);
                        PairedCell {
                            kind: kind.key(),
                            t: paired_t(mean, std, diffs.len()),
                            diffs,
                            mean,
                            std,
                        }
                    })
                    .collect();
                paired.push(Paired {
                    first: a.clone(),
                    second: b.clone(),
                    collection: set.name.clone(),
                    cells,
                });
            }
        }

        // Selection is on dev only: the families ranked by their mean dev nDCG@10.
        let best_fused = |r: &RunResult| r.dev_fused.as_ref().and_then(DevFused::best);
        let mut families_by_dev: Vec<FamilyDev> = cfg
            .runs
            .iter()
            .filter_map(|spec| {
                let family = || results.iter().filter(|r| r.name == spec.name);
                let dev: Vec<f64> = family().filter_map(|r| r.dev_ndcg10.map(|d| d.0)).collect();
                let fused: Vec<f64> = family().filter_map(|r| Some(best_fused(r)?.1)).collect();
                Some(FamilyDev {
                    family: spec.name.clone(),
                    dev: Spread::of(&dev)?,
                    fused: Spread::of(&fused),
                })
            })
            .collect();
        families_by_dev.sort_by(|a, b| {
            b.dev
                .mean
                .total_cmp(&a.dev.mean)
                .then(a.family.cmp(&b.family))
        });

        // The default reranker is used fused, so it is chosen by its fused dev score.
        let mut by_fused: Vec<(&RunResult, (f64, f64))> = results
            .iter()
            .filter_map(|r| Some((r, best_fused(r)?)))
            .collect();
        by_fused.sort_by(|a, b| {
            (b.1 .1)
                .total_cmp(&a.1 .1)
                .then(a.0.name.cmp(&b.0.name))
                .then(a.0.seed.cmp(&b.0.seed))
        });
        let dev_setting = by_fused.first().and_then(|(r, _)| {
            let d = r.dev_fused.as_ref()?;
            Some((d.depth, d.queries, d.bm25))
        });
        let runs_by_dev_fused = by_fused
            .iter()
            .map(|(r, (alpha, ndcg))| RunDevFused {
                run: format!("{}-s{}", r.name, r.seed),
                ndcg10: *ndcg,
                alpha: *alpha,
                alone: r.dev_ndcg10.map(|d| d.0),
            })
            .collect();
        Report {
            description,
            measures,
            alpha: cfg.alpha,
            collections,
            paired,
            families_by_dev,
            runs_by_dev_fused,
            dev_setting,
            train_depth: cfg.depth,
            runs: results,
        }
    }

    /// The report as Markdown tables.
    pub fn to_markdown(&self) -> String {
        let mut md = format!("{}\n\n", self.description);
        for c in &self.collections {
            md.push_str(&format!("### {}\n\n| system | n |", c.name));
            for n in &self.measures {
                md.push_str(&format!(" {n} |"));
            }
            md.push_str(" dev nDCG@10 | pairs | train min |\n|---|---|");
            md.push_str(&"---|".repeat(self.measures.len() + 3));
            md.push('\n');
            for r in &c.rows {
                match r.n {
                    None => {
                        md.push_str(&format!("| {} | – |", r.system));
                        for x in &r.mean {
                            md.push_str(&format!(" {x:.4} |"));
                        }
                        md.push_str(" | | |\n");
                    }
                    Some(n) => {
                        md.push_str(&format!("| {} | {n} |", r.system));
                        for (m, s) in r.mean.iter().zip(&r.std) {
                            md.push_str(&format!(" {} |", pm(*m, *s, n)));
                        }
                        let dev = r.dev_ndcg10.map_or(pm(f64::NAN, f64::NAN, 0), |d| d.cell());
                        md.push_str(&format!(
                            " {dev} | {:.0} | {:.1} |\n",
                            r.pairs_mean.unwrap_or(0.0),
                            r.train_minutes_mean.unwrap_or(0.0)
                        ));
                    }
                }
            }
            md.push('\n');
        }
        if !self.paired.is_empty() {
            md.push_str(&format!(
                "### Paired by seed: nDCG@10 of the first family minus the second\n\n\
                 | comparison | collection | n | alone: mean diff ± std (t) | fused a={} | fused a=dev |\n\
                 |---|---|---|---|---|---|\n",
                self.alpha
            ));
            for p in &self.paired {
                let n = p.cells[0].diffs.len();
                let cells: Vec<String> = p
                    .cells
                    .iter()
                    .map(|c| {
                        let k = c.diffs.len();
                        if k == 0 {
                            String::new()
                        } else if k != n {
                            format!("{:+.4} (n {k})", c.mean)
                        } else if k < 2 {
                            format!("{:+.4}", c.mean)
                        } else {
                            let star = if significant(c.t, k) { " *" } else { "" };
                            format!("{:+.4} ± {:.4} ({:.2}{star})", c.mean, c.std, c.t)
                        }
                    })
                    .collect();
                md.push_str(&format!(
                    "| {} − {} | {} | {n} | {} | {} | {} |\n",
                    p.first, p.second, p.collection, cells[0], cells[1], cells[2]
                ));
            }
            md.push_str(
                "\n(t = mean / (std / √n) with n − 1 degrees of freedom; * = p < 0.05 two-sided, \
                 i.e. |t| above 12.71, 4.30, 3.18, 2.78 at n = 2, 3, 4, 5. Few seeds make this a \
                 weak test: read the means and spreads first.)\n\n",
            );
        }
        if !self.families_by_dev.is_empty() {
            md.push_str("### Families by dev nDCG@10 (student alone; the selection criterion)\n\n");
            md.push_str(
                "| family | n | dev nDCG@10 | dev fused with BM25, each run's best alpha |\n\
                 |---|---|---|---|\n",
            );
            for f in &self.families_by_dev {
                let fused = f
                    .fused
                    .map_or(String::new(), |s| format!("{} (n {})", s.cell(), s.n));
                md.push_str(&format!(
                    "| {} | {} | {} | {fused} |\n",
                    f.family,
                    f.dev.n,
                    f.dev.cell()
                ));
            }
            md.push('\n');
        }
        if let Some((depth, queries, bm25)) = self.dev_setting {
            md.push_str(&format!(
                "### Runs by dev nDCG@10 fused with BM25 (the shipping criterion; BM25 top {depth}, \
                 {queries} dev queries, BM25 alone {bm25:.4})\n\n"
            ));
            md.push_str(&format!(
                "| run | dev fused | alpha | dev alone (top {}) |\n|---|---|---|---|\n",
                self.train_depth
            ));
            for r in self.runs_by_dev_fused.iter().take(10) {
                let alone = r.alone.map_or(String::new(), |a| format!("{a:.4}"));
                md.push_str(&format!(
                    "| {} | {:.4} | {} | {alone} |\n",
                    r.run, r.ndcg10, r.alpha
                ));
            }
            if self.runs_by_dev_fused.len() > 10 {
                md.push_str(&format!(
                    "\n({} more in the JSON.)\n",
                    self.runs_by_dev_fused.len() - 10
                ));
            }
            md.push('\n');
        }
        md
    }
}

/// Collects every finished run's `result.json` and writes `<table>.md` and `<table>.json`.
pub fn write_table(cfg: &ExperimentConfig, baselines: &BTreeMap<String, Baseline>) -> Result<()> {
    let mut results: Vec<RunResult> = Vec::new();
    for spec in &cfg.runs {
        for &seed in &spec.seeds {
            let p = run_dir(cfg, &spec.name, seed).join("result.json");
            if p.exists() {
                results.push(read_json(&p)?);
            }
        }
    }
    let report = Report::build(cfg, baselines, results);
    write_atomic(
        &cfg.out.join(format!("{}.md", cfg.table)),
        report.to_markdown().as_bytes(),
    )?;
    write_json(&cfg.out.join(format!("{}.json", cfg.table)), &report)
}
