#!/usr/bin/env bash
# Shows that vendor/candle-core is candle-core 0.11.1 from crates.io with exactly what
# PATCH.md says: downloads the pinned crate from the registry, checks its sha256, applies
# its two patches (backprop.patch, matmul.patch), and compares every kept source file byte
# for byte.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
pin=d11c8be87cfbaef9ebb62fb3f850d1fc8e00cc1d11d393fdbe55a4d5c2cdb325
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
curl -sSfL https://static.crates.io/crates/candle-core/candle-core-0.11.1.crate -o "$tmp/c.crate"
echo "$pin  $tmp/c.crate" | sha256sum -c --quiet
tar xzf "$tmp/c.crate" -C "$tmp"
up="$tmp/candle-core-0.11.1"
for p in backprop matmul; do (cd "$up" && patch -s -p1 < "$here/candle-core/$p.patch"); done
status=0
while IFS= read -r f; do
  rel=${f#"$here/candle-core/"}
  if ! cmp -s "$f" "$up/$rel"; then echo "differs from upstream + patch: $rel"; status=1; fi
done < <(find "$here/candle-core/src" -type f)
removed=$(cd "$up/src" && find . -type f | while read -r f; do [ -e "$here/candle-core/src/$f" ] || echo "${f#./}"; done)
echo "removed from upstream (never built here):"; echo "$removed" | sed 's/^/  /'
[ $status = 0 ] && echo "ok: every kept source file is upstream 0.11.1 with its two patches applied"
exit $status
