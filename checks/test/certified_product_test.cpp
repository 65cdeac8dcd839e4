// The certified double sums (checks/certified_product.h) against the exact oracle they stand in
// for: the same f32 bits on random operands over the whole E4M3 range, on sums aimed at an f32
// rounding midpoint and at cancellation (where a double sum alone rounds the wrong way and the
// bound must send the element to the oracle), the same refusals; on every lane path this CPU runs.
#include "checks/certified_product.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "core/error.h"
#include "generator/rng.h"
#include "reference/gemm.h"

namespace nvfp4::checks {
namespace {

std::vector<LanePath> paths() {
  std::vector<LanePath> p = {LanePath::Portable};
  for (LanePath q : {LanePath::Avx2, LanePath::Avx512})
    if (lane_path_available(q)) p.push_back(q);
  return p;
}
const char* name(LanePath p) { return p == LanePath::Avx512 ? "avx512" : p == LanePath::Avx2 ? "avx2" : "portable"; }

// Codes anywhere in 0..15; scales over every finite E4M3 byte (0, subnormals, 448), one in 8 from a
// narrow band so that blocks of similar size meet.
ref::LogicalWeight random_weight(std::int64_t N, std::int64_t K, Rng& r) {
  ref::LogicalWeight w;
  w.N = N, w.K = K, w.global_scale = 0.75f;
  for (std::int64_t i = 0; i < N * K; ++i) w.codes.push_back(static_cast<std::uint8_t>(r.next() % 16));
  for (std::int64_t i = 0; i < N * K / 16; ++i) {
    std::uint8_t b = static_cast<std::uint8_t>(r.next() % 8 == 0 ? 0x30 + r.next() % 16 : r.next() % 256);
    if ((b & 0x7F) == 0x7F) b ^= 1;  // NaN bytes: refused (RefusesWhatTheOracleRefuses)
    w.scales.push_back(b);
  }
  return w;
}

// Normal activations, each row at its own scale (2^-100 to 2^60), some blocks zero.
Tensor random_x(std::int64_t M, std::int64_t K, Rng& r) {
  Tensor x = Tensor::empty(DType::F32, {M, K});
  float* v = x.data_as<float>();
  for (std::int64_t m = 0; m < M; ++m) {
    const int e = static_cast<int>(r.next() % 161) - 100;
    for (std::int64_t k = 0; k < K; ++k) v[m * K + k] = (k / 16) % 7 == 3 ? 0.0f : std::ldexp(static_cast<float>(r.normal()), e);
  }
  return x;
}

Tensor rows(std::initializer_list<std::initializer_list<float>> v, std::int64_t K) {
  Tensor x = Tensor::empty(DType::F32, {static_cast<std::int64_t>(v.size()), K});
  std::memset(x.data(), 0, x.nbytes());
  std::int64_t m = 0;
  for (const auto& row : v) {
    std::int64_t k = 0;
    for (float f : row) x.data_as<float>()[m * K + k++] = f;
    ++m;
  }
  return x;
}

void expect_same_bits(const Tensor& want, const CertifiedProduct& got, const std::string& where) {
  ASSERT_EQ(got.y.shape(), want.shape()) << where;
  for (std::int64_t i = 0; i < want.numel(); ++i)
    ASSERT_EQ(std::bit_cast<std::uint32_t>(got.y.data_as<float>()[i]), std::bit_cast<std::uint32_t>(want.data_as<float>()[i]))
        << where << ": element " << i << ": certified " << got.y.data_as<float>()[i] << ", exact " << want.data_as<float>()[i];
}

TEST(CertifiedProduct, TheExactOraclesBitsOnRandomOperands) {
  struct Shape { std::int64_t M, N, K; };
  for (GemmMode mode : {GemmMode::W4A16, GemmMode::W4A4})
    for (const Shape sh : {Shape{1, 5, 16}, Shape{3, 7, 48}, Shape{5, 33, 256}, Shape{2, 3, 4096}, Shape{9, 4, 64}})
      for (std::uint64_t seed : {1u, 2u, 3u}) {
        Rng r(seed * 1000 + static_cast<std::uint64_t>(sh.K));
        const ref::LogicalWeight w = random_weight(sh.N, sh.K, r);
        const Tensor x = random_x(sh.M, sh.K, r);
        const ref::GemmScalars sc{0.37f, 3.0f};
        std::vector<double> mag;
        const Tensor want = ref::gemm_exact(x, w, mode, sc, &mag);
        std::int64_t opened = -1;
        for (LanePath p : paths()) {
          const std::string where = std::string(mode == GemmMode::W4A4 ? "w4a4" : "w4a16") + " M=" + std::to_string(sh.M) +
                                    " N=" + std::to_string(sh.N) + " K=" + std::to_string(sh.K) + " seed " + std::to_string(seed) + " " + name(p);
          const CertifiedProduct c = certified_gemm(x, w, mode, sc, p);
          expect_same_bits(want, c, where);
          // Same doubles on every path, so the same elements left open.
          if (opened >= 0) {
            EXPECT_EQ(c.exact_elements, opened) << where;
          }
          opened = c.exact_elements;
          const double loose = 1 + 5.0 * static_cast<double>(sh.K / 16 + 7) * std::ldexp(1.0, -53);
          for (std::size_t i = 0; i < mag.size(); ++i) {
            // gemm_exact's is the true sum rounded to nearest, one step up: in (true, true (1 + 2u)].
            EXPECT_GE(c.mag[i], mag[i] * (1 - std::ldexp(1.0, -52))) << where << ": magnitude " << i;
            EXPECT_LE(c.mag[i], mag[i] * loose * (1 + std::ldexp(1.0, -51))) << where << ": magnitude " << i;
          }
        }
      }
}

// One weight row of 1.0s (E2M1 code 2, E4M3 byte 0x38), K = 16: the product is the row's sum.
// Each row's exact sum, hand-worked, and where the double sum of the 16 lanes (tree: lane j + 8,
// + 4, + 2, + 1) lands instead:
//   [1, 2^-24, 2^-80]      1 + 2^-24 + 2^-80, just above the midpoint of 1 and 1 + 2^-23: f32
//                          1 + 2^-23; the double sum loses 2^-80 (lanes 0 + 2 first), lands on
//                          the midpoint and would round to even, 1
//   [1, 2^-24, -2^-80]     just below it: 1 (the double sum again on the midpoint)
//   [2^30, -2^30, 2^-100]  2^-100, an f32; lanes 0 + 2 first lose it: the double sum is 0
//   [1, -1]                exactly 0: +0, as the oracle rounds a zero sum
TEST(CertifiedProduct, SumsAimedAtRoundingBoundariesAndCancellationTakeTheOracle) {
  ref::LogicalWeight w;
  w.N = 1, w.K = 16;
  w.codes.assign(16, 2);
  w.scales = {0x38};
  const Tensor x = rows({{1.0f, 0x1p-24f, 0x1p-80f},
                         {1.0f, 0x1p-24f, -0x1p-80f},
                         {0x1p30f, -0x1p30f, 0x1p-100f},
                         {1.0f, -1.0f}},
                        16);
  const float want[] = {1.0f + 0x1p-23f, 1.0f, 0x1p-100f, 0.0f};
  for (LanePath p : paths()) {
    const CertifiedProduct c = certified_gemm(x, w, GemmMode::W4A16, {}, p);
    for (int m = 0; m < 4; ++m)
      EXPECT_EQ(std::bit_cast<std::uint32_t>(c.y.data_as<float>()[m]), std::bit_cast<std::uint32_t>(want[m]))
          << name(p) << ": row " << m << ": certified " << c.y.data_as<float>()[m] << ", want " << want[m];
    EXPECT_EQ(c.exact_elements, 4) << name(p) << ": every row's interval straddles a rounding boundary or zero";
    expect_same_bits(ref::gemm_exact(x, w, GemmMode::W4A16, {}), c, name(p));
  }
}

// w4a4: a row whose quantized values cancel exactly ([3, -3] on a weight of 1.0s, each exact in
// E2M1 x E4M3) sums to 0, which the bound cannot tell from a tiny nonzero sum: the oracle's +0, the
// random rows around it from the double sums.
TEST(CertifiedProduct, AW4A4RowThatCancelsTakesTheOracle) {
  Rng r(11);
  ref::LogicalWeight w = random_weight(6, 64, r);
  for (std::int64_t k = 0; k < 64; ++k) w.codes[static_cast<std::size_t>(2 * 64 + k)] = 2;  // weight row 2: 1.0 ...
  for (std::int64_t b = 0; b < 4; ++b) w.scales[static_cast<std::size_t>(2 * 4 + b)] = 0x38;   // ... times 1
  Tensor x = random_x(3, 64, r);
  float* v = x.data_as<float>() + 64;  // row 1
  std::memset(v, 0, 64 * sizeof(float));
  v[0] = 3.0f, v[1] = -3.0f;
  const ref::GemmScalars sc{1.0f, 1.0f};
  const Tensor want = ref::gemm_exact(x, w, GemmMode::W4A4, sc);
  ASSERT_EQ(std::bit_cast<std::uint32_t>(want.data_as<float>()[1 * 6 + 2]), 0u);
  for (LanePath p : paths()) {
    const CertifiedProduct c = certified_gemm(x, w, GemmMode::W4A4, sc, p);
    EXPECT_GE(c.exact_elements, 1) << name(p);
    expect_same_bits(want, c, name(p));
  }
}

// A zero or negative factor after the sum, and a row whose products are all 0: the oracle gives +0
// for an exact zero whatever the signs (a double product of -1 and +0 is -0), and rounds the rest
// with the factor's sign; the magnitude sums are then 0 too.
TEST(CertifiedProduct, ZeroAndNegativeFactorsAfterTheSum) {
  Rng r(13);
  const ref::LogicalWeight w = random_weight(5, 48, r);
  Tensor x = random_x(3, 48, r);
  std::memset(x.data_as<float>() + 48, 0, 48 * sizeof(float));  // row 1: every product 0
  for (float g : {0.0f, -0.0f, -0.75f, -3.0f}) {
    ref::LogicalWeight wg = w;
    wg.global_scale = g;
    for (GemmMode mode : {GemmMode::W4A16, GemmMode::W4A4}) {
      const ref::GemmScalars sc{g, 2.0f};  // alpha: w4a4's factor after the sum
      const Tensor want = ref::gemm_exact(x, wg, mode, sc);
      for (LanePath p : paths()) {
        const CertifiedProduct c = certified_gemm(x, wg, mode, sc, p);
        expect_same_bits(want, c, std::string(name(p)) + " factor " + std::to_string(g));
        for (std::int64_t n = 0; n < 5; ++n) EXPECT_EQ(c.mag[static_cast<std::size_t>(5 + n)], 0.0) << name(p) << ": row 1 has no nonzero product";
        if (g == 0) {
          EXPECT_EQ(c.exact_elements, 0) << name(p) << ": a zero factor leaves nothing open";
        }
      }
    }
  }
}

TEST(CertifiedProduct, RefusesWhatTheOracleRefusesWithItsMessage) {
  Rng r(5);
  ref::LogicalWeight w = random_weight(3, 32, r);
  const Tensor x = random_x(2, 32, r);
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  ref::LogicalWeight nan_scale = w;
  nan_scale.scales[4] = 0x7F;
  Tensor inf_x = Tensor::empty(DType::F32, {2, 32});
  std::memcpy(inf_x.data(), x.data(), x.nbytes());
  inf_x.data_as<float>()[40] = INFINITY;
  ref::LogicalWeight nan_global = w;
  nan_global.global_scale = NAN;
  for (LanePath p : paths()) {
    const std::string a = message([&] { certified_gemm(x, nan_scale, GemmMode::W4A4, {}, p); });
    EXPECT_NE(a.find("block [2, 0] has a non-finite E4M3 scale"), std::string::npos) << a;
    EXPECT_EQ(a, message([&] { ref::gemm_exact(x, nan_scale, GemmMode::W4A4, {}); }));
    const std::string b = message([&] { certified_gemm(inf_x, w, GemmMode::W4A16, {}, p); });
    EXPECT_NE(b.find("non-finite value at [1, 8]"), std::string::npos) << b;
    EXPECT_EQ(b, message([&] { ref::gemm_exact(inf_x, w, GemmMode::W4A16, {}); }));
    const std::string c = message([&] { certified_gemm(x, nan_global, GemmMode::W4A16, {}, p); });
    EXPECT_NE(c.find("non-finite global scale"), std::string::npos) << c;
  }
  Tensor bf = Tensor::empty(DType::BF16, {2, 32});
  std::memset(bf.data(), 0, bf.nbytes());
  EXPECT_THROW(certified_gemm(bf, w, GemmMode::W4A16, {}), std::invalid_argument);
}

}  // namespace
}  // namespace nvfp4::checks
