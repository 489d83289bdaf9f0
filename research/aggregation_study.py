#!/usr/bin/env python3
"""How should a member's per-input residuals become one score? (docs/results.md, "Why each part is
there" and "What was tried and not taken".) For one trained `robust` member per seed and table:
the test ROC AUC / AP of the member's reconstruction score under several ways of summing its
standardised residuals z_j = (r_j - mu_j) / sigma_j (mu, sigma over the training rows), each alone and with the
neighbours term as `robust` adds it, next to ECOD on the same rows. Every statistic is fitted on the
training rows only (no test row, no label).

Inputs as research/neighbours_study.py (PROBE_DIR/TABLE/sSEED.json from `PROBE_RESIDUALS=1
PROBE_PRESET=robust cargo run -p da3d --example probe -- FILE - SEED ONE_MEMBER.json 0 OUT`, and
SPLIT_DIR/TABLE/sSEED/ from `da3d split FILE --seed SEED --export DIR`).

Usage: research/aggregation_study.py PROBE_DIR SPLIT_DIR TABLE [TABLE ...]   (the bench venv)
"""
import os, sys

import numpy as np
from pyod.models.ecod import ECOD
from sklearn.metrics import average_precision_score, roc_auc_score


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from neighbours_study import kth_distance, log, probes, z as standardise  # noqa: E402


def tail_nll(z_train, z_test):
    """Per input, -ln of the two-sided empirical tail probability of |z| among the training rows,
    (count of training |z| >= value + 1) / (n + 1), beyond the training maximum continued by an
    exponential tail fitted to the top 5 % (so extremes keep their order); summed over inputs."""
    a_train, a_test = np.abs(z_train), np.abs(z_test)
    n = len(a_train)
    out = np.zeros(len(a_test))
    for j in range(a_train.shape[1]):
        s = np.sort(a_train[:, j])
        above = n - np.searchsorted(s, a_test[:, j], side="left")
        p = (above + 1) / (n + 1)
        top = s[int(0.95 * n):]
        scale = max(top.mean() - top[0], 1e-6)
        nll = -np.log(p)
        beyond = a_test[:, j] > s[-1]
        nll[beyond] = np.log(n + 1) + (a_test[beyond, j] - s[-1]) / scale
        out += nll
    return out


def tail_grid(z_train, k=64, max_rows=20000):
    """The compact form a bundle can hold: per input, |z| at k upper-tail probabilities
    p_i = (m+1)^(-i/(k-1)) of at most max_rows training rows (a strided sample), as quantiles."""
    a = np.abs(z_train)
    if len(a) > max_rows:
        a = a[:: int(np.ceil(len(a) / max_rows))]
    m = len(a)
    lnp = -np.arange(k) / (k - 1) * np.log(m + 1)
    s = np.sort(a, 0)
    # the value whose count above (with +1) gives p: index m+1 - p(m+1) in the sorted list
    idx = np.clip(np.round((m + 1) - np.exp(lnp) * (m + 1)).astype(int), 0, m - 1)
    q = s[idx]  # [k, d], nondecreasing
    top = s[int(0.95 * m):]
    scale = np.maximum(top.mean(0) - top[0], 1e-6)
    return lnp, q, scale


def thinned(grid, delta):
    """Each input's grid points closer than delta (in |z|) to the last kept one dropped: the kept
    points' slopes stay below (level step) / delta, so a rounding difference in z moves the
    term by a bounded amount. Returns per-input (q, nll, scale)."""
    lnp, q, scale = grid
    out = []
    for j in range(q.shape[1]):
        kq, kl = [q[0, j]], [-lnp[0]]
        for i in range(1, len(lnp)):
            if q[i, j] >= kq[-1] + delta:
                kq.append(q[i, j]); kl.append(-lnp[i])
        out.append((np.array(kq), np.array(kl), scale[j]))
    return out


def tail_nll_thinned(grid, z):
    a = np.abs(z)
    out = np.zeros(len(a))
    for j, (q, l, scale) in enumerate(grid):
        v = a[:, j]
        n = np.interp(v, q, l)
        beyond = v > q[-1]
        n[beyond] = l[-1] + (v[beyond] - q[-1]) / scale
        out += n
    return out


def tail_nll_grid(grid, z, gaussian_beyond=False):
    lnp, q, scale = grid
    a = np.abs(z)
    out = np.zeros(len(a))
    for j in range(a.shape[1]):
        qj = q[:, j]
        v = a[:, j]
        # ln p interpolated linearly between grid points (np.interp needs increasing x: qj is)
        l = np.interp(v, qj, lnp)
        beyond = v > qj[-1]
        if gaussian_beyond:
            l[beyond] = lnp[-1] - (v[beyond] ** 2 - qj[-1] ** 2) / 2
        else:
            l[beyond] = lnp[-1] - (v[beyond] - qj[-1]) / scale[j]
        out += -l
    return out


def one_hot_blocks(x_train):
    """Groups of input indices: maximal runs of 0/1 columns whose training rows sum to exactly 1
    (a categorical column's one-hot block), every other input alone."""
    d = x_train.shape[1]
    binary = [set(np.unique(x_train[:, j])) <= {0.0, 1.0} for j in range(d)]
    groups, j = [], 0
    while j < d:
        if binary[j]:
            acc, k, best = np.zeros(len(x_train)), j, None
            while k < d and binary[k]:
                acc = acc + x_train[:, k]
                if acc.max() > 1:
                    break
                if (acc == 1).all():
                    best = k
                k += 1
            if best is not None and best > j:
                groups.append(list(range(j, best + 1)))
                j = best + 1
                continue
        groups.append([j])
        j += 1
    return groups


def grouped(z, groups):
    return np.stack([np.sqrt((z[:, g] ** 2).sum(1)) for g in groups], 1)


