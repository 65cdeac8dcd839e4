"""python -m engines check --engine ENGINE==VERSION [--backend B]... [--examples N] [--seed S]
                          [--expect CLASS]... [--format F]... [--property P]... [--json] --nvfp4 BINARY

Run by `nvfp4 engine-check` with the Python of scripts/engine_env.sh's venv for that release.
Each backend runs in a process of its own (run_backend.py: an engine's backend is process-global
configuration); this collects their results into one report. Exit 0: every property held (finding
classes only where expected); 1: a property failed; 2: bad input (an engine, release, backend or
class this harness does not know, or an installed release other than the one asked for).
"""
import argparse
import importlib.metadata
import json
import math
import os
import subprocess
import sys
import tempfile

from . import findings, properties, stubs


def _releases(engine):
    if engine == "sglang":
        from .sglang import RELEASES
        return {v: r["backends"] for v, r in RELEASES.items()}
    from .vllm import BACKENDS, RELEASES
    return {v: list(BACKENDS) for v in RELEASES}


def _usage(msg):
    print(f"nvfp4 engine-check: {msg}", file=sys.stderr)
    raise SystemExit(2)


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m engines check")
    p.add_argument("--engine", required=True)
    p.add_argument("--backend", action="append", default=[])
    p.add_argument("--examples", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--expect", action="append", default=[])
    p.add_argument("--format", action="append", default=[], choices=["modelopt", "compressed-tensors"])
    p.add_argument("--property", action="append", default=[], choices=list(properties.PROPERTIES))
    p.add_argument("--json", action="store_true")
    p.add_argument("--nvfp4", required=True)
    a = p.parse_args(argv)
    engine, _, version = a.engine.partition("==")
    if engine not in ("sglang", "vllm") or not version:
        _usage(f"--engine {a.engine}: expected sglang==VERSION or vllm==VERSION")
    known = _releases(engine)
    if version not in known:
        _usage(f"--engine {a.engine}: no adapter row for {engine} {version} (known: {', '.join(sorted(known))})")
    installed = importlib.metadata.version(engine)
    if installed != version:
        _usage(f"--engine {a.engine}: this environment has {engine} {installed} ({sys.executable})")
    for b in a.backend:
        if b not in known[version]:
            _usage(f"--backend {b}: {engine} {version} post-processes {', '.join(known[version])} on a CPU")
    for c in a.expect:
        if c not in findings.CLASSES:
            _usage(f"--expect {c}: not a finding class ({', '.join(findings.CLASSES)})")
    a.engine, a.version, a.backends = engine, version, a.backend or known[version]
    return a


def run_backend(a, backend, work):
    out = os.path.join(work, f"{backend}.json")
    cmd = [sys.executable, "-m", "engines.run_backend", "--engine", a.engine, "--backend", backend,
           "--examples", str(a.examples), "--seed", str(a.seed), "--nvfp4", a.nvfp4, "--out", out]
    for c in a.expect:
        cmd += ["--expect", c]
    for f in a.format:
        cmd += ["--format", f]
    for q in a.property:
        cmd += ["--property", q]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    if r.returncode != 0 or not os.path.exists(out):
        tail = (r.stderr.strip().splitlines() or ["no output"])[-1]
        return {"backend": backend, "examples": 0, "refused_specs": 0, "refusals": [], "findings_seen": [], "not_run": {},
                "smallest_failing": None, "failures": [properties.failure(
                    "cold-diff", "setting up the backend", "", detail=tail)]}
    with open(out) as f:
        return json.load(f)


def finite(x):
    """JSON has no NaN or infinity: such a value (an unwritten slot, say) is written as its name."""
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, dict):
        return {k: finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [finite(v) for v in x]
    return x


def text(report):
    lines = [f"engine {report['engine']} {report['engine_version']}, {report['examples_per_backend']} example(s) per "
             f"backend, seed {report['seed']}, memory modes {', '.join(report['memory_modes'])}"]
    for b in report["backends"]:
        status = "FAIL" if b["failures"] else "ok"
        lines.append(f"\n{b['backend']}: {status} ({b['examples']} example(s), {b['refused_specs']} refused: not checked)")
        for why in b["refusals"]:
            lines.append(f"  refused: {why}")
        for prop, why in b["not_run"].items():
            lines.append(f"  {prop}: not run ({why})")
        if b["findings_seen"]:
            lines.append(f"  finding classes seen: {', '.join(b['findings_seen'])}")
        if b["smallest_failing"]:
            lines.append(f"  smallest failing checkpoint: {b['smallest_failing']}")
        for f in b["failures"]:
            where = f"{f['parameter']}[{f['index']}]" if f.get("index") is not None else f["parameter"]
            lines.append(f"  {f['property']} ({f.get('mode', '-')} memory), step '{f['step']}': {where or '-'}"
                         + (f": expected {f['expected']}, got {f['actual']}" if f.get("expected") is not None else "")
                         + (f" -- {f['detail']}" if f.get("detail") else ""))
    lines.append(f"\nexpected classes: {', '.join(report['expected']) or 'none'}; seen: "
                 f"{', '.join(report['seen']) or 'none'}")
    if report["expected_unseen"]:
        lines.append(f"expected but not seen: {', '.join(report['expected_unseen'])} (no spec drawn showed them)")
    for c in report["seen"]:
        lines.append(f"  {c}: {findings.CLASSES[c][0]} ({'; '.join(findings.CLASSES[c][1])})")
    lines.append(f"stubbed: {'; '.join(s for s, _ in stubs.STUBS)}")
    lines.append("all properties hold" if report["status"] == "hold" else "a property failed")
    return "\n".join(lines)


def main(argv):
    if not argv or argv[0] != "check":
        _usage("usage: python -m engines check --engine ENGINE==VERSION --nvfp4 BINARY [...]")
    a = parse(argv[1:])
    with tempfile.TemporaryDirectory(prefix="nvfp4-engine-check-") as work:
        results = [run_backend(a, b, work) for b in a.backends]
    seen = sorted({c for r in results for c in r["findings_seen"]})
    report = {"engine": a.engine, "engine_version": a.version, "seed": a.seed,
              "examples_per_backend": a.examples, "formats": a.format or ["modelopt", "compressed-tensors"], "memory_modes": ["nan", "garbage"], "expected": sorted(a.expect),
              "seen": seen, "expected_unseen": sorted(set(a.expect) - set(seen)), "properties": a.property or list(properties.PROPERTIES), "backends": results,
              "stubs": [{"stub": s, "why": w} for s, w in stubs.STUBS],
              "status": "fail" if any(r["failures"] for r in results) else "hold"}
    print(json.dumps(finite(report), indent=1, default=str, allow_nan=False) if a.json else text(report))
    return 0 if report["status"] == "hold" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
