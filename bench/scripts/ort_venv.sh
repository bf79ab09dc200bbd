#!/usr/bin/env bash
# ort_venv.sh SCRIPT.py [args...]: runs a bench/scripts Python script in the benchmarks'
# virtual environment (.venv-bench, git-ignored, or $BENCH_VENV), installing the pinned
# onnxruntime (the Rust side's library version), tokenizers, onnx and numpy on first use.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${BENCH_VENV:-$root/.venv-bench}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import onnxruntime, onnx, tokenizers, numpy" 2>/dev/null; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet onnxruntime==1.32.0 tokenizers==0.22.1 onnx numpy >&2
fi
script="$1"
shift
exec "$venv/bin/python" "$here/$script" "$@"
