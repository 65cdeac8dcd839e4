#include "tools/cli/kernel_check.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "optimized/gemm.h"

namespace nvfp4::cli {

std::string KernelCheck::failure(std::int64_t N) const {
  if (first_bad < 0) return "";
  char b[200];
  std::snprintf(b, sizeof b, "element [%lld, %lld]: exact %.9g, optimized %.9g, |diff| exceeds the bound %.9g",
                static_cast<long long>(first_bad / N), static_cast<long long>(first_bad % N), bad_exact, bad_got, bad_bound);
  return b;
}

KernelCheck check_kernel(const Tensor& exact, const Tensor& got, const std::vector<double>& mag, GemmMode mode, std::int64_t K, double post) {
  KernelCheck k;
  for (std::int64_t i = 0; i < exact.numel(); ++i) {
    const double e = exact.data_as<float>()[i], g = got.data_as<float>()[i];
    const double bound = opt::gemm_error_bound(mode, K, mag[static_cast<std::size_t>(i)], post, DType::F32, e);
    const double diff = std::fabs(g - e);
    if (k.first_bad < 0 && !(diff <= bound)) k.first_bad = i, k.bad_exact = e, k.bad_got = g, k.bad_bound = bound;
    k.max_diff = std::max(k.max_diff, diff);
    k.max_bound = std::max(k.max_bound, bound);
    if (bound > 0) k.worst_fraction = std::max(k.worst_fraction, diff / bound);
  }
  return k;
}

}  // namespace nvfp4::cli
