#!/usr/bin/env bash
# Kernel launches per training step of each phase on burn's wgpu backend, at the three shapes of
# docs/performance.md: Mammography (6 inputs), NSL-KDD (77) and Census (503), the `paper` preset
# with each data set's widths and batch. CubeCL's profiler (CUBECL_DEBUG_OPTION=profile) writes a
# summary of the kernels launched since the last device sync at every sync; `da3d bench --steps N
# --warmup W` syncs after the warm-up and after the N timed steps of each phase, so every phase's
# second summary holds exactly its N steps' launches. Needs no GPU: on Mesa's lavapipe the build
# launches what it would on a card (the same operations; counts, not times, are read).
#
#   scripts/gpu-launches.sh [STEPS] [SHAPES]   # defaults: 10, "mammography nslkdd census"
#
# DA3D_BIN names a built da3d with the wgpu backend (default: cargo build -p da3d-cli);
# the data sets come from $DA3D_DATA_DIR (default ../shared/datasets).
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-10}"
shapes="${2:-mammography nslkdd census}"
export DA3D_DATA_DIR="${DA3D_DATA_DIR:-$PWD/../shared/datasets}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/da3d-target}"
if [ -x "${DA3D_BIN:-}" ]; then
  da3d="$DA3D_BIN"
else
  cargo build -q -p da3d-cli
  da3d="$CARGO_TARGET_DIR/debug/da3d"
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "| shape | inputs | batch | AAE launches/step | pretraining | DA³D |"
echo "|---|---|---|---|---|---|"
for shape in $shapes; do
  log="$tmp/$shape.log"
  CUBECL_DEBUG_LOG="$log" CUBECL_DEBUG_OPTION=profile "$da3d" bench --dataset "$shape" --backends wgpu \
    --steps "$steps" --warmup 2 --json > "$tmp/$shape.json" 2> "$tmp/$shape.err" || {
    cat "$tmp/$shape.err" >&2
    exit 1
  }
  python3 - "$log" "$tmp/$shape.json" "$steps" "$shape" <<'PY'
import json, re, sys
log, bench, steps, shape = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
totals = [int(m.group(1)) for m in re.finditer(r"^\| Total\s+\|[^|]*\|\s*(\d+)\s*\|", open(log, errors="replace").read(), re.M)]
rows = json.load(open(bench))
rows = rows.get("results", rows) if isinstance(rows, dict) else rows
if len(totals) != 6:
    sys.exit(f"{shape}: expected 6 profiler summaries (warm-up and timed, three phases), found {len(totals)}: {totals}")
per_step = [totals[i] / steps for i in (1, 3, 5)]
inputs = rows[0].get("inputs", "?") if rows else "?"
batch = rows[0].get("batch", rows[0].get("batch_size", "?")) if rows else "?"
print(f"| {shape} | {inputs} | {batch} | " + " | ".join(f"{v:,.0f}" for v in per_step) + " |")
PY
done
