#!/usr/bin/env bash
# Compare the Rust `da3d bench` (flex CPU backend) with the PyTorch peer, per shape, each with one
# thread and with all cores: one table per shape.
# Shapes (SHAPES, default "mammography wide census"):
#   mammography  the data set (6 inputs; its paper architecture: narrow nets);
#   wide         77 numeric inputs, NSL-KDD's width after one-hot (synthetic rows: speed does not
#                depend on the values), the width rule's nets (encoder 154…7, alarm 1000-500-200-75);
#   census       503 inputs, Census' one-hot width (synthetic rows), the width rule's nets.
# The synthetic shapes' rows: WIDE_ROWS (5120) and CENSUS_ROWS (2560), a seeded CSV in $OUT.
# Env: DA3D_BIN (default $CARGO_TARGET_DIR/debug/da3d), DA3D_DATA_DIR (default ../shared/datasets
# relative to the repo root), DA3D_BENCH_VENV (default ~/.cache/da3d-bench-venv), EPOCHS (3),
# PRESET (paper), THREADS (all cores, for the second run of each peer), ROUNDS (3), OUT (a temp
# folder). SKIP_DA3D=1 skips the Rust runs and joins existing $OUT/<shape>/da3d-*.json (for
# testing the script).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data_dir="${DA3D_DATA_DIR:-$root/../shared/datasets}"
venv="${DA3D_BENCH_VENV:-$HOME/.cache/da3d-bench-venv}"
epochs="${EPOCHS:-3}"
preset="${PRESET:-paper}"
threads="${THREADS:-$(nproc)}"
rounds="${ROUNDS:-3}"
shapes="${SHAPES:-mammography wide census}"
out="${OUT:-$(mktemp -d)}"
mkdir -p "$out"

# (a) the venv, outside the repo
if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv (torch with its CUDA wheels: ~5.6 GB, see bench/pytorch/requirements.txt)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q -r "$root/bench/pytorch/requirements.txt"
fi
peer="$root/bench/pytorch/da3d_torch.py"
bin="${DA3D_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/da3d}"
if [ "${SKIP_DA3D:-0}" != 1 ] && [ ! -x "$bin" ]; then
    echo "error: $bin not found (build it or set DA3D_BIN)" >&2; exit 1
fi

# A seeded numeric CSV: ROWS rows, COLS uniform columns in [0, 1), a label column of zeros.
synthetic_csv() { # rows cols path
    [ -f "$3" ] || python3 "$root/bench/synthetic_csv.py" "$1" "$2" "$3"
}

for shape in $shapes; do
    dir="$out/$shape"
    mkdir -p "$dir"
    case "$shape" in
        mammography) data="$data_dir/mammography.csv"; dataset=mammography ;;
        wide) data="$dir/wide.csv"; dataset=wide; synthetic_csv "${WIDE_ROWS:-5120}" 77 "$data" ;;
        census) data="$dir/census-width.csv"; dataset=census-width; synthetic_csv "${CENSUS_ROWS:-2560}" 503 "$data" ;;
        *) echo "error: unknown shape $shape (mammography, wide, census)" >&2; exit 2 ;;
    esac
    [ -f "$data" ] || { echo "error: $data not found (set DA3D_DATA_DIR)" >&2; exit 1; }
    # (`--dataset` names the architecture: the paper's for Mammography, else the width rule.)
    da3d_args=(--data "$data" --backends cpu --preset "$preset" --epochs "$epochs" --json)
    [ "$dataset" = mammography ] && da3d_args+=(--dataset mammography)
    torch_run() { # threads round
        "$venv/bin/python" "$peer" --data "$data" --dataset "$dataset" --preset "$preset" --threads "$1" \
            --epochs "$epochs" --warmup 1 --json "$dir/torch-$1t-r$2.json" >&2
    }
    # (b) rounds, interleaved: each peer with one thread and with all cores. The machine's speed
    # drifts (shared host), so every peer runs in every round and join.py reports each one's
    # fastest round.
    for r in $(seq "$rounds"); do
        echo "$shape: round $r of $rounds" >&2
        torch_run 1 "$r"
        if [ "${SKIP_DA3D:-0}" != 1 ]; then
            "$bin" bench "${da3d_args[@]}" --threads 1 > "$dir/da3d-1t-r$r.json"
            [ "$threads" = 1 ] || "$bin" bench "${da3d_args[@]}" --threads "$threads" > "$dir/da3d-${threads}t-r$r.json"
        fi
        [ "$threads" = 1 ] || torch_run "$threads" "$r"
    done
    # (c) one table per shape: each peer's fastest round, and the ratio of the best torch to the
    # best da3d per phase
    echo "### $shape"
    python3 "$root/bench/join.py" "$dir"/da3d-*.json "$dir"/torch-*.json
    echo
done
echo "(JSON in $out)" >&2
