#!/usr/bin/env bash
# Encoding benchmark: crossrec (fp32 and int8) and sentence-transformers on
# the same texts (product titles; users' histories of 100-256 tokens), same
# model, same machine, one after the other in the same run.
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
for sample in titles long; do
  HF_HUB_OFFLINE=1 "$PYTHON" scripts/peer_encode.py "$model_dir" "target/bench-$sample.txt" 2>/dev/null \
    | sed "s/^{/{\"sample\": \"$sample\", /" | tee "target/bench-peer-$sample.jsonl"
done
"$PYTHON" - <<'PY'
import json
ours = [json.loads(l) for l in open("target/bench-crossrec.jsonl")]
print("| sample | texts | tokens | peer /s | crossrec fp32 /s | ratio | crossrec int8 /s | ratio | int8 min / mean cosine to fp32 |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for sample in ("titles", "long"):
    peer = json.loads(open(f"target/bench-peer-{sample}.jsonl").read())
    rows = {m["precision"]: m for m in ours if m["measure"] == "encode" and m["sample"] == sample}
    fp32, int8 = rows["fp32"], rows["int8"]
    p = peer["sentences_per_s"]
    print(f"| {sample} | {fp32['texts']} | {fp32['tokens']} | {p} | {fp32['sentences_per_s']} | "
          f"**{fp32['sentences_per_s'] / p:.2f}×** | {int8['sentences_per_s']} | "
          f"**{int8['sentences_per_s'] / p:.2f}×** | "
          f"{int8['min_cosine_to_fp32']:.4f} / {int8['mean_cosine_to_fp32']:.4f} |")
PY
