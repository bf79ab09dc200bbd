#!/usr/bin/env bash
# Runs bench/scripts/ort_profile.py in the benchmarks' virtual environment (bench/scripts/ort_venv.sh).
exec bash "$(dirname "$0")/ort_venv.sh" ort_profile.py "$@"
