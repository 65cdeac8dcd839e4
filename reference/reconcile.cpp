#include "reference/reconcile.h"

#include <algorithm>
#include <cmath>

#include "reference/numerics.h"

namespace nvfp4::ref {

Tensor reconcile_shard(const Tensor& rows, float own, float common, double* max_rel_error) {
  Tensor out = rows.clone();
  double worst = 0;
  if (own != common) {
    const float ratio = own / common;  // <= 1: a scale never grows
    for (std::int64_t i = 0; i < rows.numel(); ++i) {
      float S = e4m3_value(rows.data()[i]);
      std::uint8_t r = e4m3_satfinite(S * ratio);
      out.data()[i] = r;
      if (S != 0) {
        double want = static_cast<double>(S) * own, got = static_cast<double>(e4m3_value(r)) * common;
        worst = std::max(worst, std::fabs(got - want) / want);
      }
    }
  }
  if (max_rel_error) *max_rel_error = worst;
  return out;
}

}  // namespace nvfp4::ref
