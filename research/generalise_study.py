#!/usr/bin/env python3
"""How should the default's terms combine so that it is at least kNN on every kind of table and
better where the autoencoders see more? For each table and seed of the suite, from one trained
default ensemble (`research/terms_probe.rs`): the test ROC AUC and AP of score variants made of the
members' residual tails terms, distances to the k-th nearest training rows (in the inputs, the
codes, the standardised residuals), with their weights. Every statistic is fitted on the training
rows; the labels only score the result.

Usage: research/generalise_study.py PROBE_ROOT [--variants a,b] [--tables t1,t2]   (the bench venv)
  PROBE_ROOT/TABLE/sSEED/  from  cargo run -p da3d --example terms_probe -- FILE PROTOCOL SEED DIR
  research/generalise_study.py probe PROBE_ROOT [--seeds 0,1,2]   trains the probes the suite lacks (scripts/suite.py's tables)
Prints per variant the mean ROC AUC and AP over the tables, the tables where it is below kNN by
more than .01, and per table the variants' ROC AUC.
"""
import glob, json, os, subprocess, sys

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.neighbors import NearestNeighbors

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "scripts"))
from suite import TABLES  # noqa: E402

FLOOR = 1e-12
DEGENERATE = 1e-3


def z(train, test):
    """Standardise by the training rows' mean and std (std 1 where it is below DEGENERATE)."""
    m, s = float(np.mean(train)), float(np.std(train))
    s = s if s >= DEGENERATE else 1.0
    return (train - m) / s, (test - m) / s


def knn_logs(xtr, xte, ks, mean_of=False):
    """ln of the k-th (or the mean of the first k) neighbour distances, training rows leaving
    themselves out: {k: (train, test)}."""
    kmax = max(ks)
    nn = NearestNeighbors(n_neighbors=min(kmax, len(xtr) - 1)).fit(xtr)
    dtr, _ = nn.kneighbors(None, n_neighbors=min(kmax, len(xtr) - 1))
    dte, _ = nn.kneighbors(xte, n_neighbors=min(kmax, len(xtr) - 1))
    out = {}
    for k in ks:
        kk = min(k, dtr.shape[1])
        if mean_of:
            a, b = dtr[:, :kk].mean(1), dte[:, :kk].mean(1)
        else:
            a, b = dtr[:, kk - 1], dte[:, kk - 1]
        out[k] = (np.log(a + FLOOR), np.log(b + FLOOR))
    return out


def load(d):
    shape = json.load(open(os.path.join(d, "shape.json")))
    n, m, w, c = shape["train_rows"], shape["test_rows"], shape["inputs"], shape["code"]
    f = lambda name, *s: np.fromfile(os.path.join(d, name), dtype="<f4").reshape(*s).astype(np.float64)
    return {
        "shape": shape, "seed": int(os.path.basename(d).lstrip("s")),
        "xtr": f("train.f32", n, w), "xte": f("test.f32", m, w),
        "y": np.fromfile(os.path.join(d, "test_labels.u8"), dtype=np.uint8),
        "ttr": f("tails_train.f32", shape["members"], n), "tte": f("tails_test.f32", shape["members"], m),
        "ctr": f("codes_train.f32", n, c), "cte": f("codes_test.f32", m, c),
        "rtr": f("residuals_train.f32", n, w), "rte": f("residuals_test.f32", m, w),
    }


def terms(p):
    """The building blocks, each (train, test), standardised on the training rows."""
    t = {}
    tails = (p["ttr"].mean(0), p["tte"].mean(0))
    t["T"] = tails  # the members' mean, as the default adds it
    t["Tz"] = z(*tails)
    logs = knn_logs(p["xtr"], p["xte"], [1, 3, 5, 10, 20])
    for k, v in logs.items():
        t[f"N{k}"] = z(*v)
    means = knn_logs(p["xtr"], p["xte"], [3, 5, 10], mean_of=True)
    for k, v in means.items():
        t[f"M{k}"] = z(*v)
    sd = p["xtr"].std(0)
    sd[sd == 0] = 1.0
    mu = p["xtr"].mean(0)
    std_logs = knn_logs((p["xtr"] - mu) / sd, (p["xte"] - mu) / sd, [5])
    t["S5"] = z(*std_logs[5])
    t["C5"] = z(*knn_logs(p["ctr"], p["cte"], [5])[5])
    t["R5"] = z(*knn_logs(p["rtr"], p["rte"], [5])[5])
    t["X1"] = z(*max_tail(p["xtr"], p["xte"]))
    t["RX"] = z(*max_tail(p["rtr"], p["rte"]))
    t["LR20"] = z(*local_ratio(p["xtr"], p["xte"], 20))
    ratio, t["dup"] = density_ratio(p["xtr"], p["xte"], 10)
    t["R10"] = z(*ratio)
    forest = IsolationForest(n_estimators=100, random_state=p["seed"]).fit(p["xtr"])
    t["IF"] = z(-forest.score_samples(p["xtr"]), -forest.score_samples(p["xte"]))
    sh = p["shape"]
    t["w"] = round(0.25 + 0.75 * min(1.0, 2.0 * (sh["inputs"] - sh["columns"]) / sh["inputs"]), 2)
    return t


