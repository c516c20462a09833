#!/usr/bin/env python3
"""The peer for crossrec's encoding benchmark: sentence-transformers on CPU,
same model, same texts, same machine.

    python3 scripts/peer_encode.py MODEL_DIR TEXTS.txt [--batch-size 32]

TEXTS.txt has one text per line (`cargo bench --bench encode` writes the
samples it times to target/bench-titles.txt and target/bench-long.txt).
Prints one JSON line with sentences/s: the median of --repeats timed runs
after a warm-up, as the crossrec side reports. Needs
`pip install sentence-transformers`.
"""

import argparse
import json
import time

import torch
from sentence_transformers import SentenceTransformer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir")
    parser.add_argument("texts")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    with open(args.texts, encoding="utf-8") as f:
        texts = [line.rstrip("\n") for line in f]
    model = SentenceTransformer(args.model_dir, device="cpu")
    model.encode(texts[:64], batch_size=args.batch_size)  # warm-up
    runs = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        model.encode(texts, batch_size=args.batch_size, normalize_embeddings=True)
        runs.append(time.perf_counter() - start)
    seconds = sorted(runs)[len(runs) // 2]
    print(json.dumps({
        "tool": f"sentence-transformers (torch {torch.__version__}, {torch.get_num_threads()} threads)",
        "texts": len(texts),
        "seconds": round(seconds, 3),
        "runs_s": [round(r, 3) for r in runs],
        "sentences_per_s": round(len(texts) / seconds, 1),
    }))


if __name__ == "__main__":
    main()
