#!/usr/bin/env bash
# Writes the benchmark suite's extra tables (issue 14) into a folder: CSV files with a 0/1 `label`
# column (1 = anomaly) and PROVENANCE.md (source package and version, anomaly definition, counts).
#
# Usage: scripts/suite-data.sh [OUT_DIR]      (default ~/.cache/da3d-suite-data)
#
# Every table is a file bundled inside a package, nothing is downloaded from elsewhere:
#   * Debian's r-cran-mlbench (R's mlbench: UCI Shuttle, Satellite, Pima, Ionosphere, BreastCancer),
#     fetched with `apt-get download` and unpacked with dpkg-deb (R itself is not needed) unless
#     it is installed already;
#   * scikit-learn's bundled breast_cancer and digits.
# Installs only what is missing: a Python venv at $DA3D_BENCH_VENV (default
# ~/.cache/da3d-bench-venv) with numpy, pandas, pyreadr, scikit-learn (and PyOD for
# scripts/classical.py). Tables: shuttle, satellite, satimage-2, pima, ionosphere, breastw, wbc, digits.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$HOME/.cache/da3d-suite-data}
venv=${DA3D_BENCH_VENV:-$HOME/.cache/da3d-bench-venv}
src=${DA3D_SUITE_SRC:-$HOME/.cache/da3d-suite-src}

# Python side.
if [ ! -x "$venv/bin/python" ]; then
    echo "creating venv $venv" >&2
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import numpy, pandas, pyreadr, sklearn, scipy, pyod" 2>/dev/null; then
    echo "installing numpy, scipy, pandas, pyreadr, scikit-learn, pyod 3.x into $venv" >&2
    "$venv/bin/pip" install -q "pyod>=3.6,<4" scikit-learn numpy scipy pandas pyreadr
fi

# mlbench's data files: installed R package, or the Debian package unpacked into $src.
mlbench=""
origin=""
for d in /usr/lib/R/site-library/mlbench/data /usr/local/lib/R/site-library/mlbench/data; do
    if [ -f "$d/Shuttle.rda" ]; then
        mlbench=$d
        origin="r-cran-mlbench $(dpkg-query -W -f='${Version}' r-cran-mlbench 2>/dev/null || echo '?'), installed"
        break
    fi
done
if [ -z "$mlbench" ]; then
    mlbench="$src/mlbench/usr/lib/R/site-library/mlbench/data"
    if [ ! -f "$mlbench/Shuttle.rda" ]; then
        mkdir -p "$src"
        (cd "$src" && rm -f r-cran-mlbench_*.deb
         apt-get download r-cran-mlbench >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get download r-cran-mlbench; })
        rm -rf "$src/mlbench"
        dpkg-deb -x "$src"/r-cran-mlbench_*.deb "$src/mlbench"
    fi
    deb=$(ls "$src"/r-cran-mlbench_*.deb 2>/dev/null | head -1 || true)
    if [ -n "$deb" ]; then
        origin="Debian r-cran-mlbench $(dpkg-deb -f "$deb" Version), .deb unpacked with dpkg-deb"
    else
        origin="Debian r-cran-mlbench, unpacked earlier into $src/mlbench"
    fi
fi

"$venv/bin/python" "$here/suite_data.py" --mlbench "$mlbench" --out "$out" --mlbench-package "$origin"
echo "wrote $out (see $out/PROVENANCE.md)" >&2
