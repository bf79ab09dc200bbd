#!/usr/bin/env bash
# long_docs.sh BIN [N] [SEED]: reading long documents as passages, measured (issue 12, item 6).
# Builds runs/long/scifact-x3 (SciFact's abstracts joined three at a time, long_docs.py), its
# index, then label-free retrains (no judgments: the plain command) reading documents as 1
# and as N passages (default 4; training seed SEED, default 0), and scores each, the bundled
# student and BM25 on the 300 test queries with 1 and N passages at query time (nDCG@10,
# BM25 top 100, the run's dev-chosen alpha). Resumable: finished steps are not redone.
# The choice, stated before the runs: training on N passages is the one to use on long
# documents if its label-free expected gain over BM25 (fusion.json's dev figures, each run's
# own dev set), averaged over seeds, is above training on first passages'; test only scores.
set -u
bin=$1; n=${2:-4}; seed=${3:-0}
L=runs/long/scifact-x3
[ -f $L/corpus.jsonl ] || python3 bench/scripts/long_docs.py ../shared/datasets/scifact $L 3 0
[ -d $L/index ] || $bin index --index $L/index $L/corpus.jsonl
ev() {  # ev NAME MODEL PASSAGES [alpha]
  local f=$L/eval-$1-p$3.txt
  [ -f $f ] || $bin eval --index $L/index --queries $L --qrels $L --split test --rerank $2 \
    --passages $3 ${4:+--alpha $4} --metrics ndcg@10 --no-cache > $f 2>&1
  echo "== $1 read as $3 passage(s)"; grep -v "^wrote\|^note" $f
}
[ -f $L/eval-bm25.txt ] || $bin eval --index $L/index --queries $L --qrels $L --split test \
  --metrics ndcg@10 > $L/eval-bm25.txt 2>&1
echo "== bm25"; cat $L/eval-bm25.txt
ev bundled student 1
ev bundled student $n
for p in 1 $n; do
  out=$L/retrain-p$p-s$seed
  if [ ! -f $out/fusion.json ]; then
    $bin retrain --index $L/index --out $out --passages $p --seed $seed > $out.log 2>&1 \
      || { echo "retrain p$p failed"; tail -3 $out.log; exit 1; }
  fi
  echo "== retrain p$p: $(jq -r .chosen_on $out/fusion.json)"
  a=$(jq .alpha $out/fusion.json)
  ev p$p-s$seed $out 1 $a
  ev p$p-s$seed $out $n $a
done
