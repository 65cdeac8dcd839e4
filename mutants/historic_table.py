#!/usr/bin/env python3
"""README.md's generated mutant blocks: the historic-bug table and the count of our own mutants.

usage: mutants/historic_table.py           print the historic-bug table (markdown)
       mutants/historic_table.py --write   rewrite both blocks in README.md
       mutants/historic_table.py --check   exit 1 if README.md's blocks differ (ctest mutants_readme_tables)

The historic bugs come from mutants/historic.tsv (the one list: properties/mutants.cmake builds and
tests its rows); the counts from mutants/own_mutants.py and mutants/new_mutants.py (whose header
line says how many were drawn per area). Each block sits between `<!-- NAME:begin -->` and
`<!-- NAME:end -->` lines in README.md. Standard library only.
"""
import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TSV = os.path.join(ROOT, "mutants", "historic.tsv")
README = os.path.join(ROOT, "README.md")
COLUMNS = ["id", "property", "bug", "upstream", "also_killed_by", "how_it_shows"]
REGENERATE = "python3 mutants/historic_table.py --write"


def read_rows(path=TSV):
    """The rows of historic.tsv as dicts, checked the way properties/mutants.cmake reads them."""
    lines = [l.rstrip("\n") for l in open(path, encoding="utf-8") if l.strip() and not l.startswith("#")]
    if not lines or lines[0].split("\t") != COLUMNS:
        sys.exit(f"historic_table: {path}: the first row must be the header {', '.join(COLUMNS)} (tab-separated)")
    rows, ids = [], set()
    for line in lines[1:]:
        cells = line.split("\t")
        if len(cells) != len(COLUMNS) or not re.fullmatch(r"[0-9]+", cells[0]) \
                or not re.fullmatch(r"[A-Za-z0-9_]+\.[A-Za-z0-9_]+", cells[1]) or cells[0] in ids:
            sys.exit(f"historic_table: {path}: bad row (want {len(COLUMNS)} tab-separated cells, a new id "
                     f"and Suite.Property): {line!r}")
        ids.add(cells[0])
        rows.append(dict(zip(COLUMNS, cells)))
    return rows


def historic_table(rows):
    out = ["| # | historic bug | upstream | killed by | how it shows |", "|---|---|---|---|---|"]
    for r in rows:
        killed_by = f"`{r['property']}`" + (f" (also {r['also_killed_by']})" if r["also_killed_by"] else "")
        out.append(f"| {r['id']} | {r['bug']} | {r['upstream']} | {killed_by} | {r['how_it_shows']} |")
    return "\n".join(out)


def own_mutants_sentence():
    sys.path.insert(0, os.path.join(ROOT, "mutants"))
    from new_mutants import NEW_MUTANTS
    from own_mutants import MUTANTS
    header = open(os.path.join(ROOT, "mutants", "new_mutants.py"), encoding="utf-8").read()
    per_area = re.search(r"^#   seed \d+, (\d+) per area", header, re.M)
    if not per_area:
        sys.exit("historic_table: mutants/new_mutants.py has no '#   seed N, K per area' header line")
    own, new = len(MUTANTS), len(NEW_MUTANTS)
    return (f"Our own mutants: {own + new} one-line changes, {own} written by hand and {new} drawn "
            f"systematically ({per_area.group(1)} per area).")


def blocks():
    return {"historic-mutants": historic_table(read_rows()), "own-mutants": own_mutants_sentence()}


def marked(name):
    return re.compile(r"(<!-- " + re.escape(name) + r":begin -->\n)(.*?)(<!-- " + re.escape(name) + r":end -->)", re.S)


def with_blocks(text, generated):
    """text with every block replaced by its generated body; exits if a block's markers are missing."""
    for name, body in generated.items():
        pattern = marked(name)
        if len(pattern.findall(text)) != 1:
            sys.exit(f"historic_table: README.md needs exactly one <!-- {name}:begin --> ... <!-- {name}:end --> block")
        text = pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(3), text)
    return text


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="rewrite README.md's generated blocks")
    mode.add_argument("--check", action="store_true", help="exit 1 if README.md's generated blocks are stale")
    a = ap.parse_args()
    if not (a.write or a.check):
        print(historic_table(read_rows()))
        return
    text = open(README, encoding="utf-8").read()
    new = with_blocks(text, blocks())
    if a.write:
        if new != text:
            with open(README, "w", encoding="utf-8") as f:
                f.write(new)
        return
    if new != text:
        stale = [n for n, body in blocks().items() if marked(n).search(text).group(2) != body + "\n"]
        sys.exit(f"README.md's generated block(s) {', '.join(stale)} differ from mutants/historic.tsv, "
                 f"mutants/own_mutants.py and mutants/new_mutants.py; regenerate them with `{REGENERATE}`")
    print("README.md's mutant blocks are up to date")


if __name__ == "__main__":
    main()
