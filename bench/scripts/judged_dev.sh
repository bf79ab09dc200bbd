#!/usr/bin/env bash
# judged_dev.sh BIN RUN: does the label-free dev set choose the checkpoint and alpha that real
# judged dev queries would? RUN is a label-free `retrain` of runs/scifact (label_free.sh
# scifact NAME). Its two checkpoints (best on the label-free dev set: RUN; last: RUN/last) are
# fused at every alpha of 0.0-1.0 on 200 SciFact *train* queries with their judgments (the dev
# set a user with judgments would have; ids in scifact-train200.ids) and on the 300 test
# queries; judged_dev.py then prints what each chooser picks and what it scores on test.
# Outputs: RUN/judged-{best,last}.txt, RUN/testgrid-{best,last}.txt (kept; rerun skips them).
set -eu
bin=$1; run=$2
here=$(dirname "$0")
D=../shared/datasets/scifact
G=0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0
q=$run/train200.jsonl
python3 - "$D/queries.jsonl" "$here/scifact-train200.ids" "$q" <<'PY'
import json, sys
ids = [l.strip() for l in open(sys.argv[2]) if l.strip()]
qs = {json.loads(l)["_id"]: l for l in open(sys.argv[1])}
with open(sys.argv[3], "w") as f:
    for i in ids:
        f.write(qs[i])
PY
[ -f "$run/last-onnx/model.onnx" ] || "$bin" export --model "$run/last" --out "$run/last-onnx" >/dev/null
cp -n "$run/fusion.json" "$run/last-onnx/" 2>/dev/null || true
for m in best last; do
  dir=$run; [ $m = last ] && dir=$run/last-onnx
  [ -f "$run/judged-$m.txt" ] || { "$bin" eval --index runs/scifact --queries "$q" --qrels $D --split train \
      --rerank "$dir" --alpha $G --metrics ndcg@10 --no-cache > "$run/judged-$m.tmp" 2>&1 && mv "$run/judged-$m.tmp" "$run/judged-$m.txt"; }
  [ -f "$run/testgrid-$m.txt" ] || { "$bin" eval --index runs/scifact --queries $D --qrels $D --split test \
      --rerank "$dir" --alpha $G --metrics ndcg@10 --no-cache > "$run/testgrid-$m.tmp" 2>&1 && mv "$run/testgrid-$m.tmp" "$run/testgrid-$m.txt"; }
done
python3 "$here/judged_dev.py" "$run"
