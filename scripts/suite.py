#!/usr/bin/env python3
"""The benchmark suite: 23 tables, the default detector and PyOD's classical detectors on the same
rows, one table of ROC AUC, average precision, ranks and seconds.

  scripts/suite.py run   [--tables a,b,...] [--seeds 0,1,2] [--only classical|da3d] [--out DIR] [--method robust] [--api cli|python]
  scripts/suite.py table [--out DIR] [--method robust] [--api cli|python]
  scripts/suite.py all   (run, then table)

--api python runs da3d through its Python package instead of the CLI, as a PyOD user would:
`scripts/classical.py --methods da3d-METHOD` (the estimator `da3d.DA3D(preset=METHOD, seed=S)`,
fit and decision_function on the very rows the PyOD detectors get, one thread, training rows
capped as theirs), into DIR/da3d-METHOD-NAME.json; `table --api python` puts it beside them.

The tables: the eleven of the project's suite on the paper's protocol (a seeded 80/5/15 split;
Mammography, NSL-KDD, Census from $DA3D_DATA_DIR, the eight of scripts/suite-data.sh from
$DA3D_SUITE_DIR, default ~/.cache/da3d-suite-data) and the twelve ADBench development tables of
$DA3D_DATA_DIR/adbench-dev on the DTE benchmark's semi-supervised protocol (`--protocol
half-normal`: a seeded half of the normal rows train, the other half and every anomaly test).
Seeds 0-4 for tables under 10,000 rows, 0-2 above. Per table and seed, every detector sees the
same rows: `da3d eval FILE --methods METHOD --protocol P --seeds S --out DIR/METHOD-NAME.json`
and `scripts/classical.py FILE --protocol P --seeds S --json DIR/classical-NAME.json` (ECOD,
COPOD, IForest, kNN, LOF, PCA from PyOD, on `da3d split --export`'s rows). The table adds DTE-NP's
published ROC AUC (DTE's Table 1, semi-supervised, 5 seeds, their split) for the development
tables. `run` skips a file that exists unless --force. Needs the venv of scripts/suite-data.sh and
a built da3d (`cargo build -p da3d-cli`; --da3d BIN).
"""
import argparse, json, os, statistics, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.environ.get("DA3D_DATA_DIR", os.path.join(ROOT, "..", "shared", "datasets"))
SUITE = os.environ.get("DA3D_SUITE_DIR", os.path.expanduser("~/.cache/da3d-suite-data"))
VENV_PY = os.path.join(os.environ.get("DA3D_BENCH_VENV", os.path.expanduser("~/.cache/da3d-bench-venv")), "bin", "python")
CLASSICAL = ["knn", "lof", "ecod", "copod", "iforest", "pca"]
FIVE, THREE = "0,1,2,3,4", "0,1,2"

