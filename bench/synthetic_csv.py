"""A seeded numeric CSV for the benchmark scripts: ROWS rows of COLS uniform [0, 1) columns and a
label column of zeros (speed does not depend on the values). Usage: synthetic_csv.py ROWS COLS PATH
(bench/compare.sh, scripts/gpu-bench.sh; the same rows for the same arguments)."""
import random
import sys

rows, cols, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = random.Random(0)
with open(path, "w") as f:
    f.write(",".join(f"x{j}" for j in range(cols)) + ",label\n")
    for _ in range(rows):
        f.write(",".join(f"{rng.random():.5f}" for _ in range(cols)) + ",0\n")
