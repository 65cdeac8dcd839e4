"""The reference pipeline (reference/) as functions on numpy arrays: the oracle the suite judges
every other pipeline and engine against.

Block scales are E4M3 bytes: uint8 arrays, or ml_dtypes.float8_e4m3fn arrays (the same bytes).
"""

from __future__ import annotations

import os
from typing import Any, Dict, NamedTuple, Optional, Union

import numpy as np

from . import _arrays, _core

PathLike = Union[str, "os.PathLike[str]"]


class Quantized(NamedTuple):
    """A quantized weight: ``weight`` packed E2M1 codes uint8 [N, K/2] (even K index in the low
    nibble), ``scale`` E4M3 block scales float8_e4m3fn [N, K/16], ``global_scale`` the decode
    scale (ModelOpt's weight_scale_2)."""

    weight: np.ndarray
    scale: np.ndarray
    global_scale: float


def process(checkpoint: PathLike, backend: str = "cutlass") -> Dict[str, np.ndarray]:
    """Loads the checkpoint into the reference pipeline, post-processes it for ``backend``
    ("cutlass" or "trtllm") and returns every parameter by name, as ``nvfp4 process --pipeline
    reference`` writes them (BF16 and FP8 as ml_dtypes arrays). The arrays are the pipeline's own
    memory, not copies; two names the pipeline aliases share it."""
    return {name: _arrays.from_core(dtype, a) for name, dtype, a in _core.process(os.fspath(checkpoint), backend)}


def quantize(w: Any, amax: Optional[float] = None) -> Quantized:
    """ModelOpt's NVFP4 export arithmetic (docs/formats.md#modelopt-export-arithmetic) on a float32
    [N, K] matrix, K a multiple of 16: what ``make_checkpoint`` writes. ``amax`` is the max |w|
    the global scale comes from (a fused group's shared amax; default: this matrix's)."""
    weight, scale, s2 = _core.quantize(np.ascontiguousarray(w, dtype=np.float32), amax)
    return Quantized(weight, _arrays.from_core("F8_E4M3", scale), float(s2))


def dequantize(weight: Any, scale: Any, global_scale: float) -> np.ndarray:
    """e2m1(code) * e4m3(block scale) * global_scale for every element, float64 [N, K]: exact
    (the product has at most 30 significant bits, which a float32 would round)."""
    return _core.dequantize(np.asarray(weight), _arrays.as_bytes(scale), float(global_scale))


def gemm(x: Any, weight: Any, scale: Any, global_scale: float, mode: str = "w4a16", alpha: float = 1.0,
         input_scale_inv: float = 1.0) -> np.ndarray:
    """The exact GEMM oracle: y[M, N] = x[M, K] . W^T with every product and the whole sum exact,
    rounded once (to nearest, ties to even) into x's dtype (float32, float16 or bfloat16).

    ``mode`` "w4a16" multiplies x as it is by the dequantized weight; "w4a4" first quantizes x to
    NVFP4 with ``input_scale_inv`` as its global encode scale, multiplies it by the codes times
    their block scales and the sum by ``alpha`` (which carries both global scales, as the engines'
    alpha does: ``global_scale`` is not applied in w4a4).
    NaN or Inf activations raise BadInputError, as in the pipelines.
    """
    name, dtype, xa = _arrays.entry("x", np.asarray(x))
    y = _core.gemm_exact(xa, dtype, np.asarray(weight), _arrays.as_bytes(scale), float(global_scale), mode, float(alpha), float(input_scale_inv))
    return _arrays.from_core(dtype or "", y)


__all__ = ["Quantized", "process", "quantize", "dequantize", "gemm"]
