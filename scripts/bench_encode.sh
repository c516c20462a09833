#!/usr/bin/env bash
# Encoding benchmark: crossrec and sentence-transformers on the same texts,
# same model, same machine, one after the other in the same run.
#   scripts/bench_encode.sh            (needs: scripts/install_model.py done,
#                                       a Python with sentence-transformers as $PYTHON)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
model_dir=$("$PYTHON" - <<'PY'
import os, pathlib
cache = os.environ.get("HF_HUB_CACHE") or os.path.join(os.environ.get("HF_HOME", pathlib.Path.home() / ".cache/huggingface"), "hub")
repo = pathlib.Path(cache) / "models--sentence-transformers--all-MiniLM-L6-v2"
print(repo / "snapshots" / (repo / "refs/main").read_text().strip())
PY
)
cargo bench --bench encode 2>/dev/null | tee target/bench-crossrec.jsonl
HF_HUB_OFFLINE=1 "$PYTHON" scripts/peer_encode.py "$model_dir" target/bench-texts.txt 2>/dev/null | tee target/bench-peer.jsonl
"$PYTHON" - <<'PY'
import json
ours = [json.loads(l) for l in open("target/bench-crossrec.jsonl")]
ours = next(m for m in ours if m["measure"] == "encode")
peer = json.loads(open("target/bench-peer.jsonl").read())
print(f"crossrec {ours['sentences_per_s']}/s, peer {peer['sentences_per_s']}/s, "
      f"ratio {ours['sentences_per_s'] / peer['sentences_per_s']:.2f}x on {ours['texts']} texts")
PY
