"""PyTorch side of `search-cli bench-train`: the same training step (BERT cross-encoder from
the same checkpoint, new classifier head, groups of query/passage pairs from the same
groups.jsonl, KL or CKL to the teacher's scores, clip 1.0, AdamW) timed phase by phase.

Prints one JSON object with the seconds of each phase over the timed steps.
"""
import argparse
import json
import random
import time

import torch
import torch.nn.functional as F
from tokenizers import Tokenizer
from transformers import BertForSequenceClassification


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--init", required=True)
    ap.add_argument("--groups", required=True)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--group-size", type=int, default=16)
    ap.add_argument("--max-len", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    groups = []
    with open(args.groups) as f:
        for line in f:
            g = json.loads(line)
            if len(g["candidates"]) >= args.group_size and any(
                not c["positive"] for c in g["candidates"]
            ):
                groups.append(g)
    tok = Tokenizer.from_file(f"{args.init}/tokenizer.json")
    tok.enable_truncation(args.max_len, strategy="longest_first")
    tok.enable_padding(pad_id=0)
    model = BertForSequenceClassification.from_pretrained(args.init, num_labels=1)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)

    phases = dict(tokenize_s=0.0, forward_s=0.0, loss_s=0.0, backward_s=0.0, optimizer_s=0.0)
    pairs = 0
    seq = 0
    for step in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        texts, teacher = [], []
        for i in range(args.batch):
            g = groups[(step * args.batch + i) % len(groups)]
            pos = [c for c in g["candidates"] if c["positive"]]
            neg = [c for c in g["candidates"] if not c["positive"]]
            chosen = [rng.choice(pos)] + rng.sample(neg, args.group_size - 1)
            for c in chosen:
                texts.append((g["query"], c["text"]))
                teacher.append(c["teacher"])
        enc = tok.encode_batch(texts)
        ids = torch.tensor([e.ids for e in enc])
        types = torch.tensor([e.type_ids for e in enc])
        mask = torch.tensor([e.attention_mask for e in enc])
        t = torch.tensor(teacher).view(args.batch, args.group_size)
        t1 = time.perf_counter()
        s = model(input_ids=ids, token_type_ids=types, attention_mask=mask).logits
        s = s.view(args.batch, args.group_size)
        t2 = time.perf_counter()
        loss = F.kl_div(F.log_softmax(s, -1), F.log_softmax(t, -1), log_target=True,
                        reduction="batchmean")
        t3 = time.perf_counter()
        opt.zero_grad()
        loss.backward()
        t4 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        t5 = time.perf_counter()
        if step >= args.warmup:
            pairs += len(texts)
            seq += ids.shape[1]
            for k, a, b in (("tokenize_s", t0, t1), ("forward_s", t1, t2), ("loss_s", t2, t3),
                            ("backward_s", t3, t4), ("optimizer_s", t4, t5)):
                phases[k] += b - a
    out = dict(steps=args.steps, pairs=pairs, mean_seq_len=seq / max(args.steps, 1),
               torch=torch.__version__, threads=torch.get_num_threads(), **phases)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
