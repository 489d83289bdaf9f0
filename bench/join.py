#!/usr/bin/env python3
"""Join `da3d bench --json` output with the PyTorch peer's JSON files into one Markdown table
with the ratio torch s/epoch / da3d s/epoch per phase (> 1: da3d is faster). Stdlib only.

Usage: join.py DA3D.json TORCH.json [TORCH.json ...]
"""
import json
import sys


def results(path):
    with open(path) as f:
        return json.load(f)["results"]


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    rust = results(argv[1])
    # da3d reference per phase: the first Rust backend that has the phase (compare.sh runs `cpu` only)
    ref = {}
    for r in rust:
        ref.setdefault(r["phase"], r)
    rows = [(r["backend"], r, None) for r in rust]
    for path in argv[2:]:
        for r in results(path):
            rows.append((f"{r['backend']} ({r.get('threads', '?')}t)", r, ref.get(r["phase"])))
    print("| peer | phase | s/epoch | steps/s | batch | torch / da3d |")
    print("|---|---|---|---|---|---|")
    for name, r, base in rows:
        ratio = f"{r['seconds_per_epoch'] / base['seconds_per_epoch']:.2f}" if base else ""
        print(f"| {name} | {r['phase']} | {r['seconds_per_epoch']:.3f} | {r['steps_per_second']:.1f} | "
              f"{r['batch_size']} | {ratio} |")
    batches = {r["batch_size"] for _, r, _ in rows}
    if len(batches) > 1:
        print(f"warning: batch sizes differ: {sorted(batches)}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv)
