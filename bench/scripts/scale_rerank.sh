#!/usr/bin/env bash
# scale_rerank.sh CLI BENCH SIZES...: the reranked query and `retrain`'s corpus-dependent stage
# as a corpus grows (issue 17, item 4; scale.sh has indexing and BM25). Each size is SciFact's
# corpus replicated to N documents (ids made unique), indexed once. Then, per size:
# - end-to-end reranked latency: `search-bench pipeline`, the bundled student, BM25 top 30,
#   50 sampled SciFact test queries (nDCG is meaningless here: the ids no longer match);
# - `retrain --dry-run` under /usr/bin/time -v: the stage whose work grows with the corpus
#   (sampling documents, term statistics, pseudo-queries); teacher scoring, training and
#   selection are bounded by the pseudo-query count (250 at most), not the corpus.
# Work folder: $SCALE_DIR (default /tmp/scale); each size is removed after.
set -euo pipefail
cli=$1; bench=$2; shift 2
work=${SCALE_DIR:-/tmp/scale}
src=../shared/datasets/scifact
mkdir -p "$work"
echo "| documents | index s | reranked p50 / p99 ms (depth 30) | pairs/s | retrain --dry-run s | its peak RSS |"
echo "|---|---|---|---|---|---|"
for n in "$@"; do
  d="$work/r$n"
  rm -rf "$d"; mkdir -p "$d"
  python3 "$(dirname "$0")/replicate_corpus.py" "$src/corpus.jsonl" "$d/corpus.jsonl" "$n"
  s=$(date +%s.%N)
  "$cli" index --index "$d/index" "$d/corpus.jsonl" >/dev/null 2>&1
  idx=$(echo "$(date +%s.%N) - $s" | bc)
  "$bench" pipeline --index "$d/index" --queries $src --qrels $src --models student --depths 30 \
      --max-lens 256 --alpha 0.7 --sample 50 > "$d/pipeline.txt" 2>&1
  lat=$(awk '$1 == "student" && $2 == 30 {print $4 " / " $5 "\t" $6}' "$d/pipeline.txt")
  s=$(date +%s.%N)
  /usr/bin/time -v "$cli" retrain --index "$d/index" --out "$d/dry" --dry-run >"$d/dry.txt" 2>"$d/dry.time"
  dry=$(echo "$(date +%s.%N) - $s" | bc)
  rss=$(awk '/Maximum resident/ {printf "%.0f MB", $NF / 1024}' "$d/dry.time")
  printf "| %s | %.1f | %s | %s | %.1f | %s |\n" "$n" "$idx" "$(echo "$lat" | cut -f1)" "$(echo "$lat" | cut -f2)" "$dry" "$rss"
  rm -rf "$d"
done
