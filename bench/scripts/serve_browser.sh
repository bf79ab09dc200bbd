#!/usr/bin/env bash
# serve_browser.sh BIN OUT_DIR: the search page in a real headless browser (Debian's chromium):
# a server over a small index, the page opened with a query (/?q=..., which fills the box and
# submits it as a user would), the rendered DOM checked for the hits and both scores, and a
# screenshot saved to OUT_DIR/search-page.png; then the bare page driven by keypresses over the
# DevTools protocol (browser_type.js, Node 20), screenshot OUT_DIR/typed-query.png.
set -euo pipefail
bin=$1; out=$2
mkdir -p "$out"
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
cat > "$work/docs.jsonl" <<'J'
{"id": "berlin", "title": "Berlin", "text": "Berlin is the capital of Germany and has about 3.7 million inhabitants."}
{"id": "paris", "title": "Paris", "text": "Paris is the capital and largest city of France."}
{"id": "rome", "title": "Rome", "text": "Rome, the capital of Italy, was founded, they say, in 753 BC."}
J
"$bin" index --index "$work/idx" --format jsonl "$work/docs.jsonl" >/dev/null
"$bin" serve --index "$work/idx" --addr 127.0.0.1:18282 2>"$work/serve.err" &
pid=$!
for _ in $(seq 50); do curl -sf localhost:18282/health >/dev/null && break; sleep 0.2; done
url='http://127.0.0.1:18282/?q=How%20many%20people%20live%20in%20Berlin%3F'
chrome=$(command -v chromium || command -v chromium-browser)
flags=(--headless --no-sandbox --disable-gpu --virtual-time-budget=15000 --window-size=1000,700)
"$chrome" "${flags[@]}" --dump-dom "$url" 2>/dev/null > "$work/dom.html"
"$chrome" "${flags[@]}" --screenshot="$out/search-page.png" "$url" 2>/dev/null
first=$(grep -o '<b>[^<]*</b>' "$work/dom.html" | head -1)
echo "first hit: $first"
grep -q 'cross-encoder' "$work/dom.html" && echo "scores shown: bm25 and cross-encoder"
grep -o 'hits, [^<]*ms' "$work/dom.html" | head -1
ls -la "$out/search-page.png"
# Then as a user: the bare page, the query typed key by key and Enter pressed (DevTools protocol).
"$chrome" --headless --no-sandbox --disable-gpu --remote-debugging-port=9333 about:blank 2>/dev/null &
cpid=$!
node --experimental-websocket "$(dirname "$0")/browser_type.js" http://127.0.0.1:18282/ "$out/typed-query.png" 2>&1 | grep -v ExperimentalWarning
kill $cpid 2>/dev/null || true
