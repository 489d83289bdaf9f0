#!/usr/bin/env python3
"""How far can Mammography's average precision go on the suite's splits, and how much of its seed
spread is the training's own? (docs/results.md, "How it compares" and "What was tried and not
taken"; outputs in docs/runs/issue14/ceiling/). Every statistic is fitted on the training rows
only (no test row, no label); the labels only score the result.

  classical SPLIT_DIR
      eleven PyOD detectors beyond the suite's five (defaults, random_state 0) on Mammography's
      exported splits, seeds 0-4: the ceiling of the classical side on these rows.
  members PROBE_ROOT SPLIT_DIR K
      per split, the test ROC AUC / AP of single `robust` members (training seeds
      member_seed(seed, k), k < K: the spread that is the method's own, the split held fixed), and
      of K-member scores: the default's mean of the members' tails terms, and the tails term of the
      members' mean or median reconstruction. PROBE_ROOT/m{k}/mammography/sSEED.json.
  compare PROBE_ROOT SPLIT_DIR TAG [TAG ...]
      members trained with config overrides, one and two per tag (PROBE_ROOT/TAG{k}, k = 0, 1;
      `m` is the default), and one and two of each tag mixed in one ensemble: codes of 2, 3 (the
      rule's) and 4 numbers (tags c2m m c4m), dropout 0, 0.1, 0.2 (the default), 0.3, 0.4 (d0m d1m
      m d3m d4m).
  variants PROBE_DIR SPLIT_DIR TABLE [TABLE ...]
      other ways to form the score's terms from one member's residuals and the inputs: tails of
      the whitened residuals, the residuals' Mahalanobis distance, the neighbours term with k = 1..8,
      on quantile-transformed inputs, with the distance floored at the smallest positive training
      distance (duplicated rows), ECOD of the inputs added at weights 0.25 and 0.5.

Probes: PROBE_RESIDUALS=1 PROBE_CODES=1 PROBE_PRESET=robust cargo run -p da3d --example probe -- \\
  FILE DATASET SEED CONFIG.json 0 OUT.json TRAINING_SEED, CONFIG.json {"ensemble":{"members":1}}
  (for `compare` also "architecture":{"encoder":[12,8,6,4,3,2]} or {"dropout":0.1}, …); splits as
  research/terms_study.py.

Usage: research/ceiling_study.py MODE ...   (the bench venv)
"""
import json, os, sys, warnings

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from aggregation_study import ecod_fitted, tail_grid, tail_nll_thinned, thinned  # noqa: E402
from neighbours_study import kth_distance, log, split, z as standardise  # noqa: E402
from terms_study import load, residual_terms  # noqa: E402

SEEDS = range(5)


def report(results, label_width=32):
    """Per score: mean ± sample std of the ROC AUC over seeds, the mean AP, the per-seed ROC AUC."""
    for k, v in results.items():
        a = np.array(v)
        per_seed = " ".join(f"{x:.3f}" for x in a[:, 0])
        print(f"  {k:{label_width}s} ROC {a[:, 0].mean():.4f} ± {a[:, 0].std(ddof=1):.3f}  AP {a[:, 1].mean():.3f}   {per_seed}", flush=True)


def scored(results, y, scores):
    for k, v in scores.items():
        results.setdefault(k, []).append((roc_auc_score(y, v), average_precision_score(y, v)))


def residuals(path):
    r = json.load(open(path))["records"][0]
    w = r["width"]
    return [np.array(r[n]).reshape(-1, w) for n in ("train_residuals", "test_residuals")]


def tails(res):
    """The default's standardised residual tails term of the test rows, from (training, test)
    residuals."""
    return residual_terms(res)[1][1]


def neighbours(x_train, x_test):
    a, b = kth_distance(x_train, x_test)
    return standardise(log(a), log(b))


def mammography_splits(split_dir):
    """Per seed: (seed, test labels, the default's neighbours term of the test rows)."""
    for seed in SEEDS:
        xt, xs, y = split(split_dir, "mammography", seed)
        yield seed, y, neighbours(xt, xs)


def classical(split_dir):
    warnings.filterwarnings("ignore")
    from pyod.models.cblof import CBLOF
    from pyod.models.ecod import ECOD
    from pyod.models.gmm import GMM
    from pyod.models.hbos import HBOS
    from pyod.models.inne import INNE
    from pyod.models.kde import KDE
    from pyod.models.loda import LODA
    from pyod.models.lof import LOF
    from pyod.models.mcd import MCD
    from pyod.models.ocsvm import OCSVM
    detectors = {
        "ecod": ECOD, "hbos": HBOS, "lof (k = 20)": lambda: LOF(n_neighbors=20),
        "gmm (4)": lambda: GMM(n_components=4, random_state=0), "gmm (8)": lambda: GMM(n_components=8, random_state=0),
        "kde": KDE, "mcd": lambda: MCD(random_state=0), "ocsvm": OCSVM, "loda": LODA,
        "inne": lambda: INNE(random_state=0), "cblof": lambda: CBLOF(random_state=0),
    }
    results = {}
    for seed in SEEDS:
        xt, xs, y = split(split_dir, "mammography", seed)
        scored(results, y, {name: make().fit(xt).decision_function(xs) for name, make in detectors.items()})
    report(results, 14)


