//! The routes and their handlers. Handlers parse, check, and run the index's work on
//! tokio's blocking pool (BM25, the cross-encoder and writes are CPU or disk work).

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use search::{Document, RerankOptions};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

use crate::api::{
    self, HitOut, Rerank, SearchReply, SearchRequest, Timings, WriteParams, WriteReply,
};
use crate::error::ApiError;
use crate::state::AppState;

/// Every route, as `openapi.json` must list it (checked by a test).
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/"),
    ("post", "/search"),
    ("post", "/documents"),
    ("get", "/documents/{id}"),
    ("delete", "/documents/{id}"),
    ("get", "/health"),
    ("get", "/stats"),
    ("get", "/metrics"),
];

const PAGE: &str = include_str!("../static/index.html");
const SNIPPET_CHARS: usize = 240;

/// The application: the routes over `state`, with a body limit, a request timeout, panics
/// turned into 500s, unknown routes into JSON 404s, and every request counted in the metrics.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/search", post(search))
        .route("/documents", post(upsert))
        .route("/documents/{id}", get(get_document).delete(delete_document))
        .route(
            "/health",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/stats", get(stats))
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiError::status(StatusCode::NOT_FOUND, "no such route") })
        .layer(middleware::from_fn_with_state(state.clone(), record))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::status(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the request failed inside the server",
            )
            .into_response()
        }))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.timeout(),
        ))
        .layer(axum::extract::DefaultBodyLimit::max(state.max_body_bytes()))
        .with_state(state)
}

async fn record(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let start = Instant::now();
    let response = next.run(req).await;
    state
        .metrics()
        .record(&route, response.status().as_u16(), start.elapsed());
    response
}

async fn search(State(state): State<AppState>, body: Bytes) -> Result<Json<SearchReply>, ApiError> {
    let start = Instant::now();
    let req: SearchRequest = api::parse(&body)?;
    if req.query.trim().is_empty() {
        return Err(ApiError::field("query", "the query is empty"));
    }
    let limits = *state.index().engine().limits();
    limits
        .check_hits(req.k)
        .map_err(|e| ApiError::field("k", e.to_string()))?;
    if let Some(d) = req.depth {
        limits
            .check_hits(d)
            .map_err(|e| ApiError::field("depth", e.to_string()))?;
    }
    if let Some(a) = req.alpha {
        search::check_alpha(a).map_err(|e| ApiError::field("alpha", e.to_string()))?;
    }
    let model = match &req.rerank {
        None | Some(Rerank::Switch(true)) => Some(None),
        Some(Rerank::Switch(false)) => None,
        Some(Rerank::Model(name)) if name == search::DEFAULT_CHOICE => Some(None),
        Some(Rerank::Model(name)) => Some(Some(name.as_str())),
    };
    let Some(model) = model else {
        let s = state.clone();
        let (query, k) = (req.query, req.k);
        let (hits, snippets) = tokio::task::spawn_blocking(move || {
            let hits = s.index().search(&query, k)?;
            let texts: Vec<&str> = hits.iter().map(|h| h.text.as_str()).collect();
            let snippets = s.index().engine().snippets(&query, &texts, SNIPPET_CHARS)?;
            Ok::<_, search::Error>((hits, snippets))
        })
        .await??;
        return Ok(Json(SearchReply {
            hits: hits
                .into_iter()
                .zip(snippets)
                .map(|(h, sn)| hit_out(h.score as f64, None, h, sn))
                .collect(),
            mode: "bm25".into(),
            alpha: None,
            depth: None,
            timings: Timings {
                total_ms: start.elapsed().as_secs_f64() * 1e3,
            },
        }));
    };
    let reranker = state.reranker(model).await?;
    let options = RerankOptions {
        depth: req.depth.unwrap_or(reranker.depth()),
        alpha: req.alpha.unwrap_or(reranker.alpha()),
        passages: reranker.options().passages,
    };
    let s = state.clone();
    let r = reranker.clone();
    let (query, k) = (req.query, req.k);
    let scored = Instant::now();
    let busy = state.metrics().rerank_started();
    let result = tokio::task::spawn_blocking(move || {
        // The candidates the cross-encoder scores (ids only: cheap next to reranking).
        let pairs = s.index().engine().search_ids(&query, options.depth)?.len();
        let hits = search::search_reranked(s.index().engine(), r.model(), &query, k, &options)?;
        let texts: Vec<&str> = hits.iter().map(|h| h.hit.text.as_str()).collect();
        let snippets = s.index().engine().snippets(&query, &texts, SNIPPET_CHARS)?;
        Ok::<_, search::Error>((hits, snippets, pairs))
    })
    .await;
    state.metrics().rerank_finished(busy);
    let (hits, snippets, pairs) = result??;
    state.metrics().reranked(pairs, scored.elapsed());
    Ok(Json(SearchReply {
        hits: hits
            .into_iter()
            .zip(snippets)
            .map(|(h, sn)| hit_out(h.score, Some(h.ce_score), h.hit, sn))
            .collect(),
        mode: reranker.label(),
        alpha: Some(options.alpha),
        depth: Some(options.depth),
        timings: Timings {
            total_ms: start.elapsed().as_secs_f64() * 1e3,
        },
    }))
}

