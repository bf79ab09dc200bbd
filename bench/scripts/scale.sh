#!/usr/bin/env bash
# scale.sh BIN SIZES...: the cost curve of indexing and BM25 as a corpus grows. Each size is
# SciFact's corpus replicated to N documents (ids made unique), so postings grow linearly while
# the vocabulary stays SciFact's (a real corpus of that size has a larger one). For each size:
# `search-cli bench` (one indexing run, then SciFact's 1,109 queries timed in process, top 100)
# under /usr/bin/time -v for peak RSS, and the index's size on disk (indexed once more with
# `search-cli index`). Work folder: $SCALE_DIR (default /tmp/scale); each size is removed after.
set -euo pipefail
bin=$1; shift
work=${SCALE_DIR:-/tmp/scale}
src=../shared/datasets/scifact
mkdir -p "$work"
echo "| documents | indexing docs/s | peak RSS (bench) | index on disk | BM25 top-100 ids p50 / p99 ms | with text p50 / p99 ms |"
echo "|---|---|---|---|---|---|"
for n in "$@"; do
  d="$work/c$n"
  rm -rf "$d"; mkdir -p "$d/beir"
  python3 "$(dirname "$0")/replicate_corpus.py" "$src/corpus.jsonl" "$d/beir/corpus.jsonl" "$n"
  cp "$src/queries.jsonl" "$d/beir/"
  /usr/bin/time -v "$bin" bench --index-rounds 1 --rounds 1 "$d/beir" >"$d/bench.txt" 2>"$d/bench.time"
  rss=$(awk '/Maximum resident/ {printf "%.0f MB", $NF / 1024}' "$d/bench.time")
  rate=$(grep -o 'best [0-9.]* s ([0-9]* docs/s)' "$d/bench.txt" | grep -o '[0-9]* docs/s' | cut -d' ' -f1)
  ids=$(grep 'top-k ids' "$d/bench.txt" | sed -E 's/.*p50 ([0-9.]+) ms, p99 ([0-9.]+) ms.*/\1 \/ \2/')
  txt=$(grep 'hits+text' "$d/bench.txt" | sed -E 's/.*p50 ([0-9.]+) ms, p99 ([0-9.]+) ms.*/\1 \/ \2/')
  "$bin" index --index "$d/index" "$d/beir" >/dev/null 2>&1
  mb=$(du -sm "$d/index" | cut -f1)
  echo "| $n | $rate | $rss | $mb MB | $ids | $txt |"
  rm -rf "$d"
done
