#include "tools/cli/verify/gemm_checks.h"

#include <algorithm>
#include <cmath>

#include "checks/gemm_vs_oracle.h"
#include "core/printable.h"
#include "reference/gemm.h"
#include "optimized/kernels/dispatch.h"

namespace nvfp4::cli {

std::string m_list(const std::vector<std::int64_t>& ms) {
  std::string r;
  for (std::int64_t M : ms) r += (r.empty() ? "" : ", ") + std::to_string(M);
  return r;
}

namespace {

using checks::kEdgeColumns;

// The Eigen path on the pool's first rows (every GEMM's first and last) and the edge columns,
// against the exact products the sample already holds.
checks::Result eigen_check(const checks::SampledRows& s, const ref::LogicalWeight& w, const ref::GemmScalars& sc) {
  const std::int64_t N = w.N, K = w.K;
  const Tensor x = checks::full_rows(s);
  const std::int64_t M = x.size(0);
  const std::vector<std::int64_t> cols = checks::edge_columns(N);
  const std::vector<double> eig = ref::gemm_eigen_double(x, checks::select_rows(w, cols), s.mode, sc);
  checks::Result r;
  double diff = 0, bound = 0;
  const std::int64_t R = static_cast<std::int64_t>(cols.size());
  for (std::int64_t m = 0; m < M; ++m)
    for (std::int64_t j = 0; j < R; ++j) {
      const std::int64_t n = cols[static_cast<std::size_t>(j)];
      const std::size_t i = static_cast<std::size_t>(m * N + n);
      const double e = s.full.data_as<float>()[i], g = eig[static_cast<std::size_t>(m * R + j)];
      const double half_ulp = std::ldexp(1.0, std::max(e == 0 ? -126 : std::ilogb(e), -126) - 24);
      const double eb = ref::eigen_error_bound(s.full_mag[i], K) + half_ulp;
      if (!(std::fabs(g - e) <= eb))
        r.fail("element [" + std::to_string(m) + ", " + std::to_string(n) + "]: exact " + f32_text(e) + ", Eigen " + f32_text(g) +
               ", |diff| exceeds the bound " + f32_text(eb));
      diff = std::max(diff, std::fabs(g - e));
      bound = std::max(bound, eb);
    }
  const std::string edges = R == N ? "all " + std::to_string(N) + " rows"
                                   : "rows 0-" + std::to_string(kEdgeColumns - 1) + " and " + std::to_string(N - kEdgeColumns) + "-" +
                                         std::to_string(N - 1) + " of " + std::to_string(N);
  if (r.ok)
    r.detail = edges + " x K=" + std::to_string(K) + ", " + std::to_string(M) + " activation rows, max |Eigen - exact| = " + f32_text(diff) +
               " <= bound " + f32_text(bound);
  r.values = {{"rows", R}, {"N", N}, {"K", K}, {"max_abs_diff", diff}, {"max_bound", bound}};
  return r;
}

// What the kernels' check covered, for its detail when it holds.
std::string kernel_summary(const checks::SampledRows& s, const std::vector<std::int64_t>& ms, const checks::KernelCheck& kc, std::int64_t N) {
  const bool all_cols = static_cast<std::int64_t>(s.edge_cols.size()) == N;
  std::string acts = "M = " + m_list(ms) + " activation rows";
  if (s.rows > 2)
    acts += " (the first and last of each GEMM on all " + std::to_string(N) + " rows, the other " + std::to_string(s.rows - 2) + " on " +
            (all_cols ? "all of them too" : "the first and last " + std::to_string(kEdgeColumns)) + ")";
  return "all " + std::to_string(N) + " rows x K=" + std::to_string(s.K) + ", " + acts + ", max |optimized - exact| = " + f32_text(kc.max_diff) +
         " <= bound " + f32_text(kc.max_bound);
}

}  // namespace

std::vector<checks::Result> gemm_checks(const ref::ReferencePipeline& rp, const std::vector<const Pipeline*>& under_test,
                                        const GemmTarget& t, const ref::LogicalWeight& w, GemmMode mode, const std::vector<std::int64_t>& ms,
                                        Phases& ph) {
  const ref::GemmScalars sc = rp.scalars(t, mode);
  Stopwatch sw;
  const checks::SampledRows s = checks::sample_rows(w, mode, sc, ms.back(), 0xC0FFEE + static_cast<std::uint64_t>(w.K));
  ph.exact += sw.lap();
  std::vector<checks::Result> out{eigen_check(s, w, sc)};
  ph.eigen += sw.lap();
  for (const Pipeline* p : under_test) {
    double kernels = 0;
    const checks::KernelCheck kc = checks::check_gemms(s, ms, checks::gemm_arith(opt::isa_name(opt::active_isa())), [&](const Tensor& xm) {
      Stopwatch k;
      Tensor y = p->gemm(t, xm, mode);
      kernels += k.lap();
      return y;
    });
    ph.kernels += kernels;
    checks::Result r = kc.result(p->name() + " kernel vs exact oracle", kernel_summary(s, ms, kc, w.N));
    r.values.update({{"rows", w.N}, {"N", w.N}, {"K", w.K}, {"gemms", ms.size()}});
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace nvfp4::cli
