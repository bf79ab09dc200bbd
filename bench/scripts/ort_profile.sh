#!/usr/bin/env bash
# Runs bench/scripts/ort_profile.py in the benchmarks' virtual environment (.venv-bench,
# git-ignored), installing the pinned onnxruntime and onnx on first use.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${BENCH_VENV:-$root/.venv-bench}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import onnxruntime, onnx, numpy" 2>/dev/null; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet onnxruntime==1.32.0 tokenizers==0.22.1 onnx numpy >&2
fi
exec "$venv/bin/python" "$here/ort_profile.py" "$@"
