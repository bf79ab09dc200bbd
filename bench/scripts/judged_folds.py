"""judged_folds.py RUN...: label-free dev choices against judged-dev choices, by random halves.

For each RUN (a label-free `retrain` folder with judged-{best,last}.json from judged_folds.sh,
fusion.json and training.json), over 1,000 seeded random splits of the judged queries into
halves: the judged chooser takes the (checkpoint, alpha) with the highest mean nDCG@10 on one
half (BM25 alone, alpha 1, allowed); the label-free chooser is what `retrain` chose (the best
checkpoint, fusion.json's alpha). Both are scored on the other half. Prints, per run, the mean
held-out nDCG@10 of each chooser, how often the judged chooser agrees with the label-free one
(same checkpoint; same checkpoint and alpha), and the full-query grid's best for reference.
"""
import json
import random
import sys

SPLITS = 1000


def table(path):
    """(alpha -> {query: nDCG@10}) from an eval --per-query --json file."""
    out = {}
    for s in json.load(open(path))["systems"]:
        name = s["system"]
        if name == "bm25":
            a = 1.0
        elif name.endswith(" alone"):
            a = 0.0
        else:
            a = float(name.rsplit("a=", 1)[1])
        out[a] = {q: v["ndcg@10"] for q, v in s["per_query"].items()}
    return out


def mean(per_query, qs):
    return sum(per_query[q] for q in qs) / len(qs)


print("| run | label-free choice | held-out nDCG@10: label-free / judged-dev chooser | judged picks the same checkpoint / same (checkpoint, α) | best on all queries (not selectable) |")
print("|---|---|---|---|---|")
for run in sys.argv[1:]:
    grids = {m: table(f"{run}/judged-{m}.json") for m in ("best", "last")}
    training = json.load(open(f"{run}/training.json"))
    step = {"best": training["best"][1], "last": training["step"]}
    alpha = json.load(open(f"{run}/fusion.json"))["alpha"]
    cells = [(m, a) for m in grids for a in grids[m]]
    queries = sorted(grids["best"][1.0])
    rng = random.Random(0)
    lf_total = judged_total = 0.0
    same_ckpt = same_cell = 0
    for _ in range(SPLITS):
        shuffled = queries[:]
        rng.shuffle(shuffled)
        dev, test = shuffled[: len(queries) // 2], shuffled[len(queries) // 2 :]
        jm, ja = max(cells, key=lambda c: (mean(grids[c[0]][c[1]], dev), -abs(c[1] - 0.5)))
        lf_total += mean(grids["best"][alpha], test)
        judged_total += mean(grids[jm][ja], test)
        same_ckpt += jm == "best"
        same_cell += (jm, ja) == ("best", alpha)
    full = max(cells, key=lambda c: mean(grids[c[0]][c[1]], queries))
    print(
        f"| {run} | step {step['best']}, α {alpha} "
        f"| {lf_total / SPLITS:.4f} / {judged_total / SPLITS:.4f} "
        f"| {100 * same_ckpt / SPLITS:.0f} % / {100 * same_cell / SPLITS:.0f} % "
        f"| step {step[full[0]]}, α {full[1]}: {mean(grids[full[0]][full[1]], queries):.4f} |"
    )
