//! What every request shares: the index (many readers, one writer: the engine's), the
//! reranker loaded once, other models loaded on first use, the pending-write flag the group
//! commit reads, and the metrics.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use search::reranker::RerankerOptions;
use search::{Index, Reranker};

use crate::error::{ApiError, Error};
use crate::metrics::Metrics;
use crate::Config;

/// The shared state of a server (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    index: Index,
    /// The reranker `rerank: true` uses, or why there is none.
    reranker: Result<Arc<Reranker>, String>,
    models: Mutex<HashMap<String, Arc<Reranker>>>,
    dirty: AtomicBool,
    commit_lock: tokio::sync::Mutex<()>,
    api_key: Option<String>,
    commit_ms: u64,
    pub(crate) max_body_bytes: usize,
    pub(crate) timeout: Duration,
    batch_pairs: usize,
    passages: usize,
    metrics: Metrics,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("index", &self.inner.index.path())
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Opens (or creates) the index and loads the reranker. A reranker that cannot be loaded
    /// (no ONNX Runtime library, say) is reported once here; BM25 requests still work and
    /// reranked ones get 503 naming the reason.
    pub fn open(config: &Config) -> Result<AppState, Error> {
        let index = Index::open_or_create(&config.index)?;
        let reranker = Reranker::choose(
            index.path(),
            config.reranker.as_deref(),
            &RerankerOptions::default(),
        )
        .map(|r| Arc::new(prepare(r, config.batch_pairs, config.passages)))
        .map_err(|e| {
            eprintln!("warning: no reranker: {e}; searches are BM25 alone");
            e.to_string()
        });
        Ok(AppState {
            inner: Arc::new(Inner {
                index,
                reranker,
                models: Mutex::new(HashMap::new()),
                dirty: AtomicBool::new(false),
                commit_lock: tokio::sync::Mutex::new(()),
                api_key: config.api_key.clone().filter(|k| !k.is_empty()),
                commit_ms: config.commit_ms.max(1),
                max_body_bytes: config.max_body_bytes,
                timeout: config.timeout,
                batch_pairs: config.batch_pairs,
                passages: config.passages,
                metrics: Metrics::default(),
            }),
        })
    }

    /// The index.
    pub fn index(&self) -> &Index {
        &self.inner.index
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub(crate) fn commit_ms(&self) -> u64 {
        self.inner.commit_ms
    }

    pub(crate) fn max_body_bytes(&self) -> usize {
        self.inner.max_body_bytes
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// The server's reranker's name, or why there is none.
    pub(crate) fn reranker_label(&self) -> Result<String, String> {
        self.inner
            .reranker
            .as_ref()
            .map(|r| r.label())
            .map_err(Clone::clone)
    }

    /// The reranker a request asks for: the server's own for `true`, else a model by name
    /// (known names only: a request may not make the server read a folder of its choosing).
    pub(crate) async fn reranker(&self, name: Option<&str>) -> Result<Arc<Reranker>, ApiError> {
        let Some(name) = name else {
            return self.inner.reranker.clone().map_err(|why| {
                ApiError::status(
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    format!("no reranker is loaded: {why}"),
                )
            });
        };
        if !search::reranker::KNOWN_MODELS.contains(&name) {
            return Err(ApiError::field(
                "rerank",
                format!(
                    "`{name}` is not a model name; one of {:?}, or true for the server's reranker",
                    search::reranker::KNOWN_MODELS
                ),
            ));
        }
        if let Some(r) = self.models().get(name) {
            return Ok(r.clone());
        }
        let owned = name.to_owned();
        let (batch_pairs, passages) = (self.inner.batch_pairs, self.inner.passages);
        let loaded = tokio::task::spawn_blocking(move || {
            Reranker::load_with(&owned, &RerankerOptions::default())
                .map(|r| prepare(r, batch_pairs, passages))
        })
        .await?
        .map_err(|e| ApiError::field("rerank", e.to_string()))?;
        let loaded = Arc::new(loaded);
        self.models().insert(name.to_owned(), loaded.clone());
        Ok(loaded)
    }

    /// Model passes and pairs over every loaded reranker (see [`Reranker::batched`]).
    pub(crate) fn batch_stats(&self) -> search::reranker::BatchStats {
        let mut all: Vec<Arc<Reranker>> = self.models().values().cloned().collect();
        all.extend(self.inner.reranker.as_ref().ok().cloned());
        let mut total = search::reranker::BatchStats::default();
        for s in all.iter().filter_map(|r| r.batch_stats()) {
            total.passes += s.passes;
            total.pairs += s.pairs;
        }
        total
    }

    fn models(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Reranker>>> {
        self.inner.models.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `key` (from the request's headers) may write.
    pub(crate) fn may_write(&self, key: Option<&str>) -> bool {
        match &self.inner.api_key {
            None => true,
            Some(k) => key.is_some_and(|given| constant_time_eq(given.as_bytes(), k.as_bytes())),
        }
    }

    /// Marks writes as pending for the next group commit.
    pub(crate) fn wrote(&self) {
        self.inner.dirty.store(true, Ordering::SeqCst);
    }

    /// Commits now if anything is pending; returns when the writes before the call are
    /// durable.
    pub async fn commit_now(&self) -> Result<(), Error> {
        let _one_at_a_time = self.inner.commit_lock.lock().await;
        if !self.inner.dirty.swap(false, Ordering::SeqCst) {
            return Ok(());
        }
        let state = self.clone();
        let result = tokio::task::spawn_blocking(move || state.index().engine().commit())
            .await
            .map_err(|e| Error::Task(e.to_string()))?;
        match result {
            Ok(()) => {
                self.metrics().committed();
                Ok(())
            }
            Err(e) => {
                self.inner.dirty.store(true, Ordering::SeqCst);
                Err(Error::Search(e.into()))
            }
        }
    }

    /// Starts the group commit: every `commit_ms`, pending writes are committed.
    pub fn start_group_commit(&self) -> tokio::task::JoinHandle<()> {
        let state = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(state.commit_ms()));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = state.commit_now().await {
                    eprintln!("error: group commit failed (will retry): {e}");
                }
            }
        })
    }
}

/// `reranker`, batching its concurrent callers when `batch_pairs` is not 0.
/// A loaded reranker as the server runs it: batched across requests if asked, reading
/// `passages` passages per candidate (0: as the model folder says).
fn prepare(reranker: Reranker, batch_pairs: usize, passages: usize) -> Reranker {
    let reranker = match passages {
        0 => reranker,
        n => reranker.with_passages(search::Passages::max_p(n)),
    };
    if batch_pairs == 0 {
        reranker
    } else {
        reranker.batched(batch_pairs)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
