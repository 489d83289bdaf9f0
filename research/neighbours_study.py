#!/usr/bin/env python3
"""Does a distance to the training rows add to a member's score, and in which space?
(docs/results.md, "Why each part is there".) For one trained member per seed and table, the test
ROC AUC / AP of the member's score (`cur`: the standardised alarm logit plus the standardised log
of the standardised residual), of distances to the training rows (k = 5, the k-th neighbour's distance, training rows
leaving themselves out) in the input space and in the AAE's activation space, and of their sums,
next to ECOD and Isolation Forest on the same rows.

Inputs, per TABLE and SEED (the same seeded split everywhere):
  PROBE_DIR/TABLE/sSEED.json   PROBE_RESIDUALS=1 PROBE_ACTIVATIONS=1 PROBE_PRESET=robust \\
                               cargo run -p da3d --example probe -- FILE - SEED ONE_MEMBER.json 0 OUT
                               (ONE_MEMBER.json: {"ensemble":{"members":1}})
  SPLIT_DIR/TABLE/sSEED/       da3d split FILE --seed SEED --export DIR  (and its JSON on stdout as
                               SPLIT_DIR/TABLE/sSEED.json)

Usage: research/neighbours_study.py PROBE_DIR SPLIT_DIR TABLE [TABLE ...]   (the bench venv: numpy,
scikit-learn, pyod)
"""
import glob, json, os, sys

import numpy as np
from pyod.models.ecod import ECOD
from pyod.models.iforest import IForest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.neighbors import NearestNeighbors


def z(train, test):
    train, test = np.asarray(train, float), np.asarray(test, float)
    return (test - train.mean()) / max(train.std(), 1e-12)


def log(v):
    return np.log(np.asarray(v, float) + 1e-12)


def kth_distance(train, test, k=5):
    """Distance to the k-th nearest training row: training rows leave themselves out."""
    nn = NearestNeighbors(n_neighbors=k + 1).fit(train)
    return nn.kneighbors(train)[0][:, k], nn.kneighbors(test, n_neighbors=k)[0][:, k - 1]


def split(split_dir, table, seed):
    base = os.path.join(split_dir, table, f"s{seed}")
    s = json.load(open(base + ".json"))
    x = lambda part: np.fromfile(f"{base}/{part}.f32", "<f4").reshape(s[f"{part}_shape"]).astype(float)
    return x("train"), x("test"), np.fromfile(f"{base}/test_labels.u8", np.uint8)


def probes(probe_dir, split_dir, table):
    """Per probed seed of `table`: (seed, training rows, test rows, test labels, the probe's first
    record, its training and test residuals as [rows, width] arrays)."""
    for f in sorted(glob.glob(os.path.join(probe_dir, table, "s*.json"))):
        seed = int(os.path.basename(f)[1:-5])
        x_train, x_test, y = split(split_dir, table, seed)
        d = json.load(open(f))
        assert (np.array(d["labels"]) == y).all(), "probe and split differ"
        r = d["records"][0]
        w = r["width"]
        res_train = np.array(r["train_residuals"]).reshape(-1, w)
        res_test = np.array(r["test_residuals"]).reshape(-1, w)
        yield seed, x_train, x_test, y, r, res_train, res_test


def main():
    probe_dir, split_dir, tables = sys.argv[1], sys.argv[2], sys.argv[3:]
    means = {}
    for table in tables:
        results = {}
        for seed, x_train, x_test, y, r, res_train, res_test in probes(probe_dir, split_dir, table):
            act_train = np.array(r["train_activations"]).reshape(len(res_train), -1)
            act_test = np.array(r["test_activations"]).reshape(len(res_test), -1)
            mu, sd = res_train.mean(0), np.maximum(res_train.std(0), 1e-3)
            err_train = (((res_train - mu) / sd) ** 2).mean(1)
            err_test = (((res_test - mu) / sd) ** 2).mean(1)
            alarm = z(r["train_logit"], r["test_logit"])
            recon = z(log(err_train), log(err_test))
            member = alarm + recon
            knn_in = kth_distance(x_train, x_test)
            am, asd = act_train.mean(0), np.maximum(act_train.std(0), 1e-6)
            knn_act = kth_distance((act_train - am) / asd, (act_test - am) / asd)
            near_in = z(log(knn_in[0]), log(knn_in[1]))
            near_act = z(log(knn_act[0]), log(knn_act[1]))
            scores = {
                "ecod": ECOD().fit(x_train).decision_function(x_test),
                "iforest": IForest(random_state=seed).fit(x_train).decision_function(x_test),
                "knn (inputs)": knn_in[1],
                "knn (activations)": knn_act[1],
                "member (alarm + recon)": member,
                "member + knn inputs": member + near_in,
                "member + knn activations": member + near_act,
                "recon + knn inputs": recon + near_in,
                "alarm + knn inputs": alarm + near_in,
            }
            for k, v in scores.items():
                results.setdefault(k, []).append((roc_auc_score(y, v), average_precision_score(y, v)))
        print(f"{table} ({len(results.get('ecod', []))} seeds)")
        for k, v in results.items():
            a = np.array(v)
            means.setdefault(k, []).append(a[:, 0].mean())
            print(f"  {k:26s} ROC AUC {a[:, 0].mean():.3f} ± {a[:, 0].std():.3f}  AP {a[:, 1].mean():.3f}")
    print("mean ROC AUC over the tables")
    for k, v in means.items():
        print(f"  {k:26s} {np.mean(v):.4f}")


if __name__ == "__main__":
    main()
