#!/usr/bin/env bash
# bundled_mix.sh BIN NAME [retrain args...]: the bundled student's recipe (SciFact's judged
# train queries, splade-tiny, CKL, 6 epochs; docs/RESULTS.md §2) with extra retrain args
# (e.g. --extra-groups from label-free runs on other corpora), then test nDCG@10 on SciFact,
# CISI and MED at the alpha chosen on SciFact's dev queries and a grid. Issue 12 item 9.
# INIT (default splade-tiny) and EPOCHS (default 6) change the start and the length: INIT=student
# fine-tunes the bundled student; SEED (default 0) is the training seed. Results in
# runs/b9/NAME; a finished retrain (fusion.json) is not redone, an interrupted one resumes.
set -u
bin=$1; name=$2; shift 2
D=../shared/datasets
out=runs/b9/$name
mkdir -p $out
if [ ! -f $out/fusion.json ]; then
  $bin retrain --index runs/scifact --queries $D/scifact --qrels $D/scifact \
    --loss ckl --epochs ${EPOCHS:-6} --seed ${SEED:-0} --init ${INIT:-splade-tiny} --out $out "$@" \
    > $out/retrain.log 2>&1 || { echo "$name: retrain failed"; tail -3 $out/retrain.log; exit 1; }
fi
a=$(jq .alpha $out/fusion.json)
for c in scifact cisi med; do
  case $c in
    scifact) q="$D/scifact"; r="$D/scifact"; extra="--split test";;
    cisi) q="$D/cisi/CISI.QRY"; r="$D/cisi/CISI.REL"; extra="";;
    med) q="$D/med/MED.QRY"; r="$D/med/MED.REL"; extra="";;
  esac
  [ -f $out/test-$c.txt ] || $bin eval --index runs/$c --queries $q --qrels $r $extra --rerank $out \
    --alpha $a,0.5,0.6,0.7,0.8 --metrics ndcg@10 --no-cache > $out/test-$c.txt 2>&1
  echo "== $name on $c (alpha $a chosen on SciFact dev)"
  grep -v "^wrote\|^note" $out/test-$c.txt
done
