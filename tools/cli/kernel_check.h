// The optimized kernels' output against the exact oracle, element by element, each within the
// bound opt::gemm_error_bound derives from the oracle's exact sum of magnitudes: what verify and
// demo both report.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/pipeline.h"
#include "core/tensor.h"

namespace nvfp4::cli {

struct KernelCheck {
  std::int64_t first_bad = -1;  // flat index of the first element past its bound, -1 if none
  double bad_exact = 0, bad_got = 0, bad_bound = 0;
  double max_diff = 0, max_bound = 0;
  double worst_fraction = 0;  // max over elements of |got - exact| / bound
  // "element [m, n]: exact E, optimized G, |diff| exceeds the bound B" for an output of N columns.
  std::string failure(std::int64_t N) const;
};

// exact and got: F32 [M, N]; mag: the exact oracle's magnitudes; post: alpha (w4a4) or the weight's
// global scale (w4a16).
KernelCheck check_kernel(const Tensor& exact, const Tensor& got, const std::vector<double>& mag, GemmMode mode, std::int64_t K, double post);

}  // namespace nvfp4::cli
