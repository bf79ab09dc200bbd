#!/usr/bin/env python3
"""serve_crash.py BIN: kill -9 a server in the middle of a write load, restart it, and check
that every document whose write was acknowledged as durable (and every one acknowledged more
than two group-commit intervals before the kill) is there; then SIGTERM with requests in
flight and check that they finish. Also a mixed run: readers query while one writer upserts,
and the document count is right at the end."""
import json, os, signal, subprocess, sys, tempfile, threading, time, urllib.request

BIN = sys.argv[1]
ADDR = "127.0.0.1:18181"
COMMIT_MS = 500


def start(index):
    p = subprocess.Popen([BIN, "serve", "--index", index, "--addr", ADDR, "--commit-ms", str(COMMIT_MS)],
                         stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://{ADDR}/health", timeout=1)
            return p
        except Exception:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def call(method, path, body=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://{ADDR}{path}", data=data, method=method,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


index = tempfile.mkdtemp() + "/idx"

# 1. kill -9 during writes.
p = start(index)
acked_durable, acked_lazy, stop = [], [], threading.Event()


def writer():
    n = 0
    while not stop.is_set():
        durable = n % 2 == 0
        ids = [f"w{n}-{i}" for i in range(50)]
        docs = [{"id": d, "title": "", "text": f"document {d} about protein folding"} for d in ids]
        try:
            r = call("POST", "/documents" + ("?commit=true" if durable else ""), docs)
        except Exception:
            return
        (acked_durable if r["durable"] else acked_lazy).append((time.time(), ids))
        n += 1


t = threading.Thread(target=writer)
t.start()
time.sleep(4)
p.send_signal(signal.SIGKILL)
killed_at = time.time()
p.wait()
stop.set()
t.join()
p = start(index)
missing_durable, missing_old = 0, 0
checked_old = 0
for _, ids in acked_durable:
    for d in ids:
        try:
            call("GET", f"/documents/{d}")
        except urllib.error.HTTPError:
            missing_durable += 1
for at, ids in acked_lazy:
    if killed_at - at > 2 * COMMIT_MS / 1000:
        for d in ids:
            checked_old += 1
            try:
                call("GET", f"/documents/{d}")
            except urllib.error.HTTPError:
                missing_old += 1
stats = call("GET", "/stats")
print(f"kill -9 after 4 s of writes: {sum(len(i) for _, i in acked_durable)} documents acknowledged durable, "
      f"{missing_durable} missing after restart; {checked_old} acknowledged lazily more than "
      f"{2 * COMMIT_MS} ms before the kill, {missing_old} missing; the index opened with {stats['documents']} documents")

# 2. SIGTERM with requests in flight: they finish.
results = []


def slow_search():
    try:
        r = call("POST", "/search", {"query": "protein folding document", "k": 5, "depth": 60}, timeout=60)
        results.append(len(r["hits"]))
    except Exception as e:
        results.append(repr(e))


threads = [threading.Thread(target=slow_search) for _ in range(4)]
for th in threads:
    th.start()
time.sleep(0.3)
p.send_signal(signal.SIGTERM)
for th in threads:
    th.join()
rc = p.wait()
print(f"SIGTERM with 4 reranked searches in flight: replies {results}, server exit {rc}")

# 3. Mixed: 4 readers query while one writer upserts 40 batches of 25 new documents.
p = start(index)
before = call("GET", "/stats")["documents"]
errors, reads, done = [], [0], threading.Event()


def reader():
    while not done.is_set():
        try:
            call("POST", "/search", {"query": "protein folding", "k": 10, "rerank": False})
            reads[0] += 1
        except Exception as e:
            errors.append(repr(e))


readers = [threading.Thread(target=reader) for _ in range(4)]
for th in readers:
    th.start()
start_t = time.time()
for b in range(40):
    docs = [{"id": f"mixed{b}-{i}", "title": "", "text": "mixed load document"} for i in range(25)]
    call("POST", "/documents", docs)
done.set()
for th in readers:
    th.join()
time.sleep(2 * COMMIT_MS / 1000)
after = call("GET", "/stats")["documents"]
print(f"mixed: {reads[0]} reads in {time.time() - start_t:.1f} s beside 40 writes of 25; {len(errors)} errors; "
      f"documents {before} -> {after} (expected {before + 1000})")
p.send_signal(signal.SIGTERM)
p.wait()
