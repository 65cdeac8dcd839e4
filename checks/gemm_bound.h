// The bound every GEMM path under test is held to against the exact oracle (reference/gemm.h),
// derived from the arithmetic the kernels promise (optimized/gemm.h, "Arithmetic"): f32 products
// that are exact, summed in any order with at most n roundings each (GemmArith), then one
// rounding to the output dtype. It lives with the checks, not with the kernels, so that a change to
// the code under test cannot loosen its own bound.
//
// With u = 2^-24 and gamma_n = n u / (1 - n u), for the oracle's exact result t and the exact sum of
// magnitudes sum_k |x_k w_k| (times the post-factor, alpha or the global scale):
//   |r - t| <= gamma_n * abs_sum + n 2^-150 max(1, post)       (f32 accumulation, subnormal floor)
// plus one ulp of the output dtype at 2 (|t| + that), for the rounding of r and of the oracle.
#pragma once
#include <cstdint>
#include <string_view>

#include "core/dtype.h"
#include "core/pipeline.h"

namespace nvfp4::checks {

// The arithmetic of a kernel set, which sets n:
// - Blocks (the scalar, avx2 and avx512 sets): w4a4 sums exact integer dot products of 16-blocks
//   or 4-element quads, n = K/4 + 1; w4a16 sums K exact products, n = K + 1.
// - Bf16Tiles (the amx set): w4a4 adds each of its K exact BF16 products alone, n = K + 1; w4a16
//   splits each activation into three BF16 parts, n = 3K + 1. Its GEMMs below 16 rows run the
//   avx512 kernels, held to the same, looser bound.
enum class GemmArith { Blocks, Bf16Tiles };
// By the kernel set's name (opt::isa_name): "amx" is Bf16Tiles, any other Blocks. Decided here from
// the name, not asked of the kernels, for the same reason as the bound.
GemmArith gemm_arith(std::string_view kernel_set);
double gemm_error_bound(GemmMode mode, GemmArith arith, std::int64_t K, double abs_sum, double post, DType out, double y_exact);

}  // namespace nvfp4::checks
