"""What `retrain --patience P` would have done to finished runs, from their dev histories
alone (training.json): where each run would have stopped, whether it would have kept the
same best checkpoint, and the training steps saved. No test judgments are read.

    python3 patience_sim.py RUN_DIR... [--patience 1 2 3]
"""
import argparse
import json
import os


def value(entry, select):
    return entry["dev_ndcg10_fused"] if select == "fused" else entry["dev_ndcg10"]


def simulate(history, select, patience):
    """(stop step, best step, best value) of a run that stops after `patience` evaluation
    points in a row without a better value (strictly better, as the trainer counts)."""
    best, best_step, since = None, None, 0
    for e in history:
        v = value(e, select)
        if best is None or v > best:
            best, best_step, since = v, e["step"], 0
        else:
            since += 1
        if since >= patience:
            return e["step"], best_step, best
    return history[-1]["step"], best_step, best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--patience", type=int, nargs="+", default=[1, 2, 3])
    a = ap.parse_args()
    header = "| run | steps | best step (dev) |" + "".join(
        f" patience {p}: stop, same best? |" for p in a.patience
    )
    print(header)
    print("|---" * (3 + len(a.patience)) + "|")
    saved = {p: [0, 0, 0] for p in a.patience}  # steps saved, runs with the same best, runs
    for run in a.runs:
        t = json.load(open(os.path.join(run, "training.json")))
        h, sel = t["history"], t["config"]["select"]
        total = t["total_steps"]
        _, full_best, _ = simulate(h, sel, len(h) + 1)
        cells = []
        for p in a.patience:
            stop, best, _ = simulate(h, sel, p)
            same = best == full_best
            saved[p][0] += total - stop
            saved[p][1] += same
            saved[p][2] += total
            cells.append(f" {stop}, {'yes' if same else f'no ({best})'} |")
        print(f"| {run} | {total} | {full_best} |" + "".join(cells))
    for p, (s, same, total) in saved.items():
        print(f"patience {p}: same best checkpoint in {same} of {len(a.runs)} runs, "
              f"{s} of {total} steps saved ({100 * s / max(total, 1):.0f} %)")


if __name__ == "__main__":
    main()
