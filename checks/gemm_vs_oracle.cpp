#include "checks/gemm_vs_oracle.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "checks/certified_product.h"
#include "checks/gemm_bound.h"
#include "generator/rng.h"

namespace nvfp4::checks {

namespace {

std::string element_line(std::int64_t m, std::int64_t n, double e, double g, double b) {
  char s[200];
  std::snprintf(s, sizeof s, "element [%lld, %lld]: exact %.9g, optimized %.9g, |diff| exceeds the bound %.9g", static_cast<long long>(m),
                static_cast<long long>(n), e, g, b);
  return s;
}

// Rows [r0, r1) of an F32 [R, K] tensor.
Tensor slice_rows(const Tensor& t, std::int64_t r0, std::int64_t r1) {
  const std::int64_t K = t.size(1);
  Tensor s = Tensor::empty(DType::F32, {r1 - r0, K});
  std::memcpy(s.data(), t.data() + static_cast<std::size_t>(r0 * K) * 4, static_cast<std::size_t>((r1 - r0) * K) * 4);
  return s;
}

// [rows, K] F32 normal draws of Rng(seed), in order. verify asks for the same pool for every
// projection of one K (both modes, every expert of a layer: its seed depends on K only), and a draw
// costs a log and a cosine: each thread keeps the last few pools it drew, shared read-only (the
// GEMM inputs are copies, gemm_input).
Tensor normal_pool(std::int64_t rows, std::int64_t K, std::uint64_t seed) {
  struct Key {
    std::int64_t rows, K;
    std::uint64_t seed;
    bool operator==(const Key&) const = default;
  };
  thread_local std::vector<std::pair<Key, Tensor>> kept;  // most recent last, at most 4
  const Key key{rows, K, seed};
  for (std::size_t i = 0; i < kept.size(); ++i)
    if (kept[i].first == key) {
      std::rotate(kept.begin() + static_cast<std::ptrdiff_t>(i), kept.begin() + static_cast<std::ptrdiff_t>(i) + 1, kept.end());
      return kept.back().second;
    }
  Rng r(seed);
  Tensor pool = Tensor::empty(DType::F32, {rows, K});
  for (std::int64_t i = 0; i < rows * K; ++i) pool.data_as<float>()[i] = static_cast<float>(r.normal());
  if (kept.size() == 4) kept.erase(kept.begin());
  kept.emplace_back(key, pool);
  return pool;
}

}  // namespace

std::string KernelCheck::failure() const {
  if (!mismatch.empty()) return mismatch;
  if (bad_m < 0) return "";
  return "M=" + std::to_string(bad_M) + ": " + element_line(bad_m, bad_n, bad_exact, bad_got, bad_bound);
}

void KernelCheck::add(std::int64_t M, std::int64_t m, std::int64_t n, double e, double g, double mag, GemmMode mode, std::int64_t K,
                      double post, DType out) {
  const double bound = gemm_error_bound(mode, arith, K, mag, post, out, e);
  const double diff = std::fabs(g - e);
  if (bad_m < 0 && !(diff <= bound)) bad_M = M, bad_m = m, bad_n = n, bad_exact = e, bad_got = g, bad_bound = bound;
  max_diff = std::max(max_diff, diff);
  max_bound = std::max(max_bound, bound);
  if (bound > 0) worst_fraction = std::max(worst_fraction, diff / bound);
}

Result KernelCheck::result(std::string name, std::string summary) const {
  Result r = held_unless(std::move(name), failure(), std::move(summary));
  r.values = {{"max_abs_diff", max_diff}, {"max_bound", max_bound}, {"worst_fraction_of_bound", worst_fraction}};
  return r;
}

KernelCheck check_kernel(const Tensor& exact, const Tensor& got, const std::vector<double>& mag, GemmMode mode, GemmArith arith, std::int64_t K,
                         double post) {
  KernelCheck k;
  k.arith = arith;
  if (got.dtype() != exact.dtype() || got.shape() != exact.shape() || exact.dim() != 2 ||
      static_cast<std::int64_t>(mag.size()) != exact.numel()) {
    k.mismatch = "the output is " + describe(got) + ", the exact oracle's " + describe(exact);
    return k;
  }
  const std::int64_t N = exact.size(1);
  for (std::int64_t i = 0; i < exact.numel(); ++i)
    k.add(exact.size(0), i / N, i % N, exact.get_f32(i), got.get_f32(i), mag[static_cast<std::size_t>(i)], mode, K, post, got.dtype());
  return k;
}

std::vector<std::int64_t> edge_columns(std::int64_t N) {
  std::vector<std::int64_t> r;
  for (std::int64_t n = 0; n < N; ++n)
    if (n < kEdgeColumns || n >= N - kEdgeColumns) r.push_back(n);
  return r;
}

ref::LogicalWeight select_rows(const ref::LogicalWeight& w, const std::vector<std::int64_t>& rows) {
  ref::LogicalWeight s;
  s.N = static_cast<std::int64_t>(rows.size());
  s.K = w.K;
  s.global_scale = w.global_scale;
  for (std::int64_t n : rows) {
    s.codes.insert(s.codes.end(), w.codes.begin() + n * w.K, w.codes.begin() + (n + 1) * w.K);
    s.scales.insert(s.scales.end(), w.scales.begin() + n * (w.K / 16), w.scales.begin() + (n + 1) * (w.K / 16));
  }
  return s;
}

SampledRows sample_rows(const ref::LogicalWeight& w, GemmMode mode, const ref::GemmScalars& sc, std::int64_t largest_M, std::uint64_t seed) {
  SampledRows s;
  s.mode = mode;
  s.rows = largest_M;
  s.K = w.K;
  s.post = mode == GemmMode::W4A4 ? sc.alpha : w.global_scale;
  s.pool = normal_pool(largest_M, w.K, seed);
  // The exact oracle's products, from the certified double sums (checks/certified_product.h).
  CertifiedProduct full = certified_gemm(full_rows(s), w, mode, sc);
  s.full = std::move(full.y), s.full_mag = std::move(full.mag);
  s.edge_cols = edge_columns(w.N);
  if (largest_M > 2) {
    CertifiedProduct edge = certified_gemm(slice_rows(s.pool, 2, largest_M), select_rows(w, s.edge_cols), mode, sc);
    s.edge = std::move(edge.y), s.edge_mag = std::move(edge.mag);
  }
  return s;
}

Tensor full_rows(const SampledRows& s) { return slice_rows(s.pool, 0, std::min<std::int64_t>(s.rows, 2)); }

namespace {
// The pool row at row m of the GEMM of M rows.
std::int64_t pool_row(std::int64_t M, std::int64_t m) { return m == 0 ? 0 : m == M - 1 ? 1 : m + 1; }
}  // namespace

Tensor gemm_input(const SampledRows& s, std::int64_t M) {
  if (M < 1 || M > s.rows) throw std::invalid_argument("gemm_input: M outside the pool");
  Tensor x = Tensor::empty(DType::F32, {M, s.K});
  for (std::int64_t m = 0; m < M; ++m)
    std::memcpy(x.data() + static_cast<std::size_t>(m * s.K) * 4, s.pool.data() + static_cast<std::size_t>(pool_row(M, m) * s.K) * 4,
                static_cast<std::size_t>(s.K) * 4);
  return x;
}

void check_gemm(KernelCheck& k, const SampledRows& s, std::int64_t M, const Tensor& got) {
  const std::int64_t N = s.full.size(1), C = static_cast<std::int64_t>(s.edge_cols.size());
  if (got.dtype() != DType::F32 || got.dim() != 2 || got.size(0) != M || got.size(1) != N)
    throw std::invalid_argument("check_gemm: the kernel's output is not F32 [" + std::to_string(M) + ", " + std::to_string(N) + "]");
  const float* g = got.data_as<float>();
  for (std::int64_t m = 0; m < M; ++m) {
    const std::int64_t p = pool_row(M, m);
    if (p < 2) {
      for (std::int64_t n = 0; n < N; ++n) {
        const std::size_t i = static_cast<std::size_t>(p * N + n);
        k.add(M, m, n, s.full.data_as<float>()[i], g[m * N + n], s.full_mag[i], s.mode, s.K, s.post);
      }
    } else {
      for (std::int64_t j = 0; j < C; ++j) {
        const std::size_t i = static_cast<std::size_t>((p - 2) * C + j);
        const std::int64_t n = s.edge_cols[static_cast<std::size_t>(j)];
        k.add(M, m, n, s.edge.data_as<float>()[i], g[m * N + n], s.edge_mag[i], s.mode, s.K, s.post);
      }
    }
  }
}

KernelCheck check_gemms(const SampledRows& s, const std::vector<std::int64_t>& ms, GemmArith arith, const std::function<Tensor(const Tensor&)>& gemm) {
  KernelCheck k;
  k.arith = arith;
  for (std::int64_t M : ms) check_gemm(k, s, M, gemm(gemm_input(s, M)));
  return k;
}

}  // namespace nvfp4::checks
