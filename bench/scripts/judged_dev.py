"""judged_dev.py RUN...: the choices of the label-free dev set against judged dev queries.

Reads RUN/judged-{best,last}.txt and RUN/testgrid-{best,last}.txt (the `search-cli eval`
tables judged_dev.sh writes), RUN/fusion.json (what `retrain` chose) and RUN/training.json
(the steps), and prints one markdown row per run: the label-free choice, the judged-dev
choice (checkpoint and alpha that maximise nDCG@10 on the judged train queries) and the
test-best one (not selectable), each with its test nDCG@10.
"""
import json
import re
import sys


def grid(path):
    """alpha -> nDCG@10 from an eval table (alpha 0 = the student alone, 1 = BM25)."""
    g = {}
    for line in open(path):
        line = line.strip()
        m = re.match(r"^bm25\+\S+ a=([\d.]+)\s+([\d.]+)$", line)
        if m:
            g[float(m.group(1))] = float(m.group(2))
            continue
        m = re.match(r"^bm25\s+([\d.]+)$", line)
        if m:
            g[1.0] = float(m.group(1))
            continue
        m = re.match(r"^\S+ alone\s+([\d.]+)$", line)
        if m:
            g[0.0] = float(m.group(1))
    return g


def best_of(tables):
    """The (checkpoint, alpha) of the highest score, BM25 alone (alpha 1) excluded."""
    return max(
        ((m, a) for m in tables for a in tables[m] if a < 1.0),
        key=lambda x: tables[x[0]][x[1]],
    )


print("| run | label-free choice → test | judged-dev choice → test | test-best (not selectable) | BM25 judged dev, test |")
print("|---|---|---|---|---|")
for run in sys.argv[1:]:
    judged = {m: grid(f"{run}/judged-{m}.txt") for m in ("best", "last")}
    test = {m: grid(f"{run}/testgrid-{m}.txt") for m in ("best", "last")}
    alpha = json.load(open(f"{run}/fusion.json"))["alpha"]
    training = json.load(open(f"{run}/training.json"))
    step = {"best": training["best"][1], "last": training["step"]}
    jm, ja = best_of(judged)
    tm, ta = best_of(test)
    print(
        f"| {run} | step {step['best']}, α {alpha} → {test['best'][alpha]:.4f} "
        f"| step {step[jm]}, α {ja} (dev {judged[jm][ja]:.4f}) → {test[jm][ja]:.4f} "
        f"| step {step[tm]}, α {ta}: {test[tm][ta]:.4f} "
        f"| {judged['best'][1.0]:.4f}, {test['best'][1.0]:.4f} |"
    )
