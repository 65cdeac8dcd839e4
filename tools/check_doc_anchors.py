#!/usr/bin/env python3
"""Every `docs/<file>.md#<anchor>` cited in the tree names a heading that exists.

usage: tools/check_doc_anchors.py [ROOT]   (ROOT: the source tree; default: the parent of tools/)

Comments, docstrings and the README cite the design documents as `docs/formats.md#<anchor>`; the
documents link to each other as `(formats.md#<anchor>)` and to themselves as `(#<anchor>)`. Anchors
are GitHub's: the heading's text without markup, lower-cased, every character that is not a letter,
digit, space, `-` or `_` dropped, spaces turned into `-`, and `-1`, `-2`, ... appended to repeats.
Scans the files git tracks or would add (`git ls-files --cached --others --exclude-standard`; when
ROOT is not a git checkout, every file outside .git, build*/ and .venv), skipping corpus/ and files
that are not UTF-8 text. Prints each broken
reference as FILE:LINE: REF (why) and exits 1 if there is one, 0 otherwise.
"""
import os
import re
import subprocess
import sys

TREE_REF = re.compile(r"docs/([A-Za-z0-9_./-]+\.md)#([A-Za-z0-9_-]+)")
DOC_LINK = re.compile(r"\]\((?:\./)?([A-Za-z0-9_-]+\.md)?#([A-Za-z0-9_-]+)\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
SKIP_DIRS = {".git", ".venv", "corpus"}


def slug(text):
    """GitHub's anchor for a heading's text (github-slugger, without its duplicate counter)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # [text](url) -> text
    text = text.replace("`", "").replace("**", "").replace("*", "")
    kept = "".join(ch for ch in text.lower() if ch.isalnum() or ch in " -_")
    return kept.replace(" ", "-")


def anchors(path):
    """Every anchor a markdown file's headings define, fenced code blocks aside."""
    seen, out, fenced = {}, set(), False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.lstrip().startswith("```"):
                fenced = not fenced
                continue
            m = None if fenced else HEADING.match(line)
            if not m:
                continue
            base = slug(m.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


def tracked_files(root):
    try:
        cmd = ["git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
        out = subprocess.run(cmd, check=True, capture_output=True).stdout
        return [p for p in out.decode().split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for d, dirs, names in os.walk(root):
            dirs[:] = [x for x in dirs if x not in SKIP_DIRS and not x.startswith("build")]
            files += [os.path.relpath(os.path.join(d, n), root) for n in names]
        return files


def references(root, rel):
    """(line number, target file relative to root, anchor) of every reference in one file."""
    try:
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            lines = f.readlines()
    except (UnicodeDecodeError, OSError):
        return
    in_docs = rel.startswith("docs/") and rel.endswith(".md")
    for i, line in enumerate(lines, 1):
        for m in TREE_REF.finditer(line):
            yield i, "docs/" + m.group(1), m.group(2)
        if in_docs:
            for m in DOC_LINK.finditer(line):
                yield i, os.path.join("docs", m.group(1)) if m.group(1) else rel, m.group(2)


def main(root):
    cache, broken, count = {}, [], 0
    for rel in tracked_files(root):
        if rel.split("/")[0] in SKIP_DIRS or not os.path.isfile(os.path.join(root, rel)):
            continue
        for line, target, anchor in references(root, rel):
            count += 1
            if target not in cache:
                path = os.path.join(root, target)
                cache[target] = anchors(path) if os.path.isfile(path) else None
            if cache[target] is None:
                broken.append(f"{rel}:{line}: {target}#{anchor} (no such file)")
            elif anchor not in cache[target]:
                broken.append(f"{rel}:{line}: {target}#{anchor} (no such heading)")
    for b in broken:
        print(b)
    print(f"{count} doc anchor references, {len(broken)} broken")
    return 1 if broken else 0


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(here)))
