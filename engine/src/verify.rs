//! Checking an index's files against their checksums, so that a damaged file is one clear
//! error, never a panic deep in a decoder or a silently different ranking.
//!
//! Every segment file tantivy writes ends with a CRC32 of its content. Segment files are
//! written once and never changed, so [`Engine::open`](crate::Engine::open) checks only the
//! files it has not checked before in their present size and modification time (recorded in
//! `engine-verified.json` in the index folder when it can be written): a fresh segment, or a
//! file changed on disk since. [`Verify::Full`] (`search-cli check`) checks every file.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Instant, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tantivy::Index;

use crate::error::{Error, Result};

const RECORD: &str = "engine-verified.json";

/// How much of an index to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Files not checked before in their present size and modification time.
    Changed,
    /// Every file.
    Full,
}

/// What a check read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VerifyReport {
    /// Segment files of the index.
    pub files: usize,
    /// Of those, files whose checksum was computed.
    pub checked: usize,
    /// Bytes read to compute them.
    pub bytes: u64,
    /// Seconds it took.
    pub seconds: f64,
}

/// A file's size and modification time, as last checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    len: u64,
    mtime_ns: u128,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    let mtime_ns = m
        .modified()
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_nanos();
    Some(Stamp {
        len: m.len(),
        mtime_ns,
    })
}

/// The files of the index's live segments (`<segment uuid>.<ext>`, deletes included).
fn segment_files(dir: &Path, index: &Index) -> Result<Vec<PathBuf>> {
    let segments: HashSet<String> = index
        .searchable_segment_metas()?
        .iter()
        .map(|m| m.id().uuid_string())
        .collect();
    let io = |e| Error::Io {
        path: dir.to_path_buf(),
        source: e,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let name = entry.map_err(io)?.file_name();
        let name = name.to_string_lossy();
        if let Some((stem, _)) = name.split_once('.') {
            if segments.contains(stem) {
                out.push(PathBuf::from(name.as_ref()));
            }
        }
    }
    out.sort();
    // A segment with no file at all is damage too.
    for s in &segments {
        if !out
            .iter()
            .any(|f| f.to_string_lossy().starts_with(s.as_str()))
        {
            return Err(Error::Damaged {
                path: dir.join(format!("{s}.*")),
                count: 1,
            });
        }
    }
    Ok(out)
}

/// Checks the index in `dir` (see the module docs); an error names a damaged file.
pub(crate) fn verify(dir: &Path, index: &Index, mode: Verify) -> Result<VerifyReport> {
    let start = Instant::now();
    let files = segment_files(dir, index)?;
    let record_path = dir.join(RECORD);
    let mut record: BTreeMap<String, Stamp> = if mode == Verify::Changed {
        std::fs::read_to_string(&record_path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    } else {
        BTreeMap::new()
    };
    let mut report = VerifyReport {
        files: files.len(),
        ..Default::default()
    };
    let mut damaged = Vec::new();
    let mut fresh: BTreeMap<String, Stamp> = BTreeMap::new();
    for f in &files {
        let key = f.to_string_lossy().into_owned();
        let now = stamp(&dir.join(f));
        if let Some(s) = now.filter(|s| record.get(&key) == Some(s)) {
            fresh.insert(key, s);
            continue;
        }
        report.checked += 1;
        report.bytes += now.map_or(0, |s| s.len);
        let ok = index.directory().validate_checksum(f).unwrap_or(false);
        if ok {
            if let Some(s) = now {
                fresh.insert(key, s);
            }
        } else {
            damaged.push(dir.join(f));
        }
    }
    report.seconds = start.elapsed().as_secs_f64();
    if let Some(first) = damaged.first() {
        return Err(Error::Damaged {
            path: first.clone(),
            count: damaged.len(),
        });
    }
    if fresh != record {
        record = fresh;
        // Best effort: a read-only index checks again next time.
        if let Ok(text) = serde_json::to_string(&record) {
            let tmp = dir.join(format!("{RECORD}.tmp"));
            if std::fs::write(&tmp, text).is_ok() {
                let _ = std::fs::rename(&tmp, &record_path);
            }
        }
    }
    Ok(report)
}
