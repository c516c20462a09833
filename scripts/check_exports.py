#!/usr/bin/env python3
"""Open crossrec's exports the way an analyst would, and check their shapes.

    crossrec export --dataset M --what embeddings --output vectors.npy
    crossrec export --dataset M --what embeddings --output vectors.parquet
    crossrec export --dataset M --what projection --output projection.csv
    python3 scripts/check_exports.py vectors.npy vectors.parquet projection.csv [more files]

Needs numpy; uses pandas when installed (else the csv module); a .parquet
file needs pyarrow, and is also opened with pandas, polars and DuckDB when
they are installed. Prints one line per file and exits non-zero if something
does not line up.
"""

import csv
import sys

import numpy as np

try:
    import pandas as pd
except ImportError:  # pandas is optional
    pd = None


def read_csv(path):
    if pd is not None:
        frame = pd.read_csv(path, keep_default_na=False, dtype=str)
        return list(frame.columns), frame.values.tolist()
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def check_npy(path):
    matrix = np.load(path)
    assert matrix.dtype == np.float32 and matrix.ndim == 2, (matrix.dtype, matrix.shape)
    ids_path = path[: -len(".npy")] + ".ids.csv"
    header, rows = read_csv(ids_path)
    assert header == ["row", "domain", "item_id"], header
    assert len(rows) == matrix.shape[0], (len(rows), matrix.shape)
    if matrix.shape[1] > 2:
        norms = np.linalg.norm(matrix, axis=1)
        assert np.allclose(norms, 1.0, atol=1e-4), "rows are not unit vectors"
    print(f"{path}: float32 {matrix.shape}, ids in {ids_path}")


def check_csv(path):
    header, rows = read_csv(path)
    known = {
        "item_id": "projection",
        "domain": "embeddings or neighbors",
        "user_id": "recommendations",
    }
    assert header[0] in known, header
    assert all(len(r) == len(header) for r in rows), "ragged rows"
    print(f"{path}: {known[header[0]]}, {len(rows)} rows × {len(header)} columns")


def check_parquet(path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    names = table.schema.names
    readers = ["pyarrow"]
    if "embedding" in names:
        vector = table.schema.field("embedding").type
        assert pa.types.is_fixed_size_list(vector), vector
        assert vector.value_type == pa.float32(), vector
        flat = table.column("embedding").combine_chunks().flatten().to_numpy()
        matrix = flat.reshape(table.num_rows, vector.list_size)
        norms = np.linalg.norm(matrix, axis=1)
        assert np.allclose(norms, 1.0, atol=1e-4), "rows are not unit vectors"
    if pd is not None:
        frame = pd.read_parquet(path)
        assert list(frame.columns) == names and len(frame) == table.num_rows
        readers.append("pandas")
    try:
        import polars as pl

        frame = pl.read_parquet(path)
        assert frame.columns == names and frame.height == table.num_rows
        readers.append("polars")
    except ImportError:
        pass
    try:
        import duckdb

        rows = duckdb.sql(f"SELECT count(*) FROM read_parquet('{path}')").fetchall()[0][0]
        assert rows == table.num_rows
        readers.append("duckdb")
    except ImportError:
        pass
    print(
        f"{path}: {table.num_rows} rows, columns {', '.join(names)}; "
        f"read by {', '.join(readers)}"
    )


def main():
    for path in sys.argv[1:]:
        if path.endswith(".npy"):
            check_npy(path)
        elif path.endswith(".parquet"):
            check_parquet(path)
        else:
            check_csv(path)


if __name__ == "__main__":
    main()
