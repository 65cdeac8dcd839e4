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

--set own (default) is the 19 hand-written mutants; new is mutants/new_mutants.py (propose.py's
seeded sample); all is own then new, numbered on (own 1-19, new 20-...). --only takes those numbers.
A mutant whose text is not found exactly once stops the run before anything is built: the list is
stale. --scratch DIR reuses (and keeps) a scratch tree: sources are synced by content, so only
what changed rebuilds, and the unmutated run's times are reused when the unmutated executables and
the test list are the same as the last time.
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "mutants"))
IGNORE = ("build", ".venv", ".git")


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


# ---------------------------------------------------------------------------------------------
# scratch tree

def sync_tree(src, dst):
    """Make dst's sources equal to src's (by content; the build folder is left alone)."""
    ign = shutil.ignore_patterns(*IGNORE)
    seen = set()
    for d, dirs, files in os.walk(src):
        rel = os.path.relpath(d, src)
        skip = ign(d, dirs + files)
        dirs[:] = [x for x in dirs if x not in skip]
        os.makedirs(os.path.join(dst, rel), exist_ok=True)
        for f in files:
            if f in skip:
                continue
            s, t = os.path.join(d, f), os.path.normpath(os.path.join(dst, rel, f))
            seen.add(t)
            if os.path.islink(s):
                continue
            if not os.path.exists(t) or open(s, "rb").read() != open(t, "rb").read():
                shutil.copyfile(s, t)
                shutil.copymode(s, t)
    for d, dirs, files in os.walk(dst):
        rel = os.path.relpath(d, dst)
        dirs[:] = [x for x in dirs if not (rel == "." and x in IGNORE)]
        for f in files:
            t = os.path.normpath(os.path.join(d, f))
            if t not in seen and not os.path.exists(os.path.join(src, os.path.relpath(t, dst))):
                os.remove(t)


# ---------------------------------------------------------------------------------------------
# build artifacts: every ELF executable and static library under the build directory

def artifact_paths(build):
    out = []
    for d, dirs, files in os.walk(build):
        dirs[:] = [x for x in dirs if x not in ("CMakeFiles", "Testing")]
        for f in files:
            p = os.path.join(d, f)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            if f.endswith(".a"):
                out.append(p)
            elif os.access(p, os.X_OK):
                with open(p, "rb") as fh:
                    if fh.read(4) == b"\x7fELF":
                        out.append(p)
    return sorted(out)


