//! A score cache on disk, so expensive teacher scores are computed once.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::error::{LoadError, ScoreError};
use crate::models::ModelInfo;
use crate::CrossEncoder;

type Key = [u8; 16];

/// An append-only file of `key<TAB>score` lines, the key a hash of (model fingerprint,
/// max_len, query text, passage text). Content-addressed: a changed document or model simply
/// misses. Lines are flushed as they are scored, so a killed run keeps what it scored; a torn
/// last line is ignored on reopening.
#[derive(Debug)]
pub struct ScoreCache {
    path: PathBuf,
    scores: HashMap<Key, f32>,
    writer: BufWriter<File>,
    skipped: usize,
}

fn hex(key: &Key) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Key> {
    if s.len() != 32 {
        return None;
    }
    let mut key = [0u8; 16];
    for (i, k) in key.iter_mut().enumerate() {
        *k = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(key)
}

impl ScoreCache {
    /// Opens (or creates) a cache file and reads what it holds.
    ///
    /// Only whole lines count: a last line without its newline (what a killed writer
    /// leaves, perhaps with its number cut short) is cut off the file, and a line that is not
    /// `key<TAB>score` (or not UTF-8) is skipped and counted ([`ScoreCache::skipped`]): it
    /// is a cache, so a lost line only costs its score again.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, LoadError> {
        let path = path.as_ref().to_path_buf();
        let io = |e| LoadError::Io {
            path: path.clone(),
            source: e,
        };
        if let Some(parent) = path.parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
        }
        let mut scores = HashMap::new();
        let mut skipped = 0;
        let mut whole_len = 0u64;
        if path.exists() {
            let mut reader = BufReader::new(File::open(&path).map_err(io)?);
            let mut line = Vec::new();
            loop {
                line.clear();
                let n = reader.read_until(b'\n', &mut line).map_err(io)?;
                if n == 0 || line.last() != Some(&b'\n') {
                    break;
                }
                whole_len += n as u64;
                let parsed = std::str::from_utf8(&line[..n - 1]).ok().and_then(|l| {
                    let (k, v) = l.split_once('\t')?;
                    Some((unhex(k)?, v.parse::<f32>().ok().filter(|v| v.is_finite())?))
                });
                match parsed {
                    Some((k, v)) => {
                        scores.insert(k, v);
                    }
                    None => skipped += 1,
                }
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        // A torn last line is cut off, so that no half-written number is ever read.
        if file.metadata().map_err(io)?.len() > whole_len {
            file.set_len(whole_len).map_err(io)?;
        }
        Ok(ScoreCache {
            path,
            scores,
            writer: BufWriter::new(file),
            skipped,
        })
    }

    /// Lines of the file that were not `key<TAB>score` and were skipped.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// The number of cached scores.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// The key of a pair under a model.
    pub fn key(info: &ModelInfo, query: &str, passage: &str) -> Key {
        let mut h = Sha256::new();
        h.update(info.fingerprint.as_bytes());
        h.update([0]);
        h.update(info.max_len.to_le_bytes());
        h.update(query.as_bytes());
        h.update([0]);
        h.update(passage.as_bytes());
        let d = h.finalize();
        let mut key = [0u8; 16];
        key.copy_from_slice(&d[..16]);
        key
    }

    fn get(&self, key: &Key) -> Option<f32> {
        self.scores.get(key).copied()
    }

    fn insert_all(&mut self, items: &[(Key, f32)]) -> std::io::Result<()> {
        for (k, v) in items {
            writeln!(self.writer, "{}\t{v}", hex(k))?;
            self.scores.insert(*k, *v);
        }
        self.writer.flush()
    }
}

/// Called as pairs get scored: `(scored so far, to score in this call)`.
pub type Progress = Box<dyn Fn(usize, usize) + Send + Sync>;

/// A cross-encoder whose scores go through a [`ScoreCache`]: pairs already in the cache are
/// not scored again; new ones are scored in chunks and appended as each chunk finishes.
pub struct CachedCrossEncoder<E> {
    inner: E,
    cache_path: PathBuf,
    cache: Mutex<ScoreCache>,
    chunk: usize,
    progress: Option<Progress>,
}

impl<E: std::fmt::Debug> std::fmt::Debug for CachedCrossEncoder<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedCrossEncoder")
            .field("inner", &self.inner)
            .field("chunk", &self.chunk)
            .finish()
    }
}

impl<E: CrossEncoder> CachedCrossEncoder<E> {
    /// Wraps `inner`; scores are written every `chunk` pairs (at least 1).
    pub fn new(inner: E, cache: ScoreCache, chunk: usize) -> Self {
        CachedCrossEncoder {
            inner,
            cache_path: cache.path.clone(),
            cache: Mutex::new(cache),
            chunk: chunk.max(1),
            progress: None,
        }
    }

    /// Reports progress of the pairs that miss the cache.
    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = Some(progress);
        self
    }

    /// The number of cached scores.
    pub fn cached(&self) -> usize {
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// The wrapped model.
    pub fn inner(&self) -> &E {
        &self.inner
    }
}

