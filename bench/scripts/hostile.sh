#!/usr/bin/env bash
# hostile.sh OLD NEW INDEX: the hostile inputs of issue 16, run side by side against two builds of
# search-cli (OLD, NEW) over a copy of a BM25 index (INDEX, e.g. runs/scifact). Prints one row per
# case and build: exit status, wall seconds, peak RSS (from /usr/bin/time -v) and the first line of
# what the program said. Each run is capped (60 s, 8 GB of address space) so a runaway old build
# cannot take the machine down; a capped run shows exit 124 (time) or a failed allocation.
set -u
old=$1; new=$2; index=$3
# Optional: a text file whose words make the long queries (e.g. the corpus), so they match.
words_from=${4:-/dev/null}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cap_s=${CAP_S:-60}

# run LABEL BIN ARGS...: one measured run.
run() {
  local label=$1 bin=$2; shift 2
  local out="$work/out" tv="$work/time"
  ( ulimit -v 8000000; timeout "$cap_s" /usr/bin/time -v "$bin" "$@" ) >"$out" 2>"$tv"
  local rc=$?
  local wall rss said
  wall=$(grep "Elapsed (wall" "$tv" | awk '{print $NF}')
  rss=$(grep "Maximum resident" "$tv" | awk '{printf "%.0f MB", $NF/1024}')
  said=$(grep -v -E "^\s|Command (being timed|exited|terminated)" "$tv" | head -1 | cut -c1-90)
  [ -z "$said" ] && said=$(head -1 "$out" | cut -c1-90)
  printf '| %s | %s | %s | %s | %s | %s |\n' "$label" "$(basename "$bin")" "$rc" "${wall:-?}" "${rss:-?}" "$said"
}

both() { local label=$1; shift; run "$label" "$old" "$@"; run "$label" "$new" "$@"; }

echo "| case | build | exit | wall | peak RSS | first line |"
echo "|---|---|---|---|---|---|"

# 1. Damaged segment files: 32 garbled bytes in the middle of the largest file of each kind.
for ext in idx term fast fieldnorm; do
  for b in "$old" "$new"; do
    d="$work/damaged-$ext"
    rm -rf "$d"; cp -r "$index" "$d"; rm -f "$d/engine-verified.json"
    f=$(ls -S "$d"/*."$ext" | head -1)
    python3 - "$f" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
mid = len(b) // 2
for i in range(32):
    b[(mid + i) % len(b)] ^= 0x5A
open(p, "wb").write(bytes(b))
EOF
    run "damaged .$ext" "$b" query --index "$d" --no-rerank "cell biology protein"
  done
done

# 2. Huge numeric arguments.
both "-k 2^64-1" query --index "$index" --no-rerank -k 18446744073709551615 "protein"
both "-k 2^40" query --index "$index" --no-rerank -k 1099511627776 "protein"
both "--depth 2^40" query --index "$index" --depth 1099511627776 "protein"

# 3. Deep nesting in --syntax.
nest=$(python3 -c 'print("(" * 10000 + "cell" + ")" * 10000)')
both "10k nested ( --syntax" query --index "$index" --syntax "$nest"

# 4. Long lenient queries (words drawn from a fixed vocabulary, so terms repeat as in pasted text).
for n in 100 1000 10000 100000; do
  q=$(python3 -c "
import random
random.seed(1)
words = open('/usr/share/dict/words').read().split() if __import__('os').path.exists('/usr/share/dict/words') else ('cell protein gene cancer immune blood tumor receptor expression mutation ' * 200).split()
words = [w for w in words if w.isalpha()][:5000]
out = []
while len(' '.join(out)) < $n:
    out.append(random.choice(words))
print(' '.join(out)[:$n])")
  both "query of $n chars" query --index "$index" --no-rerank "$q"
done

# 4b. Query time against query length, finer than /usr/bin/time: the best of 3 runs each.
echo
echo "| query chars | $(basename "$old") s | $(basename "$new") s |"
echo "|---|---|---|"
for n in 100 1000 3000 10000 30000 100000; do
  python3 - "$old" "$new" "$index" "$n" "$cap_s" "$words_from" <<'EOF'
import random, re, subprocess, sys, time
old, new, index, n, cap = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
random.seed(1)
vocab = re.findall(r"[a-z]{3,}", open(sys.argv[6], errors="replace").read(2_000_000).lower())
vocab = vocab or ("cell protein gene cancer immune blood tumor receptor expression mutation "
                  "signal pathway kinase therapy patient clinical trial risk dose").split()
words = []
while len(" ".join(words)) < n:
    words.append(random.choice(vocab))
q = " ".join(words)[:n]
row = [str(n)]
for b in (old, new):
    best = None
    for _ in range(3):
        t = time.time()
        try:
            subprocess.run([b, "query", "--index", index, "--no-rerank", q],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=cap)
        except subprocess.TimeoutExpired:
            best = None
            break
        dt = time.time() - t
        best = dt if best is None else min(best, dt)
    row.append(f"{best:.3f}" if best is not None else f"> {cap:.0f}")
print("| " + " | ".join(row) + " |")
EOF
done
echo

# 5. Reranking a huge document.
for mb in 5 50; do
  c="$work/big-$mb"
  mkdir -p "$c"
  python3 - "$c/corpus.jsonl" "$mb" <<'EOF'
import json, sys
path, mb = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    f.write(json.dumps({"id": "big", "title": "big", "text": "protein folding " * (mb * 1024 * 1024 // 16)}) + "\n")
    for i in range(20):
        f.write(json.dumps({"id": f"d{i}", "title": "", "text": f"protein number {i}"}) + "\n")
EOF
  SEARCH_MAX_LINE_BYTES=$((200 << 20)) "$new" index --index "$c/index" --format jsonl \
    "$c/corpus.jsonl" >/dev/null 2>&1 || echo "could not index the $mb MB document" >&2
  both "rerank a ${mb} MB document" query --index "$c/index" --rerank student "protein folding"
done

# 6. A file without newlines.
both "index /dev/zero" index --index "$work/zero-index" --format jsonl /dev/zero
rm -rf "$work/zero-index"

# 7. Escape sequences in ids and titles (table output).
e="$work/esc"
mkdir -p "$e"
printf '{"id": "evil\\u001b]0;pwned\\u0007", "title": "\\u001b[2J\\u001b[Hcleared", "text": "protein"}\n' > "$e/c.jsonl"
"$new" index --index "$e/index" --format jsonl "$e/c.jsonl" >/dev/null 2>&1
for b in "$old" "$new"; do
  raw=$("$b" query --index "$e/index" --no-rerank protein 2>&1 | grep -c $'\x1b')
  printf '| escapes in table output | %s | - | - | - | %s lines with a raw ESC |\n' "$(basename "$b")" "$raw"
done