def local_ratio(xtr, xte, k):
    """ln of the mean distance to the k nearest training rows, less the mean of the same over
    those k rows (training rows leaving themselves out): a density ratio, LOF's idea in logs."""
    k = min(k, len(xtr) - 2)
    nn = NearestNeighbors(n_neighbors=k + 1).fit(xtr)
    dtr, itr = nn.kneighbors(None, n_neighbors=k)
    dte, ite = nn.kneighbors(xte, n_neighbors=k)
    ltr, lte = np.log(dtr.mean(1) + FLOOR), np.log(dte.mean(1) + FLOOR)
    return ltr - ltr[itr].mean(1), lte - ltr[ite].mean(1)


def density_ratio(xtr, xte, k):
    """The default's density ratio (`detector::neighbours::DensityRatio`): ln of the mean distance
    to the k nearest training rows (plus f, the median of the training rows' own) less ln of the
    mean of the same over those rows (plus f), training rows leaving themselves out; and the share
    of training rows with an exact copy (the default leaves the ratio out at 0.1 or more)."""
    k = min(k, len(xtr) - 2)
    nn = NearestNeighbors(n_neighbors=k + 1).fit(xtr)
    dtr, itr = nn.kneighbors(None, n_neighbors=k)
    dte, ite = nn.kneighbors(xte, n_neighbors=k)
    mtr, mte = dtr.mean(1), dte.mean(1)
    f = np.median(mtr) + FLOOR
    ratio = (np.log(mtr + f) - np.log(mtr[itr].mean(1) + f), np.log(mte + f) - np.log(mtr[ite].mean(1) + f))
    return ratio, float((dtr[:, 0] == 0).mean())


def max_tail(xtr, xte):
    """max over inputs of −ln of the two-sided tail probability of each value among the training
    rows' values of that input (training rows against all training rows): one out-of-range
    measurement, as isolation on one feature at a time finds it."""
    def score(x):
        out = np.zeros(len(x))
        n = len(xtr)
        for j in range(xtr.shape[1]):
            s = np.sort(xtr[:, j])
            below = np.searchsorted(s, x[:, j], side="right")
            above = n - np.searchsorted(s, x[:, j], side="left")
            p = (np.minimum(below, above) + 1) / (n + 1)
            out = np.maximum(out, -np.log(p))
        return out
    return score(xtr), score(xte)


def ecdf_nll(train, test):
    """−ln of the upper-tail probability of each value among the training values."""
    s = np.sort(train)
    n = len(s)
    above = n - np.searchsorted(s, test, side="left")
    return -np.log((above + 1) / (n + 1))


def gated(t):
    """1 where the default keeps the density ratio (fewer than 10 % of the training rows copied)."""
    return 1.0 if t["dup"] < 0.1 else 0.0


