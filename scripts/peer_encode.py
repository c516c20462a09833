#!/usr/bin/env python3
"""The peer for crossrec's encoding benchmark: sentence-transformers on CPU,
same model, same texts, same machine.

    python3 scripts/peer_encode.py MODEL_DIR TEXTS.txt [--batch-size 32]

TEXTS.txt has one text per line (`cargo bench --bench encode` writes the
sample it times to target/bench-texts.txt). Prints one JSON line with
sentences/s. Needs `pip install sentence-transformers`.
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
    args = parser.parse_args()
    with open(args.texts, encoding="utf-8") as f:
        texts = [line.rstrip("\n") for line in f]
    model = SentenceTransformer(args.model_dir, device="cpu")
    model.encode(texts[:64], batch_size=args.batch_size)  # warm-up
    start = time.perf_counter()
    model.encode(texts, batch_size=args.batch_size, normalize_embeddings=True)
    seconds = time.perf_counter() - start
    print(json.dumps({
        "tool": f"sentence-transformers (torch {torch.__version__}, {torch.get_num_threads()} threads)",
        "texts": len(texts),
        "seconds": round(seconds, 3),
        "sentences_per_s": round(len(texts) / seconds, 1),
    }))


if __name__ == "__main__":
    main()
