#!/usr/bin/env bash
# Encoding benchmark: crossrec (fp32 and int8) against sentence-transformers
# and ONNX Runtime (fp32 and dynamic int8, scripts/peer_encode_ort.py) on the
# same texts (product titles; users' histories of 100-256 tokens), same
# model, same machine, in alternating rounds.
#   scripts/bench_encode.sh            (needs: scripts/install_model.py done,
#                                       a Python with sentence-transformers,
#                                       onnxruntime, onnx and onnxscript as $PYTHON)
#   ROUNDS=5 scripts/bench_encode.sh   (rounds; default 5)
#
# Each round times crossrec once (per sample and precision), then each peer
# once (per sample), so every side of a round sees the same machine; the
# ratio in each round pairs them. The table gives each side's median rate
# over the rounds, the median of the rounds' ratios, and their range; the
# ONNX peers' vectors are checked against sentence-transformers' (min cosine).
# Round 1 also measures dataset load and cache reopen.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
ROUNDS=${ROUNDS:-5}
model_dir=$("$PYTHON" - <<'PY'
import os, pathlib
cache = os.environ.get("HF_HUB_CACHE") or os.path.join(os.environ.get("HF_HOME", pathlib.Path.home() / ".cache/huggingface"), "hub")
repo = pathlib.Path(cache) / "models--sentence-transformers--all-MiniLM-L6-v2"
print(repo / "snapshots" / (repo / "refs/main").read_text().strip())
PY
)
case "$ROUNDS" in
  '' | *[!0-9]* | 0) echo "ROUNDS=$ROUNDS: expected a whole number of at least 1" >&2; exit 2 ;;
esac
cargo bench --bench encode --no-run
: > target/bench-crossrec.jsonl
: > target/bench-peer.jsonl
for round in $(seq 1 "$ROUNDS"); do
  only=$([ "$round" = 1 ] && echo 0 || echo 1)
  # cargo's own progress lines go; the bench's messages (a skip) stay.
  CROSSREC_BENCH_REPEATS=1 CROSSREC_BENCH_ENCODE_ONLY=$only cargo bench -q --bench encode \
    | sed "s/^{/{\"round\": $round, /" | tee -a target/bench-crossrec.jsonl
  if ! grep -q "\"round\": $round, \"measure\": \"encode\"" target/bench-crossrec.jsonl; then
    echo "round $round: crossrec's bench measured nothing (its message is above)" >&2
    exit 1
  fi
  for sample in titles long; do
    HF_HUB_OFFLINE=1 "$PYTHON" scripts/peer_encode.py --repeats 1 "$model_dir" "target/bench-$sample.txt" \
      | sed "s/^{/{\"round\": $round, \"sample\": \"$sample\", \"peer\": \"st\", /" | tee -a target/bench-peer.jsonl
    for precision in fp32 int8; do
      check=$([ "$round" = 1 ] && echo 500 || echo 0)
      HF_HUB_OFFLINE=1 "$PYTHON" scripts/peer_encode_ort.py --repeats 1 --precision "$precision" \
        --check-against-st "$check" "$model_dir" "target/bench-$sample.txt" \
        | sed "s/^{/{\"round\": $round, \"sample\": \"$sample\", \"peer\": \"ort-$precision\", /" \
        | tee -a target/bench-peer.jsonl
    done
  done
done
"$PYTHON" - <<'PY'
import json, statistics
ours = [json.loads(l) for l in open("target/bench-crossrec.jsonl")]
peer = [json.loads(l) for l in open("target/bench-peer.jsonl")]
rounds = sorted({m["round"] for m in peer})
print(f"{len(rounds)} alternating rounds; rates are medians over the rounds, ratios the median (and range) of each round's ratio.")
print()
def rate(rows, round_, **keys):
    return next(m["sentences_per_s"] for m in rows if m["round"] == round_ and all(m.get(k) == v for k, v in keys.items()))
def ratio_cell(c, p):
    ratios = [c[r] / p[r] for r in rounds]
    return f"**{statistics.median(ratios):.2f}×** ({min(ratios):.2f}–{max(ratios):.2f})"
print("| sample | texts | tokens | sentence-transformers /s | ORT fp32 /s | ORT int8 /s | crossrec fp32 /s | vs ST | vs ORT fp32 | crossrec int8 /s | vs ST | vs ORT int8 | int8 min / mean cosine to fp32 |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
checks = []
for sample in ("titles", "long"):
    p = {name: {r: rate(peer, r, sample=sample, peer=name) for r in rounds} for name in ("st", "ort-fp32", "ort-int8")}
    c = {prec: {r: rate(ours, r, measure="encode", sample=sample, precision=prec) for r in rounds} for prec in ("fp32", "int8")}
    med = lambda d: f"{statistics.median(d.values()):.1f}"
    first = next(m for m in ours if m["measure"] == "encode" and m["sample"] == sample and m["precision"] == "int8")
    print(f"| {sample} | {first['texts']} | {first['tokens']} | {med(p['st'])} | {med(p['ort-fp32'])} | {med(p['ort-int8'])} | "
          f"{med(c['fp32'])} | {ratio_cell(c['fp32'], p['st'])} | {ratio_cell(c['fp32'], p['ort-fp32'])} | "
          f"{med(c['int8'])} | {ratio_cell(c['int8'], p['st'])} | {ratio_cell(c['int8'], p['ort-int8'])} | "
          f"{first['min_cosine_to_fp32']:.4f} / {first['mean_cosine_to_fp32']:.4f} |")
    for m in peer:
        if m["sample"] == sample and "min_cosine_to_st" in m:
            checks.append(f"{sample}, {m['peer']}: min {m['min_cosine_to_st']:.6f}, mean {m['mean_cosine_to_st']:.6f} over the first 500 texts")
print()
print("ONNX Runtime's vectors against sentence-transformers': " + "; ".join(checks))
PY
