#!/usr/bin/env bash
# serve_batching.sh: reranked search (depth 30) over HTTP with and without batching across
# requests, side by side: two servers on one index (--batch-pairs 0 and 256), wrk at 1, 8
# and 64 connections against each in turn, SciFact's test queries as the load.
# B=binary IDX=index (a copy of runs/scifact) DUR=seconds per run (default 15s).
set -u
B=${B:-target/release/search-cli}
IDX=${IDX:-/tmp/sf-serve}
Q=${Q:-../shared/datasets/scifact/queries.jsonl}
d=${DUR:-15s}
$B serve --index $IDX --addr 127.0.0.1:18081 --batch-pairs 0 2>/tmp/serve-b0.err &
p0=$!
$B serve --index $IDX --addr 127.0.0.1:18082 --batch-pairs 256 2>/tmp/serve-b256.err &
p1=$!
for port in 18081 18082; do
  for i in $(seq 100); do curl -s localhost:$port/health >/dev/null && break; sleep 0.2; done
done
# One JSON body per query, as a Lua table.
{
  echo "local bodies = {"
  jq -c '{query: .text, k: 10, rerank: true, depth: 30} | tojson' "$Q" | head -300 | sed 's/$/,/'
  echo "}"
  cat <<'L'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local i = math.random(#bodies)
request = function()
  i = (i % #bodies) + 1
  return wrk.format(nil, "/search", nil, bodies[i])
end
L
} > /tmp/rerank.lua
for c in 1 8 64; do
  for port in 18081 18082; do
    echo "== batch-pairs $([ $port = 18081 ] && echo 0 || echo 256), connections $c"
    wrk --timeout 60s -t $(( c < 2 ? 1 : 2 )) -c $c -d $d --latency -s /tmp/rerank.lua http://127.0.0.1:$port 2>&1 \
      | grep -E "Requests/sec|50%|99%|Non-2xx|Socket errors|requests in"
  done
done
for port in 18081 18082; do
  echo "== metrics :$port"
  curl -s localhost:$port/metrics | grep -E "^search_rerank_(passes|pass_pairs|pairs_per_second)|status=\"[45]"
done
kill -TERM $p0 $p1; wait $p0 $p1
