"""One markdown row per label-free retrain run (runs/lf/COLLECTION/NAME, as label_free.sh
leaves them): what the filter kept, the best step, the label-free dev numbers that chose the
checkpoint and alpha, and the test nDCG@10 that label_free.sh's eval printed (alone, at the
dev alpha, and the best of the grid, which no chooser can know).

    python3 ablation_table.py runs/lf/med/d-kl-s0 runs/lf/med/abl-*-s0 ...
"""
import json
import os
import re
import sys


def row(run):
    fusion = json.load(open(os.path.join(run, "fusion.json")))
    training = json.load(open(os.path.join(run, "training.json")))
    log = open(os.path.join(run, "retrain.log")).read()
    kept = re.search(r"consistency filter kept (\d+) of (\d+)", log)
    kept = f"{kept.group(1)}/{kept.group(2)}" if kept else "no filter"
    test = open(os.path.join(run, "test.txt")).read()
    alone = re.search(r" alone\s+([0-9.]+)", test).group(1)
    fused = re.findall(r"\+\S+ a=([0-9.]+)\s+([0-9.]+)", test)
    at_dev = fused[0][1]
    best_a, best_v = max(fused, key=lambda x: float(x[1]))
    dev = fusion["dev"]
    dev_fused = max(v for _, v in dev["fused"])
    return (
        f"| {run} | {kept} | {training['best'][1]} of {training['total_steps']} | "
        f"{dev_fused:.4f} (α {fusion['alpha']}) | {fusion['gain']:+.4f} | {alone} | "
        f"**{at_dev}** | {best_v} (α {best_a}) |"
    )


print("| run | filter kept | best step | label-free dev fused (α) | dev gain over BM25 |"
      " test alone | **test at dev α** | test best of grid |")
print("|---|---|---|---|---|---|---|---|")
for r in sys.argv[1:]:
    print(row(r))
