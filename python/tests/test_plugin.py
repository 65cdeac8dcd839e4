"""The pytest plugin in a test session of its own (pytester, loaded by the ctest's -p pytester): fixtures give checkpoints of the
spec asked for, and the assertion helper fails with the first differing element, its module and a
reproduce command that, run, fails the same way."""

import shlex
import subprocess

import pytest

TESTS = '''
import pytest
import nvfp4
from nvfp4 import reference


@pytest.mark.nvfp4_spec(layers=1, experts=2)
def test_marker_spec(nvfp4_checkpoint):
    kinds = [m["kind"] for m in nvfp4.inspect(nvfp4_checkpoint)["modules"]]
    assert "experts" in kinds


@pytest.mark.parametrize("nvfp4_checkpoint", [dict(layers=3)], indirect=True)
def test_param_spec(nvfp4_checkpoint):
    assert len(nvfp4.inspect(nvfp4_checkpoint)["modules"]) == 3 * 4


def test_factory(nvfp4_checkpoint_factory):
    a, b = nvfp4_checkpoint_factory(seed=1), nvfp4_checkpoint_factory(seed=1)
    assert a != b and (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()


def sglang_state(ckpt):
    # The reference's parameters are what sglang holds, plus weight_global_scale (w4a16's), which
    # sglang does not register.
    return {k: v for k, v in reference.process(ckpt).items() if not k.endswith(".weight_global_scale")}


def test_state_holds(nvfp4_checkpoint, nvfp4_assert_state):
    assert nvfp4_assert_state(nvfp4_checkpoint, sglang_state(nvfp4_checkpoint)).passed


def test_state_off_by_one_block(nvfp4_checkpoint, nvfp4_assert_state):
    state = sglang_state(nvfp4_checkpoint)
    name = "model.layers.0.mlp.down_proj.weight"
    state[name] = state[name].copy()
    state[name][5, 3] ^= 0x11
    nvfp4_assert_state(nvfp4_checkpoint, state)
'''


def test_plugin_in_a_session(pytester):
    pytester.makepyfile(TESTS)
    r = pytester.runpytest_subprocess("-p", "nvfp4.pytest_plugin", "-q")
    r.assert_outcomes(passed=4, failed=1)
    r.stdout.fnmatch_lines(["*first difference: module model.layers.0.mlp.down_proj, model.layers.0.mlp.down_proj.weight*",
                            "*reproduce: nvfp4 diff *state.safetensors --engine sglang==0.5.23*"])
    line = next(x for x in r.outlines if "reproduce: nvfp4 diff" in x)
    cmd = shlex.split(line.split("reproduce: ", 1)[1])
    from conftest import nvfp4_bin

    again = subprocess.run([nvfp4_bin(), *cmd[1:]], capture_output=True, text=True)
    assert again.returncode == 1 and "model.layers.0.mlp.down_proj.weight" in again.stdout, again.stdout + again.stderr
