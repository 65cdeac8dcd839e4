"""Tensors to the extension without copies, and its arrays back as numpy arrays of their dtype.

Torch tensors and numpy arrays go through nanobind as they are (DLPack or the buffer protocol);
dtypes DLPack cannot name the same way everywhere (FP8, ml_dtypes' bfloat16 in numpy) are passed
as a same-size integer view plus the safetensors dtype name. Only a tensor on another device or
a non-contiguous one is copied, as it must be.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Tuple, Union

import ml_dtypes
import numpy as np

Entry = Tuple[str, str, Any]  # (name, safetensors dtype or "" for the array's own, array)

# numpy dtype names whose arrays cross as an integer view of the same bytes.
_NUMPY_VIEWS = {
    "bfloat16": ("BF16", np.uint16),
    "float8_e4m3fn": ("F8_E4M3", np.uint8),
    "float8_e5m2": ("F8_E5M2", np.uint8),
    "float8_e8m0fnu": ("F8_E8M0", np.uint8),
}
# The other way: extension arrays of these dtypes arrive as integers and are viewed back.
_FROM_CORE = {
    "BF16": ml_dtypes.bfloat16,
    "F8_E4M3": ml_dtypes.float8_e4m3fn,
    "F8_E5M2": ml_dtypes.float8_e5m2,
    "F8_E8M0": ml_dtypes.float8_e8m0fnu,
}
_TORCH_VIEWS = {
    "torch.float8_e4m3fn": "F8_E4M3",
    "torch.float8_e5m2": "F8_E5M2",
    "torch.float8_e8m0fnu": "F8_E8M0",
}

State = Union[Mapping[str, Any], Iterable[Tuple[str, Any]]]


def _torch_entry(name: str, t: Any) -> Entry:
    t = t.detach()  # DLPack refuses tensors that require grad; detach() shares the storage
    if t.device.type != "cpu":
        t = t.cpu()  # device memory is not host memory: the one copy that must happen
    if not t.is_contiguous():
        t = t.contiguous()
    dtype = str(t.dtype)
    if dtype in _TORCH_VIEWS:
        import torch

        return name, _TORCH_VIEWS[dtype], t.view(torch.uint8)
    return name, "", t


def entry(name: str, value: Any) -> Entry:
    """One state item as the extension takes it, sharing the value's memory."""
    if type(value).__module__.startswith("torch"):
        return _torch_entry(name, value)
    if isinstance(value, np.ndarray) and value.dtype.name in _NUMPY_VIEWS:
        dtype, view = _NUMPY_VIEWS[value.dtype.name]
        return name, dtype, np.ascontiguousarray(value).view(view)
    return name, "", value


def entries(state: State) -> list:
    """Every item of a mapping (``model.state_dict()``) or of (name, tensor) pairs
    (``model.named_parameters()``)."""
    items = state.items() if isinstance(state, Mapping) else state
    return [entry(str(name), value) for name, value in items]


def from_core(dtype: str, array: np.ndarray) -> np.ndarray:
    """An extension array viewed as its safetensors dtype (BF16, FP8 as ml_dtypes types)."""
    view = _FROM_CORE.get(dtype)
    return array.view(view) if view is not None else array


def as_bytes(array: Any) -> np.ndarray:
    """FP8 block scales as their bytes, whichever dtype holds them (uint8 or ml_dtypes float8)."""
    a = np.asarray(array)
    return a.view(np.uint8) if a.dtype.itemsize == 1 and a.dtype != np.uint8 else a
