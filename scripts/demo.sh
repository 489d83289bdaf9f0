#!/usr/bin/env bash
# Train the default detector on Mammography with the paper's protocol and score the file.
# Usage: ./scripts/demo.sh [extra train flags, e.g. --preset paper]
# It builds the CPU-only binary (no GPU backends: the shortest build); `cargo build -p da3d-cli`
# builds the one with the GPU backend.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/da3d-target}"
data="${DA3D_DATA_DIR:-$PWD/../shared/datasets}/mammography.csv"
[ -f "$data" ] || { echo "error: $data not found (set DA3D_DATA_DIR)" >&2; exit 1; }
cargo build -q -p da3d-cli --no-default-features
da3d="$CARGO_TARGET_DIR/debug/da3d"
"$da3d" train "$data" --dataset mammography -o mammography.da3d "$@"
"$da3d" score mammography.da3d "$data" -o scores.csv
echo "model: mammography.da3d   scores: scores.csv (line,score,anomaly)" >&2
