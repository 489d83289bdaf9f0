#!/usr/bin/env python3
"""Rows per second of da3d.dask's scoring: one process, one Dask worker, every worker of a local
cluster (docs/python.md, "Scoring on Dask"). The model: the default (robust, seed 0) trained on
Mammography's normal rows; the table: ROWS of them drawn with replacement, made on the workers
(so the figure is scoring, not shipping data from the client). Each worker computes on one
thread (RAYON_NUM_THREADS=1).

    python bench/dask_throughput.py [ROWS] [WORKERS]      # defaults: 1000000, every core
"""

import os
import sys
import time

import numpy as np
import pandas as pd

import da3d
from da3d.dask import score_partitions

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
WORKERS = int(sys.argv[2]) if len(sys.argv) > 2 else os.cpu_count()
PARTITIONS = 16
data = os.path.join(os.environ.get("DA3D_DATA_DIR", "../shared/datasets"), "mammography.csv")


def part(i, source):
    rng = np.random.default_rng(i)
    rows = ROWS // PARTITIONS + (i < ROWS % PARTITIONS)
    return source.iloc[rng.integers(0, len(source), rows)].reset_index(drop=True)


def main():
    table = pd.read_csv(data)
    normal = table[table["label"] == 0].drop(columns=["label"])
    model = da3d.DA3D(seed=0).fit(normal)
    whole = pd.concat([part(i, normal) for i in range(PARTITIONS)], ignore_index=True)
    start = time.perf_counter()
    expected = model.decision_function(whole)
    one = time.perf_counter() - start
    print(f"one process (every core): {ROWS / one:,.0f} rows/s ({one:.1f} s)")

    import dask.dataframe as dd
    from dask.distributed import Client, LocalCluster

    os.environ["RAYON_NUM_THREADS"] = "1"
    for workers in sorted({1, WORKERS}):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
            frame = dd.from_map(part, range(PARTITIONS), source=normal, meta=normal.iloc[:0])
            frame = client.persist(frame)
            client.wait_for_workers(workers)
            frame.map_partitions(len).compute()  # the rows exist on the workers before timing
            start = time.perf_counter()
            scores = score_partitions(frame, model).compute()
            took = time.perf_counter() - start
            same = np.array_equal(scores.to_numpy(), expected)
            print(f"{workers} worker(s), 1 thread each: {ROWS / took:,.0f} rows/s ({took:.1f} s; {ROWS / took / workers:,.0f} per worker); scores equal: {same}")


if __name__ == "__main__":
    main()
