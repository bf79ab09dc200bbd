#!/usr/bin/env bash
# The whole test suite, from a fresh clone: set-up, unit + integration + doc tests, the
# examples, and a build of the benchmarks' entry point.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo fmt --all -- --check
cargo test --workspace --release
cargo run --release --quiet -p search-examples --example basic_search