# name: (file, --dataset, protocol, seeds)
TABLES = {
    "mammography": (f"{DATA}/mammography.csv", "mammography", "paper", FIVE),
    "nslkdd": (f"{DATA}/nslkdd.csv.gz", "nslkdd", "paper", THREE),
    "census": (f"{DATA}/census.csv.gz", "census", "paper", THREE),
    "shuttle": (f"{SUITE}/shuttle.csv", None, "paper", THREE),
    "satellite": (f"{SUITE}/satellite.csv", None, "paper", FIVE),
    "satimage-2": (f"{SUITE}/satimage-2.csv", None, "paper", FIVE),
    "pima": (f"{SUITE}/pima.csv", None, "paper", FIVE),
    "ionosphere": (f"{SUITE}/ionosphere.csv", None, "paper", FIVE),
    "breastw": (f"{SUITE}/breastw.csv", None, "paper", FIVE),
    "wbc": (f"{SUITE}/wbc.csv", None, "paper", FIVE),
    "digits": (f"{SUITE}/digits.csv", None, "paper", FIVE),
    "annthyroid": (f"{DATA}/adbench-dev/annthyroid.csv.gz", None, "half-normal", FIVE),
    "cardiotocography": (f"{DATA}/adbench-dev/cardiotocography.csv.gz", None, "half-normal", FIVE),
    "landsat": (f"{DATA}/adbench-dev/landsat.csv.gz", None, "half-normal", FIVE),
    "letter": (f"{DATA}/adbench-dev/letter.csv.gz", None, "half-normal", FIVE),
    "magic-gamma": (f"{DATA}/adbench-dev/magic-gamma.csv.gz", None, "half-normal", THREE),
    "mnist": (f"{DATA}/adbench-dev/mnist.csv.gz", None, "half-normal", FIVE),
    "musk": (f"{DATA}/adbench-dev/musk.csv.gz", None, "half-normal", FIVE),
    "pageblocks": (f"{DATA}/adbench-dev/pageblocks.csv.gz", None, "half-normal", FIVE),
    "stamps": (f"{DATA}/adbench-dev/stamps.csv.gz", None, "half-normal", FIVE),
    "vertebral": (f"{DATA}/adbench-dev/vertebral.csv.gz", None, "half-normal", FIVE),
    "vowels": (f"{DATA}/adbench-dev/vowels.csv.gz", None, "half-normal", FIVE),
    "wine": (f"{DATA}/adbench-dev/wine.csv.gz", None, "half-normal", FIVE),
}

# DTE-NP's ROC AUC (%) in DTE's Table 1 (Livernoche et al., ICLR 2024; github.com/vicliv/DTE,
# README "Table 1", semi-supervised, mean of 5 seeds) for the development tables.
DTE_NP = {
    "annthyroid": 92.9, "cardiotocography": 63.76, "landsat": 68.2, "letter": 34.38, "magic-gamma": 83.57,
    "mnist": 94.02, "musk": 100.0, "pageblocks": 89.32, "stamps": 97.87, "vertebral": 54.3, "vowels": 81.42, "wine": 99.44,
}


def default_da3d():
    return os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/da3d-target")), "debug", "da3d")


def label(a):
    """The detector's name in the files and the table: the eval method, or the package's."""
    return a.method if a.api == "cli" else f"da3d-{a.method}"


def run(a):
    os.makedirs(a.out, exist_ok=True)
    names = a.tables.split(",") if a.tables else list(TABLES)
    for name in names:
        path, dataset, protocol, seeds = TABLES[name]
        seeds = a.seeds or seeds
        common = [path, "--protocol", protocol, "--seeds", seeds] + (["--dataset", dataset] if dataset else [])
        jobs = []

        def classical(methods, out):
            """scripts/classical.py's job for these methods on this table's rows."""
            cmd = [VENV_PY, os.path.join(HERE, "classical.py")] + common + ["--name", name, "--methods", methods, "--da3d", a.da3d, "--json", out]
            return out, cmd

        if a.only in (None, "da3d"):
            out = os.path.join(a.out, f"{label(a)}-{name}.json")
            if a.api == "cli":
                jobs.append((out, [a.da3d, "eval"] + common + ["--contamination", "0", "--methods", a.method, "--quiet", "--out", out]))
            else:
                jobs.append(classical(label(a), out))
        if a.only in (None, "classical"):
            jobs.append(classical(",".join(CLASSICAL), os.path.join(a.out, f"classical-{name}.json")))
        for out, cmd in jobs:
            if os.path.exists(out) and not a.force:
                print(f"{name}: {os.path.basename(out)} exists (--force to run again)", file=sys.stderr)
                continue
            print(f"{name}: {' '.join(cmd)}", file=sys.stderr)
            r = subprocess.run(cmd, stdout=subprocess.DEVNULL)
            if r.returncode != 0:
                sys.exit(f"{name}: failed ({r.returncode}): {' '.join(cmd)}")


def mean(v):
    return statistics.fmean(v) if v else float("nan")


