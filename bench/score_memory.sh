#!/usr/bin/env bash
# Peak memory of `da3d score` against the number of rows scored: one model (the default, trained on
# Mammography), synthetic files of Mammography's width (6 columns and a label) of 10^5, 10^6 and
# 10^7 rows, unlabelled and labelled, each scored with /usr/bin/time -v; prints rows, file size,
# seconds, peak RSS (KiB) and the ROC AUC score reports on labelled files.
# Usage: bench/score_memory.sh [ROWS...]   (default: 100000 1000000 10000000; files under $TMPDIR)
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-$HOME/.cache/da3d-target}"
data="${DA3D_DATA_DIR:-$PWD/../shared/datasets}"
work="$(mktemp -d "${TMPDIR:-/tmp}/da3d-score-memory.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cargo build -q -p da3d-cli
da3d="$target/debug/da3d"
"$da3d" train "$data/mammography.csv" -o "$work/model.da3d" --quiet 2>/dev/null
printf '%10s %8s %12s %10s %14s %10s\n' rows labelled file_bytes seconds peak_rss_kib roc_auc
for n in ${@:-100000 1000000 10000000}; do
  for labelled in 0 1; do
    # Rows with Mammography's columns: six numbers; labelled files add a label of 1 on every 50th row, and
    # score then keeps a score and a label per row (5 bytes) for its ROC AUC.
    awk -v n="$n" -v labelled="$labelled" 'BEGIN { srand(0); printf "f1,f2,f3,f4,f5,f6%s\n", labelled ? ",label" : "";
      for (i = 0; i < n; i++) {
        printf "%.4f,%.4f,%.4f,%.4f,%.4f,%.4f", rand(), rand(), rand(), rand(), rand(), rand();
        if (labelled) printf ",%d", (i % 50 == 0); printf "\n" } }' > "$work/rows.csv"
    /usr/bin/time -v "$da3d" score "$work/model.da3d" "$work/rows.csv" --quiet -o "$work/scores.csv" 2> "$work/time.txt" || { cat "$work/time.txt" >&2; exit 1; }
    seconds=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$work/time.txt")
    rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time.txt")
    auc=$(grep -o 'ROC AUC [0-9.]*' "$work/time.txt" | head -1 | awk '{ print $3 }' || true)
    printf '%10s %8s %12s %10s %14s %10s\n' "$n" "$labelled" "$(stat -c %s "$work/rows.csv")" "$seconds" "$rss" "${auc:--}"
    rm -f "$work/scores.csv"
  done
done
