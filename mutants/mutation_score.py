#!/usr/bin/env python3
"""Mutation score of the test suite against mutants/own_mutants.py and/or mutants/new_mutants.py.

usage: mutants/mutation_score.py [--set own|new|all] [--labels REGEX] [--only N,M] [--keep]
                                 [--scratch DIR] [--jobs N] [--timeout-factor F] [--json FILE]

Copies the working tree (without build/ and .venv/) to a scratch directory, builds it once
(Release, no bench), lists the ctest tests of LABELS (`ctest --show-only=json-v1`: each test's
command line and properties) and runs them all once, 2 at a time, to check that the unmutated suite
passes and to measure each test's time. Then for each mutant: applies the one-line change,
rebuilds, and finds the executables the rebuild changed (sha256 of every executable and static
library under the build directory against the unmutated build's). The tests that can reach the
mutated file are those whose command line runs a changed executable (or names one as an argument,
as `nvfp4` is for cli_json_schemas), or runs an executable that has a changed executable's path
compiled in (cli_memory_limit runs `nvfp4`), or names the build directory itself
(cli_install_consumer installs the whole build). Those run fastest first (the unmutated run's
times), --jobs at a time, and the first failure stops the run: killed by that test. No failure, or
no test reaching the change, or no executable changed at all (an equivalent mutant): survived.
A test that runs past max(F x its unmutated time + 30 s) (capped by its ctest TIMEOUT) counts as
failed (a mutant that loops forever is killed by the timeout). The file is restored afterwards
(and rebuilt with the next mutant). Prints one row per mutant and the score.

--set own (default) is the hand-written mutants of mutants/own_mutants.py; new is
mutants/new_mutants.py (propose.py's seeded sample); all is own then new, numbered on (own from 1,
new after the last own one). --only takes those numbers.
A mutant whose text is not found exactly once stops the run before anything is built: the list is
stale. --scratch DIR reuses (and keeps) a scratch tree: sources are synced by content, so only
what changed rebuilds, and the unmutated run's times are reused when the unmutated executables and
the test list are the same as the last time.

The parts: scoring/tree.py (the scratch copy), scoring/artifacts.py (what a rebuild changed),
scoring/tests.py (ctest's tests and what each one runs), scoring/runner.py (running them).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "mutants"))

from scoring.artifacts import Artifacts, embedded_paths  # noqa: E402
from scoring.runner import Runner  # noqa: E402
from scoring.tests import list_tests, reach_of  # noqa: E402
from scoring.tree import IGNORE, sync_tree  # noqa: E402


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run(cmd, cwd, quiet=True):
    return subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE if quiet else None, stderr=subprocess.STDOUT, text=True)


def load_set(name):
    own, new = [], []
    if name in ("own", "all"):
        from own_mutants import MUTANTS
        own = list(MUTANTS)
    if name in ("new", "all"):
        from new_mutants import NEW_MUTANTS
        new = list(NEW_MUTANTS)
    return own + new


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", choices=("own", "new", "all"), default="own")
    ap.add_argument("--labels", default="unit|properties|golden|fuzz|exhaustive")
    ap.add_argument("--only", default="")
    ap.add_argument("--keep", action="store_true", help="keep the scratch tree")
    ap.add_argument("--scratch", default="", help="reuse (and keep) this scratch folder")
    ap.add_argument("--jobs", type=int, default=2, help="tests run at once (the build uses every core)")
    ap.add_argument("--timeout-factor", type=float, default=5.0)
    ap.add_argument("--json", default="", help="also write the rows to this file")
    return ap.parse_args()


def chosen_mutants(a):
    """[(number, mutant)] of --set and --only; exits if one's text is not found exactly once (a stale list)."""
    mutants = load_set(a.set)
    only = {int(x) for x in a.only.split(",") if x}
    chosen = [(i, m) for i, m in enumerate(mutants, 1) if not only or i in only]
    for i, (path, old, new, what) in chosen:
        n = open(os.path.join(ROOT, path)).read().count(old)
        if n != 1:
            sys.exit(f"mutation_score: mutant {i}: text found {n} times in {path}; update the mutant list "
                     f"({'own_mutants.py' if a.set == 'own' or (a.set == 'all' and i <= len(load_set('own'))) else 'new_mutants.py: mutants/propose.py'})")
    return chosen


def build_scratch(scratch, jobs):
    """Copies (or syncs) the tree into scratch/tree and builds it; returns (tree, build)."""
    tree = os.path.join(scratch, "tree")
    build = os.path.join(tree, "build")
    if os.path.isdir(tree):
        sync_tree(ROOT, tree)
    else:
        shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(*IGNORE))
    cfg = ["cmake", "-S", tree, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release", "-DNVFP4_BUILD_BENCH=OFF",
           f"-DNVFP4_PYTHON={os.path.join(ROOT, '.venv', 'bin', 'python')}"]
    t0 = time.time()
    if run(cfg, tree).returncode or run(["cmake", "--build", build, "-j", jobs], tree).returncode:
        sys.exit("mutation_score: the unmutated tree does not build")
    log(f"unmutated build: {time.time() - t0:.0f} s")
    return tree, build


