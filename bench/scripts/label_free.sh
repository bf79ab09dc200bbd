#!/usr/bin/env bash
# label_free.sh BIN COLLECTION NAME [retrain args...]: label-free retrain on an index built
# in runs/COLLECTION (scifact, cisi, med), then nDCG@10 on its judged (test) queries at the
# dev-chosen alpha and a grid. Run from the checkout; results in runs/lf/COLLECTION/NAME.
set -u
bin=$1; c=$2; name=$3; shift 3
D=../shared/datasets
case $c in
  scifact) q="$D/scifact"; r="$D/scifact"; extra="--split test";;
  cisi) q="$D/cisi/CISI.QRY"; r="$D/cisi/CISI.REL"; extra="";;
  med) q="$D/med/MED.QRY"; r="$D/med/MED.REL"; extra="";;
esac
out=runs/lf/$c/$name
mkdir -p $out
if [ ! -f $out/fusion.json ]; then
  $bin retrain --index runs/$c --out $out "$@" > $out/retrain.log 2>&1 || { echo "$c $name: retrain failed"; tail -3 $out/retrain.log; exit 1; }
fi
a=$(jq .alpha $out/fusion.json)
$bin eval --index runs/$c --queries $q --qrels $r $extra --rerank $out --alpha $a,0.3,0.5,0.7,0.9 --metrics ndcg@10 --no-cache > $out/test.txt 2>&1
echo "== $c $name (dev alpha $a; $(jq -r .chosen_on $out/fusion.json))"
cat $out/test.txt | grep -v "^wrote\|^note"
