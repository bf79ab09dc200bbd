#!/usr/bin/env python3
"""Copies an experiment's table (results.md, as `search-cli experiment` writes it) into
docs/RESULTS.md between the markers <!-- NAME:begin --> and <!-- NAME:end -->.

    python3 scripts/results_into_docs.py runs/experiments/scifact/results.md scifact
"""
import pathlib
import sys

table, name = pathlib.Path(sys.argv[1]), sys.argv[2]
doc = pathlib.Path(__file__).resolve().parent.parent / "docs" / "RESULTS.md"
text = doc.read_text()
begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
if begin not in text or end not in text:
    sys.exit(f"{doc}: no {begin} ... {end} markers")
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
body = table.read_text().replace("### ", "#### ").strip()
doc.write_text(f"{head}{begin}\n{body}\n{end}{tail}")
print(f"{doc}: {name} table from {table}")
