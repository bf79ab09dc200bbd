//! A student's fusion weight (`fusion.json`: chosen on dev queries, BM25 alone when the
//! student does not beat it) and installing a student as an index's own reranker, which
//! refuses one that beats neither BM25 nor the reranker in use.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::dev::{DevKind, DevScores, DevSet};
use crate::error::{Error, Result};

/// The BM25 weight chosen for a student, and on what (`fusion.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fusion {
    /// BM25's weight in `alpha·minmax(bm25) + (1−alpha)·minmax(student)`; 1.0 when the
    /// student did not beat BM25 on the dev queries.
    pub alpha: f64,
    /// How it was chosen, in words.
    pub chosen_on: String,
    /// Where the dev judgments came from (`None`: there were no dev queries).
    pub dev_kind: Option<DevKind>,
    /// Dev queries.
    pub dev_queries: usize,
    /// BM25 candidates per dev query.
    pub depth: usize,
    /// nDCG@10 on them: alone, BM25, fused at each weight.
    pub dev: Option<DevScores>,
    /// Dev nDCG@10 gain over BM25 at `alpha`.
    pub gain: f64,
    /// True if the student fused beats BM25 on the dev queries by at least [`MIN_GAIN`].
    pub beats_bm25: bool,
    /// The reranker the index used before this run (its installed one, else the bundled
    /// student), fused at its own weight on the same dev queries; `None` if it could not be
    /// loaded.
    #[serde(default)]
    pub current: Option<Current>,
    /// Passages the student reads a long document as, in training and on dev (1: the first
    /// only): what `query` and `eval` read with it unless told otherwise.
    #[serde(default = "one")]
    pub passages: usize,
}

fn one() -> usize {
    1
}

/// The reranker a retrained student would replace, measured on the student's dev queries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Current {
    /// Its name (`student` for the bundled one, `index-reranker` for an installed one).
    pub name: String,
    /// Its BM25 weight.
    pub alpha: f64,
    /// Dev nDCG@10 fused at that weight.
    pub dev_ndcg: f64,
    /// True if the new student's best fused dev nDCG@10 beats it by at least [`MIN_GAIN`].
    pub beaten: bool,
}

/// The dev gain in nDCG@10 a student must show over BM25 to be used: a margin against the
/// optimism of picking the best of eleven weights on the same queries.
pub const MIN_GAIN: f64 = 0.005;

impl Fusion {
    /// Chooses the weight from a dev evaluation (the best fused weight; BM25 if that does
    /// not beat BM25 by [`MIN_GAIN`]).
    pub fn choose(dev: &DevSet, scores: DevScores) -> Fusion {
        let (alpha, best) = scores.best_fused();
        let gain = best - scores.bm25;
        let beats = gain >= MIN_GAIN;
        let what = match dev.kind {
            DevKind::Judged => "held-out judged queries",
            DevKind::Pseudo => "held-out pseudo-queries (label-free)",
        };
        Fusion {
            alpha: if beats { alpha } else { 1.0 },
            chosen_on: format!(
                "{} {what}, BM25 top {}: nDCG@10 fused {best:.4} at alpha {alpha:.1}, BM25 {:.4}, student alone {:.4}{}",
                dev.len(),
                dev.depth,
                scores.bm25,
                scores.alone,
                if beats {
                    String::new()
                } else {
                    format!("; a gain under {MIN_GAIN}: BM25 alone (alpha 1.0)")
                }
            ),
            dev_kind: Some(dev.kind),
            dev_queries: dev.len(),
            depth: dev.depth,
            dev: Some(scores),
            gain: if beats { gain } else { 0.0 },
            beats_bm25: beats,
            current: None,
            passages: 1,
        }
    }

    /// Records how the reranker in use now does on the same dev queries, fused at its own
    /// weight, and whether the new student beats it by [`MIN_GAIN`].
    pub fn compare_with(&mut self, name: String, alpha: f64, dev_ndcg: f64) {
        let best = self.dev.as_ref().map_or(0.0, |d| d.best_fused().1);
        let beaten = best - dev_ndcg >= MIN_GAIN;
        self.chosen_on.push_str(&format!(
            "; the reranker in use ({name}, alpha {alpha:.1}) {dev_ndcg:.4} on the same queries{}",
            if beaten { "" } else { ": not beaten" }
        ));
        self.current = Some(Current {
            name,
            alpha,
            dev_ndcg,
            beaten,
        });
    }

    /// Without dev queries nothing says the student helps: BM25 alone.
    pub fn without_dev() -> Fusion {
        Fusion {
            alpha: 1.0,
            chosen_on: "no dev queries to choose on: BM25 alone (alpha 1.0)".into(),
            dev_kind: None,
            dev_queries: 0,
            depth: 0,
            dev: None,
            gain: 0.0,
            beats_bm25: false,
            current: None,
            passages: 1,
        }
    }
}

/// True if `dir` holds a trained student (what `retrain` writes).
pub fn is_student_dir(dir: &Path) -> bool {
    dir.join("training.json").exists() && dir.join("model.safetensors").exists()
}

/// Why [`install`] did not install a student.
#[derive(Debug, Clone, PartialEq)]
pub enum NotInstalled {
    /// Its fusion weight was chosen as BM25 alone: on the dev queries it did not beat BM25.
    NoGain(Fusion),
    /// It beat BM25 but not the reranker the index uses now, on the same dev queries.
    NotBetter(Fusion),
}

/// Installs the student in `student` (a [`retrain`](fn@crate::retrain) output, with `model.onnx` and
/// `fusion.json`) as the index's own reranker, `<index>/reranker/`, which `search-cli query
/// --index` then reranks with by default. Replaces an installed one atomically. A student
/// that did not beat BM25 on its dev queries, or the reranker in use then, is not installed.
pub fn install(student: &Path, index: &Path) -> Result<std::result::Result<PathBuf, NotInstalled>> {
    let fusion_path = student.join("fusion.json");
    let text = std::fs::read_to_string(&fusion_path).map_err(|e| Error::io(&fusion_path, e))?;
    let fusion: Fusion = serde_json::from_str(&text).map_err(|e| Error::json(&fusion_path, e))?;
    if !fusion.beats_bm25 {
        return Ok(Err(NotInstalled::NoGain(fusion)));
    }
    if fusion.current.as_ref().is_some_and(|c| !c.beaten) {
        return Ok(Err(NotInstalled::NotBetter(fusion)));
    }
    let target = search::installed_reranker_dir(index);
    crate::train::atomic_dir(&target, |dir| {
        for f in [
            "model.onnx",
            "tokenizer.json",
            "config.json",
            "fusion.json",
            "training.json",
        ] {
            let from = student.join(f);
            std::fs::copy(&from, dir.join(f)).map_err(|e| Error::io(&from, e))?;
        }
        Ok(())
    })?;
    Ok(Ok(target))
}
