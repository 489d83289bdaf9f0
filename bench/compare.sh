#!/usr/bin/env bash
# Compare the Rust `da3d bench` (flex CPU backend, one thread) with the PyTorch peer on Mammography.
# Env: DA3D_BIN (default $CARGO_TARGET_DIR/debug/da3d), DA3D_DATA_DIR (default ../shared/datasets
# relative to the repo root), DA3D_BENCH_VENV (default ~/.cache/da3d-bench-venv), EPOCHS (3),
# PRESET (paper), THREADS (all cores, for the second torch run), OUT (a temp folder).
# SKIP_DA3D=1 skips the Rust run and joins an existing $OUT/da3d.json (for testing the script).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data_dir="${DA3D_DATA_DIR:-$root/../shared/datasets}"
data="$data_dir/mammography.csv"
venv="${DA3D_BENCH_VENV:-$HOME/.cache/da3d-bench-venv}"
epochs="${EPOCHS:-3}"
preset="${PRESET:-paper}"
threads="${THREADS:-$(nproc)}"
out="${OUT:-$(mktemp -d)}"
mkdir -p "$out"
[ -f "$data" ] || { echo "error: $data not found (set DA3D_DATA_DIR)" >&2; exit 1; }

# (a) the venv, outside the repo
if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv (torch with its CUDA wheels: ~5.6 GB, see bench/pytorch/requirements.txt)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q -r "$root/bench/pytorch/requirements.txt"
fi

# (b) the PyTorch peer, one thread and all cores
peer="$root/bench/pytorch/da3d_torch.py"
for t in 1 "$threads"; do
    "$venv/bin/python" "$peer" --data "$data" --preset "$preset" --threads "$t" \
        --epochs "$epochs" --warmup 1 --json "$out/torch-${t}t.json"
    [ "$threads" = 1 ] && break
done

# (c) the Rust side (`--json` is a switch: the JSON goes to stdout)
if [ "${SKIP_DA3D:-0}" != 1 ]; then
    bin="${DA3D_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/da3d}"
    [ -x "$bin" ] || { echo "error: $bin not found (build it or set DA3D_BIN)" >&2; exit 1; }
    "$bin" bench --data "$data" --dataset mammography --backends cpu --preset "$preset" \
        --epochs "$epochs" --json > "$out/da3d.json"
fi

# (d) one table with the ratio torch / da3d
python3 "$root/bench/join.py" "$out/da3d.json" "$out"/torch-*t.json
echo "(JSON in $out)" >&2
