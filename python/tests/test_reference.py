"""nvfp4.reference against independent truth: numpy and ml_dtypes decoding, E2M1 ties to even at
every rounding midpoint (Hypothesis scale_patterns), exact products summed in float64, and
`nvfp4 process`'s own file."""

import ml_dtypes
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import nvfp4
from nvfp4 import reference, strategies
import st_read
from conftest import run_cli

E2M1 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6])
# Round half to even on the E2M1 magnitudes: each midpoint goes to the neighbour whose code is even.
MIDPOINT_TO = {0.25: 0.0, 0.75: 1.0, 1.25: 1.0, 1.75: 2.0, 2.5: 2.0, 3.5: 4.0, 5.0: 4.0}


def decode(weight, scale, s2):
    codes = np.stack([weight & 0xF, weight >> 4], axis=-1).reshape(weight.shape[0], -1)
    blocks = np.asarray(scale).view(ml_dtypes.float8_e4m3fn).astype(np.float64)
    return E2M1[codes] * np.repeat(blocks, 16, axis=1) * np.float64(np.float32(s2))


@settings(max_examples=40, deadline=None)
@given(strategies.scale_patterns())
def test_quantize_rounds_midpoints_to_even(pattern):
    w, s2 = pattern
    q = reference.quantize(w)
    assert q.global_scale == s2 and q.scale.dtype == ml_dtypes.float8_e4m3fn
    unit = np.repeat(np.asarray(q.scale).astype(np.float64), 16, axis=1) * s2
    ratio = np.abs(w.astype(np.float64)) / unit
    want = np.vectorize(lambda r: MIDPOINT_TO.get(r, r))(ratio) * np.sign(w) * unit
    got = decode(q.weight, q.scale, q.global_scale)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(reference.dequantize(q.weight, q.scale, q.global_scale), got)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(1, 4), st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_gemm_is_exact(n, kb, m, seed):
    rng = np.random.default_rng(seed)
    K = 16 * kb
    q = reference.quantize(rng.standard_normal((n, K), dtype=np.float32))
    x = rng.integers(-8, 9, (m, K)).astype(np.float32) / 4  # small dyadic values: every product and sum exact in float64
    want = (x.astype(np.float64) @ decode(q.weight, q.scale, q.global_scale).T).astype(np.float32)
    np.testing.assert_array_equal(reference.gemm(x, q.weight, q.scale, q.global_scale, mode="w4a16"), want)
    y16 = reference.gemm(x.astype(ml_dtypes.bfloat16), q.weight, q.scale, q.global_scale)
    assert y16.dtype == ml_dtypes.bfloat16
    np.testing.assert_array_equal(y16, (x.astype(np.float64) @ decode(q.weight, q.scale, q.global_scale).T).astype(ml_dtypes.bfloat16))


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 4), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_gemm_w4a4_on_activations_it_need_not_round(n, kb, m, seed):
    """Activations already NVFP4 at block scale 1 (each block's max |x| is 6, every element on the
    E2M1 grid) with input_scale_inv 1 quantize to themselves: w4a4 is then alpha times the exact
    sum of x by the codes times their block scales, and alpha = 2 scales it exactly."""
    rng = np.random.default_rng(seed)
    K = 16 * kb
    q = reference.quantize(rng.standard_normal((n, K), dtype=np.float32))
    x = (rng.choice(E2M1[:8], (m, K)) * rng.choice([-1, 1], (m, K))).astype(np.float32)
    x[:, ::16] = 6.0
    # alpha carries both global scales in w4a4 (the engines' alpha = input and weight decode scales).
    want = (2 * (x.astype(np.float64) @ decode(q.weight, q.scale, 1.0).T)).astype(np.float32)
    y = reference.gemm(x, q.weight, q.scale, q.global_scale, mode="w4a4", alpha=2.0, input_scale_inv=1.0)
    np.testing.assert_array_equal(y, want)


def test_gemm_refuses_nan():
    q = reference.quantize(np.ones((2, 16), np.float32))
    x = np.zeros((1, 16), np.float32)
    x[0, 3] = np.nan
    try:
        reference.gemm(x, q.weight, q.scale, q.global_scale, mode="w4a4")
    except nvfp4.BadInputError as e:
        assert e.tensor == "x" and "non-finite" in str(e)
    else:
        raise AssertionError("a NaN activation was multiplied")


def test_process_is_the_commands_file(tmp_path):
    ckpt = nvfp4.make_checkpoint(tmp_path / "c", experts=2, unequal_scales=True)
    for backend in ("cutlass", "trtllm"):
        ours = reference.process(ckpt, backend=backend)
        run_cli("process", str(ckpt), "--out", str(tmp_path / f"{backend}.safetensors"), "--backend", backend, expect=0)
        theirs, _ = st_read.read(tmp_path / f"{backend}.safetensors")
        assert sorted(ours) == sorted(theirs)
        for name, a in theirs.items():
            assert ours[name].dtype == a.dtype and ours[name].shape == a.shape, name
            assert ours[name].tobytes() == a.tobytes(), name
