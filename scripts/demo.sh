#!/usr/bin/env bash
# Train DA³D on Mammography (paper protocol) and score the file. Usage: ./scripts/demo.sh [extra train flags]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/da3d-target}"
data="${DA3D_DATA_DIR:-$PWD/../shared/datasets}/mammography.csv"
[ -f "$data" ] || { echo "error: $data not found (set DA3D_DATA_DIR)" >&2; exit 1; }
cargo build -q -p da3d-cli
da3d="$CARGO_TARGET_DIR/debug/da3d"
"$da3d" train "$data" --dataset mammography -o mammography.da3d --epochs-aae 100 --epochs-pretrain 50 --epochs 100 "$@"
"$da3d" score mammography.da3d "$data" -o scores.csv
echo "model: mammography.da3d   scores: scores.csv (line,score,anomaly)" >&2
