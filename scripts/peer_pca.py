#!/usr/bin/env python3
"""The peer for crossrec's PCA benchmark: scikit-learn's PCA(2) on the same
matrix (`target/bench-items.npy`, written by `cargo bench --bench pca`).

    python3 scripts/peer_pca.py target/bench-items.npy [SOLVER,SOLVER…]

(`cargo bench --bench million` writes the 1M-row `target/bench-million/target.npy`;
there `covariance_eigh,randomized` skips the full SVD, which takes minutes.)

Prints one JSON line: the median of 5 fits (full SVD solver, and the
randomized one) and the explained variance ratios, to compare with
crossrec's. Needs `pip install scikit-learn numpy`.
"""

import json
import sys
import time

import numpy as np
from sklearn.decomposition import PCA


def main() -> None:
    x = np.load(sys.argv[1])
    out = {"rows": x.shape[0], "dim": x.shape[1]}
    solvers = sys.argv[2].split(",") if len(sys.argv) > 2 else ["full", "randomized", "covariance_eigh"]
    for solver in solvers:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            pca = PCA(n_components=2, svd_solver=solver, random_state=0).fit(x)
            pca.transform(x)
            times.append(time.perf_counter() - start)
        out[solver] = {"median_s": round(sorted(times)[2], 3),
                       "explained": [round(float(v), 5) for v in pca.explained_variance_ratio_]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