def members(root, split_dir, k_members):
    results = {}
    for seed, y, near in mammography_splits(split_dir):
        res = [residuals(f"{root}/m{k}/mammography/s{seed}.json") for k in range(k_members)]
        terms = [tails(r) for r in res]
        single = [(roc_auc_score(y, t + near), average_precision_score(y, t + near)) for t in terms]
        a = np.array(single)
        print(f"split {seed}: {k_members} single members ROC {a[:, 0].mean():.4f} ± {a[:, 0].std(ddof=1):.4f} "
              f"({a[:, 0].min():.4f}-{a[:, 0].max():.4f}), AP {a[:, 1].mean():.3f} ± {a[:, 1].std(ddof=1):.3f}", flush=True)
        scores = {"member 0": terms[0] + near, f"mean of {k_members} tails terms (default)": np.mean(terms, 0) + near}
        for name, f in (("mean", np.mean), ("median", np.median)):
            rec = [f([r[i] for r in res], 0) for i in (0, 1)]
            scores[f"tails of the {name} reconstruction"] = tails(rec) + near
        scored(results, y, scores)
    report(results, 40)


def compare(root, split_dir, tags):
    results = {}
    for seed, y, near in mammography_splits(split_dir):
        t = {tag: [tails(residuals(f"{root}/{tag}{k}/mammography/s{seed}.json")) for k in range(2)] for tag in tags}
        scores = {}
        for tag in tags:
            scores[f"{tag}, one member"] = t[tag][0] + near
            scores[f"{tag}, two members"] = np.mean(t[tag], 0) + near
        if len(tags) > 1:
            scores["all tags: one member each"] = np.mean([t[tag][0] for tag in tags], 0) + near
            scores["all tags: two members each"] = np.mean([m for tag in tags for m in t[tag]], 0) + near
        scored(results, y, scores)
    report(results, 30)


def variants(probe_dir, split_dir, tables):
    from sklearn.neighbors import NearestNeighbors
    from sklearn.preprocessing import QuantileTransformer
    warnings.filterwarnings("ignore")
    means = {}
    for table in tables:
        results = {}
        for seed, xt, xs, y, res, _ in load(probe_dir, split_dir, table):
            rt, rs = res
            tl = tails(res)
            nn = NearestNeighbors(n_neighbors=9).fit(xt)
            dt, ds = nn.kneighbors(xt)[0][:, 1:], nn.kneighbors(xs, n_neighbors=8)[0]
            near = standardise(log(dt[:, 4]), log(ds[:, 4]))
            s = {"tl + near (the default)": tl + near, "tl": tl}
            # Whitened residuals: the training residuals' covariance, per-input standardised first.
            mu, sd = rt.mean(0), np.maximum(rt.std(0), 1e-3)
            zt, zs = (rt - mu) / sd, (rs - mu) / sd
            w, v = np.linalg.eigh(np.cov(zt.T) + 1e-6 * np.eye(zt.shape[1]))
            white = v / np.sqrt(np.maximum(w, 1e-6))
            wt, ws = zt @ white, zs @ white
            g = thinned(tail_grid(wt), 0.1)
            s["whitened tails + near"] = standardise(log(tail_nll_thinned(g, wt)), log(tail_nll_thinned(g, ws))) + near
            s["tl + near + 0.5 Mahalanobis"] = tl + near + 0.5 * standardise(log((wt ** 2).sum(1)), log((ws ** 2).sum(1)))
            for k in (1, 3, 8):
                s[f"tl + near, k = {k}"] = tl + standardise(log(dt[:, k - 1]), log(ds[:, k - 1]))
            q = QuantileTransformer(n_quantiles=min(1000, len(xt)), output_distribution="normal", subsample=10 ** 9).fit(xt)
            s["tl + near of quantile-normal inputs"] = tl + neighbours(q.transform(xt), q.transform(xs))
            positive = dt[:, 4][dt[:, 4] > 0]
            floor = positive.min() if len(positive) else 1e-12
            s["tl + near, floored at the least positive"] = tl + standardise(
                np.log(np.maximum(dt[:, 4], floor)), np.log(np.maximum(ds[:, 4], floor)))
            ecod = standardise(ecod_fitted(xt, xt), ecod_fitted(xt, xs))
            for weight in (0.25, 0.5):
                s[f"tl + near + {weight} ECOD of the inputs"] = tl + near + weight * ecod
            scored(results, y, s)
        print(table, f"(training rows whose 5th neighbour is a duplicate: {(dt[:, 4] == 0).mean():.1%}, last seed)", flush=True)
        report(results, 42)
        for k, v in results.items():
            a = np.array(v)
            means.setdefault(k, {})[table] = (a[:, 0].mean(), a[:, 1].mean())
    print("mean over tables (ROC AUC, AP)")
    for k, v in means.items():
        a = np.array(list(v.values()))
        print(f"  {k:42s} {a[:, 0].mean():.4f}  {a[:, 1].mean():.3f}")


def main():
    mode, rest = sys.argv[1], sys.argv[2:]
    if mode == "classical":
        classical(rest[0])
    elif mode == "members":
        members(rest[0], rest[1], int(rest[2]))
    elif mode == "compare":
        compare(rest[0], rest[1], rest[2:])
    elif mode == "variants":
        variants(rest[0], rest[1], rest[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
