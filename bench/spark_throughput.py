#!/usr/bin/env python3
"""Rows per second of da3d.spark's scoring: one process, then Spark in local mode with one and
with CORES executor threads (docs/python.md, "Scoring on Spark"). The model: the default
(robust, seed 0) trained on Mammography's normal rows; the table: ROWS of them drawn with
replacement, made on the executors and cached before timing (so the figure is scoring, not
shipping data from the driver). Each Python worker computes on one thread (RAYON_NUM_THREADS=1);
Arrow batches of Spark's default size (10,000 rows). The timed action writes to Spark's `noop`
sink, so every score is computed and none is collected; a second pass collects them and checks
them against the single process's.

    python bench/spark_throughput.py [ROWS] [CORES]      # defaults: 1000000, every core
"""

import os
import sys
import time
import warnings

import numpy as np
import pandas as pd

import da3d
from da3d.spark import score_dataframe

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
CORES = int(sys.argv[2]) if len(sys.argv) > 2 else os.cpu_count()
PARTITIONS = 16
data = os.path.join(os.environ.get("DA3D_DATA_DIR", "../shared/datasets"), "mammography.csv")
warnings.filterwarnings("ignore", module="pyspark")  # its notes on pandas 3


def part(i, source):
    """Partition i of the table: its rows, drawn from `source`, and their numbers."""
    rng = np.random.default_rng(i)
    rows = ROWS // PARTITIONS + (i < ROWS % PARTITIONS)
    first = i * (ROWS // PARTITIONS) + min(i, ROWS % PARTITIONS)
    drawn = source.iloc[rng.integers(0, len(source), rows)].reset_index(drop=True)
    return drawn.assign(row=np.arange(first, first + rows))


def main():
    table = pd.read_csv(data)
    normal = table[table["label"] == 0].drop(columns=["label"])
    features = list(normal.columns)
    model = da3d.DA3D(seed=0).fit(normal)
    whole = pd.concat([part(i, normal) for i in range(PARTITIONS)], ignore_index=True)
    start = time.perf_counter()
    expected = model.decision_function(whole[features])
    one = time.perf_counter() - start
    print(f"one process (every core): {ROWS / one:,.0f} rows/s ({one:.1f} s)")
    del whole

    os.environ["RAYON_NUM_THREADS"] = "1"
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    for cores in sorted({1, CORES}):
        spark = (
            SparkSession.builder.master(f"local[{cores}]")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.memory", "8g")
            .config("spark.ui.showConsoleProgress", "false")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        schema = ", ".join(f"`{c}` double" for c in features) + ", row long"

        def make(batches):
            for batch in batches:
                for i in batch["id"]:
                    yield part(int(i), normal)

        rows = spark.range(PARTITIONS, numPartitions=PARTITIONS).mapInPandas(make, schema).cache()
        assert rows.count() == ROWS  # the rows exist on the executors before timing
        start = time.perf_counter()
        score_dataframe(rows, model, columns=features).write.format("noop").mode("overwrite").save()
        took = time.perf_counter() - start
        scores = score_dataframe(rows, model, columns=features).select("row", "score").toPandas().sort_values("row")
        same = np.array_equal(scores["score"].to_numpy(), expected)
        print(f"local[{cores}], one Python worker per core: {ROWS / took:,.0f} rows/s ({took:.1f} s; {ROWS / took / cores:,.0f} per core); scores equal: {same}")
        spark.stop()


if __name__ == "__main__":
    main()
