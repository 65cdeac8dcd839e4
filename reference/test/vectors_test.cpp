// The reference pinned to hand-worked vectors (docs/formats.md#hand-worked-test-vectors); each value says why it is there.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "generator/encoders.h"
#include "generator/modelopt_quantize.h"
#include "reference/numerics.h"
#include "reference/quantize_activation.h"
#include "reference/reconcile.h"
#include "reference/shuffle.h"
#include "reference/swizzle.h"

namespace nvfp4::ref {
namespace {

TEST(RefNumerics, E2M1TieTableAndEveryCode) {
  struct C { float x; std::uint8_t code; };
  const C cases[] = {{0.25f, 0x0},  {0.25000003f, 0x1}, {0.75f, 0x2}, {1.25f, 0x2}, {1.2500001f, 0x3},
                     {1.75f, 0x4},  {2.5f, 0x4},        {2.5000002f, 0x5}, {3.5f, 0x6}, {5.0f, 0x6},
                     {5.0000005f, 0x7}, {100.f, 0x7},   {-0.25f, 0x8}, {-5.0f, 0xE}, {-0.0f, 0x8},
                     {std::numeric_limits<float>::infinity(), 0x7}, {std::numeric_limits<float>::quiet_NaN(), 0x7}};
  for (const auto& c : cases) EXPECT_EQ(e2m1_quantize(c.x), c.code) << c.x;
  for (int c = 0; c < 16; ++c) EXPECT_EQ(e2m1_quantize(e2m1_value(static_cast<std::uint8_t>(c))), c);
}

TEST(RefNumerics, E4M3EveryByteAndTheProbeTable) {
  for (int b = 0; b < 256; ++b) {
    if ((b & 0x7F) == 0x7F) continue;
    EXPECT_EQ(e4m3_satfinite(e4m3_value(static_cast<std::uint8_t>(b))), b);
  }
  EXPECT_EQ(e4m3_satfinite(0.0009765625f), 0x00);    // half the min subnormal ties to 0
  EXPECT_EQ(e4m3_satfinite(0.0146484375f), 0x08);    // 7.5 * 2^-9 ties up to the min normal
  EXPECT_EQ(e4m3_satfinite(1.0625f), 0x38);          // tie to even 1.0
  EXPECT_EQ(e4m3_satfinite(464.0f), 0x7E);           // 448/480 tie stays at 448
  EXPECT_EQ(e4m3_satfinite(464.01f), 0x7E);          // satfinite
  EXPECT_EQ(e4m3_satfinite(-std::numeric_limits<float>::infinity()), 0xFE);
}

TEST(RefNumerics, AgreesWithTheIndependentCoreCodecsOnManyFloats) {
  // Two implementations written differently (thresholds and nearbyint here, bit manipulation in
  // generator/encoders.h, itself checked on all 2^32 floats): they must agree everywhere they are defined.
  std::uint32_t s = 12345;
  for (int i = 0; i < 2'000'000; ++i) {
    s = s * 1664525u + 1013904223u;
    float x = f32_from_bits(s);
    if (std::isnan(x)) continue;
    ASSERT_EQ(e2m1_quantize(x), f32_to_e2m1(x)) << x;
    ASSERT_EQ(e4m3_satfinite(x), f32_to_e4m3_satfinite(x)) << x;
  }
}

// docs/formats.md#the-tie-block: amax = 3 gives s2 = f32(3/2688) and gs = 896; the block below is chosen so that
// its scaled values land on E2M1 ties (0.75, 1.25, 1.75, 3.5, 5) and on signed zeros.
const float kTieBlock[16] = {3.0f, 0.375f, 0.125f, 0.625f, 1.125f, -0.375f, 0.875f, 1.75f,
                             2.25f, 0.0625f, 0.0f, -0.0f, 1.5f, 2.5f, 0.25f, 0.5f};

TEST(TieBlock, ModelOptWriterArithmetic) {
  QuantizedWeight q = modelopt_quantize(std::span<const float>(kTieBlock, 16), 1, 16, 3.0f);
  EXPECT_EQ(f32_bits(q.scale_2), 0x3A924925u);
  EXPECT_EQ(q.scale.data()[0], 0x7E);  // bs = 447.99997 -> 448
  const std::uint8_t packed[8] = {0x27, 0x20, 0xA4, 0x64, 0x06, 0x00, 0x65, 0x21};  // ModelOpt: -0.0 -> 0x0
  for (int i = 0; i < 8; ++i) EXPECT_EQ(q.weight.data()[i], packed[i]) << "byte " << i;
}

TEST(TieBlock, ActivationQuantizationExactPath) {
  Tensor x = Tensor::empty(DType::F32, {1, 16});
  std::memcpy(x.data(), kTieBlock, sizeof kTieBlock);
  QuantizedActivation q = quantize_activation(x, 896.0f);
  // SF = 3 * (896 * f32(1/6)) = 448.00003 -> 0x7E; out_scale = 1 / (448 * (1/896)) = 2.
  EXPECT_EQ(q.scales[0], 0x7E);
  const std::uint8_t codes[16] = {0x7, 0x2, 0x0, 0x2, 0x4, 0xA, 0x4, 0x6, 0x6, 0x0, 0x0, 0x8, 0x5, 0x6, 0x1, 0x2};
  for (int i = 0; i < 16; ++i) EXPECT_EQ(q.codes[static_cast<std::size_t>(i)], codes[i]) << "element " << i;
}

TEST(TieBlock, ZeroBlockAndUnderflowedScale) {
  Tensor x = Tensor::zeros(DType::F32, {1, 32});
  x.data_as<float>()[16] = 1e-30f;  // S underflows to 0 while vmax > 0: out_scale is capped at FLT_MAX
  QuantizedActivation q = quantize_activation(x, 896.0f);
  EXPECT_EQ(q.scales[0], 0x00);  // all-zero block: scale 0, codes 0
  for (int i = 0; i < 16; ++i) EXPECT_EQ(q.codes[static_cast<std::size_t>(i)], 0);
  EXPECT_EQ(q.scales[1], 0x00);
  EXPECT_EQ(q.codes[16], 0x7);   // 1e-30 * FLT_MAX saturates to +6, not NaN
  EXPECT_EQ(q.codes[17], 0x0);   // 0 * FLT_MAX = 0
}

Tensor iota_scales(std::int64_t M, std::int64_t K) {
  Tensor t = Tensor::empty(DType::U8, {M, K});
  for (std::int64_t i = 0; i < M * K; ++i) t.data()[i] = static_cast<std::uint8_t>(1 + (i * 7) % 251);  // never 0
  return t;
}

TEST(Swizzle, OffsetsFromTheSpec) {
  // docs/formats.md#swizzle-offsets, (m, k) -> byte offset, for M = 256, Kb = 8 (and M = 130, Kb = 5, same tiles).
  struct O { std::int64_t m, k, off; };
  const O offs[] = {{0, 0, 0},   {0, 1, 1},     {0, 3, 3},     {0, 4, 512},   {1, 0, 16},   {31, 0, 496},
                    {32, 0, 4},  {33, 0, 20},   {64, 2, 10},   {127, 3, 511}, {128, 0, 1024}, {129, 4, 1552}};
  for (auto [M, K] : {std::pair<std::int64_t, std::int64_t>{256, 8}, {130, 5}}) {
    Tensor in = iota_scales(M, K), out = swizzle_128x4(in);
    for (const O& o : offs) EXPECT_EQ(out.data()[o.off], in.data()[o.m * K + o.k]) << M << "x" << K << " (" << o.m << "," << o.k << ")";
  }
  // Buffer order of the first 20 bytes: rows 0, 32, 64, 96 (k 0..3 each), then row 1.
  Tensor in = iota_scales(256, 8), out = swizzle_128x4(in);
  const std::int64_t rows[5] = {0, 32, 64, 96, 1};
  for (int r = 0; r < 5; ++r)
    for (int k = 0; k < 4; ++k) EXPECT_EQ(out.data()[4 * r + k], in.data()[rows[r] * 8 + k]);
}

TEST(Swizzle, SizesPaddingAndInverse) {
  struct S { std::int64_t M, K, bytes; };
  for (const S& s : {S{1, 1, 512}, S{130, 5, 2048}, S{300, 7, 3072}, S{257, 3, 1536}}) {
    Tensor in = iota_scales(s.M, s.K), out = swizzle_128x4(in);
    EXPECT_EQ(static_cast<std::int64_t>(out.nbytes()), s.bytes);
    std::int64_t nonzero = 0;
    for (std::size_t i = 0; i < out.nbytes(); ++i) nonzero += out.data()[i] != 0;
    EXPECT_EQ(nonzero, s.M * s.K) << "padding must be zero, and every scale kept";
    EXPECT_TRUE(unswizzle_128x4(out, s.M, s.K).bitwise_equal(in));
  }
}

TEST(Shuffle, PermutationsFromTheSpec) {
  // docs/formats.md#row-permutation-vectors (row_indices[new] = old).
  EXPECT_EQ(shuffle_a_rows(64, 128),
            (Permutation{0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29, 2, 6, 10, 14, 18, 22,
                         26, 30, 3, 7, 11, 15, 19, 23, 27, 31, 32, 36, 40, 44, 48, 52, 56, 60, 33, 37, 41, 45,
                         49, 53, 57, 61, 34, 38, 42, 46, 50, 54, 58, 62, 35, 39, 43, 47, 51, 55, 59, 63}));
  EXPECT_EQ(shuffle_a_rows(32, 64), (Permutation{0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15,
                                                 16, 18, 20, 22, 24, 26, 28, 30, 17, 19, 21, 23, 25, 27, 29, 31}));
  EXPECT_EQ(gated_act_reorder(8), (Permutation{0, 4, 1, 5, 2, 6, 3, 7}));
  EXPECT_EQ(compose(gated_act_reorder(64), shuffle_a_rows(64, 128)),
            (Permutation{0, 2, 4, 6, 8, 10, 12, 14, 32, 34, 36, 38, 40, 42, 44, 46, 1, 3, 5, 7, 9, 11,
                         13, 15, 33, 35, 37, 39, 41, 43, 45, 47, 16, 18, 20, 22, 24, 26, 28, 30, 48, 50, 52, 54,
                         56, 58, 60, 62, 17, 19, 21, 23, 25, 27, 29, 31, 49, 51, 53, 55, 57, 59, 61, 63}));
  // Applying the two in the other order is a different (wrong) permutation.
  EXPECT_NE(compose(shuffle_a_rows(64, 128), gated_act_reorder(64)), compose(gated_act_reorder(64), shuffle_a_rows(64, 128)));
}

TEST(Reconcile, VllmExample) {
  // docs/formats.md#the-vllm-reconcile-example: scales all 1.0; expert 0 has s2 (gate 1, up 2), expert 1 (1, 1).
  Tensor ones = Tensor::empty(DType::F8_E4M3, {2, 2});
  std::memset(ones.data(), 0x38, 4);
  double err = -1;
  Tensor gate0 = reconcile_shard(ones, 1.0f, 2.0f, &err);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(gate0.data()[i], 0x30);  // 0.5: 1.0 * (1/2)
  EXPECT_EQ(err, 0.0);                                          // exact: no rounding needed
  Tensor up0 = reconcile_shard(ones, 2.0f, 2.0f, &err);
  EXPECT_TRUE(up0.bitwise_equal(ones));                         // already at the common scale
  Tensor e1 = reconcile_shard(ones, 1.0f, 1.0f, &err);
  EXPECT_TRUE(e1.bitwise_equal(ones));
}

TEST(Reconcile, RoundsAndReportsTheError) {
  Tensor s = Tensor::empty(DType::F8_E4M3, {1, 1});
  s.data()[0] = 0x7E;  // 448
  double err = 0;
  // 448 * (1/3) = 149.33 -> E4M3 144 (grid 16 in [128, 256)): relative error |144*3 - 448| / 448.
  Tensor r = reconcile_shard(s, 1.0f, 3.0f, &err);
  EXPECT_EQ(e4m3_value(r.data()[0]), 144.0f);
  EXPECT_NEAR(err, std::fabs(144.0 * 3.0 - 448.0) / 448.0, 1e-6);
  EXPECT_LE(err, 0.0625);
}

}  // namespace
}  // namespace nvfp4::ref
