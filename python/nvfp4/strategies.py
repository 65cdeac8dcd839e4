"""Hypothesis strategies for NVFP4 tests (needs ``hypothesis``: ``pip install nvfp4-verify[testing]``).

- ``checkpoint_specs()``: ``make_checkpoint`` options (shapes, layouts, formats, experts, unequal
  shard scales, scalar styles, W4A16), always valid; ``checkpoints(root)`` writes one and gives
  ``(path, spec)``.
- ``shapes()``, ``layouts()``, ``formats()``: the parts.
- ``scale_patterns()``: float32 weights built so that ModelOpt's quantization (docs/formats.md,
  "ModelOpt export arithmetic") meets the cases that break pipelines: elements exactly on E2M1
  rounding midpoints, all-zero blocks, blocks at E4M3's largest (448) and subnormal scales;
  ``shard_amaxes()``: equal or unequal global scales for a fused group's shards.
"""

from __future__ import annotations

import itertools
import os
import pathlib
import tempfile
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
from hypothesis import strategies as st

from . import api

# E2M1 magnitudes, and the points halfway between neighbours (where round-to-nearest-even decides).
E2M1_VALUES = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)
E2M1_MIDPOINTS = (0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0)


def layouts() -> st.SearchStrategy[str]:
    """"fused" (q/k/v and gate/up stored as one tensor each) or "unfused"."""
    return st.sampled_from(["fused", "unfused"])


def formats() -> st.SearchStrategy[str]:
    """"modelopt" or "compressed-tensors"."""
    return st.sampled_from(["modelopt", "compressed-tensors"])


def shapes(max_hidden: int = 256, max_intermediate: int = 256) -> st.SearchStrategy[Tuple[int, int]]:
    """(hidden, intermediate): hidden a multiple of 64 (trtllm's experts need it), intermediate a
    multiple of 16 (one block)."""
    return st.tuples(st.integers(1, max_hidden // 64).map(lambda n: 64 * n), st.integers(1, max_intermediate // 16).map(lambda n: 16 * n))


@st.composite
def checkpoint_specs(draw: Any, max_layers: int = 2, max_experts: int = 4, max_hidden: int = 256, max_intermediate: int = 256) -> Dict[str, Any]:
    """Options for ``make_checkpoint`` that it accepts: dense or MoE, fused or unfused, ModelOpt or
    compressed-tensors, shared or unequal shard scales (unfused only), scalar styles, W4A16."""
    hidden, intermediate = draw(shapes(max_hidden, max_intermediate))
    head_dim = draw(st.sampled_from([d for d in (16, 32, 64) if hidden % d == 0]))
    heads = hidden // head_dim
    layout = draw(layouts())
    spec: Dict[str, Any] = {
        "layout": layout,
        "format": draw(formats()),
        "layers": draw(st.integers(1, max_layers)),
        "hidden": hidden,
        "intermediate": intermediate,
        "head_dim": head_dim,
        "kv_heads": draw(st.sampled_from([0] + [k for k in range(1, heads + 1) if heads % k == 0])),
        "experts": draw(st.sampled_from([0] + list(range(1, max_experts + 1)))),
        "unequal_scales": layout == "unfused" and draw(st.booleans()),
        "w4a16": draw(st.booleans()),
        "scalars": draw(st.sampled_from(["0d", "1d", "bf16"])),
        "seed": draw(st.integers(0, 2**31 - 1)),
    }
    return spec


@st.composite
def checkpoints(draw: Any, root: Optional[Union[str, "os.PathLike[str]"]] = None, specs: Any = None) -> Tuple[pathlib.Path, Dict[str, Any]]:
    """Writes a checkpoint of a drawn spec into a new directory under ``root`` (default: the
    system's temporary directory) and returns (path, spec)."""
    spec = draw(specs if specs is not None else checkpoint_specs())
    path = pathlib.Path(tempfile.mkdtemp(prefix="nvfp4-", dir=root))
    return api.make_checkpoint(path, **spec), spec


def e4m3_scales(subnormal: bool = True) -> st.SearchStrategy[float]:
    """Positive E4M3 values (block scales), from 2^-9 (subnormal) or 2^-6 up to 448."""
    normal = [m * 2.0**e for e in range(-6, 9) for m in (1.0, 1.125, 1.25, 1.375, 1.5, 1.625, 1.75, 1.875) if m * 2.0**e <= 448]
    sub = [k * 2.0**-9 for k in range(1, 8)] if subnormal else []
    return st.sampled_from(sorted(sub + normal))


def shard_amaxes(shards: int = 3) -> st.SearchStrategy[List[float]]:
    """Per-shard amax of a fused group: all equal (one global scale) or unequal by up to 2^8."""
    base = st.floats(1 / 128, 128.0, allow_nan=False, width=32)
    equal = base.map(lambda a: [a] * shards)
    unequal = st.tuples(base, st.lists(st.integers(-8, 8), min_size=shards, max_size=shards)).map(lambda t: [t[0] * 2.0**k for k in t[1]])
    return st.one_of(equal, unequal)


def _block(pattern: str, S: float, s2: float, draw: Any) -> np.ndarray:
    """16 f32 elements whose ModelOpt block scale is exactly S: one element at +-6 S s2 (the block's
    vmax), the others by pattern."""
    unit = np.float32(S) * np.float32(s2)
    if pattern == "zero":
        return np.zeros(16, np.float32)
    pool = E2M1_MIDPOINTS if pattern == "midpoints" else E2M1_VALUES
    mags = draw(st.lists(st.sampled_from(pool), min_size=15, max_size=15))
    signs = draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=16, max_size=16))
    vals = np.array([6.0] + mags, np.float32) * np.array(signs, np.float32) * unit
    return vals[draw(st.permutations(range(16)))]


@st.composite
def scale_patterns(draw: Any, max_rows: int = 8, max_blocks: int = 4) -> Tuple[np.ndarray, float]:
    """(w float32 [N, K], s2): a weight whose global scale s2 is a power of two (amax = 2688 s2, held
    by one block at scale 448) and whose every block has an exact E4M3 scale (subnormal ones
    included) with its elements on E2M1 rounding midpoints, on the E2M1 grid, or all zero. Every
    division ModelOpt's arithmetic makes is then exact, so the expected codes follow from the
    midpoints alone (ties to even)."""
    N = draw(st.integers(1, max_rows))
    K = 16 * draw(st.integers(1, max_blocks))
    s2 = 2.0 ** draw(st.integers(-20, -4))
    w = np.zeros((N, K), np.float32)
    for r, b in itertools.product(range(N), range(K // 16)):
        pattern = draw(st.sampled_from(["midpoints", "grid", "zero"]))
        w[r, 16 * b:16 * (b + 1)] = _block(pattern, draw(e4m3_scales()), s2, draw)
    w[0, :16] = _block("midpoints", 448.0, s2, draw)  # the global amax: 6 * 448 * s2 = 2688 s2
    return w, s2


__all__ = ["checkpoint_specs", "checkpoints", "shapes", "layouts", "formats", "scale_patterns", "shard_amaxes", "e4m3_scales",
           "E2M1_VALUES", "E2M1_MIDPOINTS"]
