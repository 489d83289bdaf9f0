#!/usr/bin/env bash
# Same seeds, same short schedules: two builds must agree to the bit.
# Usage: compare.sh DA3D_BINARY OUT_DIR > figures.txt   (run with each build, then diff the two)
BIN=$1; OUT=$2; mkdir -p $OUT
export DA3D_DATA_DIR=${DA3D_DATA_DIR:-../shared/datasets}
$BIN eval --dataset mammography --methods da3d,a3-noise,aae-recon --seeds 0,1 --contamination 0,0.01 --epochs-aae 30 --epochs-pretrain 5 --epochs 20 --checkpoints 10 --json --quiet > $OUT/mammo.json 2>$OUT/mammo.err
$BIN eval --dataset mammography --methods da3d-reference --seeds 0 --contamination 0 --epochs-aae 10 --epochs 10 --checkpoints 5 --json --quiet > $OUT/mammo-ref.json 2>$OUT/mammo-ref.err
for d in nslkdd census; do $BIN split --dataset $d --seed 0 > $OUT/$d-split.json 2>$OUT/$d-split.err; done
$BIN eval --dataset nslkdd --methods da3d,aae-recon --seeds 0 --contamination 0 --epochs-aae 1 --epochs-pretrain 1 --epochs 1 --checkpoints 1 --json --quiet > $OUT/nslkdd.json 2>$OUT/nslkdd.err
python3 - "$OUT" <<'PY'
import json,sys,hashlib
o=sys.argv[1]
for f in ["mammo","mammo-ref","nslkdd"]:
    try:
        r=json.load(open(f"{o}/{f}.json"))
        for run in r["runs"]:
            print(f, run["method"], run["seed"], run["contamination"], run["test_roc_auc"], run["test_average_precision"], [c["test_roc_auc"] for c in run["checkpoints"]])
    except Exception as e: print(f, "ERR", e)
for d in ["nslkdd","census"]:
    try:
        s=json.load(open(f"{o}/{d}-split.json"))
        print(d, s["train_shape"], s["test_shape"], hashlib.md5(json.dumps(s["train_lines"]).encode()).hexdigest()[:8], s["summary"]["input_width"])
    except Exception as e: print(d, "ERR", e)
PY