def baseline_times(a, scratch, runner, tests, base):
    """{test: seconds} of the unmutated run (which must pass), reused from --scratch's last run when
    the labels, tests and unmutated artifacts are the same."""
    cache = os.path.join(scratch, "baseline.json")
    key = {"labels": a.labels, "tests": sorted(t["name"] for t in tests), "artifacts": base}
    if a.scratch and os.path.exists(cache):
        c = json.load(open(cache))
        if c.get("key") == key:
            log("unmutated run: reused (same executables and tests as the last run in this scratch folder)")
            return c["times"]
    t0 = time.time()
    res, failed = runner.run(tests)
    if failed:
        sys.exit(f"mutation_score: the unmutated suite fails ({failed['name']}, log {failed['log']}); fix that first")
    times = {r["name"]: r["seconds"] for r in res}
    json.dump({"key": key, "times": times}, open(cache, "w"))
    log(f"unmutated run: {len(tests)} tests, {time.time() - t0:.0f} s wall, {sum(times.values()):.0f} s summed")
    return times


class Scorer:
    """One mutant at a time on the built scratch tree: apply, rebuild, run the tests that reach a
    changed artifact, restore."""

    def __init__(self, tree, build, jobs, runner, tests, timeout_factor):
        self.tree, self.build, self.jobs, self.runner, self.tests = tree, build, jobs, runner, tests
        self.timeout_factor = timeout_factor
        self.arts = Artifacts(build)
        self.base = self.arts.refresh()
        embedded = {p: embedded_paths(p, build, self.base) for p in self.base}
        self.reach = {t["name"]: reach_of(t, build, self.base, embedded) for t in tests}
        self.times = None  # set by the caller from the unmutated run

    def score(self, i, path, old, new, what):
        """(the row of one mutant, its seconds in all, its build's seconds)."""
        f = os.path.join(self.tree, path)
        src = open(f).read()
        if src.count(old) != 1:
            sys.exit(f"mutation_score: mutant {i}: text found {src.count(old)} times in {path}")
        t0 = time.time()
        open(f, "w").write(src.replace(old, new))
        tb, outcome = 0.0, ("", "", 0, 0, [])
        try:
            b = run(["cmake", "--build", self.build, "-j", self.jobs], self.tree)
            tb = time.time() - t0
            outcome = ("does not compile", "", 0, 0, []) if b.returncode else self._run_reaching()
        finally:
            open(f, "w").write(src)
        result, by, ran, selected, changed = outcome
        tt = time.time() - t0
        exes = [os.path.relpath(p, self.build) for p in changed]
        log(f"mutant {i}: {len(exes)} artifacts changed ({', '.join(os.path.basename(x) for x in exes[:8])}"
            f"{', ...' if len(exes) > 8 else ''}); {selected} tests reach them")
        row = {"n": i, "mutant": what, "file": path, "result": result, "killed_by": by, "seconds": round(tt, 1),
               "build_seconds": round(tb, 1), "tests_run": ran, "tests_selected": selected, "changed": exes}
        return row, tt, tb

    def _run_reaching(self):
        """(result, killed by, tests run, tests selected, changed artifacts) of the rebuilt mutant."""
        now = self.arts.refresh()
        changed = sorted(p for p in now if now[p] != self.base.get(p))
        sel = [t for t in self.tests if self.reach[t["name"]] & set(changed)]
        sel.sort(key=lambda t: (self.times.get(t["name"], 1e9), t["name"]))
        limits = {t["name"]: self.timeout_factor * self.times.get(t["name"], 60) + 30 for t in sel}
        res, failed = self.runner.run(sel, limits)
        if failed:
            by = failed["name"] + (" (timeout)" if failed["verdict"] == "timeout" else "")
            return "killed", by, len(res), len(sel), changed
        if not changed:
            return "SURVIVED (no executable changed)", "", len(res), len(sel), changed
        if not sel:
            return "SURVIVED (no test reaches it)", "", len(res), len(sel), changed
        return "SURVIVED", "", len(res), len(sel), changed


def main():
    a = parse_args()
    chosen = chosen_mutants(a)
    scratch = os.path.abspath(a.scratch) if a.scratch else tempfile.mkdtemp(prefix="nvfp4-mutants-")
    jobs = str(os.cpu_count() or 2)
    tree, build = build_scratch(scratch, jobs)
    tests = list_tests(build, a.labels)
    logs = os.path.join(scratch, "logs")
    os.makedirs(logs, exist_ok=True)
    runner = Runner(a.jobs, logs)
    scorer = Scorer(tree, build, jobs, runner, tests, a.timeout_factor)
    scorer.times = baseline_times(a, scratch, runner, tests, scorer.base)

    print("| # | mutant | file | result | killed by | seconds (build + tests) | tests run |\n|---|---|---|---|---|---|---|", flush=True)
    rows = []
    for i, (path, old, new, what) in chosen:
        row, tt, tb = scorer.score(i, path, old, new, what)
        print(f"| {i} | {what} | `{path}` | {row['result']} | {row['killed_by']} | {tt:.0f} ({tb:.0f} + {tt - tb:.0f}) "
              f"| {row['tests_run']} of {row['tests_selected']} |", flush=True)
        rows.append(row)
    run(["cmake", "--build", build, "-j", jobs], tree)
    if a.json:
        json.dump(rows, open(a.json, "w"), indent=1)
    total = sum(r["result"] != "does not compile" for r in rows)
    killed = sum(r["result"] == "killed" for r in rows)
    print(f"\nmutation score: {killed}/{total} killed")
    if not a.keep and not a.scratch:
        shutil.rmtree(scratch, ignore_errors=True)
    sys.exit(0 if killed == total else 1)


if __name__ == "__main__":
    main()
