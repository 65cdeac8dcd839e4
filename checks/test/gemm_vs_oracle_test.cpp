// The sampled GEMM check verify runs (checks/gemm_vs_oracle.h) against planted wrong outputs: which rows
// and columns it reads for each M, and what its failure names. The "kernel" here is the exact
// oracle itself, so every element is right until one is planted.
#include "checks/gemm_vs_oracle.h"

#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <stdexcept>

#include "generator/rng.h"

namespace nvfp4::checks {
namespace {

// N = 200 > 2 x 64: columns 64..135 are not edge columns. K = 64.
ref::LogicalWeight weight() {
  ref::LogicalWeight w;
  w.N = 200;
  w.K = 64;
  Rng r(7);
  for (std::int64_t i = 0; i < w.N * w.K; ++i) w.codes.push_back(static_cast<std::uint8_t>(r.next() % 16));
  for (std::int64_t i = 0; i < w.N * w.K / 16; ++i) w.scales.push_back(static_cast<std::uint8_t>(0x30 + r.next() % 16));
  w.global_scale = 0.5f;
  return w;
}

struct Planted {
  std::int64_t M, m, n;
};

// Every GEMM through the exact oracle, one element of the GEMM of p.M rows moved far off.
KernelCheck run(const SampledRows& s, const ref::LogicalWeight& w, const std::vector<std::int64_t>& ms, const Planted& p) {
  return check_gemms(s, ms, GemmArith::Blocks, [&](const Tensor& x) {
    Tensor y = ref::gemm_exact(x, w, s.mode, {}, nullptr);
    if (x.size(0) == p.M) y.data_as<float>()[p.m * w.N + p.n] += 1000.0f;
    return y;
  });
}

TEST(KernelCheck, SeesEveryPlantedElementItReads) {
  const ref::LogicalWeight w = weight();
  const std::vector<std::int64_t> ms = {1, 2, 3, 9, 19};
  for (GemmMode mode : {GemmMode::W4A16, GemmMode::W4A4}) {
    const SampledRows s = sample_rows(w, mode, {}, 19, 42);
    EXPECT_EQ(s.edge_cols.size(), 128u);
    EXPECT_TRUE(run(s, w, ms, {0, 0, 0}).failure().empty()) << "nothing planted (M = 0 never runs)";
    // First and last row of each GEMM on every column; rows between on the edge columns.
    const std::vector<Planted> seen = {{1, 0, 100}, {2, 1, 199}, {3, 2, 64 + 71}, {9, 8, 100}, {9, 4, 3},
                                       {9, 1, 199 - 63}, {19, 17, 0}, {19, 0, 135}, {19, 18, 64}};
    for (const Planted& p : seen) {
      const KernelCheck k = run(s, w, ms, p);
      const std::string want = "M=" + std::to_string(p.M) + ": element [" + std::to_string(p.m) + ", " + std::to_string(p.n) + "]: exact ";
      EXPECT_EQ(k.failure().rfind(want, 0), 0u) << k.failure();
      EXPECT_EQ(k.bad_M, p.M);
    }
    // A row between the first and last, off the edge columns: not read (the report says so).
    EXPECT_TRUE(run(s, w, ms, {9, 4, 100}).failure().empty());
    EXPECT_TRUE(run(s, w, ms, {19, 10, 64}).failure().empty());
  }
}

TEST(KernelCheck, RowsAreTheSameAcrossGemms) {
  const ref::LogicalWeight w = weight();
  const SampledRows s = sample_rows(w, GemmMode::W4A16, {}, 19, 42);
  const Tensor a = gemm_input(s, 19), b = gemm_input(s, 9);
  auto row = [](const Tensor& t, std::int64_t m) { return std::vector<float>(t.data_as<float>() + m * t.size(1), t.data_as<float>() + (m + 1) * t.size(1)); };
  EXPECT_EQ(row(a, 0), row(b, 0));
  EXPECT_EQ(row(a, 18), row(b, 8)) << "the last row of every GEMM is pool row 1";
  EXPECT_EQ(row(a, 3), row(b, 3)) << "rows between: pool row m + 1 in every GEMM";
  EXPECT_EQ(row(gemm_input(s, 1), 0), row(a, 0));
  EXPECT_THROW(gemm_input(s, 20), std::invalid_argument);
}

TEST(KernelCheck, AnOutputOfTheWrongShapeIsRefused) {
  const ref::LogicalWeight w = weight();
  const SampledRows s = sample_rows(w, GemmMode::W4A16, {}, 3, 42);
  KernelCheck k;
  EXPECT_THROW(check_gemm(k, s, 3, Tensor::empty(DType::F32, {3, 199})), std::invalid_argument);
  EXPECT_THROW(check_gemm(k, s, 3, Tensor::empty(DType::F32, {2, 200})), std::invalid_argument);
}

TEST(KernelCheck, FirstElementPastItsBoundAndTheWorstFraction) {
  // Row-major [2, 2]: element [0, 1] is NaN (never within a bound, though no comparison with it
  // says "greater"), element [1, 0] is off by 1 (far past a bound of ~1e-6 for |x w| = 1).
  Tensor exact = Tensor::empty(DType::F32, {2, 2}), got = Tensor::empty(DType::F32, {2, 2});
  const float e[4] = {1, 2, 3, 4}, g[4] = {1, std::numeric_limits<float>::quiet_NaN(), 4, 4};
  std::memcpy(exact.data(), e, sizeof e);
  std::memcpy(got.data(), g, sizeof g);
  const KernelCheck k = check_kernel(exact, got, {1, 1, 1, 1}, GemmMode::W4A16, GemmArith::Blocks, 16, 1.0);
  EXPECT_EQ(k.bad_m, 0);
  EXPECT_EQ(k.bad_n, 1);
  EXPECT_EQ(k.max_diff, 1.0);
  EXPECT_GT(k.worst_fraction, 1e3);
  EXPECT_EQ(k.failure().rfind("M=2: element [0, 1]: exact 2, optimized nan, |diff| exceeds the bound ", 0), 0u) << k.failure();
  std::memcpy(got.data(), e, sizeof e);
  const KernelCheck ok = check_kernel(exact, got, {1, 1, 1, 1}, GemmMode::W4A16, GemmArith::Blocks, 16, 1.0);
  EXPECT_TRUE(ok.passed());
  EXPECT_EQ(ok.worst_fraction, 0.0);
  EXPECT_EQ(ok.failure(), "");
}

// A GEMM path whose output has the wrong shape or dtype fails, naming both, instead of being read
// out of bounds.
TEST(KernelCheck, AShapeOrDtypeMismatchFailsNamingBoth) {
  const Tensor exact = Tensor::empty(DType::F32, {2, 2});
  for (const Tensor& got : {Tensor::empty(DType::F32, {2, 3}), Tensor::empty(DType::BF16, {2, 2}), Tensor::empty(DType::F32, {4})}) {
    const KernelCheck k = check_kernel(exact, got, {1, 1, 1, 1}, GemmMode::W4A16, GemmArith::Blocks, 16, 1.0);
    EXPECT_FALSE(k.passed());
    EXPECT_EQ(k.failure(), "the output is " + describe(got) + ", the exact oracle's F32[2, 2]");
  }
}

}  // namespace
}  // namespace nvfp4::checks
