#!/usr/bin/env bash
# Runs bench/scripts/gemm_rate.py in the benchmarks' virtual environment (bench/scripts/ort_venv.sh).
exec bash "$(dirname "$0")/ort_venv.sh" gemm_rate.py "$@"
