#!/usr/bin/env bash
# judged_folds.sh BIN COLLECTION RUN...: the label-free dev set's choice of checkpoint and
# alpha against what judged dev queries would choose, on a collection the init never saw.
# Each RUN (runs/lf/COLLECTION/NAME, a label-free `retrain` of runs/COLLECTION) has two
# checkpoints (best on its label-free dev set, and last); each is fused at alpha 0.0-1.0 on
# all the collection's judged queries (per query, JSON: RUN/judged-{best,last}.json). Then
# judged_folds.py splits the judged queries in halves at random, many times: on one half the
# judged chooser takes the (checkpoint, alpha) of the highest nDCG@10, and both choosers are
# scored on the other half. COLLECTION: med or cisi (SMART files in ../shared/datasets).
set -eu
bin=$1; c=$2; shift 2
here=$(dirname "$0")
D=../shared/datasets
case $c in
  cisi) q=$D/cisi/CISI.QRY; r=$D/cisi/CISI.REL;;
  med) q=$D/med/MED.QRY; r=$D/med/MED.REL;;
  *) echo "judged_folds.sh: unknown collection $c (med, cisi)" >&2; exit 2;;
esac
G=0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0
for run in "$@"; do
  [ -f "$run/last-onnx/model.onnx" ] || "$bin" export --model "$run/last" --out "$run/last-onnx" >/dev/null
  for m in best last; do
    dir=$run; [ $m = last ] && dir=$run/last-onnx
    [ -s "$run/judged-$m.json" ] || { "$bin" eval --index runs/$c --queries $q --qrels $r --rerank "$dir" \
        --alpha $G --metrics ndcg@10 --no-cache --per-query --json > "$run/judged-$m.tmp" 2>/dev/null \
        && mv "$run/judged-$m.tmp" "$run/judged-$m.json"; }
  done
done
python3 "$here/judged_folds.py" "$@"
