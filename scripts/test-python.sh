#!/usr/bin/env bash
# The Python package's tests (crates/da3d-py, tests/python/): a virtual environment outside the
# repository (DA3D_PY_VENV, default ~/.cache/da3d-py-venv) made when missing, with maturin, NumPy,
# pandas, scikit-learn, Dask, PySpark and pytest installed when missing (and a Java runtime for
# Spark's local mode, from Debian's packages, when the machine has none); the package built into it with
# the workspace's dev profile in the shared target folder (only pyo3 and the binding compile
# when the model crate is built); then pytest. Arguments go to pytest. The CLI round trips use
# $CARGO_TARGET_DIR/debug/da3d (DA3D_CLI to name another): built first when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/da3d-target}"
export DA3D_DATA_DIR="${DA3D_DATA_DIR:-$PWD/../shared/datasets}"
venv="${DA3D_PY_VENV:-$HOME/.cache/da3d-py-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" || { apt-get install -y python3-venv && python3 -m venv "$venv"; }
fi
if ! "$venv/bin/python" -c "import numpy, pandas, sklearn, pytest, pyarrow, dask.dataframe, dask.distributed, pyspark" 2>/dev/null || [ ! -x "$venv/bin/maturin" ]; then
  "$venv/bin/pip" install -q maturin numpy pandas scikit-learn pytest "dask[dataframe,distributed]" pyarrow pyspark
fi
if ! command -v java >/dev/null && [ -z "${JAVA_HOME:-}" ]; then
  apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless
fi
if [ -z "${DA3D_CLI:-}" ] && [ ! -x "$CARGO_TARGET_DIR/debug/da3d" ]; then
  cargo build -p da3d-cli
fi
cargo test -q -p da3d-py --lib
VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin develop -q -m crates/da3d-py/Cargo.toml
"$venv/bin/python" -m pytest tests/python -q "$@"
