#!/usr/bin/env python3
"""Isolation Forest on the very same splits as `da3d eval` (the baseline of docs/results.md).

Usage: scripts/iforest.py DATA.csv --dataset NAME --seeds 0,1,2,3,4 [--contamination 0]
Needs numpy and scikit-learn (pip install numpy scikit-learn) and a built `da3d` binary
(it asks `da3d split` for the rows, so the splits are identical). Prints one line per seed and
the mean ± std of the test ROC AUC.
"""
import argparse, csv, gzip, json, os, subprocess, sys

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--dataset", default=None)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--contamination", type=float, default=0.0)
    ap.add_argument("--da3d", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/da3d-target")), "debug", "da3d"))
    a = ap.parse_args()

    opener = gzip.open if a.data.endswith(".gz") else open
    with opener(a.data, "rt", newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    # physical line of each record (no multi-line fields in the paper's data sets)
    by_line = {i + 2: r for i, r in enumerate(body)}
    label_idx = header.index("label")
    skip = {label_idx} | {i for i, h in enumerate(header) if h.startswith("meta_")}
    feat = [i for i in range(len(header)) if i not in skip]
    # one-hot text columns (the union of all rows' categories; IF is unaffected by unused ones)
    cats = {}
    for i in feat:
        vals = {r[i] for r in body}
        try:
            [float(v) for v in vals]
        except ValueError:
            cats[i] = sorted(vals)
        if a.dataset == "census":
            cats[i] = sorted(vals)

    def encode(line):
        r = by_line[line]
        out = []
        for i in feat:
            if i in cats:
                out.extend(1.0 if r[i] == c else 0.0 for c in cats[i])
            else:
                out.append(float(r[i]))
        return out

    aucs, aps = [], []
    for seed in [int(s) for s in a.seeds.split(",")]:
        cmd = [a.da3d, "split", a.data, "--seed", str(seed), "--contamination", str(a.contamination)]
        if a.dataset:
            cmd += ["--dataset", a.dataset]
        split = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        xtr = np.array([encode(l) for l in split["train_lines"]])
        xte = np.array([encode(l) for l in split["test_lines"]])
        yte = np.array([int(float(by_line[l][label_idx])) for l in split["test_lines"]])
        lo, hi = xtr.min(0), xtr.max(0)
        rng = np.where(hi > lo, hi - lo, 1.0)
        xtr, xte = (xtr - lo) / rng, (xte - lo) / rng
        forest = IsolationForest(n_estimators=100, random_state=seed).fit(xtr)
        s = -forest.score_samples(xte)
        auc, apr = roc_auc_score(yte, s), average_precision_score(yte, s)
        aucs.append(auc)
        aps.append(apr)
        print(f"seed {seed}: test ROC AUC {auc:.4f}, AP {apr:.4f} ({len(yte)} rows, {yte.sum()} anomalies)")
    print(f"Isolation Forest: ROC AUC {np.mean(aucs):.3f} ± {np.std(aucs, ddof=1) if len(aucs) > 1 else 0:.3f}, "
          f"AP {np.mean(aps):.3f} ± {np.std(aps, ddof=1) if len(aps) > 1 else 0:.3f} over {len(aucs)} seeds")


if __name__ == "__main__":
    sys.exit(main())
