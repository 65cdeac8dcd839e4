"""NVFP4's codes and layouts with numpy and ml_dtypes only: E4M3/E2M1 values, nibble unpacking,
vLLM's block-scale swizzle, the TRT-LLM row shuffles and shard-scale reconciling (for
pipeline_golden.py, independent of the C++ code)."""
import ml_dtypes
import numpy as np

F32 = np.float32
E4M3 = ml_dtypes.float8_e4m3fn
E2M1 = ml_dtypes.float4_e2m1fn


def e4m3_val(b):
    return np.asarray(b, dtype=np.uint8).view(E4M3).astype(F32)


def e4m3_satfinite(x):
    return np.clip(np.asarray(x, dtype=F32), F32(-448), F32(448)).astype(E4M3).view(np.uint8)


def e2m1_val(codes):
    return np.asarray(codes, dtype=np.uint8).view(E2M1).astype(F32)


def unpack(packed):
    lo, hi = packed & 0xF, packed >> 4
    return np.stack([lo, hi], axis=-1).reshape(*packed.shape[:-1], packed.shape[-1] * 2)


def rup(x, m):
    return (x + m - 1) // m * m


def swizzle(lin):  # [B, M, K] -> [B, Mp, Kp] (vLLM swizzle_blockscale)
    B, M, K = lin.shape
    Mp, Kp = rup(M, 128), rup(K, 4)
    p = np.zeros((B, Mp, Kp), dtype=np.uint8)
    p[:, :M, :K] = lin
    return p.reshape(B, Mp // 128, 4, 32, Kp // 4, 4).transpose(0, 1, 4, 3, 2, 5).reshape(B, Mp, Kp)


# shuffle_matrix_a, epilogue tile 128, in closed form: row n of the output is source row
# shuffle_rows(M)[n], as FlashInfer's flashinfer/utils.py get_shuffle_matrix_a_row_indices computes it.
def shuffle_rows(M):
    n = np.arange(M)
    return 32 * (n // 32) + 4 * (n % 8) + (n % 32) // 8


# reorder_rows_for_gated_act_gemm (FlashInfer's fused_moe/core.py: w3 and w1 rows interleaved) then
# shuffle_matrix_a, over [w3; w1] halves of Mh rows each, in closed form.
def w31_rows(Mh):
    r = shuffle_rows(2 * Mh)
    return np.where(r % 2 == 0, r // 2, Mh + (r - 1) // 2)


def reconcile(scales, own, common):
    if own == common:
        return scales.copy()
    return e4m3_satfinite(e4m3_val(scales) * (F32(own) / F32(common)))
