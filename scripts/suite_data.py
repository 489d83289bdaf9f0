#!/usr/bin/env python3
"""Writes the benchmark suite's extra tables (issue 14) as CSV files with a 0/1 `label` column.

Usage: scripts/suite_data.py --mlbench DIR [--out DIR] [--seed 42]
Called by scripts/suite-data.sh, which installs what this needs (a venv with numpy, pandas,
pyreadr, scikit-learn; Debian's r-cran-mlbench unpacked) and passes the mlbench data folder
(the one holding Shuttle.rda, ...). Every table is a file bundled inside a package: R's mlbench
(Debian r-cran-mlbench, UCI data) and scikit-learn (breast_cancer, digits). Nothing is
downloaded at run time. The anomaly definitions follow ODDS (Rayana 2016) / ADBench (Han et al.
2022); where ODDS subsamples the anomaly class, this script does so with numpy's
default_rng(--seed) and keeps the file's row order. Writes DIR/<name>.csv and DIR/PROVENANCE.md.
"""
import argparse, hashlib, os, subprocess, sys

import numpy as np
import pandas as pd


def mlbench_version(mlbench_dir):
    desc = os.path.join(os.path.dirname(os.path.normpath(mlbench_dir)), "DESCRIPTION")
    ver = "?"
    if os.path.exists(desc):
        for line in open(desc, encoding="utf-8", errors="replace"):
            if line.startswith("Version:"):
                ver = line.split(":", 1)[1].strip()
    return ver


def debian_version(pkg):
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip() + " (installed)"
    except OSError:
        pass
    return None


def read_rda(mlbench_dir, name):
    import pyreadr
    return pyreadr.read_r(os.path.join(mlbench_dir, name + ".rda"))[name]


def clean_names(cols):
    return [c.replace(".", "_") for c in cols]


def subsample(idx, k, rng):
    """k of the row indices idx, drawn without replacement, in file order."""
    return np.sort(rng.choice(np.asarray(idx), size=k, replace=False))


def finish(X, y):
    """Numeric feature frame X (cleaned names, integer-valued columns as int) plus `label`."""
    X = X.copy()
    X.columns = clean_names([str(c) for c in X.columns])
    for c in X.columns:
        v = X[c].astype(float)
        X[c] = v.astype("int64") if np.all(np.isfinite(v)) and np.all(v == np.round(v)) else v
    X["label"] = np.asarray(y, dtype=np.int64)
    return X.reset_index(drop=True)


