// The bound every GEMM path under test is held to against the exact oracle (reference/gemm.h),
// derived from the arithmetic the kernels promise (optimized/gemm.h, "Arithmetic"): f32 products
// that are exact, summed in any order with at most n roundings each (w4a4: n = K + 1, the AMX
// path adding each of its K exact BF16 products on its own, the integer paths fewer; w4a16:
// n = 3K + 1, the AMX path's three BF16 parts of each activation, the others K), then one
// rounding to the output dtype. It lives with the checks,
// not with the kernels, so that a change to the code under test cannot loosen its own bound.
//
// With u = 2^-24 and gamma_n = n u / (1 - n u), for the oracle's exact result t and the exact sum of
// magnitudes sum_k |x_k w_k| (times the post-factor, alpha or the global scale):
//   |r - t| <= gamma_n * abs_sum + n 2^-150 max(1, post)       (f32 accumulation, subnormal floor)
// plus one ulp of the output dtype at 2 (|t| + that), for the rounding of r and of the oracle.
#pragma once
#include <cstdint>

#include "core/dtype.h"
#include "core/pipeline.h"

namespace nvfp4::checks {

double gemm_error_bound(GemmMode mode, std::int64_t K, double abs_sum, double post, DType out, double y_exact);

}  // namespace nvfp4::checks
