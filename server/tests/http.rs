//! The server on an ephemeral port, spoken to over real HTTP/1.1 sockets.

use std::net::SocketAddr;
use std::path::Path;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Reply {
    status: u16,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    // A server may answer (413) before reading a whole huge body and close the socket.
    let _ = s.write_all(body).await;
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Reply { status, body }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
    out
}

async fn post(addr: SocketAddr, path: &str, body: Value) -> Reply {
    http(
        addr,
        "POST",
        path,
        &[("content-type", "application/json")],
        body.to_string().as_bytes(),
    )
    .await
}

struct Running {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    done: tokio::task::JoinHandle<Result<(), server::Error>>,
}

async fn start(dir: &Path, api_key: Option<&str>) -> Running {
    let mut config = server::Config::new(dir);
    config.api_key = api_key.map(str::to_owned);
    config.commit_ms = 60_000; // writes are durable only when asked, or at shutdown
    config.max_body_bytes = 1 << 20;
    let state = server::AppState::open(&config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(server::serve(listener, state, async {
        let _ = stopped.await;
    }));
    Running { addr, stop, done }
}

fn docs() -> Value {
    json!([
        {"id": "berlin", "title": "Berlin", "text": "Berlin has about 3.7 million inhabitants."},
        {"id": "paris", "title": "Paris", "text": "Paris is the capital of France."},
        {"id": "rome", "title": "Rome", "text": "Rome was founded, they say, in 753 BC."}
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_searches_and_shutdown_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), None).await;
    let a = s.addr;

    assert_eq!(
        http(a, "GET", "/health", &[], b"").await.json()["status"],
        "ok"
    );
    let page = http(a, "GET", "/", &[], b"").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("/search"));

    // Upsert with ?commit=true: durable in the reply, visible at once.
    let r = post(a, "/documents?commit=true", docs()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!({"count": 3, "durable": true}));
    let r = post(
        a,
        "/search",
        json!({"query": "capital of France", "rerank": false, "k": 2}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(j["mode"], "bm25");
    assert_eq!(j["hits"][0]["id"], "paris");
    assert!(j["hits"][0]["bm25"].as_f64().unwrap() > 0.0);
    let (snippet, marks) = (
        j["hits"][0]["snippet"].as_str().unwrap(),
        &j["hits"][0]["highlights"],
    );
    let marked: Vec<&str> = marks
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &snippet[r[0].as_u64().unwrap() as usize..r[1].as_u64().unwrap() as usize])
        .collect();
    assert!(
        marked.contains(&"capital") && marked.contains(&"France"),
        "{j}"
    );
    assert!(j["timings"]["total_ms"].as_f64().is_some());

    // JSON lines, no commit: the reply says it is not durable yet, and when it will be.
    let lines = b"{\"id\": \"oslo\", \"title\": \"Oslo\", \"text\": \"Oslo is in Norway.\"}\n";
    let r = http(a, "POST", "/documents", &[], lines).await;
    assert_eq!(
        r.json(),
        json!({"count": 1, "durable": false, "durable_within_ms": 60000})
    );

    let r = http(a, "GET", "/documents/rome", &[], b"").await;
    assert_eq!(r.json()["text"], "Rome was founded, they say, in 753 BC.");
    let r = http(a, "DELETE", "/documents/rome?commit=true", &[], b"").await;
    assert_eq!(r.json(), json!({"count": 1, "durable": true}));
    assert_eq!(
        http(a, "GET", "/documents/rome", &[], b"").await.status,
        404
    );

    let stats = http(a, "GET", "/stats", &[], b"").await.json();
    assert_eq!(stats["documents"], 3, "{stats}"); // berlin, paris, oslo (committed with the delete)
    let m = http(a, "GET", "/metrics", &[], b"").await;
    assert!(
        m.body
            .contains("search_requests_total{route=\"/search\",status=\"200\"} 1"),
        "{}",
        m.body
    );
    assert!(m
        .body
        .contains("search_request_seconds_bucket{route=\"/search\",le=\"+Inf\"} 1"));

    // A write acknowledged but not committed survives a graceful shutdown.
    let late = json!([{"id": "late", "title": "", "text": "written just before shutdown"}]);
    assert_eq!(post(a, "/documents", late).await.json()["durable"], false);
    s.stop.send(()).unwrap();
    s.done.await.unwrap().unwrap();
    let reopened = search::Index::open(dir.path()).unwrap();
    assert!(reopened.engine().contains("late").unwrap());
    assert_eq!(reopened.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_400s_that_name_the_field_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), Some("sesame")).await;
    let a = s.addr;
    let key = [("authorization", "Bearer sesame")];
    assert_eq!(
        http(
            a,
            "POST",
            "/documents?commit=true",
            &key,
            docs().to_string().as_bytes()
        )
        .await
        .status,
        200
    );

    let cases: Vec<(&str, Vec<u8>, u16, Option<&str>)> = vec![
        ("malformed JSON", b"{\"query\": ".to_vec(), 400, None),
        (
            "wrong type",
            br#"{"query": "x", "k": "ten"}"#.to_vec(),
            400,
            Some("k"),
        ),
        (
            "unknown field",
            br#"{"query": "x", "kk": 3}"#.to_vec(),
            400,
            None,
        ),
        (
            "empty query",
            br#"{"query": "  "}"#.to_vec(),
            400,
            Some("query"),
        ),
        (
            "huge k",
            br#"{"query": "x", "k": 18446744073709551615}"#.to_vec(),
            400,
            Some("k"),
        ),
        (
            "huge depth",
            br#"{"query": "x", "depth": 1099511627776}"#.to_vec(),
            400,
            Some("depth"),
        ),
        (
            "alpha out of range",
            br#"{"query": "x", "alpha": 7}"#.to_vec(),
            400,
            Some("alpha"),
        ),
        (
            "a path as model",
            br#"{"query": "x", "rerank": "../../etc"}"#.to_vec(),
            400,
            Some("rerank"),
        ),
        (
            "body over the limit",
            format!("{{\"query\": \"{}\"}}", "a ".repeat(1 << 20)).into_bytes(),
            413,
            None,
        ),
    ];
    for (what, body, status, field) in cases {
        let r = http(
            a,
            "POST",
            "/search",
            &[("content-type", "application/json")],
            &body,
        )
        .await;
        assert_eq!(r.status, status, "{what}: {}", r.body);
        if status == 400 {
            let j = r.json();
            assert!(
                j["error"].as_str().is_some_and(|e| !e.is_empty()),
                "{what}: {j}"
            );
            if let Some(f) = field {
                assert_eq!(j["field"], f, "{what}: {j}");
            }
        }
    }
    let r = post(a, "/search", json!({"query": "x", "kk": 3})).await;
    assert!(
        r.json()["error"].as_str().unwrap().contains("kk"),
        "{}",
        r.body
    );
    // A hostile query string is just text.
    let r = post(
        a,
        "/search",
        json!({"query": "((((\"\u{1b}[2J:*~^", "rerank": false}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let r = http(a, "GET", "/no/such/route", &[], b"").await;
    assert_eq!(r.status, 404);
    assert!(r.json()["error"].is_string());

    // Writes need the key; reads do not.
    let body = docs().to_string();
    assert_eq!(
        http(a, "POST", "/documents", &[], body.as_bytes())
            .await
            .status,
        401
    );
    let wrong = [("x-api-key", "open")];
    assert_eq!(
        http(a, "POST", "/documents", &wrong, body.as_bytes())
            .await
            .status,
        401
    );
    assert_eq!(
        http(a, "DELETE", "/documents/paris", &[], b"").await.status,
        401
    );
    let r = http(
        a,
        "POST",
        "/documents",
        &key,
        br#"[{"id": "x", "txt": "typo"}]"#,
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.json()["field"].as_str().unwrap().starts_with("[0]"),
        "{}",
        r.body
    );
    let r = http(
        a,
        "POST",
        "/documents",
        &key,
        b"{\"id\": \"a\"}\n{\"id\": 5}\n",
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"].as_str().unwrap().starts_with("line 2"),
        "{}",
        r.body
    );

    // Still serving.
    assert_eq!(http(a, "GET", "/health", &[], b"").await.status, 200);
    s.stop.send(()).unwrap();
    s.done.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reranked_search_reports_all_three_scores() {
    if test_support::skip_unless(
        "reranked_search_reports_all_three_scores",
        &[test_support::Need::Models],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), None).await;
    let a = s.addr;
    post(a, "/documents?commit=true", docs()).await;
    let r = post(
        a,
        "/search",
        json!({"query": "How many people live in Berlin?", "depth": 3}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(j["depth"], 3);
    assert!(j["alpha"].as_f64().is_some());
    assert_eq!(j["hits"][0]["id"], "berlin", "{j}");
    for h in j["hits"].as_array().unwrap() {
        assert!(
            h["ce"].as_f64().is_some()
                && h["bm25"].as_f64().is_some()
                && h["score"].as_f64().is_some()
        );
    }
    let m = http(a, "GET", "/metrics", &[], b"").await.body;
    // Every BM25 candidate (here fewer than the depth: all that match) is one pair.
    let n = j["hits"].as_array().unwrap().len();
    assert!(
        m.contains(&format!("search_reranked_pairs_total {n}\n")),
        "{m}"
    );
    s.stop.send(()).unwrap();
    s.done.await.unwrap().unwrap();
}

#[test]
fn openapi_lists_every_route() {
    let spec: Value = serde_json::from_str(include_str!("../openapi.json")).unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    let paths = spec["paths"].as_object().unwrap();
    let mut listed = Vec::new();
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            listed.push((method.clone(), path.clone()));
        }
    }
    let mut routes: Vec<(String, String)> = server::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    listed.sort();
    routes.sort();
    assert_eq!(listed, routes);
}
