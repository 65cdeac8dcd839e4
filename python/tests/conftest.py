"""Shared fixtures of the package's own tests. The build tree's package is on PYTHONPATH (ctest
python_package sets it, with NVFP4_BIN, the nvfp4 command the CLI side of each comparison runs,
and the paths of the committed engine dumps and the schemas)."""

import json
import os
import pathlib
import subprocess

import jsonschema
import pytest
import referencing

ROOT = pathlib.Path(__file__).resolve().parents[2]
DUMPS = pathlib.Path(os.environ.get("NVFP4_ENGINE_DUMPS", ROOT / "tools" / "engine_dumps" / "data"))
SCHEMAS = ROOT / "docs" / "schema"


def nvfp4_bin() -> str:
    b = os.environ.get("NVFP4_BIN")
    if not b:
        pytest.skip("NVFP4_BIN (the nvfp4 command) is not set")
    return b


def run_cli(*args: str, expect=None):
    """The nvfp4 command as a separate process: (exit code, stdout, stderr)."""
    r = subprocess.run([nvfp4_bin(), *args], capture_output=True, text=True, timeout=600)
    if expect is not None:
        assert r.returncode == expect, f"{args}: exit {r.returncode}\n{r.stderr}"
    return r.returncode, r.stdout, r.stderr


@pytest.fixture(scope="session")
def validators():
    """One Draft 2020-12 validator per report schema of docs/schema/."""
    schemas = {p.name.split(".")[0]: json.loads(p.read_text()) for p in SCHEMAS.glob("*.schema.json")}
    registry = referencing.Registry().with_resources((s["$id"], referencing.Resource.from_contents(s)) for s in schemas.values())
    return {name: jsonschema.Draft202012Validator(s, registry=registry) for name, s in schemas.items()}
