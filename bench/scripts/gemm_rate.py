"""The machine's GEMM rate in ONNX Runtime, f32 against dynamic int8, on the shapes of the
student's (hidden 128) and the teacher's (hidden 384) linear layers: one MatMul graph per
shape, quantized by onnxruntime's own quantize_dynamic. Prints GFLOP/s (f32) and GOP/s
(int8) and their ratio: the ceiling on what int8 can give a model here.

    bash bench/scripts/gemm_rate.sh [--threads 2] [--rows 8192]
"""
import argparse
import os
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic


def matmul_model(path, m, k, n):
    w = np.random.default_rng(0).standard_normal((k, n)).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [m, k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])],
        [numpy_helper.from_array(w, "W")],
    )
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def best_seconds(path, m, k, threads, rounds):
    o = ort.SessionOptions()
    o.intra_op_num_threads = threads
    s = ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).standard_normal((m, k)).astype(np.float32)
    s.run(None, {"x": x})
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(5):
            s.run(None, {"x": x})
        best = min(best, (time.perf_counter() - t) / 5)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rows", type=int, default=8192)
    ap.add_argument("--rounds", type=int, default=7)
    a = ap.parse_args()
    print(f"onnxruntime {ort.__version__}, {a.threads} threads, {a.rows} rows (tokens)")
    print("| k x n | f32 GFLOP/s | int8 GOP/s | int8 / f32 |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        for k, n in [(128, 128), (128, 512), (512, 128), (384, 384), (384, 1536), (1536, 384)]:
            f32 = os.path.join(d, f"mm{k}x{n}.onnx")
            q8 = f32 + ".int8.onnx"
            matmul_model(f32, a.rows, k, n)
            quantize_dynamic(f32, q8, weight_type=QuantType.QInt8)
            tf = best_seconds(f32, a.rows, k, a.threads, a.rounds)
            tq = best_seconds(q8, a.rows, k, a.threads, a.rounds)
            ops = 2.0 * a.rows * k * n
            print(f"| {k} x {n} | {ops / tf / 1e9:.1f} | {ops / tq / 1e9:.1f} | {tf / tq:.2f} |")


if __name__ == "__main__":
    main()
