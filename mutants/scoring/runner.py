"""Runs ctest's tests directly (from their json-v1 description) with ctest's pass/fail rules."""
import os
import re
import signal
import subprocess
import time

from scoring.tests import as_list, prop


class Runner:
    """Runs ctest tests from their json-v1 description, `jobs` at a time, in the given order, with
    ctest's pass/fail rules (WILL_FAIL, SKIP_RETURN_CODE, SKIP/PASS/FAIL_REGULAR_EXPRESSION),
    fixtures and DEPENDS among the tests of one run, RUN_SERIAL and RESOURCE_LOCK."""

    def __init__(self, jobs, outdir):
        self.jobs, self.outdir = jobs, outdir

    def run(self, tests, limits=None, stop_on_failure=True):
        """Runs tests; returns ([{name, seconds, verdict, log}], the first failed or timed-out row or None)."""
        before = self._prerequisites(tests)
        queue, running, done, results, failed = list(tests), {}, set(), [], None
        while queue or running:
            self._start_ready(queue, running, done, before, limits, failed)
            if not running:
                if queue and not failed:  # only unmet dependencies left (a setup failed): run them anyway
                    for t in queue:
                        before[t["name"]] = set()
                    continue
                break
            time.sleep(0.05)
            failed = self._reap(running, done, results, failed, queue, stop_on_failure)
        return results, failed

    @staticmethod
    def _prerequisites(tests):
        """{name: the names of the tests of this run that must finish first} (DEPENDS, fixtures)."""
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
        return before

    def _start_ready(self, queue, running, done, before, limits, failed):
        """Starts, in queue order, what may start now (jobs, RUN_SERIAL, RESOURCE_LOCK, prerequisites)."""
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

    def _reap(self, running, done, results, failed, queue, stop_on_failure):
        """Collects finished (or timed-out) tests into results; returns the first failure so far. With
        stop_on_failure, a failure kills what still runs and empties the queue."""
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
        return failed

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
