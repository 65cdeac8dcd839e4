// The optimized pipeline's index maps against docs/formats.md#hand-worked-test-vectors and against FlashInfer's
// own construction of the row permutations, written out plainly here.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "optimized/layout_maps.h"

namespace nvfp4::opt {
namespace {

TEST(SwizzleMap, OffsetsMatchSpecVectors) {
  // docs/formats.md#swizzle-offsets, (M, Kb) = (256, 8): (m, k) -> byte offset.
  LayoutCache cache;
  const SwizzleMap& s = *cache.swizzle(256, 8);
  struct V { std::int64_t m, k, off; };
  for (V v : {V{0, 0, 0}, V{0, 1, 1}, V{0, 3, 3}, V{0, 4, 512}, V{1, 0, 16}, V{31, 0, 496}, V{32, 0, 4}, V{33, 0, 20},
              V{64, 2, 10}, V{127, 3, 511}, V{128, 0, 1024}, V{129, 4, 1552}})
    EXPECT_EQ(s.rows()[v.m] + s.cols()[v.k], v.off) << "(" << v.m << ", " << v.k << ")";
  // Buffer sizes (M, Kb) -> Mp * Kp.
  struct S { std::int64_t M, K, bytes; };
  for (S v : {S{1, 1, 512}, S{130, 5, 2048}, S{300, 7, 3072}, S{257, 3, 1536}})
    EXPECT_EQ(cache.swizzle(v.M, v.K)->batch_bytes(), v.bytes) << v.M << "x" << v.K;
  EXPECT_EQ(cache.swizzle(256, 8).get(), &s) << "one map per shape, shared";
}

TEST(SwizzleMap, IsABijectionThatKeepsEveryRowInItsBand) {
  LayoutCache cache;
  for (auto [M, K] : {std::pair<std::int64_t, std::int64_t>{128, 4}, {256, 8}, {130, 5}, {1, 1}, {384, 12}}) {
    const SwizzleMap& s = *cache.swizzle(M, K);
    std::vector<int> hits(static_cast<std::size_t>(s.batch_bytes()), 0);
    for (std::int64_t m = 0; m < s.Mp; ++m)
      for (std::int64_t k = 0; k < s.Kp; ++k) {
        const std::int64_t o = s.rows()[m] + s.cols()[k];
        ASSERT_GE(o, (m / 128) * 128 * s.Kp);
        ASSERT_LT(o, (m / 128 + 1) * 128 * s.Kp) << "row " << m << " left its 128-row band";
        ++hits[static_cast<std::size_t>(o)];
      }
    EXPECT_TRUE(std::all_of(hits.begin(), hits.end(), [](int h) { return h == 1; })) << M << "x" << K;
  }
}

TEST(RowMaps, ShuffleAndCombinedMatchSpecVectors) {
  // docs/formats.md#row-permutation-vectors: shuffle_matrix_a, epilogue tile 128, M = 64; and reorder-then-shuffle over
  // [w3; w1] halves of 32 rows.
  const std::vector<std::int64_t> shuffle = {0,  4,  8,  12, 16, 20, 24, 28, 1,  5,  9,  13, 17, 21, 25, 29,
                                             2,  6,  10, 14, 18, 22, 26, 30, 3,  7,  11, 15, 19, 23, 27, 31,
                                             32, 36, 40, 44, 48, 52, 56, 60, 33, 37, 41, 45, 49, 53, 57, 61,
                                             34, 38, 42, 46, 50, 54, 58, 62, 35, 39, 43, 47, 51, 55, 59, 63};
  const std::vector<std::int64_t> combined = {0,  2,  4,  6,  8,  10, 12, 14, 32, 34, 36, 38, 40, 42, 44, 46,
                                              1,  3,  5,  7,  9,  11, 13, 15, 33, 35, 37, 39, 41, 43, 45, 47,
                                              16, 18, 20, 22, 24, 26, 28, 30, 48, 50, 52, 54, 56, 58, 60, 62,
                                              17, 19, 21, 23, 25, 27, 29, 31, 49, 51, 53, 55, 57, 59, 61, 63};
  for (std::int64_t n = 0; n < 64; ++n) {
    EXPECT_EQ(shuffle_row(n), shuffle[static_cast<std::size_t>(n)]) << n;
    EXPECT_EQ(w31_row(n, 32), combined[static_cast<std::size_t>(n)]) << n;
  }
}

// FlashInfer's construction (flashinfer/utils.py get_shuffle_matrix_a_row_indices and
// fused_moe/core.py reorder_rows_for_gated_act_gemm), loop by loop: row_indices[new] = old.
std::vector<std::int64_t> flashinfer_w31_indices(std::int64_t M) {
  std::vector<std::int64_t> reorder(static_cast<std::size_t>(M)), shuffle(static_cast<std::size_t>(M)), out(static_cast<std::size_t>(M));
  for (std::int64_t t = 0; t < M / 2; ++t) {
    reorder[static_cast<std::size_t>(2 * t)] = t;
    reorder[static_cast<std::size_t>(2 * t + 1)] = M / 2 + t;
  }
  for (std::int64_t old = 0; old < M; ++old) {
    const std::int64_t i = old % 32, dst = old / 32 * 32 + 8 * (i % 4) + i / 4;  // srcToDstBlk32RowMap
    shuffle[static_cast<std::size_t>(dst)] = old;
  }
  for (std::int64_t n = 0; n < M; ++n) out[static_cast<std::size_t>(n)] = reorder[static_cast<std::size_t>(shuffle[static_cast<std::size_t>(n)])];
  return out;
}

TEST(RowMaps, W13RowsAreFlashInfersIndicesOverThePaddedHalves) {
  for (std::int64_t I : {16, 32, 48, 64, 80, 128, 176}) {
    const std::int64_t Ip = round_up(I, 64);
    RowMap m = trtllm_w13_rows(I);
    ASSERT_EQ(m.rows_out, 2 * Ip);
    std::vector<std::int64_t> fi = flashinfer_w31_indices(2 * Ip);
    std::vector<int> seen(static_cast<std::size_t>(2 * I), 0);
    for (std::int64_t n = 0; n < 2 * Ip; ++n) {
      // Padded [w3; 0; w1; 0] row q -> loaded [w1; w3] row, or a zero row.
      const std::int64_t q = fi[static_cast<std::size_t>(n)];
      const std::int64_t want = q < Ip ? (q < I ? I + q : -1) : (q - Ip < I ? q - Ip : -1);
      ASSERT_EQ(m.data()[n], want) << "I = " << I << ", row " << n;
      if (want >= 0) ++seen[static_cast<std::size_t>(want)];
    }
    EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](int h) { return h == 1; })) << "I = " << I;
  }
  RowMap w2 = trtllm_w2_rows(96);
  std::vector<std::int64_t> sorted(w2.data(), w2.data() + 96), iota(96);
  std::sort(sorted.begin(), sorted.end());
  std::iota(iota.begin(), iota.end(), 0);
  EXPECT_EQ(sorted, iota);
}

}  // namespace
}  // namespace nvfp4::opt
