"""replicate_corpus.py SRC DST N: SciFact's corpus (BEIR corpus.jsonl) replicated to N documents.

Document i is SRC's document i mod len(SRC), its id suffixed with the copy number, so ids are
unique: postings grow with N while the vocabulary stays SRC's (a real corpus of that size has
a larger one). For the cost curves of scale.sh and scale_rerank.sh.
"""
import json
import sys

docs = [json.loads(line) for line in open(sys.argv[1])]
n = int(sys.argv[3])
with open(sys.argv[2], "w") as f:
    for i in range(n):
        d = docs[i % len(docs)]
        f.write(json.dumps({"_id": f"{d['_id']}-{i // len(docs)}", "title": d.get("title", ""), "text": d["text"]}) + "\n")
