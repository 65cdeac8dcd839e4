// GEMM oracles, y[M, N] = x[M, K] . W^T, on logical (unshuffled, unswizzled) operands:
// - exact: every product and the whole sum exact in a fixed-width integer accumulator
//   (reference/exact_sum.h, with the proof of its width), then rounded once (to nearest, ties to
//   even) into the output dtype;
// - dequantize-then-Eigen: W and x dequantized to double, an Eigen product, one final rounding.
#pragma once
#include <cstdint>
#include <vector>

#include "core/pipeline.h"
#include "core/tensor.h"

namespace nvfp4::ref {

// A quantized weight in logical row order: codes [N, K] (one E2M1 code per element), block scales
// [N, K/16] E4M3 and one global decode scale.
struct LogicalWeight {
  std::int64_t N = 0, K = 0;
  std::vector<std::uint8_t> codes, scales;
  float global_scale = 1.0f;
};

// `bytes` packed bytes (two E2M1 codes each, the even K index low, core/codecs.h) into 2 * bytes
// codes, as LogicalWeight holds them. Pointers and the count are plain arguments: byte stores may
// alias anything, so through a vector's operator[] the compiler reloaded them on every byte and
// vectorized nothing (verify unpacks every weight of a checkpoint).
inline void unpack_codes(const std::uint8_t* packed, std::int64_t bytes, std::uint8_t* codes) {
  for (std::int64_t j = 0; j < bytes; ++j) {
    codes[2 * j] = packed[j] & 0xF;
    codes[2 * j + 1] = packed[j] >> 4;
  }
}

// What the GEMM needs besides the weight: w4a4 uses `input_encode_scale` (gs = input_scale_inv)
// and `alpha`; w4a16 uses the weight's own global scale.
struct GemmScalars {
  float alpha = 1.0f;
  float input_encode_scale = 1.0f;
};

// With abs_sum, also an upper bound on |post| * sum_k |x_k w_k| per output element (post: alpha
// for w4a4, the weight's global scale for w4a16), from the same exact sums on magnitudes rounded
// up to a double: for error bounds, at the oracle's speed.
Tensor gemm_exact(const Tensor& x, const LogicalWeight& w, GemmMode mode, const GemmScalars& s, std::vector<double>* abs_sum = nullptr);
// gemm_exact with every block on the int64 loop (no double-lane block dot products): the same
// results by construction, kept to check the fast path against (reference/test/gemm_fast_path_test.cpp).
Tensor gemm_exact_scalar(const Tensor& x, const LogicalWeight& w, GemmMode mode, const GemmScalars& s, std::vector<double>* abs_sum = nullptr);
Tensor gemm_eigen(const Tensor& x, const LogicalWeight& w, GemmMode mode, const GemmScalars& s);
// Same as gemm_eigen but returning the unrounded double results (for error bounds).
std::vector<double> gemm_eigen_double(const Tensor& x, const LogicalWeight& w, GemmMode mode, const GemmScalars& s);
// The bound the Eigen path's double results keep from the exact value, per element:
// (K + 2) * 2^-53 * sum_k |x_k w_k| (K additions and products, +2 for alpha), from gemm_abs_sum.
double eigen_error_bound(double abs_sum, std::int64_t K);
// gemm_exact's abs_sum alone, for callers that take the exact product elsewhere (a pipeline's
// gemm); one who calls gemm_exact should ask it for both at once.
std::vector<double> gemm_abs_sum(const Tensor& x, const LogicalWeight& w, GemmMode mode, const GemmScalars& s);

// What gemm_exact multiplies, after the checks it makes (it refuses what this refuses, with the same
// message): x's values (w4a16) or their w4a4 quantization (reference/quantize_activation.h),
// row-major [M, K], each exact in double (and in float); the factor after the sum (alpha for w4a4,
// the weight's global scale for w4a16). For a judge that sums the same products another way
// (checks/certified_product.h).
struct GemmOperands {
  std::int64_t M = 0, K = 0;
  std::vector<double> x;
  double post = 1.0;
};
GemmOperands gemm_operands(const Tensor& x, const LogicalWeight& w, GemmMode mode, const GemmScalars& s);

}  // namespace nvfp4::ref
