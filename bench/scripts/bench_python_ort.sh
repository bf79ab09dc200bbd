#!/usr/bin/env bash
# Runs bench/scripts/bench_python_ort.py in its own virtual environment (.venv-bench, git-ignored),
# installing the pinned onnxruntime (same version as the Rust side's library) on first use.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${BENCH_VENV:-$root/.venv-bench}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import onnxruntime, tokenizers, numpy" 2>/dev/null; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet onnxruntime==1.32.0 tokenizers==0.22.1 numpy >&2
fi
exec "$venv/bin/python" "$here/bench_python_ort.py" "$@"
