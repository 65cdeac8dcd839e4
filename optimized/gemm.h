// The optimized pipeline's GEMM, y[M, N] = x[M, K] . W^T in x's dtype, reading the post-processed
// parameters as an engine's kernel does: packed E2M1 rows (even K in the low nibble), the
// 128x4-swizzled block scales through their index map, and for trtllm experts the shuffled rows,
// whose results are written to the output column each stored row stands for.
//
// Arithmetic, and the bound it keeps from the exact value t (u = 2^-24, gamma_n = n u / (1 - n u)):
// - w4a16: acc = sum_k fma(x_k, e2m1_k * S_k, acc) in f32 (each product e2m1 * S is exact: 2 + 4
//   significant bits), then r = acc * global_scale: each term passes through at most K roundings
//   of the sum, whatever the order (lanes, then a horizontal add), plus one of the product, so
//   |r - t| <= gamma_(K+1) * sum_k |x_k w_k| + (K + 1) 2^-150 max(1, global_scale). The AMX path
//   splits each x_k into three BF16 parts (exact, see kernels/amx.cpp) and sums the 3K exact
//   products one by one: n = 3K + 1 there instead of K + 1.
// - w4a4: the integer paths: dot products of 2 e2m1(x) and 2 e2m1(w) are exact in int32, over a
//   16-block (scalar, AVX-512) or a 4-element quad of one block (AVX2); times Sx Sw / 4 each is
//   exact in f32 (12 + 8 significant bits); these terms, at most K/4 of them, are summed in f32
//   and r = acc * alpha, so |r - t| <= gamma_(K/4+1) * sum_k |xq_k wq_k| + (K/4 + 1) 2^-150
//   max(1, alpha). The AMX path: each operand 2 e2m1 * S is exact in BF16 (2 + 4 significant
//   bits) and each of the K products exact in f32; they are summed one by one in f32
//   (tdpbf16ps), so n = K + 1 there instead of K/4 + 1.
// The result r is then rounded to the output dtype. The checks hold every path to the total bound
// its set's arithmetic allows against the exact oracle (checks/gemm_bound.h: GemmArith, the amx
// set's looser n for all of its GEMMs, the other sets' n for theirs).
//
// Kernels: one set per instruction set (kernels/), chosen at run time (kernels/dispatch.h).
#pragma once
#include <cstdint>

#include "core/pipeline.h"
#include "core/tensor.h"
#include "optimized/layout_maps.h"

namespace nvfp4::opt {

struct GemmWeights {
  const std::uint8_t* packed = nullptr;  // stored rows of row_bytes each
  std::int64_t rows = 0, row_bytes = 0;
  const std::uint8_t* scales = nullptr;  // the swizzled batch of these rows
  const SwizzleMap* swizzle = nullptr;
  const std::int64_t* out_col = nullptr; // stored row -> output column, -1 for padding; nullptr: identity
  std::int64_t N = 0, K = 0;             // output columns, reduction length (K <= 2 row_bytes)
  float global_scale = 1.0f;             // w4a16 dequantization
  float alpha = 1.0f, input_gs = 1.0f;   // w4a4
};

// x: [M, K] F32, BF16 or F16, finite, and for w4a16 |x| < FLT_MAX / (5376 K) so that no f32 partial
// sum can overflow (|e2m1 * S| <= 2688); OptimizedPipeline::gemm checks both, as the reference does.
Tensor gemm(const Tensor& x, const GemmWeights& w, GemmMode mode);
// The same into y, [M, N] in x's dtype, which the caller allocated (an engine's preallocated output,
// a bench's loop): every element is written, nothing is allocated through the tracking allocator.
// y may not overlap x. Throws std::invalid_argument naming the shape or dtype y should have.
void gemm_into(const Tensor& x, const GemmWeights& w, GemmMode mode, Tensor& y);

}  // namespace nvfp4::opt
