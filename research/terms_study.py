#!/usr/bin/env python3
"""Which terms should the `robust` score add, how many reference rows does the neighbours term need,
and how long should the autoencoders train? (docs/results.md, "Why each part is there" and "What
was tried and not taken".) For one trained member per seed and table, the test ROC AUC / AP of ways
to combine the member's residual terms with neighbour distances, every statistic fitted on the
training rows only (no test row, no label).

  terms      the residual tails term (tl) and the log error (rec) in several weights, each with the
             neighbours term (near: ln of the 5th neighbour's distance among all training rows);
             the neighbours term in the code space, Fisher's and max combinations, a Mahalanobis
             distance of the codes.
  reference  the two default scores ((rec+tl)/2 + near, tl + near) with the neighbours term's
             reference rows a seeded sample of N training rows.
  budget     the default score, tl + near, of members trained on several AAE step budgets, and
             the mean of two budgets' tails terms (a snapshot ensemble): PROBE_DIR is
             LABEL=DIR,LABEL=DIR,... (probes with PROBE_AAE_FRACTION=F, the preset's AAE epochs
             times F; the same seeds in each).

Inputs as research/neighbours_study.py, the probes with the codes:
  PROBE_DIR/TABLE/sSEED.json   PROBE_RESIDUALS=1 PROBE_CODES=1 PROBE_PRESET=robust \\
                               cargo run -p da3d --example probe -- FILE DATASET|- SEED ONE_MEMBER.json 0 OUT
  (ONE_MEMBER.json: {"ensemble":{"members":1}})
  SPLIT_DIR/TABLE/sSEED/ and sSEED.json   da3d split FILE --seed SEED --export DIR > DIR.json

Usage: research/terms_study.py terms|reference|budget PROBE_DIR SPLIT_DIR TABLE [TABLE ...]   (the bench venv)
"""
import glob, json, os, sys

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.neighbors import NearestNeighbors

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from aggregation_study import tail_grid, thinned, tail_nll_thinned  # noqa: E402
from neighbours_study import kth_distance, log, split, z as standardise  # noqa: E402


def load(probe_dir, split_dir, table):
    """Per probed seed: (seed, training rows, test rows, labels, (train, test) residuals, (train, test) codes)."""
    for f in sorted(glob.glob(os.path.join(probe_dir, table, "s*.json"))):
        seed = int(os.path.basename(f)[1:-5])
        x_train, x_test, y = split(split_dir, table, seed)
        r = json.load(open(f))["records"][0]
        w, c = r["width"], r["code_width"]
        res = [np.array(r[k]).reshape(-1, w) for k in ("train_residuals", "test_residuals")]
        codes = [np.array(r[k]).reshape(-1, c) for k in ("train_codes", "test_codes")]
        yield seed, x_train, x_test, y, res, codes


def residual_terms(res):
    """The standardised log error and residual tails term (as the bundle computes them: the grid
    thinned to 0.1 σ), training and test rows."""
    rt, rs = res
    mu, sd = rt.mean(0), np.maximum(rt.std(0), 1e-3)
    zt, zs = (rt - mu) / sd, (rs - mu) / sd
    rec_t, rec_s = log((zt ** 2).mean(1)), log((zs ** 2).mean(1))
    grid = thinned(tail_grid(zt), 0.1)
    tl_t, tl_s = log(tail_nll_thinned(grid, zt)), log(tail_nll_thinned(grid, zs))
    return (standardise(rec_t, rec_t), standardise(rec_t, rec_s)), (standardise(tl_t, tl_t), standardise(tl_t, tl_s))


def fisher(pairs):
    """Each (train, test) term as -ln of its upper-tail probability among the training values, summed."""
    out = 0
    for t, s in pairs:
        st = np.sort(t)
        n = len(st)
        out = out - np.log((n - np.searchsorted(st, s, side="left") + 1) / (n + 1))
    return out


