#!/usr/bin/env bash
# Compare the Rust `da3d bench` (flex CPU backend, one thread) with the PyTorch peer on Mammography.
# Env: DA3D_BIN (default $CARGO_TARGET_DIR/debug/da3d), DA3D_DATA_DIR (default ../shared/datasets
# relative to the repo root), DA3D_BENCH_VENV (default ~/.cache/da3d-bench-venv), EPOCHS (3),
# PRESET (paper), THREADS (all cores, for the second torch run), ROUNDS (3), OUT (a temp folder).
# SKIP_DA3D=1 skips the Rust runs and joins existing $OUT/da3d-r*.json (for testing the script).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data_dir="${DA3D_DATA_DIR:-$root/../shared/datasets}"
data="$data_dir/mammography.csv"
venv="${DA3D_BENCH_VENV:-$HOME/.cache/da3d-bench-venv}"
epochs="${EPOCHS:-3}"
preset="${PRESET:-paper}"
threads="${THREADS:-$(nproc)}"
rounds="${ROUNDS:-3}"
out="${OUT:-$(mktemp -d)}"
mkdir -p "$out"
[ -f "$data" ] || { echo "error: $data not found (set DA3D_DATA_DIR)" >&2; exit 1; }

# (a) the venv, outside the repo
if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv (torch with its CUDA wheels: ~5.6 GB, see bench/pytorch/requirements.txt)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q -r "$root/bench/pytorch/requirements.txt"
fi

# (b)+(c) rounds, interleaved: the PyTorch peer with one thread, da3d (flex, one thread), the peer
# with all cores. The machine's speed drifts (shared host), so every peer runs in every round and
# join.py reports each one's fastest round.
peer="$root/bench/pytorch/da3d_torch.py"
bin="${DA3D_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/da3d}"
if [ "${SKIP_DA3D:-0}" != 1 ] && [ ! -x "$bin" ]; then
    echo "error: $bin not found (build it or set DA3D_BIN)" >&2; exit 1
fi
torch_run() { # threads round
    "$venv/bin/python" "$peer" --data "$data" --preset "$preset" --threads "$1" \
        --epochs "$epochs" --warmup 1 --json "$out/torch-$1t-r$2.json"
}
for r in $(seq "$rounds"); do
    echo "round $r of $rounds" >&2
    torch_run 1 "$r"
    # (`--json` is a switch: the JSON goes to stdout)
    if [ "${SKIP_DA3D:-0}" != 1 ]; then
        "$bin" bench --data "$data" --dataset mammography --backends cpu --preset "$preset" \
            --epochs "$epochs" --json > "$out/da3d-r$r.json"
    fi
    [ "$threads" = 1 ] || torch_run "$threads" "$r"
done

# (d) one table with the ratio torch / da3d
python3 "$root/bench/join.py" "$out"/da3d-r*.json "$out"/torch-*.json
echo "(JSON in $out)" >&2