def ecod_fitted(train, test):
    """ECOD (Li et al. 2022) with its ECDFs fitted on the training rows alone (PyOD's fits them on
    the training and test rows together): per column -ln of the left and right tail probabilities,
    (count + 1) / (n + 1); the maximum of the left sum, the right sum and the skewness-chosen sum."""
    n = len(train)
    left, right, skewed = np.zeros(len(test)), np.zeros(len(test)), np.zeros(len(test))
    for j in range(train.shape[1]):
        s = np.sort(train[:, j])
        l = -np.log((np.searchsorted(s, test[:, j], side="right") + 1) / (n + 1))
        r = -np.log((n - np.searchsorted(s, test[:, j], side="left") + 1) / (n + 1))
        c = train[:, j] - train[:, j].mean()
        skew = (c ** 3).mean() / max((c ** 2).mean() ** 1.5, 1e-12)
        left, right = left + l, right + r
        skewed += l if skew < 0 else r
    return np.maximum(np.maximum(left, right), skewed)


def study(probe_dir, split_dir, tables, scores_of):
    """For every probed seed of each table: the members' residuals standardised on the training
    rows (z), the neighbours term as `robust` adds it, and `scores_of(x_train, x_test, knn, near,
    zt, zs)` -> {name: test scores}; prints each score's test ROC AUC / AP per table (mean over
    seeds) and the means over the tables."""
    means = {}
    for table in tables:
        results, seeds = {}, 0
        for seed, x_train, x_test, y, _, res_train, res_test in probes(probe_dir, split_dir, table):
            mu, sd = res_train.mean(0), np.maximum(res_train.std(0), 1e-3)
            zt, zs = (res_train - mu) / sd, (res_test - mu) / sd
            knn = kth_distance(x_train, x_test)
            near = standardise(log(knn[0]), log(knn[1]))
            seeds += 1
            for k, v in scores_of(x_train, x_test, knn, near, zt, zs).items():
                results.setdefault(k, []).append((roc_auc_score(y, v), average_precision_score(y, v)))
        print(f"{table} ({seeds} seeds)", flush=True)
        for k, v in results.items():
            a = np.array(v)
            means.setdefault(k, []).append((a[:, 0].mean(), a[:, 1].mean()))
            print(f"  {k:28s} ROC AUC {a[:, 0].mean():.3f} ± {a[:, 0].std():.3f}  AP {a[:, 1].mean():.3f}", flush=True)
    print("mean over the tables: ROC AUC, AP")
    for k, v in means.items():
        v = np.array(v)
        print(f"  {k:28s} {v[:, 0].mean():.4f}  {v[:, 1].mean():.4f}")


def aggregations_of(x_train, x_test, knn, near, zt, zs):
    aggregations = {
        "ln mean z² (robust)": lambda z: log((z ** 2).mean(1)),
        "mean ln(1+z²)": lambda z: np.log1p(z ** 2).mean(1),
        "ln max z²": lambda z: log((z ** 2).max(1)),
        "ln mean z⁴": lambda z: log((z ** 4).mean(1)),
        "ln mean |z|": lambda z: log(np.abs(z).mean(1)),
    }
    scores = {"ecod": ECOD().fit(x_train).decision_function(x_test), "knn": knn[1]}
    for name, agg in aggregations.items():
        term = standardise(agg(zt), agg(zs))
        scores[name] = term
        scores[name + " + knn"] = term + near
    tail_train = tail_nll(zt, zt)
    tail = standardise(log(tail_train), log(tail_nll(zt, zs)))
    scores["ln Σ tail nll"] = tail
    scores["ln Σ tail nll + knn"] = tail + near
    g = tail_grid(zt)
    tail_g = standardise(log(tail_nll_grid(g, zt)), log(tail_nll_grid(g, zs)))
    scores["ln Σ tail grid"] = tail_g
    scores["ln Σ tail grid + knn"] = tail_g + near
    groups = one_hot_blocks(x_train)
    gt, gs = grouped(zt, groups), grouped(zs, groups)
    gg = tail_grid(gt)
    tail_col = standardise(log(tail_nll_grid(gg, gt)), log(tail_nll_grid(gg, gs)))
    scores["ln Σ column tails + knn"] = tail_col + near
    tail_q = standardise(log(tail_nll_grid(g, zt, True)), log(tail_nll_grid(g, zs, True)))
    scores["ln Σ tail grid, quadratic beyond + knn"] = tail_q + near
    scores["ln Σ tail grid, quadratic beyond"] = tail_q
    for delta in (0.01, 0.05, 0.1):
        th = thinned(g, delta)
        tt = standardise(log(tail_nll_thinned(th, zt)), log(tail_nll_thinned(th, zs)))
        scores[f"(recon + tails δ={delta})/2 + knn"] = (scores["ln mean z² (robust)"] + tt) / 2 + near
    scores["recon + tail grid + knn"] = scores["ln mean z² (robust)"] + tail_g + near
    scores["(recon + tail grid)/2 + knn"] = (scores["ln mean z² (robust)"] + tail_g) / 2 + near
    scores["Σ tail grid + knn"] = standardise(tail_nll_grid(g, zt), tail_nll_grid(g, zs)) + near
    ecod_term = standardise(ecod_fitted(x_train, x_train), ecod_fitted(x_train, x_test))
    scores["ecod (train-fitted)"] = ecod_term
    base = scores["ln mean z² (robust)"]
    scores["robust + ecod"] = base + near + ecod_term
    scores["recon + ecod"] = base + ecod_term
    return scores


def main():
    study(sys.argv[1], sys.argv[2], sys.argv[3:], aggregations_of)


if __name__ == "__main__":
    main()
