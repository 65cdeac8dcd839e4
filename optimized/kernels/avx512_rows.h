// The AVX-512 w4a4 kernel for few activation rows, lanes along blocks (avx512_rows.cpp says how).
#pragma once
#include <cstdint>

#include "optimized/kernels/kernels.h"

namespace nvfp4::opt::avx512 {

struct RowsActivations {
  // Per row and 256-K chunk: 4 vectors of s8 2 e2m1(x) (vector v, lane b: 4 codes of block b, in
  // the order decode() in avx512_rows.cpp leaves the weights'), -12 * each block's sum of them,
  // and each block's Sx.
  static std::size_t bytes(const Activations& a);
  static void prepare(const Activations& a, Prepared& p, std::int64_t m0, std::int64_t m1);
};
void run_rows(const GemmWeights& w, const Activations& a, const Prepared& p, float* out, std::int64_t n0, std::int64_t n1);

}  // namespace nvfp4::opt::avx512