def build(mlbench_dir, seed):
    """Yields (name, frame, provenance dict)."""
    import sklearn
    from sklearn import datasets as skd
    mlb_ver = mlbench_version(mlbench_dir)
    mlb_src = f"R package mlbench {mlb_ver} (Debian r-cran-mlbench), data/%s.rda"
    skl_src = f"scikit-learn {sklearn.__version__}, sklearn/datasets/data/%s (load_%s)"

    # Shuttle (Statlog, train + test = 58,000 rows): ODDS shuttle.
    d = read_rda(mlbench_dir, "Shuttle")
    cls = d["Class"].astype(str)
    keep = cls != "High"  # class 4
    y = (cls[keep] != "Rad.Flow").astype(int)  # class 1 normal
    yield "shuttle", finish(d.loc[keep, [f"V{i}" for i in range(1, 10)]], y), {
        "source": mlb_src % "Shuttle", "origin": "UCI Statlog (Shuttle), train + test",
        "definition": "ODDS shuttle: class 1 (Rad.Flow) normal; classes 2, 3, 5, 6, 7 (Fpv.Close, Fpv.Open, "
                      "Bypass, Bpv.Close, Bpv.Open) anomalies; class 4 (High) dropped. Same counts as ODDS (49,097 / 3,511).",
    }

    # Satellite (Statlog Landsat, 6,435 rows): ODDS satellite and satimage-2.
    d = read_rda(mlbench_dir, "Satellite")
    cls = d["classes"].astype(str)
    X = d[[c for c in d.columns if c != "classes"]]
    small = ["cotton crop", "damp grey soil", "vegetation stubble"]  # classes 2, 4, 5
    yield "satellite", finish(X, cls.isin(small).astype(int)), {
        "source": mlb_src % "Satellite", "origin": "UCI Statlog (Landsat Satellite), train + test",
        "definition": "ODDS satellite: the three smallest classes (2 cotton crop, 4 damp grey soil, "
                      "5 vegetation stubble) anomalies, the rest normal. Same counts as ODDS (6,435 / 2,036).",
    }
    rng = np.random.default_rng(seed)
    normal = np.flatnonzero((cls != "cotton crop").to_numpy())
    anom = subsample(np.flatnonzero((cls == "cotton crop").to_numpy()), 71, rng)
    rows = np.sort(np.concatenate([normal, anom]))
    yield "satimage-2", finish(X.iloc[rows], (cls.iloc[rows] == "cotton crop").astype(int)), {
        "source": mlb_src % "Satellite", "origin": "UCI Statlog (Landsat Satellite), train + test",
        "definition": f"ODDS satimage-2: class 2 (cotton crop) anomalies, downsampled to 71 rows "
                      f"(numpy default_rng({seed}), file order kept); every other class normal. ODDS counts 5,803 / 71.",
    }

    # Pima Indians Diabetes: ODDS pima.
    d = read_rda(mlbench_dir, "PimaIndiansDiabetes")
    yield "pima", finish(d.drop(columns=["diabetes"]), (d["diabetes"].astype(str) == "pos").astype(int)), {
        "source": mlb_src % "PimaIndiansDiabetes", "origin": "UCI Pima Indians Diabetes",
        "definition": "ODDS pima: diabetic (pos) anomalies. Zeros that stand for missing values kept as in ODDS. "
                      "Same counts as ODDS (768 / 268).",
    }

    # Ionosphere: ODDS ionosphere (33 features: V2 is constant and dropped, V1 kept as 0/1).
    d = read_rda(mlbench_dir, "Ionosphere")
    X = d.drop(columns=["Class", "V2"]).copy()
    X["V1"] = X["V1"].astype(str).astype(int)
    yield "ionosphere", finish(X, (d["Class"].astype(str) == "bad").astype(int)), {
        "source": mlb_src % "Ionosphere", "origin": "UCI Ionosphere",
        "definition": "ODDS ionosphere: 'bad' radar returns anomalies; V2 (constant 0) dropped, V1 (0/1) kept "
                      "as a number: 33 inputs. Same counts as ODDS (351 / 126).",
    }

    # Wisconsin Breast Cancer (original): ODDS breastw.
    d = read_rda(mlbench_dir, "BreastCancer")
    X = d.drop(columns=["Id", "Class"]).apply(lambda s: pd.to_numeric(s.astype(object), errors="coerce"))
    ok = X.notna().all(axis=1)
    yield "breastw", finish(X[ok], (d.loc[ok, "Class"].astype(str) == "malignant").astype(int)), {
        "source": mlb_src % "BreastCancer", "origin": "UCI Breast Cancer Wisconsin (Original)",
        "definition": "ODDS breastw: malignant anomalies; Id dropped; the 16 rows with a missing Bare.nuclei "
                      "dropped; the nine 1-10 scores kept as numbers. Same counts as ODDS (683 / 239).",
    }

    # WDBC from scikit-learn: ODDS wbc.
    b = skd.load_breast_cancer(as_frame=True)
    X, t = b.data, b.target.to_numpy()  # sklearn: 0 = malignant, 1 = benign
    rng = np.random.default_rng(seed)
    rows = np.sort(np.concatenate([np.flatnonzero(t == 1), subsample(np.flatnonzero(t == 0), 21, rng)]))
    X = X.iloc[rows].copy()
    X.columns = [c.replace(" ", "_") for c in X.columns]
    yield "wbc", finish(X, (t[rows] == 0).astype(int)), {
        "source": skl_src % ("breast_cancer.csv", "breast_cancer"), "origin": "UCI Breast Cancer Wisconsin (Diagnostic)",
        "definition": f"ODDS wbc: the 357 benign rows normal, malignant anomalies downsampled to 21 "
                      f"(numpy default_rng({seed}), file order kept). ODDS counts 378 / 21.",
    }

    # Digits from scikit-learn (the 1,797-row UCI optdigits test part): ODDS optdigits's definition.
    g = skd.load_digits(as_frame=True)
    X, t = g.data, g.target.to_numpy()
    normal = np.flatnonzero(t != 0)
    k = int(round(len(normal) * 150 / 5066))  # ODDS optdigits: 150 zeros per 5,066 normal rows
    rng = np.random.default_rng(seed)
    rows = np.sort(np.concatenate([normal, subsample(np.flatnonzero(t == 0), k, rng)]))
    yield "digits", finish(X.iloc[rows], (t[rows] == 0).astype(int)), {
        "source": skl_src % ("digits.csv.gz", "digits"), "origin": "UCI Optical Recognition of Handwritten Digits (test part)",
        "definition": f"ODDS optdigits's rule on scikit-learn's copy: digits 1-9 normal, digit 0 anomalies, "
                      f"downsampled to the ODDS share (150 per 5,066 normal rows: {k}; numpy default_rng({seed}), "
                      f"file order kept). 64 pixel counts 0-16 (some constant). Not ODDS's 5,216-row file.",
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mlbench", required=True, help="mlbench's data folder (Shuttle.rda, ...)")
    ap.add_argument("--out", default=os.path.expanduser("~/.cache/da3d-suite-data"))
    ap.add_argument("--seed", type=int, default=42, help="seed of the anomaly subsampling (satimage-2, wbc, digits)")
    ap.add_argument("--mlbench-package", default="", help="how mlbench was obtained (for PROVENANCE.md)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    import pyreadr, sklearn
    rows_md = []
    sections = []
    for name, df, prov in build(a.mlbench, a.seed):
        path = os.path.join(a.out, name + ".csv")
        tmp = path + ".tmp"
        df.to_csv(tmp, index=False)
        os.replace(tmp, path)
        sha = hashlib.sha256(open(path, "rb").read()).hexdigest()
        n, n_anom, n_in = len(df), int(df["label"].sum()), df.shape[1] - 1
        rows_md.append(f"| {name}.csv | {n:,} | {n_in} | {n_anom:,} ({100 * n_anom / n:.1f} %) |")
        cols = ", ".join(df.columns[:-1])
        sections.append(f"## {name}.csv\n* Source: {prov['source']}; data: {prov['origin']}.\n"
                        f"* Anomalies: {prov['definition']}\n"
                        f"* Rows {n:,}, anomalies {n_anom:,} ({100 * n_anom / n:.2f} %), {n_in} numeric inputs: {cols}; then `label`.\n"
                        f"* sha256 {sha}\n")
        print(f"{name:12s} {n:7d} rows {n_in:3d} inputs {n_anom:6d} anomalies ({100 * n_anom / n:5.1f} %) -> {path}", file=sys.stderr)
    with open(os.path.join(a.out, "PROVENANCE.md"), "w") as f:
        f.write("# Benchmark suite tables (da3d issue 14)\n\n"
                "Written by `scripts/suite-data.sh` (`scripts/suite_data.py`) from files bundled inside packages; "
                "nothing was downloaded from elsewhere. CSV, header row, numeric inputs, last column `label` "
                "(1 = anomaly). Row order as in the source. Read each with the plain `da3d split|eval FILE` "
                "(the `label` column gives the protocol: seeded 80/5/15 split, training on normal rows).\n\n"
                f"Packages: mlbench {mlbench_version(a.mlbench)} ({a.mlbench_package or 'r-cran-mlbench'}); "
                f"scikit-learn {sklearn.__version__}; read with pyreadr {pyreadr.__version__}, pandas {pd.__version__}, "
                f"numpy {np.__version__}. Subsampling seed: {a.seed}.\n\n"
                "Licences: mlbench is GPL-2; its data sets are the UCI repository's (see mlbench's help pages). "
                "scikit-learn's bundled data sets are UCI copies (BSD-3 package).\n\n"
                "| file | rows | inputs | anomalies |\n|---|---|---|---|\n" + "\n".join(rows_md) + "\n\n"
                "Not made: ODDS wine (129 rows, 10 anomalies) and glass (214 rows, 9 anomalies): a 15 % test split "
                "holds 1-2 anomalies, often none, so the ROC AUC is noise or undefined. ODDS vowels (Japanese Vowels) "
                "and letter (pairs of letters concatenated to 32 inputs) have no bundled source or no reproducible "
                "construction here.\n\n" + "\n".join(sections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
