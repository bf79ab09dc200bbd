#!/usr/bin/env bash
# The main job: set up, index SciFact from ../shared/datasets, answer a query with BM25
# reranked by the bundled student (assets/student), then evaluate BM25 and the reranked
# pipeline on the 300 SciFact test queries.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cli=target/release/search-cli
index=${INDEX:-target/demo/scifact-index}
rm -rf "$index"
$cli index --index "$index" --format beir ../shared/datasets/scifact
$cli query --index "$index" -k 5 --depth 30 "${1:-Does vitamin D deficiency raise the risk of multiple sclerosis?}"
$cli eval --index "$index" --queries ../shared/datasets/scifact --qrels ../shared/datasets/scifact --split test --rerank
