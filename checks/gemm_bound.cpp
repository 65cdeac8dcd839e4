#include "checks/gemm_bound.h"

#include <algorithm>
#include <cmath>

namespace nvfp4::checks {

GemmArith gemm_arith(std::string_view kernel_set) { return kernel_set == "amx" ? GemmArith::Bf16Tiles : GemmArith::Blocks; }

double gemm_error_bound(GemmMode mode, GemmArith arith, std::int64_t K, double abs_sum, double post, DType out, double y_exact) {
  const double u = std::ldexp(1.0, -24);
  // f32 roundings of exact terms (GemmArith), then the post-factor's.
  const bool tiles = arith == GemmArith::Bf16Tiles;
  const double n = static_cast<double>(mode == GemmMode::W4A16 ? (tiles ? 3 * K : K) : (tiles ? K : K / 4)) + 1;
  const double f32 = n * u / (1 - n * u) * abs_sum + n * std::ldexp(1.0, -150) * std::max(1.0, post);
  int p = 24, emin = -126;
  if (out == DType::BF16) p = 8;
  if (out == DType::F16) { p = 11; emin = -14; }
  const double mag = 2 * (std::fabs(y_exact) + f32);
  const int e = mag == 0 ? emin : std::max(std::ilogb(mag), emin);
  return f32 + std::ldexp(1.0, e - (p - 1));
}

}  // namespace nvfp4::checks