def sha256(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Artifacts:
    def __init__(self, build):
        self.build = build
        self.state = {}  # path -> (mtime_ns, size, sha)

    def refresh(self):
        """Re-stat every artifact, hashing only those whose mtime or size moved. Returns {path: sha}."""
        now = {}
        for p in artifact_paths(self.build):
            st = os.stat(p)
            old = self.state.get(p)
            if old and old[0] == st.st_mtime_ns and old[1] == st.st_size:
                now[p] = old
            else:
                now[p] = (st.st_mtime_ns, st.st_size, sha256(p))
        self.state = now
        return {p: v[2] for p, v in now.items()}


def embedded_paths(exe, build, artifacts):
    """Artifacts whose absolute path is compiled into exe (NVFP4_BIN="<build>/tools/nvfp4")."""
    if exe.endswith(".a"):
        return set()
    data = open(exe, "rb").read()
    found = set()
    for m in re.finditer(re.escape(build.encode()) + rb"/[\x21-\x7e]+", data):
        p = m.group(0).decode(errors="replace")
        if p in artifacts and p != exe:
            found.add(p)
    return found


# ---------------------------------------------------------------------------------------------
# ctest's tests, run directly

def prop(t, name, default=None):
    for p in t.get("properties", []):
        if p["name"] == name:
            return p["value"]
    return default


def as_list(v):
    return [] if v is None else v if isinstance(v, list) else [v]


def list_tests(build, labels):
    r = subprocess.run(["ctest", "--test-dir", build, "--show-only=json-v1"], capture_output=True, text=True)
    if r.returncode:
        sys.exit("mutation_score: ctest --show-only=json-v1 failed:\n" + r.stderr)
    tests = []
    for t in json.loads(r.stdout)["tests"]:
        if prop(t, "DISABLED") or not t.get("command"):
            continue
        if not any(re.search(labels, l) for l in as_list(prop(t, "LABELS"))):
            continue
        tests.append(t)
    return tests


def reach_of(t, build, artifacts, embedded):
    """The artifacts a test's command line can run."""
    reach = set()
    for arg in t["command"]:
        for a in [arg] + arg.split("=")[1:]:
            a = os.path.normpath(a) if a.startswith("/") else a
            if a == build:
                return set(artifacts)  # installs or scans the whole build
            if a in artifacts:
                reach.add(a)
    todo = list(reach)
    while todo:
        for q in embedded.get(todo.pop(), ()):
            if q not in reach:
                reach.add(q)
                todo.append(q)
    return reach


class Runner:
    """Runs ctest tests from their json-v1 description, `jobs` at a time, in the given order, with
    ctest's pass/fail rules (WILL_FAIL, SKIP_RETURN_CODE, SKIP/PASS/FAIL_REGULAR_EXPRESSION),
    fixtures and DEPENDS among the tests of one run, RUN_SERIAL and RESOURCE_LOCK."""

    def __init__(self, jobs, outdir):
        self.jobs, self.outdir = jobs, outdir

    def run(self, tests, limits=None, stop_on_failure=True):
        names = {t["name"] for t in tests}
        setups = {}
        for t in tests:
            for f in as_list(prop(t, "FIXTURES_SETUP")):
                setups.setdefault(f, []).append(t["name"])
        before = {}
        for t in tests:
            need = {d for d in as_list(prop(t, "DEPENDS")) if d in names}
            for f in as_list(prop(t, "FIXTURES_REQUIRED")):
                need |= {s for s in setups.get(f, []) if s != t["name"]}
            before[t["name"]] = need
        for t in tests:  # cleanups after everything that uses their fixture
            for f in as_list(prop(t, "FIXTURES_CLEANUP")):
                for u in tests:
                    if f in as_list(prop(u, "FIXTURES_REQUIRED")) and u is not t:
                        before[t["name"]].add(u["name"])
        queue, running, done, results, failed = list(tests), {}, set(), [], None
        while queue or running:
            # start what can start
            serial_running = any(prop(r["t"], "RUN_SERIAL") for r in running.values())
            locks = {l for r in running.values() for l in as_list(prop(r["t"], "RESOURCE_LOCK"))}
            for t in list(queue):
                if len(running) >= self.jobs or serial_running or failed:
                    break
                if not before[t["name"]] <= done:
                    continue
                if prop(t, "RUN_SERIAL") and running:
                    break
                if set(as_list(prop(t, "RESOURCE_LOCK"))) & locks:
                    continue
                queue.remove(t)
                running[t["name"]] = self._start(t, (limits or {}).get(t["name"]))
                locks |= set(as_list(prop(t, "RESOURCE_LOCK")))
                serial_running = bool(prop(t, "RUN_SERIAL"))
            if not running:
                if queue and not failed:  # only unmet dependencies left (a setup failed): run them anyway
                    for t in queue:
                        before[t["name"]] = set()
                    continue
                break
            time.sleep(0.05)
            for name, r in list(running.items()):
                rc = r["p"].poll()
                el = time.time() - r["t0"]
                timed_out = rc is None and el > r["limit"]
                if rc is None and not timed_out:
                    continue
                if timed_out:
                    self._kill(r["p"])
                    r["p"].wait()
                r["out"].close()
                verdict = self._verdict(r["t"], r["p"].returncode, r["path"], timed_out)
                del running[name]
                done.add(name)
                results.append({"name": name, "seconds": el, "verdict": verdict, "log": r["path"]})
                if verdict in ("failed", "timeout") and failed is None:
                    failed = results[-1]
                    if stop_on_failure:
                        for o in running.values():
                            self._kill(o["p"])
                            o["p"].wait()
                            o["out"].close()
                        running.clear()
                        queue.clear()
                        break
        return results, failed

    def _start(self, t, limit):
        env = dict(os.environ)
        for kv in as_list(prop(t, "ENVIRONMENT")):
            k, _, v = kv.partition("=")
            env[k] = v
        path = os.path.join(self.outdir, re.sub(r"[^\w.-]", "_", t["name"])[:150] + ".log")
        out = open(path, "w")
        cwd = prop(t, "WORKING_DIRECTORY") or os.path.dirname(t["command"][0])
        ctest_limit = float(prop(t, "TIMEOUT", 1500) or 1500)
        p = subprocess.Popen(t["command"], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True)
        return {"t": t, "p": p, "t0": time.time(), "out": out, "path": path,
                "limit": min(ctest_limit, limit) if limit else ctest_limit}

    @staticmethod
    def _kill(p):
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    @staticmethod
    def _verdict(t, rc, path, timed_out):
        if timed_out:
            return "timeout"
        text = open(path, errors="replace").read()
        skip_rc = prop(t, "SKIP_RETURN_CODE")
        if skip_rc is not None and rc == int(skip_rc):
            return "skipped"
        if any(re.search(x, text) for x in as_list(prop(t, "SKIP_REGULAR_EXPRESSION"))):
            return "skipped"
        ok = rc == 0
        pass_re = as_list(prop(t, "PASS_REGULAR_EXPRESSION"))
        if pass_re:
            ok = any(re.search(x, text) for x in pass_re)
        if any(re.search(x, text) for x in as_list(prop(t, "FAIL_REGULAR_EXPRESSION"))):
            ok = False
        if prop(t, "WILL_FAIL"):
            ok = not ok
        if rc is not None and rc < 0 and not prop(t, "WILL_FAIL"):
            ok = False  # killed by a signal (a crash)
        return "passed" if ok else "failed"


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", choices=("own", "new", "all"), default="own")
    ap.add_argument("--labels", default="unit|properties|golden|fuzz|exhaustive")
    ap.add_argument("--only", default="")
    ap.add_argument("--keep", action="store_true", help="keep the scratch tree")
    ap.add_argument("--scratch", default="", help="reuse (and keep) this scratch folder")
    ap.add_argument("--jobs", type=int, default=2, help="tests run at once (the build uses every core)")
    ap.add_argument("--timeout-factor", type=float, default=5.0)
    ap.add_argument("--json", default="", help="also write the rows to this file")
    a = ap.parse_args()
    mutants = load_set(a.set)
    only = {int(x) for x in a.only.split(",") if x}
    chosen = [(i, m) for i, m in enumerate(mutants, 1) if not only or i in only]
    for i, (path, old, new, what) in chosen:
        n = open(os.path.join(ROOT, path)).read().count(old)
        if n != 1:
            sys.exit(f"mutation_score: mutant {i}: text found {n} times in {path}; update the mutant list "
                     f"({'own_mutants.py' if a.set == 'own' or (a.set == 'all' and i <= len(load_set('own'))) else 'new_mutants.py: mutants/propose.py'})")

    scratch = os.path.abspath(a.scratch) if a.scratch else tempfile.mkdtemp(prefix="nvfp4-mutants-")
    tree = os.path.join(scratch, "tree")
    build = os.path.join(tree, "build")
    if os.path.isdir(tree):
        sync_tree(ROOT, tree)
    else:
        shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(*IGNORE))
    jobs = str(os.cpu_count() or 2)
    cfg = ["cmake", "-S", tree, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release", "-DNVFP4_BUILD_BENCH=OFF",
           f"-DNVFP4_PYTHON={os.path.join(ROOT, '.venv', 'bin', 'python')}"]
    t0 = time.time()
    if run(cfg, tree).returncode or run(["cmake", "--build", build, "-j", jobs], tree).returncode:
        sys.exit("mutation_score: the unmutated tree does not build")
    log(f"unmutated build: {time.time() - t0:.0f} s")

    tests = list_tests(build, a.labels)
    arts = Artifacts(build)
    base = arts.refresh()
    embedded = {p: embedded_paths(p, build, base) for p in base}
    reach = {t["name"]: reach_of(t, build, base, embedded) for t in tests}
    logs = os.path.join(scratch, "logs")
    os.makedirs(logs, exist_ok=True)
    runner = Runner(a.jobs, logs)

    # the unmutated run: passes, and each test's time
    cache = os.path.join(scratch, "baseline.json")
    key = {"labels": a.labels, "tests": sorted(t["name"] for t in tests), "artifacts": base}
    times = None
    if a.scratch and os.path.exists(cache):
        c = json.load(open(cache))
        if c.get("key") == key:
            times = c["times"]
            log("unmutated run: reused (same executables and tests as the last run in this scratch folder)")
    if times is None:
        t0 = time.time()
        res, failed = runner.run(tests)
        if failed:
            sys.exit(f"mutation_score: the unmutated suite fails ({failed['name']}, log {failed['log']}); fix that first")
        times = {r["name"]: r["seconds"] for r in res}
        json.dump({"key": key, "times": times}, open(cache, "w"))
        log(f"unmutated run: {len(tests)} tests, {time.time() - t0:.0f} s wall, {sum(times.values()):.0f} s summed")

    print("| # | mutant | file | result | killed by | seconds (build + tests) | tests run |\n|---|---|---|---|---|---|---|", flush=True)
    killed = total = 0
    rows = []
    for i, (path, old, new, what) in chosen:
        f = os.path.join(tree, path)
        src = open(f).read()
        if src.count(old) != 1:
            sys.exit(f"mutation_score: mutant {i}: text found {src.count(old)} times in {path}")
        t0 = time.time()
        open(f, "w").write(src.replace(old, new))
        by, ran, selected, changed = "", 0, 0, []
        try:
            b = run(["cmake", "--build", build, "-j", jobs], tree)
            tb = time.time() - t0
            if b.returncode:
                result = "does not compile"
            else:
                now = arts.refresh()
                changed = sorted(p for p in now if now[p] != base.get(p))
                sel = [t for t in tests if reach[t["name"]] & set(changed)]
                sel.sort(key=lambda t: (times.get(t["name"], 1e9), t["name"]))
                selected = len(sel)
                limits = {t["name"]: a.timeout_factor * times.get(t["name"], 60) + 30 for t in sel}
                res, failed = runner.run(sel, limits)
                ran = len(res)
                if failed:
                    result, by = "killed", failed["name"] + (" (timeout)" if failed["verdict"] == "timeout" else "")
                elif not changed:
                    result = "SURVIVED (no executable changed)"
                elif not sel:
                    result = "SURVIVED (no test reaches it)"
                else:
                    result = "SURVIVED"
        finally:
            open(f, "w").write(src)
        tt = time.time() - t0
        total += result != "does not compile"
        killed += result == "killed"
        exes = [os.path.relpath(p, build) for p in changed]
        log(f"mutant {i}: {len(exes)} artifacts changed ({', '.join(os.path.basename(x) for x in exes[:8])}"
            f"{', ...' if len(exes) > 8 else ''}); {selected} tests reach them")
        print(f"| {i} | {what} | `{path}` | {result} | {by} | {tt:.0f} ({tb:.0f} + {tt - tb:.0f}) | {ran} of {selected} |", flush=True)
        rows.append({"n": i, "mutant": what, "file": path, "result": result, "killed_by": by, "seconds": round(tt, 1),
                     "build_seconds": round(tb, 1), "tests_run": ran, "tests_selected": selected, "changed": exes})
    run(["cmake", "--build", build, "-j", jobs], tree)
    if a.json:
        json.dump(rows, open(a.json, "w"), indent=1)
    print(f"\nmutation score: {killed}/{total} killed")
    if not a.keep and not a.scratch:
        shutil.rmtree(scratch, ignore_errors=True)
    sys.exit(0 if killed == total else 1)


if __name__ == "__main__":
    main()
