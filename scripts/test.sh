#!/usr/bin/env bash
# The project's test command: unit, integration and end-to-end tests of the CLI.
# Tests that need the data sets read them from $DA3D_DATA_DIR (default ../shared/datasets).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/da3d-target}"
export DA3D_DATA_DIR="${DA3D_DATA_DIR:-$PWD/../shared/datasets}"
cargo test "$@"
