#!/usr/bin/env python3
"""What do several `da3d eval --out` JSON files (e.g. seeds run in parallel) give together? Merges
them into one table per contamination and method, with the checkpoints' ROC AUC (docs/results.md).

Usage: research/summarize_eval.py runs-a.json runs-b.json ...
"""
import json, statistics, sys
from collections import defaultdict


def ms(v):
    v = [x for x in v if x is not None]
    if not v:
        return "—"
    sd = statistics.stdev(v) if len(v) > 1 else 0.0
    return f"{statistics.mean(v):.3f} ± {sd:.3f}"


runs = []
for f in sys.argv[1:]:
    runs += json.load(open(f))["runs"]
groups = defaultdict(list)
for r in runs:
    groups[(r["contamination"], r["method"])].append(r)

print("| contamination | method | seeds | test ROC AUC | test average precision | mean seconds per run |")
print("|---|---|---|---|---|---|")
for (c, m), rs in sorted(groups.items()):
    seeds = ",".join(str(r["seed"]) for r in sorted(rs, key=lambda r: r["seed"]))
    ss = [r["seconds"] for r in rs if r.get("seconds") is not None]
    secs = statistics.mean(ss) if ss else float("nan")
    print(f"| {c} | {m} | {seeds} | {ms([r['test_roc_auc'] for r in rs])} | {ms([r['test_average_precision'] for r in rs])} | {secs:.0f} |")

print()
print("Test ROC AUC after N DA³D epochs (mean ± std over seeds); critic mean output on normal / generated / noise codes (mean over seeds):")
print()
epochs = sorted({c["da3d_epoch"] for r in runs for c in r["checkpoints"]})
print("| contamination | method | " + " | ".join(f"epoch {e}" for e in epochs) + " |")
print("|---|---|" + "---|" * len(epochs))
for (c, m), rs in sorted(groups.items()):
    if not any(r["checkpoints"] for r in rs):
        continue
    cells = []
    for e in epochs:
        cps = [cp for r in rs for cp in r["checkpoints"] if cp["da3d_epoch"] == e]
        cell = ms([cp["test_roc_auc"] for cp in cps])
        crit = [cp for cp in cps if cp.get("critic_normal") is not None]
        if crit:
            n = statistics.mean(cp["critic_normal"] for cp in crit)
            g = statistics.mean(cp["critic_generated"] for cp in crit)
            z = statistics.mean(cp["critic_noise"] for cp in crit)
            cell += f" ({n:.2f} / {g:.2f} / {z:.2f})"
        cells.append(cell)
    print(f"| {c} | {m} | " + " | ".join(cells) + " |")

print()
print("Code statistics of the AAE (per dimension, training rows):")
print()
print("| preset | seed | code mean | code std |")
print("|---|---|---|---|")
seen = set()
for r in sorted(runs, key=lambda r: (r["method"], r["seed"])):
    preset = "reference" if r["method"] == "da3d-reference" else "paper"
    key = (preset, r["seed"], r["contamination"])
    if key in seen:
        continue
    seen.add(key)
    cs = r["code_stats"]
    print(f"| {preset} | {r['seed']} | {[round(x, 2) for x in cs['mean']]} | {[round(x, 2) for x in cs['std']]} |")
