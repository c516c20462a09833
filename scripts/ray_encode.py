#!/usr/bin/env python3
"""Encode a dataset as N shards run as Ray tasks, then join them into
crossrec's embedding cache.

    pip install ray
    python3 scripts/ray_encode.py --dataset data/crossrec.toml --shards 8 \
        [--model MODEL] [--cpus-per-shard 4] [--out shards/] [--crossrec PATH]

Each task runs `crossrec encode --shard I/N --output shards/shard-I-of-N.parquet`
(a fixed 1/N of the distinct texts, chosen by text hash), then the driver runs
`crossrec import-shards` with every shard, which checks that they are one
whole split made by the same model and fills the cache; every later crossrec
command then finds all vectors there.

Here `ray.init()` starts a one-machine cluster. On a real cluster, pass
`--address auto` (or set RAY_ADDRESS) on the head node; every node must see
the crossrec binary, the model folder, the dataset and the --out folder at
the same paths (a shared file system), since the tasks exchange files, not
vectors. Prints one line per shard and the wall-clock times.
"""

import argparse
import os
import subprocess
import sys
import time

import ray


@ray.remote
def encode_shard(crossrec, dataset, model, index, count, output, workers):
    """One shard, as a subprocess; returns (index, seconds, last output line)."""
    started = time.time()
    command = [
        crossrec, "encode", "--dataset", dataset, "--shard", f"{index}/{count}",
        "--output", output, "--workers", str(workers),
    ]
    if model:
        command += ["--model", model]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"shard {index}/{count} failed:\n{run.stderr}")
    lines = run.stdout.strip().splitlines()
    return index, time.time() - started, lines[0] if lines else ""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, help="the manifest (crossrec.toml)")
    parser.add_argument("--shards", type=int, required=True, help="how many shards (N)")
    parser.add_argument("--model", help="a model folder or hub id (crossrec's default if absent)")
    parser.add_argument("--cpus-per-shard", type=int, default=1,
                        help="CPUs each task reserves and encodes with (default 1)")
    parser.add_argument("--out", default="shards", help="folder for the shard files")
    parser.add_argument("--crossrec", default="crossrec", help="the crossrec binary")
    parser.add_argument("--address", help="a running Ray cluster (default: start a local one)")
    args = parser.parse_args()

    dataset = os.path.abspath(args.dataset)
    out = os.path.abspath(args.out)
    crossrec = args.crossrec
    if os.path.sep in crossrec:
        crossrec = os.path.abspath(crossrec)
    os.makedirs(out, exist_ok=True)

    started = time.time()
    ray.init(address=args.address, include_dashboard=False, log_to_driver=False)
    ready = time.time()
    outputs = [
        os.path.join(out, f"shard-{i}-of-{args.shards}.parquet")
        for i in range(1, args.shards + 1)
    ]
    tasks = [
        encode_shard.options(num_cpus=args.cpus_per_shard).remote(
            crossrec, dataset, args.model, i, args.shards, outputs[i - 1],
            args.cpus_per_shard,
        )
        for i in range(1, args.shards + 1)
    ]
    for index, seconds, line in sorted(ray.get(tasks)):
        print(f"task {index}: {seconds:.1f} s  {line}")
    encoded = time.time()
    ray.shutdown()

    command = [crossrec, "import-shards", "--dataset", dataset, *outputs]
    if args.model:
        command += ["--model", args.model]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"import-shards failed:\n{run.stderr}")
    print(run.stdout.strip())
    done = time.time()
    print(
        f"ray start {ready - started:.1f} s, shards {encoded - ready:.1f} s, "
        f"import {done - encoded:.1f} s, total {done - started:.1f} s"
    )


if __name__ == "__main__":
    main()
