#!/usr/bin/env bash
# serve_load.sh: wrk (Debian package) against a served index (IDX, e.g. a copy of runs/scifact):
# BM25-only and reranked (depth 30) at 1, 8 and 64 connections, DUR each (default 10s).
set -u
B=${B:-/work/main/target/release/search-cli}
IDX=${IDX:-/tmp/sf-serve}
$B serve --index $IDX --addr 127.0.0.1:18080 2>/tmp/serve.err &
pid=$!
for i in $(seq 50); do curl -s localhost:18080/health >/dev/null && break; sleep 0.2; done
cat > /tmp/bm25.lua <<'L'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local qs = {"vitamin d multiple sclerosis", "protein folding in cells", "cancer risk smoking", "gene expression in tumors", "immune response to infection"}
local i = 0
request = function()
  i = i + 1
  return wrk.format(nil, "/search", nil, '{"query": "' .. qs[(i % #qs) + 1] .. '", "k": 10, "rerank": ' .. (os.getenv("RERANK") or "false") .. ', "depth": 30}')
end
L
for mode in false true; do
  for c in 1 8 64; do
    d=${DUR:-10s}
    echo "== rerank=$mode connections=$c"
    RERANK=$mode wrk --timeout 60s -t $(( c < 2 ? 1 : 2 )) -c $c -d $d --latency -s /tmp/bm25.lua http://127.0.0.1:18080 2>&1 | grep -E "Requests/sec|50%|99%|Non-2xx|Socket errors|requests in"
  done
done
curl -s localhost:18080/metrics | grep -E "pairs_per_second|status=\"[45]"
kill -TERM $pid; wait $pid; echo "server exit $?"
