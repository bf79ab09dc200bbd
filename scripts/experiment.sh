#!/usr/bin/env bash
# Builds what an experiment needs (models, release binary, the SciFact and CISI indexes) and
# runs it: `bash scripts/experiment.sh [CONFIG...]` (default experiments/scifact.json; several
# configurations form a queue that the workers work through in order). Resumable: run it again
# after an interruption and finished runs are kept. JOBS worker processes (default:
# the cores, at most 4; each holds ~2 GB) train runs side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cli=target/release/search-cli
[ -f runs/scifact/engine.json ] || $cli index --index runs/scifact --format beir ../shared/datasets/scifact
[ -f runs/cisi/engine.json ] || $cli index --index runs/cisi --format smart ../shared/datasets/cisi/CISI.ALL
jobs=${JOBS:-$(( $(nproc) < 4 ? $(nproc) : 4 ))}
configs=("${@:-experiments/scifact.json}")
queue=$(IFS=,; echo "${configs[*]}")
exec $cli experiment --config "$queue" --jobs "$jobs"
