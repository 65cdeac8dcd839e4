#!/usr/bin/env python3
"""Mutation score of the test suite against mutants/own_mutants.py.

usage: mutants/mutation_score.py [--labels REGEX] [--only N,M] [--keep]

Copies the working tree (without build/ and .venv/) to a scratch directory, builds it once
(Release, no bench) and checks that the unmutated suite passes, then for each mutant: applies the
one-line change, rebuilds, runs `ctest -L LABELS --stop-on-failure` and records the first failing
test (killed) or none (survived), and restores the file. Prints one row per mutant and the score.
A mutant whose text is not found exactly once stops the run: the table is stale.
Time: about 2-5 minutes per mutant on 2 cores (a change to a core header rebuilds everything).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "mutants"))
from own_mutants import MUTANTS  # noqa: E402


def run(cmd, cwd, quiet=True):
    return subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE if quiet else None, stderr=subprocess.STDOUT, text=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", default="unit|properties|golden|fuzz|exhaustive")
    ap.add_argument("--only", default="")
    ap.add_argument("--keep", action="store_true", help="keep the scratch tree")
    a = ap.parse_args()
    only = {int(x) for x in a.only.split(",") if x}
    scratch = tempfile.mkdtemp(prefix="nvfp4-mutants-")
    tree = os.path.join(scratch, "tree")
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns("build", ".venv", ".git"))
    build = os.path.join(tree, "build")
    jobs = str(os.cpu_count() or 2)
    cfg = ["cmake", "-S", tree, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release", "-DNVFP4_BUILD_BENCH=OFF",
           f"-DNVFP4_PYTHON={os.path.join(ROOT, '.venv', 'bin', 'python')}"]
    if run(cfg, tree).returncode or run(["cmake", "--build", build, "-j", jobs], tree).returncode:
        sys.exit("mutation_score: the unmutated tree does not build")
    ctest = ["ctest", "--test-dir", build, "-L", a.labels, "-j", jobs, "--stop-on-failure", "--output-on-failure"]
    if run(ctest, tree).returncode:
        sys.exit("mutation_score: the unmutated suite fails; fix that first")
    print("| # | mutant | file | result | killed by | seconds |\n|---|---|---|---|---|---|", flush=True)
    killed = total = 0
    for i, (path, old, new, what) in enumerate(MUTANTS, 1):
        if only and i not in only:
            continue
        f = os.path.join(tree, path)
        src = open(f).read()
        if src.count(old) != 1:
            sys.exit(f"mutation_score: mutant {i}: text found {src.count(old)} times in {path}; update mutants/own_mutants.py")
        t0 = time.time()
        open(f, "w").write(src.replace(old, new))
        try:
            b = run(["cmake", "--build", build, "-j", jobs], tree)
            if b.returncode:
                result, by = "does not compile", ""
            else:
                r = run(ctest, tree)
                fails = re.findall(r"^\s*\d+ - (\S+) \(", r.stdout, re.M)
                result, by = ("killed", fails[0] if fails else "(ctest failed)") if r.returncode else ("SURVIVED", "")
        finally:
            open(f, "w").write(src)
        total += result != "does not compile"
        killed += result == "killed"
        print(f"| {i} | {what} | `{path}` | {result} | {by} | {time.time() - t0:.0f} |", flush=True)
    run(["cmake", "--build", build, "-j", jobs], tree)
    print(f"\nmutation score: {killed}/{total} killed")
    if not a.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    sys.exit(0 if killed == total else 1)


if __name__ == "__main__":
    main()
