#!/usr/bin/env bash
# Encoding benchmark: crossrec (fp32 and int8) and sentence-transformers on
# the same texts (product titles; users' histories of 100-256 tokens), same
# model, same machine, in alternating rounds.
#   scripts/bench_encode.sh            (needs: scripts/install_model.py done,
#                                       a Python with sentence-transformers as $PYTHON)
#   ROUNDS=5 scripts/bench_encode.sh   (rounds; default 5)
#
# Each round times crossrec once (per sample and precision), then the peer
# once (per sample), so both sides of a round see the same machine; the
# ratio in each round pairs them. The table gives each side's median rate
# over the rounds, the median of the rounds' ratios, and their range.
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
      | sed "s/^{/{\"round\": $round, \"sample\": \"$sample\", /" | tee -a target/bench-peer.jsonl
  done
done
"$PYTHON" - <<'PY'
import json, statistics
ours = [json.loads(l) for l in open("target/bench-crossrec.jsonl")]
peer = [json.loads(l) for l in open("target/bench-peer.jsonl")]
rounds = sorted({m["round"] for m in peer})
print(f"{len(rounds)} alternating rounds; rates are medians over the rounds, ratios the median (and range) of each round's ratio.")
print()
print("| sample | texts | tokens | peer /s | crossrec fp32 /s | ratio | crossrec int8 /s | ratio | int8 min / mean cosine to fp32 |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
def rate(rows, round_, **keys):
    return next(m["sentences_per_s"] for m in rows if m["round"] == round_ and all(m.get(k) == v for k, v in keys.items()))
for sample in ("titles", "long"):
    p = {r: rate(peer, r, sample=sample) for r in rounds}
    cells = []
    for precision in ("fp32", "int8"):
        c = {r: rate(ours, r, measure="encode", sample=sample, precision=precision) for r in rounds}
        ratios = [c[r] / p[r] for r in rounds]
        cells.append(f"{statistics.median(c.values()):.1f} | **{statistics.median(ratios):.2f}×** ({min(ratios):.2f}–{max(ratios):.2f})")
    first = next(m for m in ours if m["measure"] == "encode" and m["sample"] == sample and m["precision"] == "int8")
    print(f"| {sample} | {first['texts']} | {first['tokens']} | {statistics.median(p.values()):.1f} | {cells[0]} | {cells[1]} | "
          f"{first['min_cosine_to_fp32']:.4f} / {first['mean_cosine_to_fp32']:.4f} |")
PY
