#!/usr/bin/env python3
"""Classical detectors (PyOD: ECOD, COPOD, IForest, kNN, LOF, PCA) on the very same rows and
preprocessing as `da3d eval` — the comparison side of the benchmark suite — and, through the
same fit/decision_function calls, da3d's Python package (`da3d-robust`, `da3d-quick`: the
estimator `da3d.DA3D(preset=..., seed=S)`), so that da3d stands in a PyOD user's own terms.

Usage: scripts/classical.py [DATA.csv] [--dataset NAME] --seeds 0,1,2,3,4 [--json OUT]
                            [--methods ecod,copod,iforest,knn,lof,pca] [--max-train 30000]
                            [--contamination 0] [--protocol paper|half-normal] [--da3d BIN] [--threads 1]
Examples:
  scripts/classical.py --dataset mammography --seeds 0,1,2,3,4 --json classical-mammography.json
  scripts/classical.py ~/.cache/da3d-suite-data/shuttle.csv --seeds 0,1,2,3,4
Needs the venv of scripts/suite-data.sh (~/.cache/da3d-bench-venv: PyOD 3.x, scikit-learn, numpy;
for da3d-*, the package: `VIRTUAL_ENV=~/.cache/da3d-bench-venv maturin develop -m crates/da3d-py/Cargo.toml`)
and a built `da3d` binary (--da3d; default $CARGO_TARGET_DIR/debug/da3d). For each seed it runs `da3d split --seed S --export DIR`, which
writes the preprocessed training rows (normal rows of the training split, one-hot, min-max fit
on them) and test rows, so every detector sees exactly what DA³D sees. A file without a named
preset is read as `da3d split FILE` (its `label` column gives the protocol); without DATA the
named data set's file is read from $DA3D_DATA_DIR (default ../shared/datasets).
Detectors: ECOD, COPOD, PCA with PyOD's defaults; IForest(n_estimators=100, random_state=seed);
KNN(n_neighbors=5), LOF(n_neighbors=20, PyOD's default); da3d-PRESET: DA3D(preset=PRESET,
seed=S, threads=--threads), its members and scoring on --threads threads (RAYON_NUM_THREADS).
Where PyOD's default PCA gives non-finite scores (zero-variance components:
columns constant on the training rows, one-hot blocks) it is refit with n_components = the
components whose explained variance ratio exceeds 1e-9, and the output says so. Note PyOD's ECOD/COPOD compute their ECDFs on the training and test rows
together (PyOD's default, transductive). Training sets over --max-train rows (default 30,000;
0 = no cap) are subsampled to that many rows with numpy default_rng(seed), for every detector;
the output says so. Scores: test ROC AUC and average precision; seconds = fit + score, one
thread (--threads). Prints one line per method and seed, then mean ± std per method.
"""
import argparse, json, os, subprocess, sys, tempfile, time, warnings

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

METHODS = ("ecod", "copod", "iforest", "knn", "lof", "pca")
PACKAGE = ("da3d-robust", "da3d-quick")  # da3d's Python package, on request
PCA_RANK_TOL = 1e-9


def default_da3d():
    return os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/da3d-target")), "debug", "da3d")


def make(method, seed, threads=1):
    if method in PACKAGE:
        import da3d
        return da3d.DA3D(preset=method.removeprefix("da3d-"), seed=seed, threads=threads)
    if method == "ecod":
        from pyod.models.ecod import ECOD
        return ECOD()
    if method == "copod":
        from pyod.models.copod import COPOD
        return COPOD()
    if method == "iforest":
        from pyod.models.iforest import IForest
        return IForest(n_estimators=100, random_state=seed)
    if method == "knn":
        from pyod.models.knn import KNN
        return KNN(n_neighbors=5)
    if method == "lof":
        from pyod.models.lof import LOF
        return LOF()
    if method == "pca":
        from pyod.models.pca import PCA
        return PCA()
    raise ValueError(f"unknown method '{method}' (known: {', '.join(METHODS + PACKAGE)})")


def export_split(a, seed, tmp):
    cmd = [a.da3d, "split"] + ([a.data] if a.data else []) + [
        "--seed", str(seed), "--contamination", str(a.contamination), "--protocol", a.protocol, "--export", tmp]
    if a.dataset:
        cmd += ["--dataset", a.dataset]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr}")
    split = json.loads(r.stdout)
    xtr = np.fromfile(os.path.join(tmp, "train.f32"), dtype="<f4").reshape(split["train_shape"])
    xte = np.fromfile(os.path.join(tmp, "test.f32"), dtype="<f4").reshape(split["test_shape"])
    yte = np.fromfile(os.path.join(tmp, "test_labels.u8"), dtype=np.uint8)
    return split, xtr, xte, yte


