"""ctest's tests as `ctest --show-only=json-v1` describes them, and what each one's command runs."""
import json
import os
import re
import subprocess
import sys


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
