#!/usr/bin/env python3
"""Join `da3d bench --json` output with the PyTorch peer's JSON files into one Markdown table
with the ratio torch s/epoch / da3d s/epoch per phase (> 1: da3d is faster). Stdlib only.

Usage: join.py FILE.json [FILE.json ...]

Files may repeat a peer (rounds of `compare.sh`): each peer and phase then reports the fastest
round (the least disturbed one; the machine's speed drifts between rounds) and the number of
rounds. A peer is a backend and a thread count; rows whose backend starts with `torch` are the
PyTorch peer, the others da3d. The ratio column divides by the fastest da3d peer of the phase;
a last table sets each side's best thread count against the other's.
"""
import json
import sys


def results(path):
    with open(path) as f:
        return json.load(f)["results"]


def peer_name(r):
    return f"{r['backend']} ({r['threads']}t)" if "threads" in r else r["backend"]


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
    ref, best_torch = {}, {}
    for name, phase in order:
        side = best_torch if name.startswith("torch") else ref
        r = best[(name, phase)]
        if phase not in side or r["seconds_per_epoch"] < side[phase]["seconds_per_epoch"]:
            side[phase] = r
    order.sort(key=lambda k: k[0].startswith("torch"))
    print("| peer | phase | s/epoch | steps/s | batch | rounds | torch / da3d |")
    print("|---|---|---|---|---|---|---|")
    for key in order:
        r, (name, phase) = best[key], key
        base = ref.get(phase) if name.startswith("torch") else None
        ratio = f"{r['seconds_per_epoch'] / base['seconds_per_epoch']:.2f}" if base else ""
        print(f"| {name} | {phase} | {r['seconds_per_epoch']:.3f} | {r['steps_per_second']:.1f} | "
              f"{r['batch_size']} | {rounds[key]} | {ratio} |")
    phases = [p for p in dict.fromkeys(phase for _, phase in order) if p in ref and p in best_torch]
    if phases:
        print()
        print("| phase | best da3d | best torch | torch / da3d |")
        print("|---|---|---|---|")
        for p in phases:
            d, t = ref[p], best_torch[p]
            print(f"| {p} | {d['seconds_per_epoch']:.3f} ({d.get('threads', '?')}t) | "
                  f"{t['seconds_per_epoch']:.3f} ({t.get('threads', '?')}t) | "
                  f"{t['seconds_per_epoch'] / d['seconds_per_epoch']:.2f} |")
    batches = {r["batch_size"] for r in best.values()}
    if len(batches) > 1:
        print(f"warning: batch sizes differ: {sorted(batches)}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv)
