"""The library's errors arrive as the package's exceptions, one class per kind, with the message
the nvfp4 command prints after "nvfp4 CMD: " and the exit code it exits with."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import nvfp4
import st_read
from conftest import DUMPS, run_cli


def cli_message(*args):
    rc, _, err = run_cli(*args)
    first = err.splitlines()[0]
    prefix = f"nvfp4 {args[0]}: "
    assert first.startswith(prefix)
    return rc, first[len(prefix):]


def test_bad_input_is_bad_input_error(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{\"a\": 1}")
    with pytest.raises(nvfp4.BadInputError) as e:
        nvfp4.inspect(tmp_path)
    rc, msg = cli_message("inspect", str(tmp_path))
    assert str(e.value) == msg and e.value.exit_code == rc == 2
    assert isinstance(e.value, ValueError) and e.value.file and str(e.value).startswith(e.value.file)


def test_usage_errors_are_usage_errors(tmp_path):
    with pytest.raises(nvfp4.UsageError) as e:
        nvfp4.make_checkpoint(tmp_path / "c", layers=0)
    rc, msg = cli_message("make-checkpoint", str(tmp_path / "c"), "--layers", "0")
    assert str(e.value) == msg and rc == e.value.exit_code == 2
    with pytest.raises(nvfp4.UsageError, match="did you mean --experts"):
        nvfp4.make_checkpoint(tmp_path / "c", expert=2)
    with pytest.raises(nvfp4.UsageError, match="--unequal-scales needs --layout unfused"):
        nvfp4.make_checkpoint(tmp_path / "c", layout="fused", unequal_scales=True)


def test_diff_errors_name_the_state_and_tensor():
    dump = DUMPS / "dense.sglang.safetensors"
    state, _ = st_read.read(dump)
    ckpt = DUMPS / "dense"
    with pytest.raises(nvfp4.UsageError, match="neither sglang nor vllm|sglang|vllm"):
        nvfp4.diff(ckpt, state, engine="trtllm")
    name = next(n for n in sorted(state) if n.endswith("qkv_proj.weight"))
    state[name] = state[name][:-1]
    with pytest.raises(nvfp4.BadInputError) as e:
        nvfp4.diff(ckpt, state)
    assert e.value.file == "<state>" and e.value.tensor == name and str(e.value).startswith(f"<state>: {name}: ")
    # The dump interface checks every view: bytes that cannot hold the dtype and shape named.
    with pytest.raises(nvfp4.BadInputError, match="holds 3 bytes but F32\\[3\\] needs 12"):
        nvfp4._core.diff_state(str(ckpt), [(name, "F32", np.zeros(3, np.uint8))], "sglang", "", False, "<state>", ["diff"])


def test_state_bytes_must_hold_the_dtype():
    with pytest.raises(nvfp4.UsageError):
        nvfp4.diff(DUMPS / "dense", {}, backend="marlin")
    with pytest.raises(nvfp4.BadInputError, match="none of the"):
        nvfp4.diff(DUMPS / "dense", {"x": np.zeros(4, np.float32)})


def test_out_of_memory_is_out_of_memory_error(tmp_path):
    """Under a data-memory limit below one module, verify raises OutOfMemoryError with exit 3's
    message, as the command exits 3 (tools/test/memory_limit_test.cpp)."""
    ckpt = nvfp4.make_checkpoint(tmp_path / "c", layers=1, hidden=1024, intermediate=4096)
    code = textwrap.dedent(f"""
        import os, resource
        os.environ["NVFP4_THREADS"] = "1"  # no kernel worker threads: their stacks would count too
        import nvfp4
        held = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmData:")) * 1024
        resource.setrlimit(resource.RLIMIT_DATA, (held + (24 << 20), held + (24 << 20)))
        try:
            nvfp4.verify({str(ckpt)!r}, jobs=1, reloads=1, activation_rows=[1])
        except nvfp4.OutOfMemoryError as e:
            print(type(e).__name__, e.exit_code, isinstance(e, MemoryError), e)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.stdout.startswith("OutOfMemoryError 3 True out of memory"), r.stdout + r.stderr
