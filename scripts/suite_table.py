#!/usr/bin/env python3
"""The benchmark suite's table (issue 14): per data set, each detector's test ROC AUC mean ± std,
average precision and seconds, and da3d's rank among them.

Usage: scripts/suite_table.py [--runs DIR] [--classical DIR] [--method robust] [--markdown]
Reads CLASSICAL_DIR/classical-NAME.json (scripts/classical.py; default: the --runs DIR) and every `da3d eval --out` JSON named
DIR/da3d-NAME*.json, DIR/robust-NAME*.json or DIR/quick-NAME*.json (runs of the same splits: `da3d eval FILE --seeds ...
--contamination 0`), per data set NAME. Default DIR: docs/runs/suite. Only the standard library.
The rank counts the detectors whose mean ROC AUC is above da3d's (1 = best); `≥ IF − .02` says
whether da3d's mean is at least Isolation Forest's minus .02 (the issue's floor).
"""
import argparse, glob, json, os, statistics


def mean_std(v):
    return (statistics.fmean(v), statistics.stdev(v) if len(v) > 1 else 0.0) if v else (float("nan"), 0.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", default="docs/runs/suite")
    ap.add_argument("--classical", help="folder of the classical-NAME.json files (default: --runs)")
    ap.add_argument("--method", action="append", help="da3d eval methods to show (default: robust, da3d, aae-recon)")
    ap.add_argument("--compact", action="store_true", help="cells 'AUC / AP' (± std for the first method), its seconds in a column of their own")
    a = ap.parse_args()
    shown = a.method or ["robust", "da3d", "aae-recon"]
    classical_order = ["ecod", "copod", "iforest", "knn", "pca"]
    rows = []
    for path in sorted(glob.glob(os.path.join(a.classical or a.runs, "classical-*.json"))):
        name = os.path.basename(path)[len("classical-"):-len(".json")]
        c = json.load(open(path))
        methods = {}
        seeds = {r["seed"] for r in c["runs"]}
        ours = {}
        for f in sorted(glob.glob(os.path.join(a.runs, f"da3d-{name}*.json")) + glob.glob(os.path.join(a.runs, f"robust-{name}*.json")) + glob.glob(os.path.join(a.runs, f"quick-{name}*.json"))):
            for r in json.load(open(f))["runs"]:
                if r["method"] in shown and r["contamination"] == 0 and r["seed"] in seeds:
                    ours.setdefault(r["method"], {})[r["seed"]] = r  # one run per seed
        # Every detector over the seeds the first shown method ran (the same splits for all).
        common = set(ours.get(shown[0], {})) or seeds
        for m, by_seed in ours.items():
            runs = [r for seed, r in by_seed.items() if seed in common] or list(by_seed.values())
            mu, sd = mean_std([r["test_roc_auc"] for r in runs])
            ap_mean = statistics.fmean(r["test_average_precision"] for r in runs)
            methods[m] = (mu, sd, ap_mean, statistics.fmean(r["seconds"] for r in runs), len(runs))
        for m in classical_order:
            runs = [r for r in c["runs"] if r["method"] == m and r["seed"] in common]
            if runs:
                mu, sd = mean_std([r["test_roc_auc"] for r in runs])
                methods[m] = (mu, sd, statistics.fmean(r["test_average_precision"] for r in runs), statistics.fmean(r["seconds"] for r in runs), len(runs))
        rows.append((name, methods))
    cols = [m for m in shown] + classical_order
    extra = [f"{shown[0]} s"] if a.compact else []
    print("| data (seeds) | " + " | ".join(cols + extra) + " | rank of " + shown[0] + " | ≥ IF − .02 |")
    print("|---|" + "---|" * (len(cols) + len(extra) + 2))
    for name, methods in rows:
        cells = []
        for m in cols:
            if m not in methods:
                cells.append("–")
                continue
            mu, sd, apm, secs, n = methods[m]
            if not a.compact:
                cells.append(f"{mu:.3f}±{sd:.3f} / {apm:.2f} ({secs:.3g} s, {n})")
            elif m == shown[0]:
                cells.append(f"**{mu:.3f}** ± {sd:.3f} / {apm:.2f}")
            else:
                cells.append(f"{mu:.3f} / {apm:.2f}")
        if a.compact:
            cells.append(f"{methods[shown[0]][3]:.0f}" if shown[0] in methods else "–")
        n_seeds = methods[shown[0]][4] if shown[0] in methods else "–"
        main_m = shown[0]
        if main_m in methods:
            ours = methods[main_m][0]
            others = [v[0] for k, v in methods.items() if k in classical_order]
            rank = 1 + sum(o > ours for o in others)
            floor = "yes" if "iforest" in methods and ours >= methods["iforest"][0] - 0.02 else ("no" if "iforest" in methods else "–")
            rank = f"{rank} of {len(others) + 1}"
        else:
            rank, floor = "–", "–"
        print(f"| {name} ({n_seeds}) | " + " | ".join(cells) + f" | {rank} | {floor} |")
    print()
    print("Cells: test ROC AUC mean ± std / average precision (seconds per fit and score, seeds); every")
    print(f"detector of a row over the seeds {shown[0]} ran.")


if __name__ == "__main__":
    main()
