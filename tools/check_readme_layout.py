#!/usr/bin/env python3
"""README's Layout block against the tree: every top-level directory git tracks is described there,
and every directory the block names exists. Usage: check_readme_layout.py [ROOT]. Exit 1 with the
differences otherwise."""
import os
import re
import subprocess
import sys


def layout_names(readme):
    text = open(readme, encoding="utf-8").read()
    block = text.split("\n## Layout\n", 1)[1].split("```", 2)[1]
    return {m.group(1) for m in re.finditer(r"^([^\s/]+)/", block, re.M)}


def tracked_dirs(root):
    files = subprocess.run(["git", "-C", root, "ls-files"], capture_output=True, text=True, check=True).stdout.split()
    return {f.split("/", 1)[0] for f in files if "/" in f}


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    named, tree = layout_names(os.path.join(root, "README.md")), tracked_dirs(root)
    bad = [f"README.md Layout: {d}/ is in the tree but not described" for d in sorted(tree - named)]
    bad += [f"README.md Layout: {d}/ is described but not in the tree" for d in sorted(named - tree)]
    for b in bad:
        print(b)
    print(f"{len(tree)} top-level directories, {len(bad)} differences")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