def mean_std(v):
    v = [x for x in v if x == x]
    if not v:
        return float("nan"), float("nan")
    return float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", nargs="?", help="CSV with a label column (optional with --dataset)")
    ap.add_argument("--dataset", default=None, help="named data set of da3d (mammography, nslkdd, census, ...)")
    ap.add_argument("--name", default=None, help="name in the output (default: --dataset or the file's stem)")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--contamination", type=float, default=0.0)
    ap.add_argument("--protocol", default="paper", help="da3d split --protocol: paper (80/5/15) or half-normal (DTE's)")
    ap.add_argument("--max-train", type=int, default=30000, help="subsample larger training sets to this many rows (0: never)")
    ap.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads (default 1)")
    ap.add_argument("--json", default=None, help="write every run and the summary as JSON here")
    ap.add_argument("--da3d", default=default_da3d())
    a = ap.parse_args()
    if not a.data and not a.dataset:
        ap.error("give a data file or --dataset")
    if not os.path.exists(a.da3d):
        sys.exit(f"no da3d binary at {a.da3d} (build it with `cargo build -p da3d-cli`, or pass --da3d)")
    name = a.name or a.dataset or os.path.basename(a.data).split(".")[0]
    methods = [m.strip() for m in a.methods.split(",") if m.strip()]
    for m in methods:
        if m not in METHODS + PACKAGE:
            ap.error(f"unknown method '{m}' (known: {', '.join(METHODS + PACKAGE)})")
    os.environ["RAYON_NUM_THREADS"] = str(a.threads)  # before the package's thread pool starts

    import pyod, sklearn
    from threadpoolctl import threadpool_limits
    threadpool_limits(a.threads)
    warm = np.random.default_rng(0).random((64, 4))
    for m in methods:  # imports and first-call set-up are not timed
        make(m, 0, a.threads).fit(warm).decision_function(warm)

    runs, notes, subsampled = [], [], False
    for seed in [int(s) for s in a.seeds.split(",")]:
        with tempfile.TemporaryDirectory(prefix="da3d-classical-") as tmp:
            t0 = time.time()
            split, xtr, xte, yte = export_split(a, seed, tmp)
            xtr, xte = np.array(xtr, dtype=np.float64), np.array(xte, dtype=np.float64)
        n_total = xtr.shape[0]
        if a.max_train and n_total > a.max_train:
            keep = np.sort(np.random.default_rng(seed).choice(n_total, size=a.max_train, replace=False))
            xtr = xtr[keep]
            subsampled = True
            note = f"seed {seed}: training rows subsampled {n_total} -> {a.max_train} (numpy default_rng({seed})) for every detector"
            notes.append(note)
            print(note, file=sys.stderr)
        n_anom = int(yte.sum())
        print(f"seed {seed}: split in {time.time() - t0:.1f} s; train {xtr.shape[0]} x {xtr.shape[1]}, "
              f"test {len(yte)} rows, {n_anom} anomalies", file=sys.stderr)
        for method in methods:
            t1 = time.time()
            with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
                warnings.simplefilter("ignore", RuntimeWarning)  # PyOD's PCA on zero-variance components; handled below
                det = make(method, seed, a.threads).fit(xtr)
                s = det.decision_function(xte)
            note = None
            if method == "pca" and not np.all(np.isfinite(s)):
                # PyOD's PCA divides by each component's explained variance: with columns that are
                # constant on the training rows (or one-hot blocks) some are 0 and scores become
                # inf/nan. Keep the components above numerical rank instead.
                k = int(np.sum(det.explained_variance_ratio_ > PCA_RANK_TOL))
                det = make(method, seed).set_params(n_components=k).fit(xtr)
                s = det.decision_function(xte)
                note = f"pca: defaults gave zero-variance components (non-finite scores); refit with n_components={k} (explained variance ratio > {PCA_RANK_TOL:g})"
                notes.append(f"seed {seed}: {note}")
                print(f"seed {seed}: {note}", file=sys.stderr)
            secs = time.time() - t1
            if 0 < n_anom < len(yte):
                auc, apr = float(roc_auc_score(yte, s)), float(average_precision_score(yte, s))
            else:
                auc = apr = float("nan")
                print(f"seed {seed}: the test split holds {n_anom} anomalies of {len(yte)}: no AUC", file=sys.stderr)
            runs.append({"method": method, "seed": seed, "contamination": a.contamination,
                         "test_roc_auc": auc, "test_average_precision": apr, "seconds": secs,
                         "train_rows": int(xtr.shape[0]), "train_rows_total": int(n_total),
                         "inputs": int(xtr.shape[1]), "test_rows": int(len(yte)), "test_anomalies": n_anom, **({"note": note} if note else {})})
            print(f"  {method:11s} seed {seed}: ROC AUC {auc:.4f}  AP {apr:.4f}  {secs:7.2f} s")

    summary = {}
    print(f"\n{name}: {len(yte)} test rows, {xtr.shape[1]} inputs"
          + (f", training subsampled to {a.max_train} rows" if subsampled else "")
          + f" (PyOD {pyod.__version__}, scikit-learn {sklearn.__version__})")
    print(f"{'method':11s} {'ROC AUC':>15s} {'AP':>15s} {'seconds':>8s}")
    for method in methods:
        rs = [r for r in runs if r["method"] == method]
        am, asd = mean_std([r["test_roc_auc"] for r in rs])
        pm, psd = mean_std([r["test_average_precision"] for r in rs])
        sec = float(np.mean([r["seconds"] for r in rs]))
        summary[method] = {"roc_auc_mean": am, "roc_auc_std": asd, "ap_mean": pm, "ap_std": psd,
                           "seconds_mean": sec, "seeds": len(rs)}
        print(f"{method:11s} {am:7.3f} ± {asd:.3f} {pm:7.3f} ± {psd:.3f} {sec:8.2f}")
    if a.json:
        nan_none = lambda o: {k: nan_none(v) for k, v in o.items()} if isinstance(o, dict) else (
            [nan_none(v) for v in o] if isinstance(o, list) else (None if isinstance(o, float) and o != o else o))
        with open(a.json, "w") as f:
            json.dump(nan_none({"name": name, "dataset": a.dataset, "data": a.data, "seeds": a.seeds, "protocol": a.protocol,
                       "contamination": a.contamination, "max_train": a.max_train, "threads": a.threads,
                       "pyod": pyod.__version__, "sklearn": sklearn.__version__, "numpy": np.__version__,
                       "da3d": a.da3d, "notes": notes, "summary": summary, "runs": runs}), f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