VARIANTS = {
    "w T + M5 + 0.25 R10 (the default)": lambda t: t["w"] * t["T"][1] + t["M5"][1] + gated(t) * 0.25 * t["R10"][1],
    "kNN (N5)": lambda t: t["N5"][1],
    "T alone": lambda t: t["T"][1],
    "M5 alone": lambda t: t["M5"][1],
    "R10 alone": lambda t: t["R10"][1],
    "w T + M5 (the previous default)": lambda t: t["w"] * t["T"][1] + t["M5"][1],
    "M5 + 0.25 R10": lambda t: t["M5"][1] + gated(t) * 0.25 * t["R10"][1],
    "w T + 0.25 R10": lambda t: t["w"] * t["T"][1] + gated(t) * 0.25 * t["R10"][1],
    "w T + M5 + 0.25 R10; never left out": lambda t: t["w"] * t["T"][1] + t["M5"][1] + 0.25 * t["R10"][1],
    "w T + M5 + 0.125 R10": lambda t: t["w"] * t["T"][1] + t["M5"][1] + gated(t) * 0.125 * t["R10"][1],
    "w T + M5 + 0.375 R10": lambda t: t["w"] * t["T"][1] + t["M5"][1] + gated(t) * 0.375 * t["R10"][1],
    "w T + M5 + 0.5 R10": lambda t: t["w"] * t["T"][1] + t["M5"][1] + gated(t) * 0.5 * t["R10"][1],
    "T + N5 (the previous default)": lambda t: t["T"][1] + t["N5"][1],
    "T (the tails alone)": lambda t: t["T"][1],
    "kNN (N5)": lambda t: t["N5"][1],
    "0.5 T + N5": lambda t: 0.5 * t["T"][1] + t["N5"][1],
    "0.25 T + N5": lambda t: 0.25 * t["T"][1] + t["N5"][1],
    "Tz + N5": lambda t: t["Tz"][1] + t["N5"][1],
    "T + M5": lambda t: t["T"][1] + t["M5"][1],
    "T + M10": lambda t: t["T"][1] + t["M10"][1],
    "T + N10": lambda t: t["T"][1] + t["N10"][1],
    "T + S5": lambda t: t["T"][1] + t["S5"][1],
    "T + N5 + C5": lambda t: t["T"][1] + t["N5"][1] + t["C5"][1],
    "T + N5 + R5": lambda t: t["T"][1] + t["N5"][1] + t["R5"][1],
    "T + N5 + S5": lambda t: t["T"][1] + t["N5"][1] + t["S5"][1],
    "T + (N1+N5+N20)/3": lambda t: t["T"][1] + (t["N1"][1] + t["N5"][1] + t["N20"][1]) / 3,
    "max(Tz, N5)": lambda t: np.maximum(t["Tz"][1], t["N5"][1]),
    "fisher(T, N5)": lambda t: ecdf_nll(t["T"][0], t["T"][1]) + ecdf_nll(t["N5"][0], t["N5"][1]),
    "fisher(T, N5, R5)": lambda t: sum(ecdf_nll(t[k][0], t[k][1]) for k in ("T", "N5", "R5")),
    "N1": lambda t: t["N1"][1],
    "N3": lambda t: t["N3"][1],
    "N10": lambda t: t["N10"][1],
    "M5": lambda t: t["M5"][1],
    "M10": lambda t: t["M10"][1],
    "S5": lambda t: t["S5"][1],
    "C5": lambda t: t["C5"][1],
    "R5": lambda t: t["R5"][1],
    "0.125 T + N5": lambda t: 0.125 * t["T"][1] + t["N5"][1],
    "0.25 T + M5": lambda t: 0.25 * t["T"][1] + t["M5"][1],
    "0.25 T + N3": lambda t: 0.25 * t["T"][1] + t["N3"][1],
    "0.25 T + (N3+N5+N10)/3": lambda t: 0.25 * t["T"][1] + (t["N3"][1] + t["N5"][1] + t["N10"][1]) / 3,
    "0.25 T + N5 + 0.25 C5": lambda t: 0.25 * t["T"][1] + t["N5"][1] + 0.25 * t["C5"][1],
    "0.25 T + N5 + 0.25 R5": lambda t: 0.25 * t["T"][1] + t["N5"][1] + 0.25 * t["R5"][1],
    "0.25 Tz + N5": lambda t: 0.25 * t["Tz"][1] + t["N5"][1],
    "M3": lambda t: t["M3"][1],
    "0.125 T + M5": lambda t: 0.125 * t["T"][1] + t["M5"][1],
    "0.375 T + M5": lambda t: 0.375 * t["T"][1] + t["M5"][1],
    "0.25 T + M3": lambda t: 0.25 * t["T"][1] + t["M3"][1],
    "0.25 T + M10": lambda t: 0.25 * t["T"][1] + t["M10"][1],
    "0.25 T + M5 + 0.25 S5": lambda t: 0.25 * t["T"][1] + t["M5"][1] + 0.25 * t["S5"][1],
    "0.5 T + M5": lambda t: 0.5 * t["T"][1] + t["M5"][1],
    "max(Tz, M5)": lambda t: np.maximum(t["Tz"][1], t["M5"][1]),
    "max(0.5 Tz, M5)": lambda t: np.maximum(0.5 * t["Tz"][1], t["M5"][1]),
    "w T + M5 + 0.25 X1": lambda t: t["w"] * t["T"][1] + t["M5"][1] + 0.25 * t["X1"][1],
    "w T + M5 + 0.5 X1": lambda t: t["w"] * t["T"][1] + t["M5"][1] + 0.5 * t["X1"][1],
    "w T + M5 + 0.25 RX": lambda t: t["w"] * t["T"][1] + t["M5"][1] + 0.25 * t["RX"][1],
    "X1": lambda t: t["X1"][1],
    "IF": lambda t: t["IF"][1],
    "w T + M5 + 0.125 IF": lambda t: t["w"] * t["T"][1] + t["M5"][1] + 0.125 * t["IF"][1],
    "w T + M5 + 0.25 IF": lambda t: t["w"] * t["T"][1] + t["M5"][1] + 0.25 * t["IF"][1],
    "w T + M5 + 0.375 IF": lambda t: t["w"] * t["T"][1] + t["M5"][1] + 0.375 * t["IF"][1],
    "w T + M5 + 0.5 IF": lambda t: t["w"] * t["T"][1] + t["M5"][1] + 0.5 * t["IF"][1],
    "LR20": lambda t: t["LR20"][1],
    "w T + M5 + 0.25 LR20": lambda t: t["w"] * t["T"][1] + t["M5"][1] + 0.25 * t["LR20"][1],
    "w T + M5 + 0.25 IF + 0.25 LR20": lambda t: t["w"] * t["T"][1] + t["M5"][1] + 0.25 * t["IF"][1] + 0.25 * t["LR20"][1],
    "M5 + 0.25 T + 0.75 max(T, 0)": lambda t: t["M5"][1] + 0.25 * t["T"][1] + 0.75 * np.maximum(t["T"][1], 0),
}