def load(a):
    """Per table: {detector: (mean ROC AUC, mean AP, mean seconds, seeds)} over the seeds every detector ran."""
    rows, ours_name = {}, label(a)
    for name in TABLES:
        ours_path = os.path.join(a.out, f"{ours_name}-{name}.json")
        classical_path = os.path.join(a.out, f"classical-{name}.json")
        if not (os.path.exists(ours_path) and os.path.exists(classical_path)):
            continue
        ours = [r for r in json.load(open(ours_path))["runs"] if r["method"] == ours_name and r["contamination"] == 0]
        classical = json.load(open(classical_path))["runs"]
        seeds = {r["seed"] for r in ours} & {r["seed"] for r in classical}
        table = {}
        for method, runs in [(ours_name, ours)] + [(m, [r for r in classical if r["method"] == m]) for m in CLASSICAL]:
            runs = [r for r in runs if r["seed"] in seeds]
            if runs:
                table[method] = (mean([r["test_roc_auc"] for r in runs]), mean([r["test_average_precision"] for r in runs]),
                                 mean([r["seconds"] for r in runs]), len(runs))
        rows[name] = table
    return rows


def ranks(values):
    """Rank of each value (1 = highest), ties sharing the mean rank."""
    order = sorted(values, key=lambda kv: -kv[1])
    out, i = {}, 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and order[j + 1][1] == order[i][1]:
            j += 1
        for k in range(i, j + 1):
            out[order[k][0]] = (i + j) / 2 + 1
        i = j + 1
    return out


def table(a):
    rows, ours = load(a), label(a)
    detectors = [ours] + CLASSICAL
    print(f"| table (protocol, seeds) | " + " | ".join(detectors) + f" | DTE-NP (published) | {ours} s | rank |")
    print("|---|" + "---|" * (len(detectors) + 3))
    totals = {d: ([], [], []) for d in detectors}
    below_if = []
    for name, t in rows.items():
        protocol, seeds = TABLES[name][2], t[ours][3]
        r = ranks([(d, t[d][0]) for d in detectors if d in t])
        for d in detectors:
            if d in t:
                totals[d][0].append(t[d][0])
                totals[d][1].append(t[d][1])
                totals[d][2].append(r[d])
        best = max(t[d][0] for d in detectors if d in t)
        cells = [("**{:.3f}**" if t[d][0] == best else "{:.3f}").format(t[d][0]) + f" / {t[d][1]:.2f}" if d in t else "–" for d in detectors]
        dte = f"{DTE_NP[name] / 100:.3f}" if name in DTE_NP else "–"
        if "iforest" in t and t[ours][0] < t["iforest"][0] - 0.02:
            below_if.append(name)
        print(f"| {name} ({'half' if protocol == 'half-normal' else 'paper'}, {seeds}) | " + " | ".join(cells) + f" | {dte} | {t[ours][2]:.0f} | {r[ours]:g} |")
    n = len(rows)
    print(f"| **mean of {n} tables** | " + " | ".join(f"**{mean(totals[d][0]):.3f}** / {mean(totals[d][1]):.3f}" for d in detectors) + " | | | |")
    print(f"| **mean rank** | " + " | ".join(f"{mean(totals[d][2]):.2f}" for d in detectors) + " | | | |")
    print()
    print(f"Cells: test ROC AUC / average precision, mean over the seeds; bold: the best of the row. {n} tables;")
    print(f"{ours} below Isolation Forest − .02 on: {', '.join(below_if) or 'none'}.")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["run", "table", "all"])
    ap.add_argument("--tables", help="comma-separated names (default: all 23)")
    ap.add_argument("--only", choices=["classical", "da3d"])
    ap.add_argument("--seeds", help="comma-separated seeds for every table (default: the table's, above)")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "runs", "suite"))
    ap.add_argument("--method", default="robust", help="the da3d eval method (robust, quick)")
    ap.add_argument("--api", choices=["cli", "python"], default="cli", help="da3d through the CLI's eval, or through the Python package as PyOD's detectors")
    ap.add_argument("--da3d", default=default_da3d())
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    if a.what in ("run", "all"):
        run(a)
    if a.what in ("table", "all"):
        table(a)


if __name__ == "__main__":
    main()
