// ShardWeights against the writer's earlier whole-shard generator, written out here as the
// specification (five draws per block in order: four of 16-bit level indices, one for the plant):
// rows made in any order and any number at a time are those values, and amax() is their max |w|.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "generator/encoders.h"
#include "generator/shard_weights.h"

namespace nvfp4 {
namespace {

std::vector<float> whole_shard(Rng rng, std::int64_t N, std::int64_t K, double gain, double zero_frac) {
  std::vector<float> w(static_cast<std::size_t>(N * K));
  const auto& levels = Rng::normal_levels();
  for (std::size_t i = 0; i < w.size(); i += 16) {
    for (int q = 0; q < 16; q += 4) {
      const std::uint64_t r = rng.next();
      for (int k = 0; k < 4; ++k)
        w[i + static_cast<std::size_t>(q + k)] = bf16_to_f32(f32_to_bf16(levels[(r >> (16 * k)) & 0xFFFF] * static_cast<float>(gain)));
    }
    if (rng.uniform() < zero_frac) std::fill_n(w.begin() + static_cast<std::ptrdiff_t>(i), 16, 0.0f);
  }
  return w;
}

TEST(ShardWeights, RowsInAnyOrderAreTheWholeShardsValues) {
  const std::int64_t N = 37, K = 48;
  for (double zero_frac : {0.0, 0.02, 0.5}) {
    const Rng start(0x1234 + static_cast<std::uint64_t>(zero_frac * 100));
    const std::vector<float> want = whole_shard(start, N, K, 0.03, zero_frac);
    const ShardWeights w(start, N, K, 0.03, zero_frac);
    std::vector<float> got(want.size(), -1.0f);
    for (std::int64_t r0 : {30, 0, 11, 5, 29}) {  // pieces of 7, 5, 6, 1 and 1 rows, out of order
      const std::int64_t n = r0 == 30 ? 7 : r0 == 0 ? 5 : r0 == 5 ? 6 : 1;
      w.rows(r0, n, got.data() + r0 * K);
    }
    w.rows(12, 17, got.data() + 12 * K);
    for (std::size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got[i], want[i]) << "zero_frac " << zero_frac << ", element " << i;
    float amax = 0;
    for (float v : want) amax = std::max(amax, std::fabs(v));
    EXPECT_EQ(w.amax(), amax == 0 ? 1.0f : amax) << "zero_frac " << zero_frac;
    Rng after = start;
    after.skip(w.draws());
    Rng drawn = start;
    for (std::uint64_t i = 0; i < w.draws(); ++i) drawn.next();
    EXPECT_EQ(after.next(), drawn.next()) << "skip(draws()) lands where drawing the whole shard does";
  }
}

TEST(ShardWeights, AllPlantedIsAmaxOne) {
  const ShardWeights w(Rng(5), 4, 32, 0.02, 1.0);
  EXPECT_EQ(w.amax(), 1.0f);
  std::vector<float> got(4 * 32, -1.0f);
  w.rows(0, 4, got.data());
  for (float v : got) ASSERT_EQ(v, 0.0f);
}

}  // namespace
}  // namespace nvfp4
