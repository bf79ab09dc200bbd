#!/usr/bin/env bash
# The whole test suite, from a fresh clone: set-up (models included), formatting, unit +
# integration + doc tests in release mode (they run real models), the examples, the benches
# compiled, and the library used from outside the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --release --quiet -- -D warnings
cargo bench --workspace --no-run --quiet
# After the set-up nothing may be missing: a test that would skip fails instead.
SEARCH_TESTS_REQUIRE_ALL=1 cargo test --workspace --release
for example in basic_search rerank ten_lines; do
  cargo run --release --quiet -p search --example "$example"
done
# The library from outside the workspace, as a newcomer uses it (no [patch.crates-io]: stock
# candle-core); it shares the build folder, so only what differs is compiled again.
(cd examples/newcomer && CARGO_TARGET_DIR="$PWD/../../target" cargo run --release --quiet)
