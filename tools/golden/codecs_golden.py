#!/usr/bin/env python3
"""Conversion truth from ml_dtypes and numpy for core's decoders and the generator's encoders.

Writes OUT/codecs.safetensors (with safetensors' own writer):
  x            U32 [n]  float32 bit patterns: random bits, and values at/around every midpoint
  e4m3_nosat   U8  [n]  ml_dtypes float8_e4m3fn cast (NaN on overflow)
  e4m3_sat     U8  [n]  the same after clipping to +-448 (what satfinite producers compute)
  e2m1         U8  [n]  ml_dtypes float4_e2m1fn cast
  bf16, f16    U16 [n]  ml_dtypes bfloat16 / numpy float16 casts
  e4m3_decode  F32 [256], e2m1_decode F32 [16], bf16_decode/f16_decode F32 [65536]
NaN inputs are left out of the encoder columns (their codes are a per-library choice,
docs/formats.md#nan-and-infinity), and kept out of `x` entirely.
"""
import sys

import ml_dtypes
import numpy as np
from safetensors.numpy import save_file


def around(values, ulps=3):
    """Each value and its neighbours within a few float32 ulps, both signs."""
    v = np.asarray(values, dtype=np.float32)
    bits = v.view(np.uint32).astype(np.int64)
    out = [bits + d for d in range(-ulps, ulps + 1)]
    b = np.concatenate(out).clip(0, 0x7F7FFFFF).astype(np.uint32)
    return np.concatenate([b, b | np.uint32(0x80000000)])


def main(out_dir):
    rng = np.random.default_rng(20261122)
    e4m3_vals = np.arange(0, 0x7F, dtype=np.uint8).view(ml_dtypes.float8_e4m3fn).astype(np.float64)
    e2m1_vals = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6, 8], dtype=np.float64)
    mids = np.concatenate([(e4m3_vals[1:] + e4m3_vals[:-1]) / 2, [464.0, 480.0, 448.0],
                           (e2m1_vals[1:] + e2m1_vals[:-1]) / 2])
    parts = [
        rng.integers(0, 2**32, size=3_000_000, dtype=np.uint64).astype(np.uint32),  # any pattern
        rng.standard_normal(1_000_000).astype(np.float32).view(np.uint32),           # typical weights
        (rng.standard_normal(500_000) * 1e-3).astype(np.float32).view(np.uint32),    # subnormal ranges
        around(mids), around(e4m3_vals), around(e2m1_vals),
        np.array([0x7F800000, 0xFF800000, 0x7F7FFFFF, 0xFF7FFFFF, 0, 0x80000000, 1, 0x80000001,
                  0x477FF000, 0x477FEFFF], dtype=np.uint32),
    ]
    x = np.concatenate(parts)
    xf = x.view(np.float32)
    x = x[~np.isnan(xf)]
    xf = x.view(np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        tensors = {
            "x": x,
            "e4m3_nosat": xf.astype(ml_dtypes.float8_e4m3fn).view(np.uint8),
            "e4m3_sat": np.clip(xf, -448, 448).astype(ml_dtypes.float8_e4m3fn).view(np.uint8),
            "e2m1": xf.astype(ml_dtypes.float4_e2m1fn).view(np.uint8),
            "bf16": xf.astype(ml_dtypes.bfloat16).view(np.uint16),
            "f16": xf.astype(np.float16).view(np.uint16),
            "e4m3_decode": np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e4m3fn).astype(np.float32),
            "e2m1_decode": np.arange(16, dtype=np.uint8).view(ml_dtypes.float4_e2m1fn).astype(np.float32),
            "bf16_decode": np.arange(65536, dtype=np.uint32).astype(np.uint16).view(ml_dtypes.bfloat16).astype(np.float32),
            "f16_decode": np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32),
        }
    save_file(tensors, f"{out_dir}/codecs.safetensors", metadata={"ml_dtypes": ml_dtypes.__version__,
                                                                  "numpy": np.__version__})


if __name__ == "__main__":
    main(sys.argv[1])