def terms(x_train, x_test, res, codes):
    (rec_t, rec), (tl_t, tl) = residual_terms(res)
    knn = kth_distance(x_train, x_test)
    near_t, near = standardise(log(knn[0]), log(knn[0])), standardise(log(knn[0]), log(knn[1]))
    ct, cs = codes
    cm, csd = ct.mean(0), np.maximum(ct.std(0), 1e-6)
    cknn = kth_distance((ct - cm) / csd, (cs - cm) / csd)
    cnear = standardise(log(cknn[0]), log(cknn[1]))
    cov = np.cov(ct.T) + 1e-6 * np.eye(ct.shape[1])
    ic = np.linalg.inv(np.atleast_2d(cov))
    m = lambda c: np.einsum("ij,jk,ik->i", c - ct.mean(0), ic, c - ct.mean(0))
    maha = standardise(log(m(ct)), log(m(cs)))
    s = {}
    for a in (0.5, 0.65, 0.8, 1.0):
        s[f"{a:.2f} tl + {1 - a:.2f} rec + near"] = a * tl + (1 - a) * rec + near
    s["rec + near"] = rec + near
    s["tl + 1.5 near"] = tl + 1.5 * near
    s["(rec+tl)/2 + 1.5 near"] = (rec + tl) / 2 + 1.5 * near
    s["(rec+tl)/2 + near + code near"] = (rec + tl) / 2 + near + cnear
    s["(rec+tl)/2 + code near"] = (rec + tl) / 2 + cnear
    s["(rec+tl)/2 + near + Mahalanobis"] = (rec + tl) / 2 + near + maha
    s["max(rec, tl) + near"] = np.maximum(rec, tl) + near
    s["max(rec, tl, near)"] = np.maximum(np.maximum(rec, tl), near)
    s["Fisher(rec, tl, near)"] = fisher([(rec_t, rec), (tl_t, tl), (near_t, near)])
    s["Fisher((rec+tl)/2, near)"] = fisher([((rec_t + tl_t) / 2, (rec + tl) / 2), (near_t, near)])
    return s


def reference(x_train, x_test, res, codes, seed):
    (_, rec), (_, tl) = residual_terms(res)
    s = {}
    for n in (2000, 6493, 10000, 20000, len(x_train)):
        idx = np.sort(np.random.default_rng(seed).choice(len(x_train), min(n, len(x_train)), replace=False))
        nn = NearestNeighbors(n_neighbors=6).fit(x_train[idx])
        is_ref = np.zeros(len(x_train), bool)
        is_ref[idx] = True
        d = nn.kneighbors(x_train)[0]
        near_t = log(np.where(is_ref, d[:, 5], d[:, 4]))
        near = standardise(near_t, log(nn.kneighbors(x_test, n_neighbors=5)[0][:, 4]))
        label = "all" if n >= len(x_train) else str(n)
        s[f"(rec+tl)/2 + near, {label} rows"] = (rec + tl) / 2 + near
        s[f"tl + near, {label} rows"] = tl + near
    return s


def budgets(probe_dirs, split_dir, table):
    """Per seed of the first probe folder: (seed, test labels, {score: test scores}) for tl + near of
    each labelled folder's member, and the mean of each pair's tails terms plus near."""
    labelled = [spec.split("=", 1) for spec in probe_dirs.split(",")]
    for seed, xt, xs, y, res, _ in load(labelled[0][1], split_dir, table):
        knn = kth_distance(xt, xs)
        near = standardise(log(knn[0]), log(knn[1]))
        tails = {labelled[0][0]: residual_terms(res)[1][1]}
        for label, d in labelled[1:]:
            r = json.load(open(os.path.join(d, table, f"s{seed}.json")))["records"][0]
            w = r["width"]
            tails[label] = residual_terms([np.array(r[k]).reshape(-1, w) for k in ("train_residuals", "test_residuals")])[1][1]
        s = {f"{label}: tl + near": tl + near for label, tl in tails.items()}
        labels = list(tails)
        for i, a in enumerate(labels):
            for b in labels[i + 1:]:
                s[f"mean({a}, {b}) tl + near"] = (tails[a] + tails[b]) / 2 + near
        yield seed, y, s


def main():
    mode, probe_dir, split_dir, tables = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    means = {}
    for table in tables:
        results = {}
        if mode == "budget":
            runs = budgets(probe_dir, split_dir, table)
        else:
            runs = ((seed, y, terms(xt, xs, res, codes) if mode == "terms" else reference(xt, xs, res, codes, seed))
                    for seed, xt, xs, y, res, codes in load(probe_dir, split_dir, table))
        for seed, y, scores in runs:
            for k, v in scores.items():
                results.setdefault(k, []).append((roc_auc_score(y, v), average_precision_score(y, v)))
        print(table, flush=True)
        for k, v in results.items():
            a = np.array(v)
            means.setdefault(k, {})[table] = (a[:, 0].mean(), a[:, 1].mean())
            print(f"  {k:36s} ROC AUC {a[:, 0].mean():.4f} ± {a[:, 0].std():.3f}  AP {a[:, 1].mean():.3f}", flush=True)
    print("mean over the tables: ROC AUC, AP")
    for k, v in means.items():
        a = np.array(list(v.values()))
        print(f"  {k:36s} {a[:, 0].mean():.4f}  {a[:, 1].mean():.3f}")


if __name__ == "__main__":
    main()
