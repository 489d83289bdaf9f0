#!/usr/bin/env bash
# Seconds per epoch against rows (10^3 … 10^6 synthetic rows, 6 inputs) and against input width
# (6 … 500 inputs, 10^4 rows), paper preset (architecture by the input-width rule), batch 256,
# plus the peak memory of training on Census. Each figure times 30 batches per phase after a
# warm-up (`da3d bench --steps 30`) and scales by batches per epoch. Each figure for every thread
# count in THREADS (default 1 … all cores: `da3d bench --threads N`).
# Usage: OUT=dir [THREADS="1 2"] bench/scaling.sh [BACKENDS]   (default cpu; e.g. cpu,wgpu)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/da3d-target}"
out="${OUT:-scaling-results}"
backends="${1:-cpu}"
mkdir -p "$out"
da3d="${DA3D_BIN:-}"
if [ -z "$da3d" ]; then
  cargo build -q -p da3d-cli
  da3d="$CARGO_TARGET_DIR/debug/da3d"
fi
threads="${THREADS:-$(seq -s ' ' 1 "$(nproc)")}"
census="${DA3D_DATA_DIR:-../shared/datasets}/census.csv.gz"
for t in $threads; do
  for rows in 1000 10000 100000 1000000; do
    "$da3d" bench --rows "$rows" --cols 6 --steps 30 --backends "$backends" --threads "$t" --json > "$out/rows-$rows-t$t.json"
  done
  for cols in 6 50 100 500; do
    "$da3d" bench --rows 10000 --cols "$cols" --steps 30 --backends "$backends" --threads "$t" --json > "$out/cols-$cols-t$t.json"
  done
  if [ -f "$census" ]; then
    "$da3d" bench --data "$census" --dataset census --steps 10 --backends "$backends" --threads "$t" --json > "$out/census-t$t.json"
  fi
done
python3 - "$out" <<'PY'
import glob, json, os, sys
out = sys.argv[1]
def table(files, key):
    print(f"| {key} | backend | threads | AAE s/epoch | pretrain s/epoch | DA³D s/epoch | DA³D steps/s | peak MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for f in files:
        d = json.load(open(f))
        by = {}
        for r in d["results"]:
            by.setdefault(r["backend"], {})[r["phase"]] = r
        for b, ph in by.items():
            any_r = next(iter(ph.values()))
            k = any_r["rows"] if key == "rows" else any_r["inputs"]
            cell = lambda p: f"{ph[p]['seconds_per_epoch']:.3f}" if p in ph else "—"
            sps = f"{ph['da3d']['steps_per_second']:.1f}" if "da3d" in ph else "—"
            t = any_r.get("threads", "—")
            print(f"| {k:,} | {b} | {t} | {cell('aae')} | {cell('pretrain')} | {cell('da3d')} | {sps} | {d.get('peak_rss_mib') or 0:.0f} |")
    print()
def by_size_then_threads(f):
    # rows-1000-t2.json → (1000, 2)
    parts = os.path.basename(f)[:-5].split("-")
    return int(parts[1]), int(parts[2][1:])
rows = sorted(glob.glob(f"{out}/rows-*-t*.json"), key=by_size_then_threads)
cols = sorted(glob.glob(f"{out}/cols-*-t*.json"), key=by_size_then_threads)
census = sorted(glob.glob(f"{out}/census-t*.json"), key=lambda f: int(os.path.basename(f)[8:-5]))
print("Against rows (6 inputs):\n"); table(rows, "rows")
print("Against input width (10,000 rows):\n"); table(cols, "inputs")
if census:
    print("Census (all training rows, one-hot inputs, Table 3 architecture):\n"); table(census, "inputs")
PY
