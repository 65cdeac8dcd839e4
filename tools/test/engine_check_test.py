#!/usr/bin/env python3
"""`nvfp4 engine-check` on one engine release (label `engines`): the environment is made or reused
(scripts/engine_env.sh), the properties run with a small example budget and a fixed seed, the
release's known finding classes expected, and the --json report is validated against
docs/schema/engine-check-report.schema.json (jsonschema from .venv).

Exit 77 (ctest SKIP, never a pass) only when the environment cannot be made: no network to PyPI,
no torch wheel for this machine. Any other failure fails.

    engine_check_test.py NVFP4_BINARY SOURCE_DIR ENGINE==VERSION EXAMPLES [--expect CLASS]...
"""
import json
import pathlib
import subprocess
import sys

import jsonschema
import referencing


def main():
    binary, root, spec, examples, *expect = sys.argv[1:]
    root = pathlib.Path(root)
    env = subprocess.run(["bash", str(root / "scripts" / "engine_env.sh"), spec], capture_output=True, text=True)
    if env.returncode != 0:
        print(f"SKIPPED: no environment for {spec}: {env.stderr.strip().splitlines()[-1:]}")
        return 77
    r = subprocess.run([binary, "engine-check", "--engine", spec, "--examples", examples, "--seed", "0", "--json", *expect],
                       capture_output=True, text=True)
    if r.returncode not in (0, 1):
        sys.exit(f"engine-check exit {r.returncode}\n{r.stderr[-3000:]}")
    schemas = {p.name: json.loads(p.read_text()) for p in (root / "docs" / "schema").glob("*.schema.json")}
    registry = referencing.Registry().with_resources(
        (s["$id"], referencing.Resource.from_contents(s)) for s in schemas.values())
    report = json.loads(r.stdout)
    jsonschema.Draft202012Validator(schemas["engine-check-report.schema.json"], registry=registry).validate(report)
    if r.returncode != 0 or not report["passed"]:
        sys.exit(f"{spec}: a property failed\n{json.dumps(report['backends'], indent=1)[:6000]}")
    # the probes (engines/specs.py PROBES) must show the shard-scale classes both releases have
    missed = {"unreconciled-shard-scales", "up-half-uses-gate-scale"} & set(report["expected_unseen"])
    if missed:
        sys.exit(f"{spec}: expected but not seen: {sorted(missed)}")
    print(f"{spec}: every property holds on {[b['backend'] for b in report['backends']]}; seen {report['seen']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