impl<E: CrossEncoder> CrossEncoder for CachedCrossEncoder<E> {
    fn score_pairs(&self, pairs: &[(&str, &str)]) -> Result<Vec<f32>, ScoreError> {
        let info = self.inner.info();
        let keys: Vec<Key> = pairs
            .iter()
            .map(|(q, p)| ScoreCache::key(info, q, p))
            .collect();
        let mut out = vec![f32::NAN; pairs.len()];
        let mut missing = Vec::new();
        {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            for (i, k) in keys.iter().enumerate() {
                match cache.get(k) {
                    Some(s) => out[i] = s,
                    None => missing.push(i),
                }
            }
        }
        let total = missing.len();
        for (done, chunk) in missing.chunks(self.chunk).enumerate() {
            let sub: Vec<(&str, &str)> = chunk.iter().map(|&i| pairs[i]).collect();
            let scores = self.inner.score_pairs(&sub)?;
            let items: Vec<(Key, f32)> = chunk
                .iter()
                .map(|&i| keys[i])
                .zip(scores.iter().copied())
                .collect();
            self.cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert_all(&items)
                .map_err(|source| ScoreError::Cache {
                    path: self.cache_path.clone(),
                    source,
                })?;
            for (&i, s) in chunk.iter().zip(scores) {
                out[i] = s;
            }
            if let Some(p) = &self.progress {
                p((done * self.chunk + chunk.len()).min(total), total);
            }
        }
        Ok(out)
    }

    fn info(&self) -> &ModelInfo {
        self.inner.info()
    }
}

impl ScoreCache {
    /// The cache file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Backend;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Debug)]
    struct Counting {
        calls: AtomicUsize,
        info: ModelInfo,
    }

    impl CrossEncoder for Counting {
        fn score_pairs(&self, pairs: &[(&str, &str)]) -> Result<Vec<f32>, ScoreError> {
            self.calls.fetch_add(pairs.len(), Ordering::SeqCst);
            Ok(pairs
                .iter()
                .map(|(q, p)| (q.len() * 10 + p.len()) as f32)
                .collect())
        }
        fn info(&self) -> &ModelInfo {
            &self.info
        }
    }

    fn counting() -> Counting {
        Counting {
            calls: AtomicUsize::new(0),
            info: ModelInfo {
                path: "m".into(),
                backend: Backend::Onnx,
                max_len: 256,
                fingerprint: "abc".into(),
            },
        }
    }

    #[test]
    fn scores_once_and_survives_reopening_and_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.tsv");
        let pairs = [("q", "aa"), ("q", "bbb"), ("qq", "c")];
        let enc = CachedCrossEncoder::new(counting(), ScoreCache::open(&path).unwrap(), 2);
        let first = enc.score_pairs(&pairs).unwrap();
        assert_eq!(first, vec![12.0, 13.0, 21.0]);
        assert_eq!(enc.score_pairs(&pairs).unwrap(), first);
        assert_eq!(enc.inner().calls.load(Ordering::SeqCst), 3);
        drop(enc);
        // A killed writer can leave half a line.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"0123abc").unwrap();
        drop(f);
        let enc = CachedCrossEncoder::new(counting(), ScoreCache::open(&path).unwrap(), 2);
        assert_eq!(enc.cached(), 3);
        assert_eq!(
            enc.score_pairs(&[("q", "aa"), ("z", "new")]).unwrap(),
            vec![12.0, 13.0]
        );
        assert_eq!(enc.inner().calls.load(Ordering::SeqCst), 1);
        drop(enc);
        let reopened = ScoreCache::open(&path).unwrap();
        assert_eq!(reopened.len(), 4);
    }

    #[test]
    fn a_torn_number_is_never_read_and_bad_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.tsv");
        let info = counting().info;
        let key = hex(&ScoreCache::key(&info, "q", "aa"));
        let other = hex(&ScoreCache::key(&info, "q", "bbb"));
        // A whole line, a non-UTF-8 line, a line that is no record, and a torn last line
        // whose number was cut from -2.72 to -2.
        let mut bytes = format!("{key}\t1.5\n").into_bytes();
        bytes.extend_from_slice(b"\xff\xfe\tgarbage\n");
        bytes.extend_from_slice(b"not a record\n");
        bytes.extend_from_slice(format!("{other}\t-2").as_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let cache = ScoreCache::open(&path).unwrap();
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.skipped(), 2);
        drop(cache);
        // The torn line is gone from the file, so later appends start on a line of their own.
        let text = std::fs::read(&path).unwrap();
        assert!(text.ends_with(b"not a record\n"));
        let enc = CachedCrossEncoder::new(counting(), ScoreCache::open(&path).unwrap(), 2);
        assert_eq!(enc.score_pairs(&[("q", "bbb")]).unwrap(), vec![13.0]);
        assert_eq!(
            enc.inner().calls.load(Ordering::SeqCst),
            1,
            "the torn -2 was not used"
        );
    }
}
