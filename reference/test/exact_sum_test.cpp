// The fixed-width exact accumulator (reference/exact_sum.h) against a plain Boost big-integer sum
// of the same products, over operands at the edges of its proof: the smallest and largest exponents
// either operand can have, the widest mantissas, full cancellation, and sign mixes.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "reference/exact_sum.h"

namespace nvfp4::ref {
namespace {

using boost::multiprecision::cpp_int;  // compared with ==, never printed (GCC 12 -Wrestrict in Boost's to_string)

// sum of a_k * b_k as v * 2^ExactSum::kBase, with big integers only.
cpp_int slow(const std::vector<double>& a, const std::vector<double>& b) {
  cpp_int v = 0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    const SplitValue x = split(a[k]), y = split(b[k]);
    if (x.m == 0 || y.m == 0) continue;
    v += (cpp_int(x.m) * y.m) << (x.e + y.e - ExactSum::kBase);
  }
  return v;
}

cpp_int fast(const std::vector<double>& a, const std::vector<double>& b) {
  ExactSum s;
  for (std::size_t k = 0; k < a.size(); ++k) s.add_product(split(a[k]), split(b[k]));
  return s.value();
}

TEST(ExactSum, SplitGivesOddMantissas) {
  EXPECT_EQ(split(0.0).m, 0);
  EXPECT_EQ(split(6.0).m, 3);   // 3 * 2^1
  EXPECT_EQ(split(6.0).e, 1);
  EXPECT_EQ(split(-0.75).m, -3);  // -3 * 2^-2
  EXPECT_EQ(split(-0.75).e, -2);
  const SplitValue sub = split(std::numeric_limits<float>::denorm_min());
  EXPECT_EQ(sub.m, 1);
  EXPECT_EQ(sub.e, -149);
}

TEST(ExactSum, HandWorked) {
  // The extremes of the proof: x = 2^-149 (f32 denormal) times w = 0.5 * 2^-9 * 2^-149 (E2M1 0.5,
  // E4M3 denormal 2^-9, f32 denormal global scale) is 2^-308, the lowest product; it survives a
  // huge pair that cancels exactly, (2^24 - 1) 2^104 * (12 * 15 * (2^24 - 1)) 2^(-1 + 5 + 104)
  // and its negative, whose bits reach the top of the accumulator.
  const double lo_x = std::ldexp(1.0, -149), lo_w = std::ldexp(1.0, -159);
  const double hi_x = std::ldexp(16777215.0, 104), hi_w = std::ldexp(180.0 * 16777215.0, 108);
  std::vector<double> a{hi_x, lo_x, -hi_x}, b{hi_w, lo_w, hi_w};
  EXPECT_TRUE(fast(a, b) == cpp_int(1) << (-308 - ExactSum::kBase));
  EXPECT_TRUE(fast(a, b) == slow(a, b));
  // -1 + 2^-60: a negative total with a positive low part needs the borrow across digits.
  a = {-1.0, std::ldexp(1.0, -30)};
  b = {1.0, std::ldexp(1.0, -30)};
  EXPECT_TRUE(fast(a, b) == (cpp_int(1) << (-60 - ExactSum::kBase)) - (cpp_int(1) << (-ExactSum::kBase)));
}

TEST(ExactSum, EqualsBigIntegersOnExtremeOperands) {
  std::mt19937_64 rng(20261203);
  auto pick = [&](bool w) {
    // Mantissas of up to 24 (x) or 32 (w) bits at exponents anywhere in the proven range.
    const int bits = w ? 32 : 24;
    const std::int64_t m = static_cast<std::int64_t>(rng() >> (64 - bits)) | 1;
    const int e = w ? static_cast<int>(rng() % 268) - 159 - (bits - 1) + (bits - 1) : static_cast<int>(rng() % 254) - 149;
    double v = std::ldexp(static_cast<double>(m), std::min(e, w ? 108 : 104));
    if (rng() % 2) v = -v;
    if (rng() % 8 == 0) v = 0;
    return v;
  };
  for (int trial = 0; trial < 400; ++trial) {
    const std::size_t K = trial < 300 ? 1 + rng() % 64 : 4096;
    std::vector<double> a(K), b(K);
    for (std::size_t k = 0; k < K; ++k) {
      a[k] = pick(false);
      b[k] = pick(true);
    }
    if (trial % 5 == 0)  // cancellation: every product appears with both signs, plus one tiny term
      for (std::size_t k = 0; k + 1 < K; k += 2) {
        a[k + 1] = -a[k];
        b[k + 1] = b[k];
      }
    ASSERT_TRUE(fast(a, b) == slow(a, b)) << "trial " << trial << ", K = " << K;
  }
}

TEST(ExactSum, ManyMaximalTermsDoNotOverflowADigit) {
  // 2^20 copies of the widest product at the same offset: each digit takes 2^20 values near 2^32.
  const double x = std::ldexp(16777215.0, 0), w = 4294967295.0;
  ExactSum s;
  for (int k = 0; k < (1 << 20); ++k) s.add_product(split(x), split(w));
  EXPECT_TRUE(s.value() == (cpp_int(16777215) * 4294967295u * (1 << 20)) << (-ExactSum::kBase));
}

}  // namespace
}  // namespace nvfp4::ref
