"""nvfp4.diff on a state in memory gives the report `nvfp4 diff --json` gives on the same tensors
in a dump file: on every committed engine dump (tools/engine_dumps/data, written by sglang's and
vLLM's own code), passing and failing, field for field (only the dump's label and the command
line differ)."""

import pathlib

import pytest

import nvfp4
import st_read
from conftest import DUMPS, run_cli

DUMP_FILES = sorted(DUMPS.glob("*.safetensors"))


def checkpoint_of(dump: pathlib.Path) -> pathlib.Path:
    return DUMPS / dump.name.split(".")[0]


def engine_spec(meta):
    return meta["engine"] + ("==" + meta["engine_version"].split("+")[0] if "engine_version" in meta else "")


def test_every_committed_dump_is_compared():
    assert len(DUMP_FILES) >= 40, DUMP_FILES


@pytest.mark.parametrize("dump", DUMP_FILES, ids=lambda p: p.name)
def test_in_memory_equals_cli(dump, validators):
    state, meta = st_read.read(dump)
    engine, backend = engine_spec(meta), meta.get("backend")
    args = ["diff", str(checkpoint_of(dump)), str(dump), "--engine", engine]
    if backend:
        args += ["--backend", backend.replace("flashinfer_trtllm", "trtllm")]
    rc, out, err = run_cli(*args, "--json")
    assert rc in (0, 1), err
    cli = nvfp4.DiffReport.from_json(out)
    mem = nvfp4.diff(checkpoint_of(dump), state, engine=engine, backend=backend and backend.replace("flashinfer_trtllm", "trtllm"))
    assert list(validators["diff-report"].iter_errors(mem.data)) == []
    assert mem["dump"] == "<state>" and cli["dump"] == str(dump)
    strip = lambda r: {k: v for k, v in r.data.items() if k not in ("dump", "command_line")}  # noqa: E731
    assert strip(mem) == strip(cli)
    assert mem.passed == (rc == 0)
    assert sum(not m.passed for m in mem.modules) == mem["modules_failed"]


def test_some_dumps_fail_and_some_pass():
    """The comparison above covers both verdicts (a test of equal reports on passing dumps only
    could not tell a diff that never looks)."""
    verdicts = set()
    for dump in DUMP_FILES:
        state, meta = st_read.read(dump)
        verdicts.add(nvfp4.diff(checkpoint_of(dump), state, engine=engine_spec(meta), backend=meta.get("backend")).passed)
    assert verdicts == {True, False}


def test_a_planted_fault_is_found_in_memory():
    """One block scale changed in the state (not in any file) fails its module, and the first
    mismatch names that parameter."""
    dump = DUMPS / "dense.sglang.safetensors"
    state, meta = st_read.read(dump)
    name = next(n for n in sorted(state) if n.endswith("qkv_proj.weight_scale"))
    raw = state[name].view("uint8")
    raw.flat[0] ^= 0x08
    r = nvfp4.diff(checkpoint_of(dump), state, engine=engine_spec(meta))
    assert not r.passed
    module, first = r.first_difference()
    assert module.module == name.rsplit(".", 1)[0]
    assert first is not None and first.param.startswith("weight_scale")


def test_named_parameters_pairs_are_a_state():
    dump = DUMPS / "dense.vllm.safetensors"
    state, meta = st_read.read(dump)
    r = nvfp4.diff(checkpoint_of(dump), list(state.items()), engine=engine_spec(meta))
    assert r.passed
