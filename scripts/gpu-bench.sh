#!/usr/bin/env bash
# Where does a GPU pay? On a machine with a GPU (e.g. an NVIDIA card with its Vulkan driver):
# `da3d bench` of the GPU backend (wgpu) against the CPU backend on bench/compare.sh's three shapes
# (Mammography, the 77-input NSL-KDD width, the 503-input Census width), for each build of da3d given
# (burn's kernel `fusion` and `autotune` features on and off), then one training of NSL-KDD with the
# default (`robust`, its full step budget, seed 0) on the GPU. Every figure goes to $OUT as it comes;
# at the end $OUT/summary.md puts steps per second per phase and shape beside the same machine's
# CPU (every core) and projects the `paper` schedules' hours from them (NSL-KDD: 500 AAE, 50
# pretraining and 500 DA³D epochs of 250 batches; Census: the same epochs of 878 batches).
#
# Usage: OUT=dir DA3D_BINS="base=path/to/da3d fa=path/to/da3d-fusion-autotune ..." scripts/gpu-bench.sh
#   DA3D_BINS  name=binary pairs; the first also runs the CPU rows and, unless NSL_BIN is set, the
#              NSL-KDD training. Default: "base=$CARGO_TARGET_DIR/debug/da3d".
#   STEPS (40) batches timed per phase; THREADS (every core) for the CPU rows; DA3D_DATA_DIR;
#   RUN_LIMIT (90) seconds per bench run, NSL_LIMIT (240) for the training.
# Build the binaries where cargo can fetch crates (the GPU machine may have no network): e.g.
#   cargo build -p da3d-cli --features fusion,autotune && strip -o da3d-fa "$CARGO_TARGET_DIR/debug/da3d"
# Vulkan: the machine needs the loader (libvulkan1) and the vendor's ICD; where the ICD is not
# installed system-wide, point VK_DRIVER_FILES at its JSON.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-gpu-results}"
mkdir -p "$out"
data_dir="${DA3D_DATA_DIR:-$PWD/../shared/datasets}"
steps="${STEPS:-40}"
threads="${THREADS:-$(nproc)}"
run_limit="${RUN_LIMIT:-90}"
bins="${DA3D_BINS:-base=${CARGO_TARGET_DIR:-$HOME/.cache/da3d-target}/debug/da3d}"
first_bin="${bins%% *}"; first_bin="${first_bin#*=}"

{
  echo "date: $(date -u)"; echo "cores: $(nproc)"; free -g | head -2
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 || true
} > "$out/machine.txt"

# bench/compare.sh's synthetic rows (bench/synthetic_csv.py: same rows for the same shape).
work="$(mktemp -d)"
python3 bench/synthetic_csv.py 5120 77 "$work/wide.csv"
python3 bench/synthetic_csv.py 2560 503 "$work/census-width.csv"
shape_args() { # shape -> bench arguments
    case "$1" in
        mammography) echo "--data $data_dir/mammography.csv --dataset mammography" ;;
        wide) echo "--data $work/wide.csv" ;;
        census) echo "--data $work/census-width.csv" ;;
    esac
}

bench() { # name binary backend shape [extra args]
    local name="$1" bin="$2" backend="$3" shape="$4"; shift 4
    local file="$out/bench-$name-$backend-$shape"
    local t0=$SECONDS
    # shellcheck disable=SC2046
    timeout "$run_limit" "$bin" bench $(shape_args "$shape") --backends "$backend" --preset paper \
        --steps "$steps" --json "$@" > "$file.json" 2> "$file.err"
    echo "$name $backend $shape: rc $? in $((SECONDS - t0)) s" | tee -a "$out/log.txt"
}

# In order of interest, so that a run cut short by its time limit keeps what matters most.
# 1. The GPU rows of the NSL-KDD width and Mammography: every build.
for shape in wide mammography; do
    for pair in $bins; do
        bench "${pair%%=*}" "${pair#*=}" wgpu "$shape"
    done
done
# 2. NSL-KDD, the default's full budget (`robust`, 5 members), seed 0, on the GPU.
nsl_bin="${NSL_BIN:-$first_bin}"
t0=$SECONDS
timeout "${NSL_LIMIT:-240}" "$nsl_bin" eval --dataset nslkdd --methods robust --seeds 0 --contamination 0 --backend wgpu \
    > "$out/nslkdd-robust-wgpu.txt" 2> "$out/nslkdd-robust-wgpu.err"
echo "nslkdd robust wgpu: rc $? in $((SECONDS - t0)) s" | tee -a "$out/log.txt"
# 3. The CPU rows of the first build: every core, and one thread on the two narrower shapes.
for shape in wide mammography census; do
    bench "cpu$threads" "$first_bin" cpu "$shape" --threads "$threads"
    [ "$shape" = census ] || bench cpu1 "$first_bin" cpu "$shape" --threads 1
done
# 4. The GPU rows of the Census width.
for pair in $bins; do
    bench "${pair%%=*}" "${pair#*=}" wgpu census
done
rm -rf "$work"
# 5. The summary: steps per second per phase, GPU against this machine's CPU, and projections.
python3 - "$out" "$threads" > "$out/summary.md" <<'PY'
import glob, json, os, sys
out, threads = sys.argv[1], sys.argv[2]
rates = {}  # (build, backend, shape) -> {phase: steps/s}
for f in sorted(glob.glob(os.path.join(out, "bench-*.json"))):
    name, backend, shape = os.path.basename(f)[len("bench-"):-len(".json")].split("-", 2)
    try:
        rows = json.load(open(f))["results"]
    except (ValueError, KeyError, OSError):
        continue
    rates[(name, backend, shape)] = {r["phase"]: r["steps_per_second"] for r in rows}
phases = ("aae", "pretrain", "da3d")
# batches an epoch at batch 256: NSL-KDD 63,969 training rows, Census 224,602
schedule = {"wide": ("NSL-KDD", 250), "census": ("Census", 878)}
cpu_name = f"cpu{threads}"
print("| shape | build | AAE steps/s | pretraining | DA³D | against the CPU (AAE / pre / DA³D) | `paper` schedule |")
print("|---|---|---|---|---|---|---|")
for (name, backend, shape), r in sorted(rates.items(), key=lambda kv: (kv[0][2], kv[0][1] != "cpu", kv[0][0])):
    cpu = rates.get((cpu_name, "cpu", shape), {})
    ratio = " / ".join(f"{r[p] / cpu[p]:.2f}×" if p in r and cpu.get(p) else "–" for p in phases)
    proj = "–"
    if shape in schedule and all(r.get(p) for p in phases):
        label, batches = schedule[shape]
        hours = (500 * batches / r["aae"] + 50 * batches / r["pretrain"] + 500 * batches / r["da3d"]) / 3600
        proj = f"{label} {hours:.2f} h"
    cells = " | ".join(f"{r[p]:.1f}" if p in r else "–" for p in phases)
    print(f"| {shape} | {name} {backend} | {cells} | {ratio if backend != 'cpu' else ''} | {proj} |")
PY
cat "$out/summary.md"
