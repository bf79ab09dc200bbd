"""Where an ONNX cross-encoder's time goes: ONNX Runtime's own profiler, kernel time summed
by operator type, on one batch shape (default 32 pairs of 245 tokens, 2 threads).

    python3 ort_profile.py MODEL.onnx [MODEL.onnx ...] [--batch 32] [--len 245] [--threads 2]

Prints pairs/s (10 timed passes after 2 warm-up ones) and the share of each operator type.
"""
import argparse
import collections
import json
import os
import tempfile
import time

import numpy as np
import onnxruntime as ort


def profile(path, batch, length, threads):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.enable_profiling = True
    so.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "ort")
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feed = {}
    for i in s.get_inputs():
        if "mask" in i.name:
            feed[i.name] = np.ones((batch, length), dtype=np.int64)
        elif "type" in i.name:
            feed[i.name] = np.zeros((batch, length), dtype=np.int64)
        else:
            feed[i.name] = rng.integers(1000, 20000, (batch, length), dtype=np.int64)
    for _ in range(2):
        s.run(None, feed)
    t = time.time()
    for _ in range(10):
        s.run(None, feed)
    per_pass = (time.time() - t) / 10
    events = json.load(open(s.end_profiling()))
    by_op = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            by_op[e["args"]["op_name"]] += e["dur"]
    total = sum(by_op.values())
    print(f"{path}: {batch / per_pass:.0f} pairs/s ({batch} x {length} tokens, {threads} threads)")
    for op, us in by_op.most_common(12):
        print(f"  {op:28s} {100 * us / total:5.1f} %")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--len", type=int, default=245)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    for m in a.models:
        profile(m, a.batch, a.len, a.threads)


if __name__ == "__main__":
    main()
