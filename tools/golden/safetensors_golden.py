#!/usr/bin/env python3
"""Files written by safetensors' own Python writer, with a manifest of what they must contain.

OUT/st/<case>.safetensors and OUT/st/manifest.json: {case: {"metadata": {...}, "tensors":
{name: {"dtype": "F32", "shape": [...], "hex": "<raw little-endian bytes>"}}}}. The bytes come
from numpy's tobytes(), not from the safetensors serializer, so the C++ reader is checked
against an independent description of each file.
"""
import json
import os
import sys

import ml_dtypes
import numpy as np
from safetensors.numpy import save_file

DTYPES = {
    np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(ml_dtypes.bfloat16): "BF16",
    np.dtype(ml_dtypes.float8_e4m3fn): "F8_E4M3", np.dtype(np.uint8): "U8", np.dtype(np.int8): "I8",
    np.dtype(np.int64): "I64", np.dtype(np.bool_): "BOOL", np.dtype(np.int32): "I32", np.dtype(np.float64): "F64",
    np.dtype(np.uint16): "U16",
}


def case_tensors(rng):
    yield "mixed", {
        "a.weight": rng.standard_normal((7, 5)).astype(np.float32),
        "b.half": rng.standard_normal((3, 4)).astype(np.float16),
        "c.bf16": rng.standard_normal((2, 9)).astype(ml_dtypes.bfloat16),
        "d.scale": (rng.random((4, 3)) * 400).astype(ml_dtypes.float8_e4m3fn),
        "e.packed": rng.integers(0, 256, (6, 8), dtype=np.uint8),
        "f.scalar": np.array(0.0011160715, dtype=np.float32),
        "g.empty": np.zeros((0, 3), dtype=np.float32),
        "h.ids": rng.integers(-2**40, 2**40, (5,), dtype=np.int64),
        "i.mask": rng.random((3, 3)) > 0.5,
        "j.i8": rng.integers(-128, 128, (11,), dtype=np.int8),
    }, {"format": "pt", "note": "golden"}
    yield "nvfp4_like", {
        "model.layers.0.mlp.down_proj.weight": rng.integers(0, 256, (32, 8), dtype=np.uint8),
        "model.layers.0.mlp.down_proj.weight_scale": (rng.random((32, 1)) * 448).astype(ml_dtypes.float8_e4m3fn),
        "model.layers.0.mlp.down_proj.weight_scale_2": np.array(1.25e-4, dtype=np.float32),
        "model.layers.0.mlp.down_proj.input_scale": np.array([3.0e-3], dtype=np.float32),
    }, None
    yield "no_tensors", {}, {"only": "metadata"}
    yield "many", {f"t{i:03d}": rng.standard_normal((i % 5 + 1,)).astype(np.float64) for i in range(120)}, None


def main(out_dir):
    rng = np.random.default_rng(7)
    d = os.path.join(out_dir, "st")
    os.makedirs(d, exist_ok=True)
    manifest = {}
    for name, tensors, metadata in case_tensors(rng):
        save_file(tensors, os.path.join(d, name + ".safetensors"), metadata=metadata)
        manifest[name] = {
            "metadata": metadata or {},
            "tensors": {k: {"dtype": DTYPES[v.dtype], "shape": list(v.shape), "hex": v.tobytes().hex()}
                        for k, v in tensors.items()},
        }
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1])
