"""An engine model's state (names -> bytes, identities, storage addresses), and memory modes that
make a slot nobody wrote visible.

Memory modes (each case runs under both):
  nan      torch.use_deterministic_algorithms(True) with
           torch.utils.deterministic.fill_uninitialized_memory: torch.empty gives NaN (floats) or
           the largest integer, so an unwritten scale is NaN.
  garbage  torch.empty and friends give storage pre-filled with the byte 0x5A: finite in every
           dtype the engines use (F32 1.5e16, BF16 1.5e16, E4M3 208 ... ), as recycled GPU memory
           is rarely NaN and a check that only looks for NaN would pass it.
"""
import contextlib
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from dump_engine_state import engine_tensors  # noqa: E402

MODES = ("nan", "garbage")
GARBAGE_BYTE = 0x5A


def _filled(fn):
    def empty(*a, **k):
        t = fn(*a, **k)
        if t.numel():
            torch.tensor([], dtype=torch.uint8, device=t.device).set_(t.untyped_storage()).fill_(GARBAGE_BYTE)
        return t
    return empty


@contextlib.contextmanager
def memory_mode(mode):
    if mode == "nan":
        was = torch.are_deterministic_algorithms_enabled(), torch.utils.deterministic.fill_uninitialized_memory
        torch.use_deterministic_algorithms(True)
        torch.utils.deterministic.fill_uninitialized_memory = True
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(was[0])
            torch.utils.deterministic.fill_uninitialized_memory = was[1]
        return
    names = [(torch, "empty"), (torch, "empty_like"), (torch, "empty_strided"), (torch.Tensor, "new_empty")]
    saved = [(o, n, getattr(o, n)) for o, n in names]
    for o, n, f in saved:
        setattr(o, n, _filled(f))
    try:
        yield
    finally:
        for o, n, f in saved:
            setattr(o, n, f)


class Snap:
    """One tensor of the state: a CPU copy of its bytes, its identity and storage address."""
    __slots__ = ("data", "ident", "ptr", "dtype", "shape")

    def __init__(self, t):
        self.ident = id(t)
        self.ptr = t.data_ptr() if t.numel() else None
        self.dtype, self.shape = t.dtype, tuple(t.shape)
        self.data = t.detach().to("cpu", copy=True).contiguous()


def capture(model):
    return {name: Snap(t) for name, t in engine_tensors(model)}


def _bytes(t):
    x = t.reshape(-1)
    # a one-element tensor counts as contiguous whatever its stride, and view() wants stride 1
    x = x.as_strided((1,), (1,)) if x.numel() == 1 else x.contiguous()
    return x.view(torch.uint8)


def value(t, index):
    """Element `index` (flat) of t, as float or int, for messages."""
    x = t.reshape(-1)[index]
    return x.float().item() if x.is_floating_point() else int(x.item())


def first_difference(a, b):
    """None when a and b hold the same bytes under the same names; else (name, index, a, b)."""
    for name in sorted(set(a) | set(b)):
        if name not in b:
            return name, None, "present", "missing"
        if name not in a:
            return name, None, "missing", "present"
        x, y = a[name].data, b[name].data
        if x.dtype != y.dtype or x.shape != y.shape:
            return name, None, f"{x.dtype}{tuple(x.shape)}", f"{y.dtype}{tuple(y.shape)}"
        bx, by = _bytes(x), _bytes(y)
        if not torch.equal(bx, by):
            per = x.element_size()
            i = int((bx != by).nonzero()[0]) // per
            return name, i, value(x, i), value(y, i)
    return None


def identity_change(before, after):
    """None when every tensor is the same object at the same address; else (name, what)."""
    for name in sorted(before):
        if name not in after:
            return name, "deleted"
        if after[name].ident != before[name].ident:
            return name, "rebound to another tensor object"
        if after[name].ptr != before[name].ptr:
            return name, f"storage moved from {before[name].ptr:#x} to {after[name].ptr:#x}"
    for name in sorted(set(after) - set(before)):
        return name, "new after reload"
    return None
