"""Torch tensors as they come out of a model: BF16 and FP8 through DLPack, tensors that require
grad, aliases; without a copy. Skipped where torch is not installed (CI's venv)."""

import numpy as np
import pytest

import nvfp4
import st_read
from conftest import DUMPS

torch = pytest.importorskip("torch")


def test_torch_state_equals_numpy_state():
    dump = DUMPS / "bf16_scalars.sglang.safetensors"
    state, meta = st_read.read(dump)
    ts = {}
    for name, a in state.items():
        raw = torch.from_numpy(np.ascontiguousarray(a).view(np.uint8).copy())
        dt = {"bfloat16": torch.bfloat16, "float8_e4m3fn": torch.float8_e4m3fn}.get(a.dtype.name)
        ts[name] = raw.view(dt).reshape(a.shape) if dt else torch.from_numpy(a.copy())
    ts = {n: torch.nn.Parameter(t, requires_grad=t.is_floating_point() and t.element_size() > 1) for n, t in ts.items()}
    a = nvfp4.diff(DUMPS / "bf16_scalars", ts, engine="sglang==" + meta.get("engine_version", "0.5.23"))
    b = nvfp4.diff(DUMPS / "bf16_scalars", state, engine="sglang==" + meta.get("engine_version", "0.5.23"))
    assert a.data == b.data


def test_bf16_and_fp8_cross_without_a_copy():
    from nvfp4 import _arrays

    t = torch.zeros(4, 16, dtype=torch.bfloat16)
    name, dtype, v = _arrays.entry("t", t)
    assert v.data_ptr() == t.data_ptr() and dtype == ""
    f = torch.zeros(4, 16, dtype=torch.float8_e4m3fn)
    name, dtype, v = _arrays.entry("f", f)
    assert v.data_ptr() == f.data_ptr() and dtype == "F8_E4M3"
