//! A run's training groups: built (or reloaded when its key matches) from the training
//! queries and the teacher, and the extra groups of other runs, checked before use.

use std::path::{Path, PathBuf};

use engine::Engine;
use reranker::{CachedCrossEncoder, ScoreCache};
use serde::{Deserialize, Serialize};

use super::{make_queries, RetrainOptions, Stage};
use crate::data::{build_groups_in, load_groups, save_groups, DataStats, Group, TrainQuery};
use crate::error::{Error, Result};

/// What identifies a groups file: if any of it changes, the groups are rebuilt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct GroupsKey {
    index: PathBuf,
    teacher: String,
    max_len: usize,
    depth: usize,
    #[serde(default = "super::one")]
    passages: usize,
    queries: Vec<(String, String)>,
}

fn groups_key(options: &RetrainOptions, queries: &[TrainQuery]) -> GroupsKey {
    GroupsKey {
        index: options.index.clone(),
        teacher: options.teacher.clone(),
        max_len: options.teacher_options.max_len,
        depth: options.depth,
        passages: options.passages.max,
        queries: queries
            .iter()
            .map(|q| (q.id.clone(), q.text.clone()))
            .collect(),
    }
}

/// Builds `out/groups.jsonl` (BM25 candidates of the training queries, scored by the
/// teacher) unless it exists for the same queries, teacher and depth (and `rebuild_groups`
/// is off), and returns the groups (before the consistency filter) and, when built, the
/// build statistics. What [`retrain`](super::retrain) does first; the experiment runner calls it alone to
/// build the groups its runs share.
pub fn write_groups(
    options: &RetrainOptions,
    progress: &mut dyn FnMut(Stage, usize, usize),
) -> Result<(Vec<Group>, Option<DataStats>)> {
    let engine = Engine::open(&options.index)?;
    let queries = make_queries(options, &engine, progress)?;
    let (groups, stats, _) = groups_for(options, &engine, &queries.train, progress)?;
    Ok((groups, stats))
}

pub(super) fn groups_for(
    options: &RetrainOptions,
    engine: &Engine,
    train_q: &[TrainQuery],
    progress: &mut dyn FnMut(Stage, usize, usize),
) -> Result<(Vec<Group>, Option<DataStats>, usize)> {
    std::fs::create_dir_all(&options.out).map_err(|e| Error::io(&options.out, e))?;
    let groups_path = options.out.join("groups.jsonl");
    let key_path = options.out.join("groups.key.json");
    let key = groups_key(options, train_q);
    let key_matches = std::fs::read_to_string(&key_path)
        .ok()
        .and_then(|t| serde_json::from_str::<GroupsKey>(&t).ok())
        .is_some_and(|k| k == key);
    // A groups file without a key predates keys: trusted as before.
    if groups_path.exists() && !options.rebuild_groups && (key_matches || !key_path.exists()) {
        return Ok((load_groups(&groups_path)?, None, 0));
    }
    let teacher = reranker::load_cross_encoder(&options.teacher, &options.teacher_options)?;
    let cache_path = options
        .score_cache
        .clone()
        .unwrap_or_else(|| options.index.join("score-cache.tsv"));
    let cached = CachedCrossEncoder::new(teacher, ScoreCache::open(&cache_path)?, 64);
    let before = cached.cached();
    let (groups, stats) = build_groups_in(
        engine,
        &cached,
        train_q,
        options.depth,
        &options.passages,
        &mut |d, t| progress(Stage::Scoring, d, t),
    )?;
    let scored = cached.cached().saturating_sub(before);
    save_groups(&groups_path, &groups)?;
    crate::train::write_json(&key_path, &key)?;
    Ok((groups, Some(stats), scored))
}

/// The path with links and `..` resolved when it exists, as given otherwise.
fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The extra groups files' groups, each file refused if given twice (or if it is this run's
/// own), empty, or scored by another teacher or max_len than this run's, as the
/// `groups.key.json` beside it says (their targets would not be this run's teacher's).
pub(super) fn load_extra_groups(options: &RetrainOptions) -> Result<Vec<(PathBuf, Vec<Group>)>> {
    let refuse = |path: &Path, reason: String| Error::ExtraGroups {
        path: path.into(),
        reason,
    };
    let mut seen = vec![canonical(&options.out.join("groups.jsonl"))];
    let mut out = Vec::new();
    for path in &options.extra_groups {
        let id = canonical(path);
        if seen.contains(&id) {
            let why = "given twice, or this run's own groups: each group would count twice";
            return Err(refuse(path, why.into()));
        }
        seen.push(id);
        let groups = load_groups(path)?;
        if groups.is_empty() {
            return Err(refuse(path, "holds no training groups".into()));
        }
        let key_path = path.with_file_name("groups.key.json");
        if let Ok(text) = std::fs::read_to_string(&key_path) {
            let key: GroupsKey =
                serde_json::from_str(&text).map_err(|e| Error::json(&key_path, e))?;
            let max_len = options.teacher_options.max_len;
            if key.teacher != options.teacher || key.max_len != max_len {
                let why = format!(
                    "scored by teacher `{}` at max_len {}, not by this run's `{}` at {max_len}",
                    key.teacher, key.max_len, options.teacher
                );
                return Err(refuse(path, why));
            }
        }
        out.push((path.clone(), groups));
    }
    Ok(out)
}
