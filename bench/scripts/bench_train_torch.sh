#!/usr/bin/env bash
# Runs bench/scripts/bench_train_torch.py in the benchmark virtual environment (.venv-bench,
# git-ignored), installing CPU PyTorch and transformers on first use (a large download).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${BENCH_VENV:-$root/.venv-bench}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import torch, transformers, tokenizers" 2>/dev/null; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet torch transformers safetensors tokenizers >&2
fi
exec "$venv/bin/python" "$here/bench_train_torch.py" "$@"
