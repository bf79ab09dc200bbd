//! The search stack over HTTP (axum on tokio): one index, many concurrent readers, one writer,
//! the reranker loaded once and shared. The routes are documented in `openapi.json` beside
//! this crate (a test checks that it lists every route) and in the README.
//!
//! | route | what it does |
//! |---|---|
//! | `POST /search` | `{"query", "k", "depth", "rerank", "alpha"}` → hits and timings |
//! | `POST /documents` | a JSON array of `{"id", "title", "text"}` (or JSON lines) upserted |
//! | `GET /documents/{id}`, `DELETE /documents/{id}` | one document |
//! | `GET /health`, `GET /stats`, `GET /metrics` | liveness, index and model, Prometheus text |
//! | `GET /` | a small search page |
//!
//! Writes become durable at the next group commit (every [`Config::commit_ms`]); with
//! `?commit=true` the reply waits for it. Every reply to a write says whether it is durable.
//!
//! ```no_run
//! # fn main() -> Result<(), server::Error> {
//! let config = server::Config::new("my-index");
//! server::run(config) // blocks until SIGTERM or Ctrl-C; acknowledged writes are committed
//! # }
//! ```
#![deny(missing_docs)]

mod api;
mod error;
mod metrics;
mod routes;
mod state;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use error::Error;
pub use routes::{router, ROUTES};
pub use state::AppState;

/// How a server is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// The index folder (created if missing).
    pub index: PathBuf,
    /// Where to listen: 127.0.0.1:8080 unless told otherwise.
    pub addr: SocketAddr,
    /// The reranker `rerank: true` uses: `None` for the index's own, else the bundled
    /// student; or a model name or folder.
    pub reranker: Option<String>,
    /// Write endpoints require `Authorization: Bearer <key>` (or `x-api-key: <key>`) when set.
    pub api_key: Option<String>,
    /// Milliseconds between group commits: a write is durable at most this long after its
    /// reply (1,000 by default: one fsync a second bounds the cost of many small writes, and a
    /// second is what a user waits for a document to show).
    pub commit_ms: u64,
    /// The largest request body in bytes (32 MiB by default).
    pub max_body_bytes: usize,
    /// A request that takes longer gets 408 (30 s by default).
    pub timeout: Duration,
    /// Concurrent searches' pairs are scored together in passes of up to this many pairs
    /// (0 by default: each search alone, because on a 2-core CPU batching measured slower:
    /// docs/RESULTS.md §8; try 256 where passes are cheap to widen). See
    /// [`search::reranker::Batched`].
    pub batch_pairs: usize,
    /// Passages a reranked search reads per candidate (more than 1 reads a long document as
    /// windows scored by the best, [`search::Passages::max_p`]); 0, the default: as the
    /// model folder's `fusion.json` says, else the first only.
    pub passages: usize,
}

impl Config {
    /// The defaults for an index folder.
    pub fn new(index: impl Into<PathBuf>) -> Config {
        Config {
            index: index.into(),
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            reranker: None,
            api_key: None,
            commit_ms: 1000,
            max_body_bytes: 32 << 20,
            timeout: Duration::from_secs(30),
            batch_pairs: 0,
            passages: 0,
        }
    }
}

/// Opens the index, loads the reranker, listens on `config.addr` and serves until SIGTERM
/// or Ctrl-C; then it finishes the requests in flight and commits the acknowledged writes.
pub fn run(config: Config) -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Io)?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .map_err(|e| Error::Bind(config.addr, e))?;
        let state = AppState::open(&config)?;
        eprintln!(
            "serving {} ({} documents) on http://{}",
            config.index.display(),
            state.index().len(),
            listener.local_addr().map_err(Error::Io)?
        );
        serve(listener, state, shutdown_signal()).await
    })
}

/// Serves `state` on `listener` until `shutdown` completes, then commits pending writes:
/// what [`run`] does, for programs (and tests) that bring their own runtime and listener.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let committer = state.start_group_commit();
    let app = router(state.clone());
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(Error::Io)?;
    committer.abort();
    state.commit_now().await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    eprintln!("shutting down: finishing requests in flight, committing writes");
}
