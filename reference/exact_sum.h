// An exact sum of products of binary floating-point values, in a fixed-width integer accumulator
// (a "superaccumulator": Kulisch; Collange, Defour, Graillat, Iakymchuk 2015), for the exact GEMM
// oracle: no heap allocation and no big-integer arithmetic per product, only at the final rounding.
//
// Operands are split once into (m, e) with v = m * 2^e, m odd (or 0), |m| < 2^32:
//   x: an f32/BF16/F16 activation (|m| < 2^24, e in [-149, 104]) or, for w4a4, E2M1 * E4M3;
//   w: E2M1 * E4M3 * f32 global scale for w4a16 (|m| < 12 * 15 * 2^24 < 2^32, e in [-159, 108]),
//      E2M1 * E4M3 for w4a4 (|m| < 2^8, e in [-10, 5]).
// A product is then p * 2^E with |p| < 2^56 and E in [-308, 212] (w4a16 bounds; w4a4 is inside).
// The accumulator holds digits d_j of weight 2^(32 j + kBase), kBase = -320, so a product lands at
// bit offset E - kBase in [12, 532] and, shifted there, spans at most 56 + 31 bits: three digits,
// each receiving a signed value of magnitude < 2^33 (the middle digit takes two chunks of < 2^32).
// With K <= kMaxTerms = 2^26 products a digit receives values from at most 3 * 2^26 of them:
// |d_j| < 3 * 2^26 * 2^33 < 2^60.6 < 2^63, so no digit overflows before the final carry
// propagation, and kDigits = 20 digits cover bits [0, 640) >= 532 + 87 + carry room.
// add_scaled takes a whole block's integer dot product (|v| < 2^60) at an exponent inside the same
// range: again three digits of < 2^33 each, and at most one add per element, so the bound holds.
#pragma once
#include <boost/multiprecision/cpp_int.hpp>
#include <array>
#include <cstdint>
#include <cstring>

namespace nvfp4::ref {

struct SplitValue {
  std::int64_t m = 0;  // odd, or 0
  int e = 0;
};
// v must be finite and its significand hold at most 53 bits (every operand here does).
SplitValue split(double v);

class ExactSum {
 public:
  static constexpr int kBase = -320, kDigits = 20;
  static constexpr std::int64_t kMaxTerms = std::int64_t{1} << 26;

  void clear() { d_.fill(0); }
  // Adds a.m * b.m * 2^(a.e + b.e): |a.m * b.m| < 2^56, inside add_scaled's 2^60.
  void add_product(SplitValue a, SplitValue b) { add_scaled(a.m * b.m, a.e + b.e); }
  // Adds v * 2^e for |v| < 2^60 (a whole block's integer dot product) with e in the products'
  // range: the same three-digit split, the high half now < 2^28 * 2^31.
  void add_scaled(std::int64_t v, int e) {
    if (v == 0) return;
    const int off = e - kBase;
    const int j = off >> 5, r = off & 31;
    const std::uint64_t u = static_cast<std::uint64_t>(v < 0 ? -v : v);
    const std::uint64_t lo = (u & 0xFFFFFFFFu) << r, hi = (u >> 32) << r;
    const std::int64_t s = v < 0 ? -1 : 1;
    d_[j] += s * static_cast<std::int64_t>(lo & 0xFFFFFFFFu);
    d_[j + 1] += s * static_cast<std::int64_t>((lo >> 32) + (hi & 0xFFFFFFFFu));
    d_[j + 2] += s * static_cast<std::int64_t>(hi >> 32);
  }
  // The exact sum as v * 2^kBase.
  boost::multiprecision::cpp_int value() const;

 private:
  std::array<std::int64_t, kDigits> d_{};
};

// One block's integer dot product in doubles, for a narrow block (kNarrow in reference/gemm.cpp):
// |a_k| < 2^45 and |c_w| <= 12, so every product and every partial sum is an integer of magnitude
// <= 16 * 12 * (2^45 - 1) < 2^52.6 < 2^53, hence exact in double whatever the order of the additions. Written with the compiler's
// vector extension (GCC and Clang) so that the products go two (or more) to an instruction on any
// x86-64 target; the exactness argument does not depend on the lane width.
using V2 = double __attribute__((vector_size(16)));
inline double dot16(const double* a, const double* c) {
  V2 s[4];
  for (int i = 0; i < 4; ++i) {
    V2 x0, x1, c0, c1;
    std::memcpy(&x0, a + 2 * i, 16), std::memcpy(&x1, a + 8 + 2 * i, 16);
    std::memcpy(&c0, c + 2 * i, 16), std::memcpy(&c1, c + 8 + 2 * i, 16);
    s[i] = x0 * c0 + x1 * c1;
  }
  const V2 t = (s[0] + s[1]) + (s[2] + s[3]);
  return t[0] + t[1];
}

}  // namespace nvfp4::ref
