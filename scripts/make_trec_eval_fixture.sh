#!/usr/bin/env bash
# Regenerates engine/tests/fixtures/cisi_trec_eval.* : a real BM25 run on CISI with many ties,
# graded judgments derived from CISI.REL, and the values pytrec_eval (trec_eval's own C code)
# computes for them. The engine's metrics are checked against these numbers in
# engine/tests/trec_eval_parity.rs; this script was run once and its output committed.
#
#   bash scripts/make_trec_eval_fixture.sh
#
# Needs ../shared/datasets/cisi and python3; installs pytrec-eval-terrier into /tmp/pte.
set -euo pipefail
cd "$(dirname "$0")/.."
out=engine/tests/fixtures
data=../shared/datasets/cisi
python3 -m venv /tmp/pte
/tmp/pte/bin/pip install -q pytrec-eval-terrier==0.5.11
cargo build --release -q -p search-cli
tmp=$(mktemp -d)
target/release/search-cli index --index "$tmp/idx" --format smart "$data/CISI.ALL" >/dev/null
target/release/search-cli eval --index "$tmp/idx" --queries "$data/CISI.QRY" --qrels "$data/CISI.REL" \
  --depth 100 --run-out "$tmp/run.txt" >/dev/null
/tmp/pte/bin/python - "$tmp/run.txt" "$data/CISI.REL" "$out" <<'PY'
import json, sys, pytrec_eval
run_path, rel_path, out = sys.argv[1:]
# Scores rounded to one decimal: many ties, which trec_eval breaks by doc id (descending).
run = {}
with open(run_path) as f, open(f"{out}/cisi_trec_eval.run", "w") as w:
    for line in f:
        q, _, d, rank, score, tag = line.split()
        s = round(float(score), 1)
        run.setdefault(q, {})[d] = s
        w.write(f"{q} Q0 {d} {rank} {s} {tag}\n")
# Graded levels 1..3 from the doc id, and one judged non-relevant doc per query, so that gains
# are not all 1 and unjudged/zero cases occur.
qrels = {}
with open(rel_path) as f:
    for line in f:
        q, d = line.split()[:2]
        qrels.setdefault(q, {})[d] = 1 + int(d) % 3
for q in qrels:
    qrels[q]["1"] = 0 if "1" not in qrels[q] else qrels[q]["1"]
with open(f"{out}/cisi_trec_eval.qrels", "w") as w:
    for q in sorted(qrels, key=int):
        for d in sorted(qrels[q], key=int):
            w.write(f"{q} 0 {d} {qrels[q][d]}\n")
measures = {"ndcg_cut.10", "ndcg_cut.100", "ndcg", "recip_rank", "recall.100", "recall.10", "P.10", "map"}
res = {}
for rel in (1, 2):
    ev = pytrec_eval.RelevanceEvaluator(qrels, measures, relevance_level=rel)
    res[f"rel{rel}"] = ev.evaluate(run)
json.dump(res, open(f"{out}/cisi_trec_eval.expected.json", "w"), indent=1, sort_keys=True)
PY
rm -rf "$tmp"
echo "wrote $out/cisi_trec_eval.{run,qrels,expected.json}"
