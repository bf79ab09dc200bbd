#!/usr/bin/env bash
# Everything a fresh machine needs before the demo or the tests: a release build of the
# workspace, and a check that the shared datasets are where the tests look for them.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "setup: cargo is not installed (install Rust with rustup)" >&2; exit 1; }
if [ ! -f ../shared/datasets/scifact/corpus.jsonl ]; then
  echo "setup: ../shared/datasets/scifact is missing (see ../shared/DATASETS.md)" >&2
  exit 1
fi
cargo build --release --workspace --quiet