/// One hit of a reply: ranked by `score`, with its cross-encoder score when reranked.
fn hit_out(
    score: f64,
    ce: Option<f32>,
    hit: search::Hit,
    snippet: search::engine::Snippet,
) -> HitOut {
    HitOut {
        highlights: snippet
            .highlights
            .iter()
            .map(|r| [r.start, r.end])
            .collect(),
        snippet: snippet.text,
        score,
        bm25: hit.score,
        ce,
        id: hit.id,
        title: hit.title,
    }
}

fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    if state.may_write(bearer.or(key)) {
        Ok(())
    } else {
        Err(ApiError::status(
            StatusCode::UNAUTHORIZED,
            "this server needs an API key for writes (Authorization: Bearer KEY or x-api-key: KEY)",
        ))
    }
}

async fn durable(
    state: &AppState,
    params: &WriteParams,
    count: usize,
) -> Result<WriteReply, ApiError> {
    state.wrote();
    state.metrics().written(count);
    if params.commit {
        state
            .commit_now()
            .await
            .map_err(|e| ApiError::status(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        return Ok(WriteReply {
            count,
            durable: true,
            durable_within_ms: None,
        });
    }
    Ok(WriteReply {
        count,
        durable: false,
        durable_within_ms: Some(state.commit_ms()),
    })
}

async fn upsert(
    State(state): State<AppState>,
    Query(params): Query<WriteParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<WriteReply>, ApiError> {
    authorize(&state, &headers)?;
    let docs = api::parse_documents(&body)?;
    for (i, d) in docs.iter().enumerate() {
        if d.id.is_empty() {
            return Err(ApiError::field(
                format!("[{i}].id"),
                "a document needs an id",
            ));
        }
    }
    let count = docs.len();
    let s = state.clone();
    tokio::task::spawn_blocking(move || -> Result<(), ApiError> {
        for (i, d) in docs.into_iter().enumerate() {
            let doc = Document::new(d.id, d.title, d.text);
            s.index().engine().upsert(&doc).map_err(|e| {
                let e = ApiError::from(e);
                ApiError::field(format!("[{i}]"), e.message)
            })?;
        }
        Ok(())
    })
    .await??;
    Ok(Json(durable(&state, &params, count).await?))
}

async fn get_document(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<api::DocumentIn>, ApiError> {
    let s = state.clone();
    let found =
        tokio::task::spawn_blocking(move || s.index().engine().get(&id).map(|d| (id, d))).await??;
    match found {
        (_, Some(d)) => Ok(Json(api::DocumentIn {
            id: d.id,
            title: d.title,
            text: d.body,
        })),
        (id, None) => Err(ApiError::status(
            StatusCode::NOT_FOUND,
            format!("no document `{id}` (a write shows after its commit)"),
        )),
    }
}

async fn delete_document(
    State(state): State<AppState>,
    Query(params): Query<WriteParams>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<WriteReply>, ApiError> {
    authorize(&state, &headers)?;
    let s = state.clone();
    let report =
        tokio::task::spawn_blocking(move || s.index().engine().delete_ids(&[id])).await??;
    Ok(Json(durable(&state, &params, report.found).await?))
}

async fn stats(State(state): State<AppState>) -> Json<serde_json::Value> {
    let path = state.index().path().to_path_buf();
    let bytes = folder_bytes(&path);
    let (model, reason) = match state.reranker_label() {
        Ok(m) => (Some(m), None),
        Err(why) => (None, Some(why)),
    };
    Json(serde_json::json!({
        "documents": state.index().len(),
        "index": path,
        "index_bytes": bytes,
        "reranker": model,
        "reranker_error": reason,
        "commit_ms": state.commit_ms(),
    }))
}

fn folder_bytes(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|d| {
            d.filter_map(|e| e.ok()?.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [("content-type", "text/plain; version=0.0.4")],
        state
            .metrics()
            .render(state.index().len(), state.batch_stats()),
    )
}
