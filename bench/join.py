#!/usr/bin/env python3
"""Join `da3d bench --json` output with the PyTorch peer's JSON files into one Markdown table
with the ratio torch s/epoch / da3d s/epoch per phase (> 1: da3d is faster). Stdlib only.

Usage: join.py FILE.json [FILE.json ...]

Files may repeat a peer (rounds of `compare.sh`): each peer and phase then reports the fastest
round (the least disturbed one; the machine's speed drifts between rounds) and the number of
rounds. Rows whose backend starts with `torch` are the PyTorch peer; the others are da3d, and the
first da3d backend with a phase is the reference of that phase's ratio.
"""
import json
import sys


def results(path):
    with open(path) as f:
        return json.load(f)["results"]


def peer_name(r):
    return f"{r['backend']} ({r.get('threads', '?')}t)" if r["backend"].startswith("torch") else r["backend"]


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    best, rounds, order = {}, {}, []
    for path in argv[1:]:
        for r in results(path):
            key = (peer_name(r), r["phase"])
            if key not in best:
                order.append(key)
            rounds[key] = rounds.get(key, 0) + 1
            if key not in best or r["seconds_per_epoch"] < best[key]["seconds_per_epoch"]:
                best[key] = r
    ref = {}
    for name, phase in order:
        if not name.startswith("torch"):
            ref.setdefault(phase, best[(name, phase)])
    order.sort(key=lambda k: k[0].startswith("torch"))
    print("| peer | phase | s/epoch | steps/s | batch | rounds | torch / da3d |")
    print("|---|---|---|---|---|---|---|")
    for key in order:
        r, (name, phase) = best[key], key
        base = ref.get(phase) if name.startswith("torch") else None
        ratio = f"{r['seconds_per_epoch'] / base['seconds_per_epoch']:.2f}" if base else ""
        print(f"| {name} | {phase} | {r['seconds_per_epoch']:.3f} | {r['steps_per_second']:.1f} | "
              f"{r['batch_size']} | {rounds[key]} | {ratio} |")
    batches = {r["batch_size"] for r in best.values()}
    if len(batches) > 1:
        print(f"warning: batch sizes differ: {sorted(batches)}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv)
