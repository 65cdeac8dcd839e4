"""Exact GEMM for pipeline_golden.py: sums of exact products in Python integers, rounded once into
the output dtype (ties to even), and the activation rows aimed at rounding midpoints."""
from fractions import Fraction

import ml_dtypes
import numpy as np

from pipeline_layouts import E2M1, F32, e2m1_val, e4m3_satfinite, e4m3_val


FORMATS = {"F32": (24, -126, 127), "BF16": (8, -126, 127), "F16": (11, -14, 15)}
NP = {"F32": np.float32, "BF16": ml_dtypes.bfloat16, "F16": np.float16}


def round_once(fr, fmt):
    """The exact rational fr rounded once to the nearest value of fmt, ties to even."""
    p, emin, emax = FORMATS[fmt]
    if fr == 0:
        return 0.0
    a = abs(fr)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    q = Fraction(2) ** (max(e, emin) - (p - 1))
    r = round(a / q) * q  # Python rounds Fractions half to even
    if r >= Fraction(2) ** (emax + 1):
        r = float("inf")
    return float(r) if fr > 0 else -float(r)


def quantize_activation(x32, gs):
    M, K = x32.shape
    b = x32.reshape(M, K // 16, 16)
    vmax = np.abs(b).max(axis=-1).astype(F32)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        sf = np.where(vmax != 0, vmax * (F32(gs) * F32(1.0 / 6.0)), F32(0)).astype(F32)
        S = e4m3_satfinite(sf)
        os_ = np.where(vmax != 0, np.minimum(F32(1) / (e4m3_val(S) * (F32(1) / F32(gs))), np.finfo(F32).max), F32(0)).astype(F32)
        codes = (b * os_[..., None]).astype(F32).astype(E2M1).view(np.uint8).reshape(M, K)
    return codes, S


SHIFT = 160  # every product x * w below is a multiple of 2^-160: f32 x (2^-149) times E2M1 * E4M3 (2^-1 * 2^-9)


def gemm(x, w, mode, dtype):
    """Exact GEMM, rounded once: the products x_k * w_k are exact in float64 (at most 24 + 6
    significant bits), and scaled by 2^SHIFT they are integers, so Python ints sum them exactly;
    the factor after the sum (the global scale for w4a16, alpha for w4a4) is applied as a Fraction."""
    x32 = x.astype(F32)
    wv = e2m1_val(w["codes"]).astype(np.float64) * np.repeat(e4m3_val(w["scales"]), 16, axis=1).astype(np.float64)
    if mode == "w4a16":
        xv = x32.astype(np.float64)
        post = Fraction(float(w["global_scale"]))
    else:
        codes, S = quantize_activation(x32, w["gs"])
        xv = e2m1_val(codes).astype(np.float64) * np.repeat(e4m3_val(S), 16, axis=1).astype(np.float64)
        post = Fraction(float(w["alpha"]))
    M, N = xv.shape[0], wv.shape[0]
    y = np.zeros((M, N), dtype=np.float64)
    mag = np.zeros((M, N), dtype=np.float64)
    exact = [[None] * N for _ in range(M)]
    unit = Fraction(1, 2 ** SHIFT)
    for i in range(M):
        prods = np.ldexp(xv[i][None, :] * wv, SHIFT)  # exact: a power-of-two scaling of exact products
        for n, row in enumerate(prods.tolist()):
            ints = [int(v) for v in row]
            exact[i][n] = post * sum(ints) * unit
            y[i, n] = round_once(exact[i][n], dtype)
            mag[i, n] = float(abs(post) * sum(abs(v) for v in ints) * unit)
    # sum |x w| per element (for rounding bounds), as f32 rounded up.
    mag32 = mag.astype(F32)
    mag32 = np.where(mag32.astype(np.float64) < mag, np.nextafter(mag32, F32(np.inf)), mag32).astype(F32)
    return y.astype(NP[dtype]), mag32, exact


def is_midpoint(fr, fmt):
    """fr lies exactly halfway between two neighbours of fmt (the grid step q as in round_once)."""
    p, emin, _ = FORMATS[fmt]
    a = abs(fr)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    return (a / Fraction(2) ** (max(e, emin) - (p - 1))).denominator == 2


def midpoint_row(rng, K, dtype, w):
    """An activation row, zero but column 0, whose w4a16 outputs all sit exactly on a rounding
    midpoint of dtype. In a "mid" set column 0's weights are 3 * 2^k and its block and global scales
    powers of two, so an output is 3 m 2^j for x0 = m 2^j' with m odd of p significant bits (x0 fits
    the input dtype); with 3 m < 2^(p + 1) that is p + 1 bits ending in 1: a midpoint of a p-bit
    format, to be rounded to even."""
    p = {"BF16": 8, "F16": 11}[dtype]
    lo, hi = 2 ** (p - 1) + 1, (2 ** (p + 1) - 1) // 3  # m odd in [lo, hi]: 3 m has p + 1 bits
    m = 2 * int(rng.integers(lo // 2, (hi + 1) // 2)) + 1
    scale = float(np.max(np.abs(e2m1_val(w["codes"][:, 0]) * e4m3_val(w["scales"][:, 0])))) * float(w["global_scale"])
    e = -int(np.round(np.log2(scale))) - (p - 1)  # outputs of magnitude ~1, far from F16's subnormals
    row = np.zeros(K, dtype=F32)
    row[0] = F32(m * 2.0 ** e)
    assert float(row[0].astype(NP[dtype])) == m * 2.0 ** e
    return row
