#!/usr/bin/env python3
"""What does each stage of one trained member add to its score? (docs/results.md, "What was tried
and not taken".) From probe runs (`cargo run -p da3d --example probe`, research/probe.rs): for
each run folder, the test ROC AUC / average precision (mean over the seed files in it) of the
scores one trained member gives, before and after the DA³D stage:

  alarm@pre   the alarm's logit after detector pretraining (normal rows vs. noise anomalies)
  alarm@end   the alarm's logit after the last DA³D epoch recorded
  recon       the AAE's mean squared reconstruction error
  recon-std   the reconstruction error with each input's residual standardised on the training rows
  comb@pre    alarm@pre + log recon, each standardised on the training rows (z-scores)
  comb@end    the same after the DA³D stage
  combstd@pre alarm@pre + log recon-std (the `robust` member's score)
  combstd@end the same after the DA³D stage

Usage: research/ablation.py LABEL=DIR [LABEL=DIR ...]   (needs numpy and scikit-learn: the bench venv)
recon-std and combstd need probes run with PROBE_RESIDUALS=1.
"""
import glob, json, os, sys

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


def z(train, test):
    train, test = np.asarray(train, float), np.asarray(test, float)
    return (test - train.mean()) / max(train.std(), 1e-12)


def log(v):
    return np.log(np.asarray(v, float) + 1e-12)


def scores(d):
    first, last = d["records"][0], d["records"][-1]
    out = {
        "alarm@pre": np.array(first["test_logit"]),
        "alarm@end": np.array(last["test_logit"]),
        "recon": np.array(first["test_recon"]),
        "comb@pre": z(first["train_logit"], first["test_logit"]) + z(log(first["train_recon"]), log(first["test_recon"])),
        "comb@end": z(last["train_logit"], last["test_logit"]) + z(log(last["train_recon"]), log(last["test_recon"])),
    }
    if first.get("train_residuals"):
        w = first["width"]
        rt = np.array(first["train_residuals"]).reshape(-1, w)
        re = np.array(first["test_residuals"]).reshape(-1, w)
        mu, sd = rt.mean(0), np.maximum(rt.std(0), 1e-3)
        et, ee = (((rt - mu) / sd) ** 2).mean(1), (((re - mu) / sd) ** 2).mean(1)
        out["recon-std"] = ee
        for tag, r in (("pre", first), ("end", last)):
            out[f"combstd@{tag}"] = z(r["train_logit"], r["test_logit"]) + z(log(et), log(ee))
    return out


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cols = ["alarm@pre", "alarm@end", "recon", "recon-std", "comb@pre", "comb@end", "combstd@pre", "combstd@end"]
    print("| run (seeds) | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    for arg in sys.argv[1:]:
        label, folder = arg.split("=", 1)
        res = {}
        files = sorted(glob.glob(os.path.join(folder, "s*.json")))
        for f in files:
            d = json.load(open(f))
            y = np.array(d["labels"])
            for k, v in scores(d).items():
                res.setdefault(k, []).append((roc_auc_score(y, v), average_precision_score(y, v)))
        cell = lambda k: f"{np.mean([a for a, _ in res[k]]):.3f} / {np.mean([b for _, b in res[k]]):.2f}" if k in res else "–"
        print(f"| {label} ({len(files)}) | " + " | ".join(cell(k) for k in cols) + " |")


if __name__ == "__main__":
    main()
