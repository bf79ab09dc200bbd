#!/usr/bin/env bash
# The main job: set up, index SciFact from ../shared/datasets, answer a query, evaluate.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cli=target/release/search-cli
index=${INDEX:-target/demo/scifact-index}
rm -rf "$index"
$cli index --index "$index" --format beir ../shared/datasets/scifact
$cli query --index "$index" -k 5 "${1:-Does vitamin D deficiency raise the risk of multiple sclerosis?}"
$cli eval --index "$index" --queries ../shared/datasets/scifact --qrels ../shared/datasets/scifact --split test
