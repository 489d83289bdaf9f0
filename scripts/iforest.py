#!/usr/bin/env python3
"""Isolation Forest on the very same rows and preprocessing as `da3d eval` (the baseline of
docs/results.md).

Usage: scripts/iforest.py [DATA.csv] --dataset NAME --seeds 0,1,2 [--contamination 0] [--json OUT]
Needs numpy and scikit-learn (pip install numpy scikit-learn) and a built `da3d` binary. For each
seed it runs `da3d split --export`, which writes the preprocessed training and test rows (the
data set's reading rules, one-hot, min-max fit on the training rows), so the forest sees exactly
what DA³D sees. Without DATA the data set's file is read from $DA3D_DATA_DIR
(default ../shared/datasets). Prints one line per seed and the mean ± std of the test ROC AUC.
"""
import argparse, json, os, subprocess, sys, tempfile, time

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data", nargs="?")
    ap.add_argument("--dataset", default=None)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--contamination", type=float, default=0.0)
    ap.add_argument("--json", default=None, help="write every run as JSON here")
    ap.add_argument("--da3d", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/da3d-target")), "debug", "da3d"))
    a = ap.parse_args()

    runs = []
    for seed in [int(s) for s in a.seeds.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [a.da3d, "split", "--seed", str(seed), "--contamination", str(a.contamination), "--export", tmp]
            if a.data:
                cmd.insert(2, a.data)
            if a.dataset:
                cmd += ["--dataset", a.dataset]
            split = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            xtr = np.fromfile(os.path.join(tmp, "train.f32"), dtype="<f4").reshape(split["train_shape"])
            xte = np.fromfile(os.path.join(tmp, "test.f32"), dtype="<f4").reshape(split["test_shape"])
            yte = np.fromfile(os.path.join(tmp, "test_labels.u8"), dtype=np.uint8)
        t0 = time.time()
        forest = IsolationForest(n_estimators=100, random_state=seed).fit(xtr)
        s = -forest.score_samples(xte)
        secs = time.time() - t0
        auc, apr = roc_auc_score(yte, s), average_precision_score(yte, s)
        runs.append({"method": "iforest", "seed": seed, "contamination": a.contamination, "test_roc_auc": auc,
                     "test_average_precision": apr, "train_rows": int(xtr.shape[0]), "inputs": int(xtr.shape[1]),
                     "seconds": secs})
        print(f"seed {seed}: test ROC AUC {auc:.4f}, AP {apr:.4f} ({len(yte)} rows, {int(yte.sum())} anomalies; "
              f"trained on {xtr.shape[0]} x {xtr.shape[1]} in {secs:.1f} s)")
    aucs = [r["test_roc_auc"] for r in runs]
    aps = [r["test_average_precision"] for r in runs]
    print(f"Isolation Forest: ROC AUC {np.mean(aucs):.3f} ± {np.std(aucs, ddof=1) if len(aucs) > 1 else 0:.3f}, "
          f"AP {np.mean(aps):.3f} ± {np.std(aps, ddof=1) if len(aps) > 1 else 0:.3f} over {len(aucs)} seeds")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"dataset": a.dataset, "data": a.data, "runs": runs}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