def probe(root, only_seeds=None):
    """Train the probes the suite's tables lack (one default ensemble per table and seed; only
    the seeds in `only_seeds` where given)."""
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/da3d-target"))
    exe = os.path.join(target, "debug", "examples", "terms_probe")
    for name, (path, dataset, protocol, seeds) in TABLES.items():
        if name in ("census", "nslkdd"):
            continue
        for s in seeds.split(","):
            if only_seeds is not None and s not in only_seeds:
                continue
            out = os.path.join(root, name, f"s{s}")
            if os.path.exists(os.path.join(out, "shape.json")):
                continue
            cmd = [exe, path, protocol, s, out] + ([dataset] if dataset else [])
            print(" ".join(cmd), file=sys.stderr)
            subprocess.run(cmd, check=True)


def main():
    args = sys.argv[1:]
    if args and args[0] == "probe":
        probe(args[1], args[args.index("--seeds") + 1].split(",") if "--seeds" in args else None)
        return
    root = args[0]
    only = None
    if "--variants" in args:
        only = args[args.index("--variants") + 1].split(",")
    tables = sorted(os.listdir(root))
    if "--tables" in args:
        tables = args[args.index("--tables") + 1].split(",")
    variants = {k: v for k, v in VARIANTS.items() if only is None or k in only}
    per_table = {}
    for name in tables:
        seeds = sorted(glob.glob(os.path.join(root, name, "s*", "shape.json")))
        if not seeds:
            continue
        res = {k: ([], []) for k in variants}
        for sj in seeds:
            p = load(os.path.dirname(sj))
            t = terms(p)
            y = p["y"]
            for k, f in variants.items():
                s = f(t)
                res[k][0].append(roc_auc_score(y, s))
                res[k][1].append(average_precision_score(y, s))
            model = p["shape"].get("model_test_roc_auc")
            key = "T + N5 (the previous default)"
            if model is not None and key in res and abs(model - res[key][0][-1]) > 2e-3:
                print(f"{name} {sj}: recomputed {key} {res[key][0][-1]:.4f} vs the probe's model {model:.4f}", file=sys.stderr)
        per_table[name] = {k: (np.mean(a), np.mean(b), len(a)) for k, (a, b) in res.items()}
    names = list(per_table)
    print(f"{len(names)} tables: " + ", ".join(names))
    print(f"| variant | mean ROC AUC | mean AP | tables below kNN − .01 | tables above kNN + .01 |")
    print("|---|---|---|---|---|")
    for k in variants:
        auc = np.mean([per_table[n][k][0] for n in names])
        ap = np.mean([per_table[n][k][1] for n in names])
        below = [n for n in names if "kNN (N5)" in per_table[n] and per_table[n][k][0] < per_table[n]["kNN (N5)"][0] - 0.01]
        above = [n for n in names if "kNN (N5)" in per_table[n] and per_table[n][k][0] > per_table[n]["kNN (N5)"][0] + 0.01]
        print(f"| {k} | {auc:.4f} | {ap:.4f} | {len(below)} {','.join(below)} | {len(above)} |")
    print()
    print("| table | " + " | ".join(variants) + " |")
    print("|---|" + "---|" * len(variants))
    for n in names:
        print(f"| {n} ({per_table[n][next(iter(variants))][2]}) | " + " | ".join(f"{per_table[n][k][0]:.3f}" for k in variants) + " |")


if __name__ == "__main__":
    main()
