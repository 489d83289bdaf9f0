#!/usr/bin/env python3
"""How much weight should the neighbours term get beside the residual views? (docs/results.md,
"What was tried and not taken".) For one trained `robust` member per seed and table (the probes of
research/aggregation_study.py): the test ROC AUC / AP of (log error + residual tails) / 2 + w x
neighbours for several w (the default: w = 1), next to each residual view alone with the
neighbours term. Every statistic is fitted on the training rows only (no test row, no label).

Usage: research/neighbours_weight_study.py PROBE_DIR SPLIT_DIR TABLE [TABLE ...]   (the bench venv)
"""
import os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from aggregation_study import study, tail_grid, tail_nll_thinned, thinned  # noqa: E402
from neighbours_study import log, z as standardise  # noqa: E402


def weighted(x_train, x_test, knn, near, zt, zs):
    error = standardise(log((zt ** 2).mean(1)), log((zs ** 2).mean(1)))
    grid = thinned(tail_grid(zt), 0.1)
    tails = standardise(log(tail_nll_thinned(grid, zt)), log(tail_nll_thinned(grid, zs)))
    scores = {f"(error + tails)/2 + {w} x knn": (error + tails) / 2 + w * near for w in (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)}
    scores["error + knn (log error alone)"] = error + near
    scores["tails + knn"] = tails + near
    return scores


if __name__ == "__main__":
    study(sys.argv[1], sys.argv[2], sys.argv[3:], weighted)
