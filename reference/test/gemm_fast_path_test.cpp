// The exact oracle's double-lane block dot products (gemm_exact) against its int64 loop
// (gemm_exact_scalar) on enumerated classes: every result byte and every magnitude bound equal.
// Classes, per activation block: zeros, ordinary values, the widest narrow block (|a_k| just under
// 2^45, the double path's sum then just under 2^53), the first blocks past it (int64 loop),
// exponent spans past 24 bits (per element), cancellation down to one subnormal; per weight: all
// 16 codes (with -0), zero, subnormal and normal E4M3 scales, and the largest codes; M tails (1, 2, 3, 17 rows), N of 1
// and 5, K of one and of three blocks; both modes and F32, BF16, F16 activations; output ties.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "generator/encoders.h"
#include "reference/gemm.h"

namespace nvfp4::ref {
namespace {

struct Rng {
  std::uint64_t s = 0x243F6A8885A308D3ull;
  std::uint64_t next() { return s ^= s << 13, s ^= s >> 7, s ^= s << 17; }
};

// One activation block of class `c` (values as floats; the dtype conversion below keeps each
// class's point for F32, and still exercises the paths for BF16 and F16).
void fill_block(float* v, int c, Rng& r) {
  const float big_narrow = std::ldexp(16777215.0f, 21);  // a_k = (2^24 - 1) 2^21 < 2^45 against 1.0
  const float big_wide = std::ldexp(16777215.0f, 22);    // a_k ~ 2^46: past the double path's bound
  for (int k = 0; k < 16; ++k) {
    const float u = static_cast<float>(static_cast<std::int64_t>(r.next() % 2001) - 1000) / 256.0f;
    switch (c) {
      case 0: v[k] = 0.0f; break;
      case 1: v[k] = u; break;
      case 2: v[k] = k == 0 ? 1.0f : (k % 5 == 3 ? -big_narrow : big_narrow); break;
      case 3: v[k] = k == 0 ? 1.0f : big_narrow; break;  // every sign equal: the sum at its largest
      case 4: v[k] = k == 0 ? 1.0f : big_wide; break;
      case 5: v[k] = k == 0 ? std::ldexp(1.0f, -40) : (k == 1 ? std::ldexp(1.0f, 24) : u); break;
      case 6: v[k] = k == 0 ? 1024.0f : (k == 1 ? -1024.0f : (k == 2 ? std::ldexp(1.0f, -24) : 0.0f)); break;
      default: v[k] = k % 2 ? std::ldexp(1.0f, -8) : 1.0f; break;  // BF16 ties against weights of 1
    }
  }
}
constexpr int kClasses = 8;

// `largest`: every code 6.0 but 0.5 first in each block, at scale 1, so that a block of class 3
// or 4 sums to just under 2^53 or just over it with an odd lowest bit (0.5 * 1.0 in units of
// the block's quantum): a double sum past 2^53 drops that bit.
LogicalWeight weight(std::int64_t N, std::int64_t K, bool largest, Rng& r) {
  LogicalWeight w;
  w.N = N, w.K = K, w.global_scale = 0.75f;
  if (largest) {
    for (std::int64_t i = 0; i < N * K; ++i) w.codes.push_back(i % 16 ? 0x7 : 0x1);
    w.scales.assign(static_cast<std::size_t>(N * K / 16), 0x38);
    return w;
  }
  for (std::int64_t i = 0; i < N * K; ++i) w.codes.push_back(static_cast<std::uint8_t>((i + static_cast<std::int64_t>(r.next() % 3)) & 0xF));
  // Block scales: 1.0 and its neighbours, zero, subnormals, small and large normals.
  const std::uint8_t s[] = {0x38, 0x39, 0x37, 0x00, 0x01, 0x07, 0x08, 0x20, 0x5F, 0x7E};
  for (std::int64_t i = 0; i < N * K / 16; ++i) w.scales.push_back(s[r.next() % sizeof s]);
  return w;
}

Tensor activations(DType t, std::int64_t M, std::int64_t K, int shift, Rng& r) {
  Tensor x = Tensor::empty(t, {M, K});
  std::vector<float> f(static_cast<std::size_t>(M * K));
  for (std::int64_t mb = 0; mb < M * K / 16; ++mb) fill_block(&f[static_cast<std::size_t>(mb * 16)], static_cast<int>((mb + shift) % kClasses), r);
  for (std::size_t i = 0; i < f.size(); ++i) {
    if (t == DType::F32) x.data_as<float>()[i] = f[i];
    if (t == DType::BF16) x.data_as<std::uint16_t>()[i] = f32_to_bf16(f[i]);
    if (t == DType::F16) x.data_as<std::uint16_t>()[i] = f32_to_f16(std::fabs(f[i]) > 60000.0f ? std::copysign(60000.0f, f[i]) : f[i]);
  }
  return x;
}

TEST(GemmExactFastPath, EqualsTheInt64LoopOnEveryClass) {
  Rng r;
  int compared = 0;
  for (DType t : {DType::F32, DType::BF16, DType::F16})
    for (GemmMode mode : {GemmMode::W4A16, GemmMode::W4A4})
      for (std::int64_t M : {1, 2, 3, 17})
        for (std::int64_t N : {1, 5})
          for (std::int64_t K : {16, 48})
            for (int shift = 0; shift < 2 * kClasses; ++shift) {
              const LogicalWeight w = weight(N, K, shift >= kClasses, r);
              const Tensor x = activations(t, M, K, shift, r);
              const GemmScalars s{0.3125f, mode == GemmMode::W4A4 ? 896.0f : 1.0f};
              std::vector<double> mag_fast, mag_scalar;
              const Tensor fast = gemm_exact(x, w, mode, s, &mag_fast);
              const Tensor scalar = gemm_exact_scalar(x, w, mode, s, &mag_scalar);
              ASSERT_EQ(std::memcmp(fast.data(), scalar.data(), fast.nbytes()), 0)
                  << dtype_name(t) << (mode == GemmMode::W4A4 ? " w4a4" : " w4a16") << " M " << M << " N " << N << " K " << K << " shift " << shift;
              ASSERT_EQ(mag_fast, mag_scalar) << "magnitudes, M " << M << " N " << N << " K " << K << " shift " << shift;
              ++compared;
            }
  EXPECT_EQ(compared, 3 * 2 * 4 * 2 * 2 * 2 * kClasses);
}

TEST(GemmExactFastPath, TheWidestNarrowBlockKeepsItsLowestBit) {
  // 15 values of (2^24 - 1) 2^21 and one 1.0 against weights 6.0 (code 0x7) at scale 1: the sum
  // is 6 * (15 * 2^45 - 15 * 2^21 + 1), whose last term only an exact block sum keeps (the block's
  // integer sum 12 (15 (2^45 - 2^21) + 1) reaches 2^52.5); the product is that value rounded once
  // to F32.
  Tensor x = Tensor::empty(DType::F32, {1, 16});
  x.data_as<float>()[0] = 1.0f;
  for (int k = 1; k < 16; ++k) x.data_as<float>()[k] = std::ldexp(16777215.0f, 21);
  LogicalWeight w;
  w.N = 1, w.K = 16, w.codes.assign(16, 0x7), w.scales.assign(1, 0x38);
  std::vector<double> mag;
  const Tensor y = gemm_exact(x, w, GemmMode::W4A16, {}, &mag);
  const long double exact = 6.0L * (15.0L * std::ldexp(1.0L, 45) - 15.0L * std::ldexp(1.0L, 21) + 1.0L);
  EXPECT_EQ(y.data_as<float>()[0], static_cast<float>(exact));
  // The magnitude: the exact value (< 2^53 + 2^52, so a double holds it to within one ulp of 2)
  // one step up from its nearest double.
  EXPECT_EQ(mag[0], std::nextafter(static_cast<double>(exact), INFINITY));
}

}  // namespace
}  // namespace nvfp4::ref
