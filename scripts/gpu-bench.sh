#!/usr/bin/env bash
# For a machine with a GPU (e.g. the NVIDIA machine the device tool lends): build da3d with wgpu,
# run `da3d bench` on cpu and wgpu, and one full Mammography training on wgpu; write every figure to
# ${OUT:-gpu-results}/. Usage: OUT=/path scripts/gpu-bench.sh
# A machine without network access cannot fetch crates: build the binary elsewhere (stripped, e.g.
# `cargo build --release -p da3d-cli` + `strip`), bring it along and set DA3D_BIN=path/to/da3d.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-gpu-results}"
mkdir -p "$out"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/da3d-target}"
data="${DA3D_DATA_DIR:-$PWD/../shared/datasets}/mammography.csv"
{
  echo "date: $(date -u)"; nproc; free -g | head -2; nvidia-smi -L 2>&1 || true
} > "$out/machine.txt"
if [ -x "${DA3D_BIN:-}" ]; then
  da3d="$DA3D_BIN"
else
  command -v cargo >/dev/null || { curl -sSf https://sh.rustup.rs | sh -s -- -y >/dev/null 2>&1; . "$HOME/.cargo/env"; }
  ( time cargo build -j "$(nproc)" -p da3d-cli ) > "$out/build.txt" 2>&1
  da3d="$CARGO_TARGET_DIR/debug/da3d"
fi
"$da3d" bench --data "$data" --dataset mammography --backends cpu,wgpu --epochs 5 > "$out/bench-mammography.md" 2> "$out/bench-mammography.err"
"$da3d" bench --rows 200000 --cols 100 --backends cpu,wgpu --epochs 2 > "$out/bench-200k-100.md" 2> "$out/bench-200k-100.err"
( time "$da3d" train "$data" --dataset mammography --backend wgpu -o "$out/mammography-wgpu.da3d" --log-format json ) > "$out/train-mammography-wgpu.txt" 2>&1
echo "done: $(ls "$out")"
