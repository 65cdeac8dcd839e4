// The exact oracle's rounded products at the speed of a double-precision product, for verify's
// sampled GEMM check (checks/gemm_vs_oracle.h), which multiplies every weight of a checkpoint.
//
// ref::gemm_exact sums every product x_k w_k exactly (a wide integer accumulator, one block of 16 at
// a time) and rounds once to f32: ~30 cycles per block, row and mode, half of verify's time. Here
// the same products (exact in double: an f32 times E2M1 x E4M3 has at most 24 + 6 significant
// bits) are summed in double, in 16 lanes of K/16 terms each, and the error of that sum is bounded:
//   |fl(post * S) - post * S| <= |post| * A * gamma(K/16 + 5),  A = sum_k |x_k w_k|,
// gamma(n) = n u / (1 - n u), u = 2^-53 (Higham, "Accuracy and Stability of Numerical Algorithms",
// 2nd ed., 4.2-4.3: a sum whose every term passes through at most n roundings), the magnitude sum A
// summed the same way and rounded up by the same factor. Where the whole interval around the
// double result rounds to one f32 (round to nearest even is monotone), that f32 is the exact
// oracle's result, bit for bit. Where it does not (the exact sum within the bound of an f32
// rounding boundary, or of zero), the element comes from ref::gemm_exact itself. So the values are
// the oracle's, element for element; only the sums of magnitudes (the error bounds' input) are
// looser, by a relative 5 (K/16 + 7) 2^-53 at most (2^-39 at K = 4096), and still upper bounds.
#pragma once
#include <cstdint>
#include <vector>

#include "core/pipeline.h"
#include "core/tensor.h"
#include "reference/gemm.h"

namespace nvfp4::checks {

struct CertifiedProduct {
  Tensor y;                         // [M, N] F32: ref::gemm_exact's output, bit for bit
  std::vector<double> mag;          // upper bounds on |post| sum_k |x_k w_k|, as gemm_exact's abs_sum is
  std::int64_t exact_elements = 0;  // elements the bound left open, taken from ref::gemm_exact
};

// How the lanes are summed: the same 16 lanes in the same order (so the same doubles) every way.
// Per weight and activation row, alone on one core of the 2-vCPU Xeon of bench/RESULTS.md
// (N x K = 8192 x 4096, M = 2; bench/measurements.md): Avx512 ~0.2 ns, Avx2 (with FMA) ~0.4 ns,
// Portable (plain C++) ~3 ns, the exact oracle ~1.2 ns (less at many rows: it decodes a weight once
// for all of them). Auto takes Avx512, else Avx2, else ref::gemm_exact itself (exact_elements = all).
enum class LanePath { Auto, Portable, Avx2, Avx512 };
bool lane_path_available(LanePath p);

// x: F32 [M, K] (BF16 and F16 activations take ref::gemm_exact). Refuses what ref::gemm_exact
// refuses, with its message.
CertifiedProduct certified_gemm(const Tensor& x, const ref::LogicalWeight& w, GemmMode mode, const ref::GemmScalars& s,
                                LanePath path = LanePath::Auto);

}  // namespace nvfp4::checks
