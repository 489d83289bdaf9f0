#!/usr/bin/env python3
"""Issue 14, session 13: the neighbours term's weight against the residual views (docs/results.md,
"Session 13"). For one trained `robust` member per seed and table (the probes of
scripts/aggregation_study.py): the test ROC AUC / AP of (log error + residual tails) / 2 + w x
neighbours for several w (the default: w = 1), next to each residual view alone with the
neighbours term. Every statistic is fitted on the training rows only (no test row, no label).

Usage: scripts/neighbours_weight_study.py PROBE_DIR SPLIT_DIR TABLE [TABLE ...]   (the bench venv)
"""
import os, sys

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from aggregation_study import tail_grid, tail_nll_thinned, thinned  # noqa: E402
from neighbours_study import kth_distance, log, probes, z as standardise  # noqa: E402


def main():
    probe_dir, split_dir, tables = sys.argv[1], sys.argv[2], sys.argv[3:]
    means = {}
    for table in tables:
        results = {}
        for seed, x_train, x_test, y, _, res_train, res_test in probes(probe_dir, split_dir, table):
            mu, sd = res_train.mean(0), np.maximum(res_train.std(0), 1e-3)
            zt, zs = (res_train - mu) / sd, (res_test - mu) / sd
            knn = kth_distance(x_train, x_test)
            near = standardise(log(knn[0]), log(knn[1]))
            error = standardise(log((zt ** 2).mean(1)), log((zs ** 2).mean(1)))
            grid = thinned(tail_grid(zt), 0.1)
            tails = standardise(log(tail_nll_thinned(grid, zt)), log(tail_nll_thinned(grid, zs)))
            scores = {f"(error + tails)/2 + {w} x knn": (error + tails) / 2 + w * near for w in (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)}
            scores["error + knn (session 10)"] = error + near
            scores["tails + knn"] = tails + near
            for k, v in scores.items():
                results.setdefault(k, []).append((roc_auc_score(y, v), average_precision_score(y, v)))
        print(table, flush=True)
        for k, v in results.items():
            a = np.array(v)
            means.setdefault(k, []).append((a[:, 0].mean(), a[:, 1].mean()))
            print(f"  {k:30s} ROC AUC {a[:, 0].mean():.3f} ± {a[:, 0].std():.3f}  AP {a[:, 1].mean():.3f}", flush=True)
    print("mean over the tables: ROC AUC, AP")
    for k, v in means.items():
        v = np.array(v)
        print(f"  {k:30s} {v[:, 0].mean():.4f}  {v[:, 1].mean():.4f}")


if __name__ == "__main__":
    main()
