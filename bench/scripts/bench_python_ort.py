#!/usr/bin/env python3
"""The Python side of `search-cli bench-rerank`: score the same (query, passage) pairs with
Python onnxruntime and HF tokenizers, the way the Rust OnnxCrossEncoder does (pairs sorted by
length, batches padded to their longest pair, passage-only truncation to max_len), and print
one JSON line per round: {"pairs": N, "seconds": S, "pairs_per_s": R}.

Run through scripts/bench_python_ort.sh, which installs onnxruntime into its own folder.
Tokenization is timed, as on the Rust side.
"""
import argparse
import json
import time

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True, help="folder with model.onnx and tokenizer.json")
    p.add_argument("--pairs", required=True, help="TSV: query<TAB>passage per line")
    p.add_argument("--max-len", type=int, default=256)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()

    pairs = []
    with open(a.pairs, encoding="utf-8") as f:
        for line in f:
            q, d = line.rstrip("\n").split("\t", 1)
            pairs.append((q, d))

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = a.threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(f"{a.model}/model.onnx", opts, providers=["CPUExecutionProvider"])
    names = {i.name for i in sess.get_inputs()}

    tok = Tokenizer.from_file(f"{a.model}/tokenizer.json")
    tok.no_padding()
    tok.enable_truncation(a.max_len, strategy="only_second")

    def score(pairs):
        enc = tok.encode_batch(pairs)
        order = sorted(range(len(enc)), key=lambda i: len(enc[i].ids))
        out = np.empty(len(enc), dtype=np.float32)
        for s in range(0, len(order), a.batch):
            idx = order[s:s + a.batch]
            L = max(len(enc[i].ids) for i in idx)
            ids = np.zeros((len(idx), L), dtype=np.int64)
            mask = np.zeros((len(idx), L), dtype=np.int64)
            types = np.zeros((len(idx), L), dtype=np.int64)
            for r, i in enumerate(idx):
                e = enc[i]
                n = len(e.ids)
                ids[r, :n] = e.ids
                mask[r, :n] = 1
                types[r, :n] = e.type_ids
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in names:
                feed["token_type_ids"] = types
            logits = sess.run(None, feed)[0]
            out[idx] = logits.reshape(len(idx), -1)[:, -1]
        return out

    score(pairs[:64])  # warm-up
    for _ in range(a.rounds):
        t = time.perf_counter()
        score(pairs)
        dt = time.perf_counter() - t
        print(json.dumps({"pairs": len(pairs), "seconds": dt, "pairs_per_s": len(pairs) / dt}), flush=True)


if __name__ == "__main__":
    main()
