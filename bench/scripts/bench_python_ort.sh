#!/usr/bin/env bash
# Runs bench/scripts/bench_python_ort.py in the benchmarks' virtual environment (bench/scripts/ort_venv.sh).
exec bash "$(dirname "$0")/ort_venv.sh" bench_python_ort.py "$@"
